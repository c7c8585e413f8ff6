"""A note when another stack file of the project would collide with this stack: the same objects in the same
cluster, or the same domain. Never an error: a project often holds alternatives of one environment, deployed one at
a time, as the committed examples are."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from components.gke.objects import created_objects
from components.stack.settings import parse_stack
from mtls.__main__ import main
from tests.conftest import PROJECT_ROOT, committed_config, engine_config

MESH = (
    "  gke-mtls:cluster: {{context: {context}}}\n  gke-mtls:mesh:\n    mode: STRICT\n    namespaces: {{{namespaces}}}\n"
)


def project(tmp_path: Path, **stacks: str) -> Path:
    shutil.copytree(PROJECT_ROOT / "certs", tmp_path / "certs")
    (tmp_path / "Pulumi.yaml").write_text("name: gke-mtls\nruntime: python\n")
    for name, config in stacks.items():
        (tmp_path / f"Pulumi.{name}.yaml").write_text("config:\n" + config)
    return tmp_path


def check(capsys, root: Path, stack: str) -> list[str]:
    assert main(["--project-root", str(root), "check", "--stack", stack]) == 0
    return capsys.readouterr().out.splitlines()


def test_the_committed_dev_stack_names_its_alternatives(capsys, committed_project):
    assert check(capsys, committed_project, "dev") == [
        "note: gke-mtls:edge.domains[0]: dev.example.com is also a domain of stacks edge-dev and edge-neg-dev. DNS "
        "sends its clients to one load balancer, so only one of these stacks can serve it. That is fine for "
        "alternatives of one environment, deployed one at a time; otherwise give each stack its own domains. "
        "[stack.shared-domain]",
        "note: gke-mtls:cluster.context: stacks app-dev, platform-dev, platform-neg-dev and platform-regional-dev "
        "write to the same cluster (gke_acme-dev_europe-west1_platform) and would also create objects this stack "
        "creates: PeerAuthentication "
        "istio-system/default, PeerAuthentication default/web-edge-port. Of two such stacks, the second to run "
        "`pulumi up` fails on the objects that already exist. That is fine for alternatives of one environment, "
        "deployed one at a time; otherwise let one stack own each object. [stack.shared-objects]",
        "dev: 0 error(s), 0 warning(s), 2 note(s)",
    ]


def test_a_stack_copied_to_the_same_cluster_names_the_objects_both_would_create(tmp_path, capsys):
    root = project(
        tmp_path,
        dev=MESH.format(context="gke_a_b_c", namespaces="shop: STRICT, legacy: PERMISSIVE, ops: STRICT, x: STRICT"),
        copy=MESH.format(context="gke_a_b_c", namespaces="shop: STRICT, legacy: PERMISSIVE, ops: STRICT, x: STRICT"),
    )
    assert check(capsys, root, "copy") == [
        "note: gke-mtls:cluster.context: stack dev writes to the same cluster (gke_a_b_c) and would also create "
        "objects this stack creates: PeerAuthentication istio-system/default, PeerAuthentication shop/default, "
        "PeerAuthentication legacy/default and 2 more. Of two such stacks, the second to run `pulumi up` fails on "
        "the objects that already exist. That is fine for alternatives of one environment, deployed one at a time; "
        "otherwise let one stack own each object. [stack.shared-objects]",
        "copy: 0 error(s), 0 warning(s), 1 note(s)",
    ]


@pytest.mark.parametrize(
    "other",
    [
        MESH.format(context="gke_a_b_other", namespaces="shop: STRICT"),  # the same objects, another cluster
        "  gke-mtls:cluster: {context: gke_a_b_c}\n  gke-mtls:gkeBackend: {namespace: web, service: web, port: 80}\n",
        "  gke-mtls:cluster: {context: gke_a_b_c}\n  gke-mtls:mesh: [broken\n",  # its own check names it
        "  gke-mtls:edge: {secure: v1:AAAA}\n",
    ],
    ids=["another-cluster", "other-objects-in-the-cluster", "a-broken-stack-file", "a-stack-with-secrets"],
)
def test_no_note_for_stacks_that_do_not_collide_or_cannot_be_read(tmp_path, capsys, other):
    root = project(tmp_path, dev=MESH.format(context="gke_a_b_c", namespaces="shop: STRICT"), other=other)
    assert check(capsys, root, "dev") == ["dev: ok"]


def test_the_same_domain_is_found_whatever_its_case_or_final_dot(tmp_path, capsys):
    edge = (
        "  gke-mtls:backend: {{name: web}}\n  gke-mtls:edge:\n    certificate: {{source: computeManaged}}\n"
        "    domains: [{}]\n    trustAnchors: [certs/dev/root-ca.pem]\n"
    )
    root = project(tmp_path, a=edge.format("x.example.com, api.example.com"), b=edge.format("API.example.com."))
    assert check(capsys, root, "a") == [
        "note: gke-mtls:edge.domains[1]: api.example.com is also a domain of stack b. DNS sends its clients to one "
        "load balancer, so only one of these stacks can serve it. That is fine for alternatives of one environment, "
        "deployed one at a time; otherwise give each stack its own domains. [stack.shared-domain]",
        "a: 0 error(s), 0 warning(s), 1 note(s)",
    ]


@pytest.mark.parametrize(
    "stack, create_service",
    [("platform-dev", False), ("platform-dev", True), ("platform-neg-dev", True), ("app-dev", False)],
)
def test_the_gke_objects_named_are_those_the_program_creates(run_stack, stack, create_service):
    """What the note compares is what the GKE component registers, read from the program under the mock engine."""
    config = committed_config(stack)
    config["gke-mtls:gkeBackend"] |= {"createService": create_service, "selector": {"app": "web"}}
    settings, findings = parse_stack(engine_config(config), PROJECT_ROOT)
    assert settings is not None and settings.gke_backend is not None, findings
    recording = run_stack(config, stack=stack)
    assert recording.error is None, recording.error
    created = {
        (r.type.rsplit(":", 1)[-1], r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"])
        for r in recording.cloud_resources()
        if r.type.rsplit(":", 1)[-1] in ("Service", "BackendConfig", "Ingress")
    }
    assert created  # something to compare
    assert set(created_objects(settings.gke_backend)) == created
