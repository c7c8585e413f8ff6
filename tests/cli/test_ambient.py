"""`analyze --ambient NAMESPACE` and `analyze --stack` of a stack with `gke-mtls:mesh.ambient`: the what-if before a
namespace moves to ambient, a verdict per policy (unchanged, stops matching, drops all traffic, denies more,
ignored, taken as PERMISSIVE, needs a waypoint). The files in tests/cli/ambient/ are the README's worked example
("Moving a namespace to ambient")."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mtls.__main__ import main
from tests.conftest import PROJECT_ROOT

AMBIENT = Path(__file__).parent / "ambient"
SIDECARS = AMBIENT / "shop-sidecars.yaml"
MOVED = AMBIENT / "shop-ambient.yaml"
SCHEMA = json.loads((PROJECT_ROOT / "mtls" / "report.schema.json").read_text())


def lines(capsys) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_without_the_flag_the_sidecar_namespace_is_analysed_as_before(capsys):
    assert main(["analyze", str(SIDECARS)]) == 0
    assert lines(capsys)[-1] == f"{SIDECARS}: 0 error(s), 0 warning(s), 1 note(s)"


def test_the_what_if_gives_every_policy_of_the_namespace_a_verdict(capsys):
    assert main(["analyze", str(SIDECARS), "--ambient", "shop"]) == 1
    out = lines(capsys)
    assert [[*line.split(": ", 2)[:2], line.rsplit(" [", 1)[1]] for line in out[1:-1]] == [
        ["warning", f"{SIDECARS}[0]", "ambient.sidecar-injection]"],
        ["note", f"{SIDECARS}[1]", "ambient.unchanged]"],
        ["error", f"{SIDECARS}[2]", "ambient.ignored]"],
        ["error", f"{SIDECARS}[3].spec.rules[0]", "ambient.drops-all-traffic]"],
        ["note", f"{SIDECARS}[4]", "ambient.unchanged]"],
    ]
    assert out[-1] == f"{SIDECARS} with shop in ambient: 2 error(s), 1 warning(s), 3 note(s)"


def test_the_moved_namespace_is_ready(capsys):
    assert main(["analyze", str(MOVED), "--ambient", "shop"]) == 0
    out = lines(capsys)
    assert {line.rsplit(" [", 1)[1] for line in out[1:-1]} == {"ambient.unchanged]"}
    assert out[-1] == f"{MOVED} with shop in ambient: 0 error(s), 0 warning(s), 6 note(s)"


def test_a_namespace_the_input_does_not_hold_exits_2_with_the_closest_name(capsys):
    assert main(["analyze", str(SIDECARS), "--ambient", "shopp"]) == 2
    out = lines(capsys)
    assert (
        "error: --ambient shopp: no object of the files (or of the stack) is in namespace shopp, so moving it to "
        "ambient changes nothing: did you mean 'shop'? [ambient.namespace]"
    ) in out
    assert out[-1] == f"{SIDECARS}: 1 error(s), 0 warning(s), 1 note(s)"  # not "with shopp in ambient"


def test_a_flag_value_that_is_no_namespace_name_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["analyze", str(SIDECARS), "--ambient", "Shop"])
    assert stopped.value.code == 2
    assert "'Shop' is not a namespace name" in capsys.readouterr().err


def test_the_what_if_in_json_has_the_report_shape(capsys):
    assert main(["analyze", str(SIDECARS), "--ambient", "shop", "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    jsonschema.validate(document, SCHEMA)
    assert document["name"] == f"{SIDECARS} with shop in ambient"
    assert (document["errors"], document["warnings"], document["notes"]) == (2, 1, 3)
    [drops] = [f for f in document["findings"] if f["code"] == "ambient.drops-all-traffic"]
    assert drops["key"] == f"{SIDECARS}[3].spec.rules[0]" and drops["message"].startswith("drops all traffic: ")


@pytest.fixture
def project(tmp_path: Path):
    """A copy of the dev stack whose mesh a test may change."""
    shutil.copytree(PROJECT_ROOT / "certs", tmp_path / "certs")

    def write(**mesh_changes: Any) -> Path:
        config = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())
        config["config"]["gke-mtls:mesh"].update(mesh_changes)
        (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(config))
        return tmp_path

    return write


HTTPBIN_ON_ITS_WAYPOINT = {
    "name": "httpbin-policy",
    "namespace": "default",
    "targetRefs": [{"kind": "Service", "name": "httpbin"}],
    "rules": [
        {
            "from": [{"source": {"principals": ["cluster.local/ns/default/sa/sleep"]}}],
            "to": [{"operation": {"methods": ["GET"], "paths": ["/info*"]}}],
        }
    ],
}


def test_a_stack_that_marks_its_namespace_ambient_gets_a_verdict_for_each_of_its_policies(project, capsys):
    root = project(ambient={"default": {"waypoint": "waypoint"}}, authorization=[HTTPBIN_ON_ITS_WAYPOINT])
    assert main(["--project-root", str(root), "analyze", str(SIDECARS), "--stack", "dev"]) == 0
    out = lines(capsys)
    verdicts = [line for line in out if "[ambient." in line]
    assert [line.split(": ", 2)[1] for line in verdicts] == [
        "gke-mtls:mesh.mode",
        "gke-mtls:mesh.workloads[1]",
        "gke-mtls:mesh.authorization[0]",
    ]
    assert verdicts[2] == (
        "note: gke-mtls:mesh.authorization[0]: unchanged: enforced by waypoint default/waypoint (Service httpbin) with "
        "the callers' own identities and every attribute; sidecars, clients outside the mesh and gateways (unless "
        "istio.io/ingress-use-waypoint says so) do not go through a waypoint (istio/istio#51445) and are not checked "
        "by it. [ambient.unchanged]"
    )


def test_a_stack_that_asks_what_ztunnel_ignores_is_refused_at_the_key(project, capsys):
    """The dev stack's httpbin-policy matches methods and paths by selector: in an ambient namespace no waypoint
    would enforce it."""
    root = project(ambient={"default": {}})
    assert main(["--project-root", str(root), "analyze", str(SIDECARS), "--stack", "dev"]) == 1
    out = lines(capsys)
    assert out[0].startswith(
        "error: gke-mtls:mesh.authorization[0].rules[0]: ztunnel enforces the policies of ambient namespace default "
        "(gke-mtls:mesh.ambient.default) that bind pods by selector, and it cannot read methods, paths: istiod would "
        "leave this rule out"
    )
    assert out[-1] == "dev (its settings): 1 error(s), 0 warning(s)"


def test_the_readme_worked_example_runs_offline_as_written(capsys, monkeypatch):
    """Every `$ python -m mtls ...` block of the README's section "Moving a namespace to ambient", run from the
    project root, prints exactly what the README shows, and exits 1 where it shows an error."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split("## Moving a namespace to ambient", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0] for b in section.split("```console\n")[1:]]
    assert len(blocks) == 2
    monkeypatch.chdir(PROJECT_ROOT)
    for block in blocks:
        command, *shown = block.strip().splitlines()
        status = main(command.removeprefix("$ python -m mtls ").split())
        assert capsys.readouterr().out.splitlines() == shown, command
        assert status == (1 if any(line.startswith("error") for line in shown) else 0)


def test_the_stacks_ambient_namespace_stays_ambient_beside_the_clusters_own_namespace(project, capsys):
    """The files hold shop's Namespace without the label; the stack marks shop ambient, and the cluster after `pulumi
    up` is checked as ztunnel will run it (the settings' Namespace is kept beside the cluster's)."""
    frontend = {
        "name": "frontend",
        "from": {"principal": "cluster.local/ns/frontend/sa/web"},
        "to": {"namespace": "shop", "selector": {"app": "checkout"}, "ports": [8080]},
    }
    root = project(ambient={"shop": {}}, callers=[frontend])
    assert main(["--project-root", str(root), "analyze", str(SIDECARS), "--stack", "dev"]) == 1
    out = lines(capsys)
    assert f"error: {SIDECARS}[3].spec.rules[0]: drops all traffic: " in "\n".join(out)
    assert not [line for line in out if "caller frontend" in line]  # a sidecar, straight to ztunnel: allowed
