"""Callers: what breaks for whom. The load balancer and Google's health checks reach the edge's backend pods in
plaintext from Google's front-end ranges (https://cloud.google.com/load-balancing/docs/firewall-rules); declared
callers send from a mesh identity or in plaintext from IP ranges. Each is checked against the effective mTLS mode
(a STRICT port refuses plaintext: https://istio.io/latest/docs/concepts/security/#peer-authentication) and against
the AuthorizationPolicies of the workload it calls."""

from __future__ import annotations

import copy
from typing import Any

from components.mesh.analysis import analyze
from components.mesh.istio_objects import from_manifests
from components.mesh.manifests import manifests
from components.stack import istio_resources
from tests.mesh.configs import EDGE_BACKEND_WITH_CALLERS, findings_of, settings_of, stack_of


def shape(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(EDGE_BACKEND_WITH_CALLERS)
    raw.update(changes)
    return raw


def test_the_edge_backend_with_a_principal_allow_policy_plans_cleanly():
    """The common shape: STRICT everywhere but the edge port, in-mesh callers allowed by principal. The load
    balancer gets in through the generated `edge-load-balancer` rule, so nothing is reported."""
    assert findings_of(EDGE_BACKEND_WITH_CALLERS) == []
    names = [(m.kind, m.name) for m in istio_resources.for_stack(stack_of(EDGE_BACKEND_WITH_CALLERS))]
    assert ("AuthorizationPolicy", "edge-load-balancer") in names


def test_without_the_generated_rule_the_load_balancer_is_denied_by_name():
    """The same policies applied from elsewhere (no admission rule): the ALLOW policy denies the load balancer."""
    mesh = settings_of(EDGE_BACKEND_WITH_CALLERS)
    objects = from_manifests(manifests(mesh))
    callers = istio_resources.callers(stack_of(EDGE_BACKEND_WITH_CALLERS))
    assert [str(f) for f in analyze(objects, callers, "istio-system")] == [
        "gke-mtls:mesh.edgeBackend: the load balancer's requests to default/{app: web}:8080 carry no principal; ALLOW "
        "policy default/web-callers (gke-mtls:mesh.authorization[0]) denies them (no rule of it matches them). "
        "gke-mtls lets them in with its `edge-load-balancer` policy when its own ALLOW policies cover the backend; for "
        'a policy from elsewhere, add a rule with `ipBlocks: [130.211.0.0/22, 35.191.0.0/16]` on port "8080" to it. '
        "[mesh.caller-denied]"
    ]


def test_no_allow_policy_means_no_generated_rule():
    """Without an ALLOW policy Istio allows the load balancer already; an ALLOW rule for it would deny every other
    caller of the workload."""
    raw = shape(authorization=[])
    assert findings_of(raw) == []
    assert "edge-load-balancer" not in [m.name for m in istio_resources.for_stack(stack_of(raw))]


def test_a_deny_by_default_namespace_gets_the_rule_too():
    """`allow-nothing` is an ALLOW policy without rules: it would deny the load balancer."""
    raw = shape(authorization=[], denyByDefault=["default"])
    assert findings_of(raw) == []
    assert "edge-load-balancer" in [m.name for m in istio_resources.for_stack(stack_of(raw))]


def test_a_deny_policy_that_matches_the_load_balancer_is_named():
    raw = shape()
    raw["authorization"].append(
        {
            "name": "no-plaintext",
            "namespace": "default",
            "selector": {"app": "web"},
            "action": "DENY",
            "rules": [{"from": [{"source": {"notPrincipals": ["*"]}}]}],
        }
    )
    (finding,) = findings_of(raw)
    assert finding.startswith(
        "error gke-mtls:mesh.edgeBackend: the load balancer's requests to default/{app: web}:8080 carry no principal; "
        "DENY policy default/no-plaintext (gke-mtls:mesh.authorization[1]) matches them."
    )


def caller(source: dict[str, Any], port: int = 8080, app: str = "web") -> dict[str, Any]:
    target = {"namespace": "default", "selector": {"app": app}, "ports": [port]}
    return {"name": "scraper", "from": source, "to": target}


def test_a_declared_plaintext_caller_of_a_strict_port_is_refused():
    raw = shape(callers=[caller({"ipBlocks": ["10.8.0.0/14"]}, port=9090)])
    assert findings_of(raw) == [
        "error gke-mtls:mesh.callers[0]: caller scraper sends plaintext to default/{app: web}:9090, but mTLS there is "
        "STRICT (gke-mtls:mesh.mode), so every request is refused. Give the caller a sidecar (and declare its "
        "`principal`), or add "
        '`ports: {"9090": PERMISSIVE}` to the gke-mtls:mesh.workloads entry of that workload. [mesh.caller-refused]'
    ]


def test_a_declared_plaintext_caller_of_the_permissive_port_is_denied_by_the_principal_policy():
    raw = shape(callers=[caller({"ipBlocks": ["10.8.0.0/14"]})])
    (finding,) = findings_of(raw)
    assert finding.startswith(
        "error gke-mtls:mesh.callers[0]: caller scraper's requests to default/{app: web}:8080 carry no principal; "
        "ALLOW policies default/web-callers (gke-mtls:mesh.authorization[0]), default/edge-load-balancer "
        "(gke-mtls:mesh.edgeBackend) deny them (no rule of theirs matches them)."
    )
    assert finding.endswith(
        "Add a rule that matches it, or remove it from gke-mtls:mesh.callers if it is meant to be refused. "
        "[mesh.caller-denied]"
    )


def test_a_declared_caller_the_policies_allow_is_quiet():
    checkout = caller({"principal": "cluster.local/ns/shop/sa/checkout"})
    raw = shape(callers=[checkout])
    raw["authorization"][0]["rules"][0].pop("to")  # any path: the caller's requests match for sure
    assert findings_of(raw) == []


def test_a_declared_caller_with_another_identity_is_denied():
    stranger = caller({"principal": "cluster.local/ns/shop/sa/cart"})
    (finding,) = findings_of(shape(callers=[stranger]))
    assert "carry the principal cluster.local/ns/shop/sa/cart; ALLOW policies default/web-callers" in finding


def test_a_caller_needs_either_a_principal_or_ip_blocks():
    from components.core.settings import parse
    from components.mesh.settings import KEY, MeshSettings, check

    for source in ({}, {"principal": "cluster.local/ns/a/sa/b", "ipBlocks": ["10.0.0.0/8"]}):
        mesh, findings = parse(MeshSettings, shape(callers=[caller(source)]), KEY)
        assert findings == [] and mesh is not None
        assert [str(f) for f in check(mesh)] == [
            "gke-mtls:mesh.callers[0].from: set either `principal` (a caller with a sidecar) or `ipBlocks` (plaintext "
            "from those ranges), not both and not neither. [config.caller]"
        ]


def test_caller_settings_are_checked_when_parsed():
    from components.core.settings import parse
    from components.mesh.settings import KEY, MeshSettings

    bad = caller({"principal": "spiffe://cluster.local/ns/a/sa/b", "ipBlocks": ["10.0.0.1/8"]}, port=0)
    _, findings = parse(MeshSettings, shape(callers=[bad]), KEY)
    assert [str(f) for f in findings] == [
        "gke-mtls:mesh.callers[0].from.principal: 'spiffe://cluster.local/ns/a/sa/b' is not valid: a principal is "
        "<trust-domain>/ns/<namespace>/sa/<service-account>, e.g. cluster.local/ns/shop/sa/checkout (no spiffe:// "
        "prefix, no wildcard). [config.syntax]",
        "gke-mtls:mesh.callers[0].from.ipBlocks[0]: '10.0.0.1/8' is not an IP range: write a CIDR such as "
        "10.8.0.0/14, with no host bits set, or one address. [config.syntax]",
        "gke-mtls:mesh.callers[0].to.ports[0]: 0 is out of range; use an integer from 1 to 65535. [config.range]",
    ]
