"""From PERMISSIVE to STRICT: the stages. Istio's dry-run task (https://istio.io/latest/docs/tasks/security/
authorization/authz-dry-run/): a policy annotated `istio.io/dry-run: "true"` is evaluated and recorded, never
enforced. STRICT refuses exactly the requests without a peer identity (the concept page's peer authentication)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.core.settings import parse
from components.mesh.analysis.authorization import Request, decide
from components.mesh.interchange.istio_objects import from_manifests
from components.mesh.rendering.manifests import manifests, observe_policy
from components.mesh.settings import KEY, MeshSettings, check
from tests.mesh.configs import SEED, findings_of, settings_of

FRONT_ENDS_AND_PODS = Request("8080", principal="", sources=None)


def seed(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(SEED)
    raw.update(changes)
    return raw


def documents(raw: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(m.kind, m.namespace, m.name): m.document for m in manifests(settings_of(raw))}


def test_observe_keeps_permissive_and_adds_the_dry_run_policy():
    generated = documents(seed(migration={"legacy": "observe"}))
    assert generated[("PeerAuthentication", "legacy", "default")]["spec"] == {"mtls": {"mode": "PERMISSIVE"}}
    assert generated[("AuthorizationPolicy", "legacy", "plaintext-observe")] == {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "plaintext-observe", "namespace": "legacy", "annotations": {"istio.io/dry-run": "true"}},
        "spec": {"action": "DENY", "rules": [{"from": [{"source": {"notPrincipals": ["*"]}}]}]},
    }


def test_enforce_is_strict_and_drops_the_dry_run_policy():
    generated = documents(seed(migration={"legacy": "enforce"}))
    assert generated[("PeerAuthentication", "legacy", "default")]["spec"] == {"mtls": {"mode": "STRICT"}}
    assert ("AuthorizationPolicy", "legacy", "plaintext-observe") not in generated


def test_a_workload_stage_selects_its_pods():
    workload = {"namespace": "shop", "selector": {"app": "old"}, "stage": "observe", "ports": {"9090": "PERMISSIVE"}}
    generated = documents(seed(workloads=[workload]))
    assert generated[("PeerAuthentication", "shop", "old")]["spec"] == {
        "selector": {"matchLabels": {"app": "old"}},
        "mtls": {"mode": "PERMISSIVE"},
        "portLevelMtls": {"9090": {"mode": "PERMISSIVE"}},
    }
    policy = generated[("AuthorizationPolicy", "shop", "old-plaintext-observe")]
    assert policy["spec"]["selector"] == {"matchLabels": {"app": "old"}}
    assert policy["metadata"]["annotations"] == {"istio.io/dry-run": "true"}


@pytest.mark.parametrize(
    "principal",
    ["cluster.local/ns/shop/sa/checkout", "acme.svc.id.goog/ns/a/sa/b", "spiffe-less/ns/x/sa/y"],
)
def test_the_dry_run_policy_matches_exactly_what_strict_refuses(principal):
    """`notPrincipals: ["*"]` matches a request whose principal is absent (presence match `*` fails on it): that is
    plaintext, which STRICT refuses; a request over mTLS carries a principal, whatever identity, and does not match."""
    (observe,) = from_manifests([observe_policy("plaintext-observe", "legacy", {}, "k")])
    assert decide([observe], Request("8080", principal="")).allowed is False
    assert decide([observe], Request("8080", principal=principal)).allowed is True


def test_a_dry_run_policy_never_counts_as_enforcement():
    """A declared plaintext caller of an observed namespace is only warned about; the same caller is refused at
    enforce, with the key that made the namespace STRICT."""
    scraper = {
        "name": "scraper",
        "from": {"ipBlocks": ["10.8.0.0/14"]},
        "to": {"namespace": "legacy", "selector": {"app": "db"}, "ports": [9187]},
    }
    assert findings_of(seed(migration={"legacy": "observe"}, callers=[scraper])) == [
        "warning gke-mtls:mesh.callers[0]: caller scraper's requests to legacy/{app: db}:9187 match the dry-run policy "
        "legacy/plaintext-observe (gke-mtls:mesh.migration.legacy): Istio only records them now, and refuses them "
        "once it is enforced (for a migration stage: at `enforce`). Give the caller a sidecar, or keep "
        '`ports: {"9187": PERMISSIVE}` for that workload. [mesh.caller-observed]'
    ]
    (refused,) = findings_of(seed(migration={"legacy": "enforce"}, callers=[scraper]))
    assert refused.startswith(
        "error gke-mtls:mesh.callers[0]: caller scraper sends plaintext to legacy/{app: db}:9187, but mTLS there is "
        "STRICT (gke-mtls:mesh.migration.legacy), so every request is refused."
    )


def findings_of_settings(raw: dict[str, Any]) -> list[str]:
    mesh, findings = parse(MeshSettings, raw, KEY)
    return [str(f) for f in findings + (check(mesh) if mesh is not None else [])]


def test_an_unknown_stage_lists_the_allowed_ones():
    assert findings_of_settings(seed(migration={"legacy": "watch"})) == [
        "gke-mtls:mesh.migration.legacy: 'watch' is not allowed; use one of observe, enforce. [config.enum]"
    ]


def test_a_stage_and_a_mode_for_one_namespace_or_workload_are_refused():
    assert findings_of_settings(seed(namespaces={"legacy": "PERMISSIVE"}, migration={"legacy": "observe"})) == [
        "gke-mtls:mesh.migration.legacy: legacy also has a mode in `namespaces`; the stage sets it (observe: "
        "PERMISSIVE, enforce: STRICT). Remove it from `namespaces`. [config.migration]"
    ]
    both = {"namespace": "shop", "selector": {"app": "old"}, "stage": "observe", "mode": "PERMISSIVE"}
    assert findings_of_settings(seed(workloads=[both])) == [
        "gke-mtls:mesh.workloads[0].stage: a stage needs a selector and sets the workload's mode itself; remove "
        "`mode`, or the stage. [config.migration]"
    ]
    assert findings_of_settings(seed(migration={"istio-system": "enforce"})) == [
        "gke-mtls:mesh.migration.istio-system: the root namespace's mode is the mesh's: migrate namespace by "
        "namespace, then set `mode: STRICT`. [config.migration]"
    ]


def test_a_port_kept_open_by_an_exception_is_not_what_enforce_closes():
    """The edge's port stays PERMISSIVE through its workload exception, whatever the namespace's stage: the
    load balancer matching the namespace's dry-run policy is no warning."""
    raw = seed(
        migration={"default": "observe"},
        workloads=[{"namespace": "default", "selector": {"app": "web"}, "ports": {"8080": "PERMISSIVE"}}],
        edgeBackend={"namespace": "default", "selector": {"app": "web"}, "port": 8080},
        authorization=[],
    )
    assert findings_of(raw) == []
    raw["workloads"] = []
    raw["migration"] = {"default": "observe"}
    (finding,) = findings_of(raw)
    assert finding.startswith(
        "warning gke-mtls:mesh.edgeBackend: the load balancer's requests to default/{app: web}:8080"
    )
