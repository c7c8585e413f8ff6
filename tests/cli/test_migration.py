"""`migration`: from a saved Prometheus `/api/v1/query` result (https://prometheus.io/docs/prometheus/latest/querying/
api/, the fixtures in tests/cli/prometheus/) to a verdict per namespace and workload on its way to STRICT."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from mtls.__main__ import main
from tests.conftest import PROJECT_ROOT

RESULTS = Path(__file__).parent / "prometheus"


@pytest.fixture
def project(tmp_path: Path):
    """A copy of the dev stack (legacy at `observe`) whose mesh a test may change."""
    shutil.copytree(PROJECT_ROOT / "certs", tmp_path / "certs")

    def write(**mesh_changes: Any) -> Path:
        config = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())
        config["config"]["gke-mtls:mesh"].update(mesh_changes)
        (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(config))
        return tmp_path

    return write


def run(root: Path, *args: str) -> int:
    return main(["--project-root", str(root), "migration", "--stack", "dev", *args])


def test_without_a_result_it_prints_the_queries_and_how_to_save_their_result(capsys):
    assert main(["migration", "--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Who still sends plaintext to namespace legacy (observe)")
    assert 'increase(istio_requests_total{reporter="destination", connection_security_policy!="mutual_tls", ' in out
    assert "istio_tcp_connections_opened_total" in out
    assert "https://monitoring.googleapis.com/v1/projects/acme-dev/location/global/prometheus/api/v1/query" in out
    assert 'logName="projects/acme-dev/logs/server-accesslog-stackdriver"' in out


@pytest.mark.parametrize("result", ["empty.json", "mtls-only.json"])
def test_no_plaintext_in_the_window_means_ready(project, capsys, result):
    assert run(project(), "--prometheus", str(RESULTS / result)) == 0
    assert capsys.readouterr().out.splitlines() == [
        "note: gke-mtls:mesh.migration.legacy: namespace legacy is ready for STRICT: Istio's metrics show no "
        "plaintext request or connection to it in the window. [migration.ready]",
        "dev migration: 0 error(s), 0 warning(s), 1 note(s)",
    ]


def test_plaintext_from_undeclared_callers_blocks_and_names_them(project, capsys):
    assert run(project(), "--prometheus", str(RESULTS / "plaintext-http.json")) == 1
    assert capsys.readouterr().out.splitlines()[0] == (
        "error: gke-mtls:mesh.migration.legacy: namespace legacy is not ready for STRICT; these would break: clients "
        "without a sidecar (Istio names them `unknown`) -> ledger: 42 plaintext requests; batch/nightly-export -> "
        "ledger: 7 plaintext requests. None of them is declared in gke-mtls:mesh.callers. [migration.blocked]"
    )


def test_plaintext_from_a_declared_caller_says_it_is_declared(project, capsys):
    exporter = {
        "name": "nightly-export",
        "from": {"ipBlocks": ["10.8.0.0/14"]},
        "to": {"namespace": "legacy", "selector": {"app": "ledger"}, "ports": [8080]},
    }
    assert run(project(callers=[exporter]), "--prometheus", str(RESULTS / "plaintext-http.json")) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith(
        "Declared plaintext callers there: caller nightly-export (give them a sidecar, or keep a PERMISSIVE exception "
        "for their ports). [migration.blocked]"
    )


def test_a_sidecar_caller_of_a_disable_port_is_declared_with_why_it_sends_plaintext(project, capsys):
    """batch/nightly-export has a sidecar (Istio names its workload), yet the metrics count its requests to ledger as
    plaintext: ledger's port 8080 is DISABLE, so auto mTLS sends it plaintext there."""
    exporter = {
        "name": "nightly-export",
        "from": {"principal": "cluster.local/ns/batch/sa/nightly-export"},
        "to": {"namespace": "legacy", "selector": {"app": "ledger"}, "ports": [8080]},
    }
    workloads = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())["config"]["gke-mtls:mesh"]["workloads"]
    workloads.append({"namespace": "legacy", "selector": {"app": "ledger"}, "ports": {"8080": "DISABLE"}})
    assert run(project(callers=[exporter], workloads=workloads), "--prometheus", str(RESULTS / "plaintext-http.json"))
    first = capsys.readouterr().out.splitlines()[0]
    assert first.endswith(
        "Declared plaintext callers there: caller nightly-export (its sidecar sends plaintext: port 8080 is "
        "DISABLE, so auto mTLS sends it plaintext). [migration.blocked]"
    )


def test_tcp_only_traffic_counts_connections(project, capsys):
    assert run(project(), "--prometheus", str(RESULTS / "plaintext-tcp.json")) == 1
    first = capsys.readouterr().out.splitlines()[0]
    assert "clients without a sidecar (Istio names them `unknown`) -> postgres: 12 plaintext connections." in first
    assert "migrator" not in first  # a zero count in the window breaks nothing


def test_a_workload_stage_is_judged_by_its_app_label(project, capsys):
    workloads = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())["config"]["gke-mtls:mesh"]["workloads"]
    workloads.append({"namespace": "shop", "selector": {"app": "cart"}, "stage": "observe"})
    root = project(migration={}, namespaces={"legacy": "PERMISSIVE"}, workloads=workloads)
    assert run(root, "--prometheus", str(RESULTS / "plaintext-http.json")) == 1
    assert (
        capsys.readouterr()
        .out.splitlines()[0]
        .startswith(
            "error: gke-mtls:mesh.workloads[2].stage: shop/{app: cart} is not ready for STRICT; these would break: "
            "clients without a sidecar (Istio names them `unknown`) -> cart: 3 plaintext requests."
        )
    )


def test_json_output_is_one_object_with_the_counts(project, capsys):
    assert run(project(), "--prometheus", str(RESULTS / "empty.json"), "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["name"] == "dev migration"
    assert (document["errors"], document["warnings"], document["notes"]) == (0, 0, 1)
    assert document["findings"][0]["code"] == "migration.ready"


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("matrix.json", None, "holds a 'matrix' result; the query is an instant query, whose result is a 'vector'."),
        ("error.json", None, "is not a successful Prometheus API response (status 'error')."),
        ("blank.json", "", "is not JSON (Expecting value: line 1 column 1 (char 0))."),
        (
            "bad-sample.json",
            '{"status": "success", "data": {"resultType": "vector", "result": [{"value": 3}]}}',
            'result[0] is not a sample of the form {metric: {...}, value: [time, "number"]}.',
        ),
        (
            "infinite.json",
            '{"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "+Inf"]}]}}',
            "result[0] counts '+Inf', not a finite number of requests or connections.",
        ),
    ],
)
def test_a_result_that_cannot_be_used_is_named_with_its_problem(project, tmp_path, capsys, name, content, message):
    path = RESULTS / name
    if content is not None:
        path = tmp_path / name
        path.write_text(content)
    assert run(project(), "--prometheus", str(path)) == 2
    assert capsys.readouterr().err == (
        f"error: {path}: {message} Save the JSON that /api/v1/query returns for the query. [migration.file]\n"
    )


def test_a_stack_without_a_stage_says_how_to_set_one(project, capsys):
    assert run(project(migration={}, namespaces={"legacy": "PERMISSIVE"}), "--prometheus", "x") == 2
    assert "migrates nothing: give a namespace a stage in gke-mtls:mesh.migration" in capsys.readouterr().err


def test_the_readme_worked_example_runs_offline_as_written(capsys, monkeypatch):
    """Every `$ python -m mtls ...` block of the README's migration section, run from the project root, prints
    exactly what the README shows."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split("### From PERMISSIVE to STRICT", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0] for b in section.split("```console\n")[1:]]
    assert len(blocks) == 2
    monkeypatch.chdir(PROJECT_ROOT)
    for block in blocks:
        command, *shown = block.strip().splitlines()
        args = command.removeprefix("$ python -m mtls ").split()
        status = main(args)
        assert capsys.readouterr().out.splitlines() == shown, command
        assert status == (1 if shown[0].startswith("error") else 0)
