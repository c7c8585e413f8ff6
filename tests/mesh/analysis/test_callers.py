"""Callers: what breaks for whom. The load balancer and Google's health checks reach the edge's backend pods in
plaintext from Google's front-end ranges (https://cloud.google.com/load-balancing/docs/firewall-rules); declared
callers send from a mesh identity or in plaintext from IP ranges. Each is checked against the effective mTLS mode
(a STRICT port refuses plaintext: https://istio.io/latest/docs/concepts/security/#peer-authentication) and against
the AuthorizationPolicies of the workload it calls."""

from __future__ import annotations

import copy
from typing import Any

from components.mesh.analysis.engine import analyze
from components.mesh.interchange.istio_objects import from_document, from_manifests
from components.mesh.rendering.manifests import declared, manifests
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


# --- what a caller sends is decided per port (components/mesh/analysis/transport.py) --------------------------

# istio.io's authn-policy task (content/en/docs/tasks/security/authentication/authn-policy/snips.sh of istio/istio.io,
# commit 00f76de374d1, snip_enable_mutual_tls_per_workload_4): httpbin STRICT but its container port 80 DISABLE, with
# no DestinationRule; the task expects sleep.foo (a sidecar) and sleep.legacy (none) both to get 200 from it.
HTTPBIN_PORT_80 = {
    "namespace": "bar",
    "selector": {"app": "httpbin"},
    "name": "httpbin",
    "mode": "STRICT",
    "ports": {"80": "DISABLE"},
}
SLEEP = {"principal": "cluster.local/ns/foo/sa/sleep"}


def port_80(**changes: Any) -> dict[str, Any]:
    target = {"namespace": "bar", "selector": {"app": "httpbin"}, "ports": [80, 8000]}
    return {
        "mode": "STRICT",
        "workloads": [HTTPBIN_PORT_80],
        "callers": [{"name": "sleep", "from": SLEEP, "to": target}],
        **changes,
    }


def test_a_sidecar_and_a_plaintext_caller_both_reach_a_disable_port_with_no_destination_rule():
    assert findings_of(port_80()) == []
    legacy = {
        "name": "sleep-legacy",
        "from": {"ipBlocks": ["10.8.0.0/14"]},
        "to": {"namespace": "bar", "selector": {"app": "httpbin"}, "ports": [80]},
    }
    assert findings_of(port_80(callers=[legacy])) == []


def test_a_sidecar_callers_plaintext_to_a_disable_port_carries_no_principal_for_an_allow_policy():
    """The sidecar sends plaintext to port 80, so the ALLOW rule by its principal never matches it there, while on
    port 8000 (STRICT) it arrives with its identity and is allowed."""
    allow = {
        "name": "httpbin-callers",
        "namespace": "bar",
        "selector": {"app": "httpbin"},
        "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/foo/sa/sleep"]}}]}],
    }
    assert findings_of(port_80(authorization=[allow])) == [
        "error gke-mtls:mesh.authorization[0]: every request arrives as plaintext, without an identity, where this "
        "policy applies (bar/{app: httpbin}:80 is DISABLE), so principals never match one, and no rule of this ALLOW "
        "policy matches one without them: it denies every request there that no other ALLOW policy allows (Kiali's "
        "KIA0105). Let Istio mTLS reach those ports (PERMISSIVE or STRICT, and no DestinationRule that turns TLS off), "
        "or match those callers by what plaintext carries (`ipBlocks`, headers). [mesh.identity-unavailable]",
        "error gke-mtls:mesh.callers[0]: caller sleep's requests to bar/{app: httpbin}:80 arrive as plaintext (port 80 "
        "is DISABLE, so auto mTLS sends it plaintext) and so carry no principal; ALLOW policy bar/httpbin-callers "
        "(gke-mtls:mesh.authorization[0]) denies them (no rule of it matches them). Add a rule that matches it, or "
        "remove it from gke-mtls:mesh.callers if it is meant to be refused. [mesh.caller-denied]",
    ]


def test_a_deny_policy_with_not_namespaces_matches_a_sidecars_plaintext_and_is_advised_to_narrow():
    """`notNamespaces` match a request without an identity: the sidecar's own namespace does not save it there. The
    advice narrows the DENY rule; a rule added to a DENY policy would refuse more."""
    deny = {
        "name": "only-foo",
        "namespace": "bar",
        "selector": {"app": "httpbin"},
        "action": "DENY",
        "rules": [{"from": [{"source": {"notNamespaces": ["foo"]}}]}],
    }
    findings = findings_of(port_80(authorization=[deny]))
    assert findings[1] == (
        "error gke-mtls:mesh.callers[0]: caller sleep's requests to bar/{app: httpbin}:80 arrive as plaintext (port 80 "
        "is DISABLE, so auto mTLS sends it plaintext) and so carry no principal; DENY policy bar/only-foo "
        "(gke-mtls:mesh.authorization[0]) matches them. A DENY policy refuses what its rules match, so a rule added to "
        "it would refuse more: narrow the rule that matches them so that it leaves them out (for example `notPorts: "
        '["80"]` in its operation), or remove it, or remove the caller from gke-mtls:mesh.callers if it is meant to be '
        "refused. [mesh.caller-denied]"
    )
    assert findings[0].startswith(
        "error gke-mtls:mesh.authorization[0].rules[0]: every request arrives as plaintext, without an identity, where "
        "this rule applies (bar/{app: httpbin}:80 is DISABLE), so notNamespaces match every one of them: this rule "
        "refuses every request there that its other conditions match, whoever sends it (Kiali's KIA0105)."
    )


def test_a_declared_caller_denied_by_a_deny_policy_is_told_to_narrow_it_by_its_identity():
    deny = {
        "name": "no-sleep",
        "namespace": "bar",
        "selector": {"app": "httpbin"},
        "action": "DENY",
        "rules": [{"to": [{"operation": {"ports": ["8000"]}}]}],
    }
    (finding,) = findings_of(port_80(authorization=[deny]))
    assert 'for example `notPrincipals: ["cluster.local/ns/foo/sa/sleep"]` in its `from` source' in finding


# --- gateways -----------------------------------------------------------------------------------------------------

INGRESS = {
    "istioIngressGateway": True,
    "namespace": "istio-ingress",
    "selector": {"istio": "ingressgateway"},
    "port": 8080,
}


def test_the_load_balancer_to_the_ingress_gateway_is_never_refused_by_a_strict_mesh():
    """No PeerAuthentication applies to a gateway: istiod builds its listeners from the Gateway's servers
    (pilot/pkg/networking/core/gateway.go); the PeerAuthentication reference scopes it to sidecars."""
    assert findings_of({"mode": "STRICT", "edgeBackend": INGRESS}) == []
    assert [c.name for c in istio_resources.callers(stack_of({"mode": "STRICT", "edgeBackend": INGRESS}))] == [
        "the load balancer"
    ]


def test_authorization_still_applies_at_the_gateway():
    """An ALLOW policy by principal on the gateway pods denies the load balancer; the stack lets it in with its
    `edge-load-balancer` rule, as for a workload backend."""
    allow = {
        "name": "gateway-callers",
        "namespace": "istio-ingress",
        "selector": {"istio": "ingressgateway"},
        "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/foo/sa/sleep"]}}]}],
    }
    raw = {"mode": "STRICT", "edgeBackend": INGRESS, "authorization": [allow]}
    assert findings_of(raw) == []
    assert "edge-load-balancer" in [m.name for m in istio_resources.for_stack(stack_of(raw))]
    objects = from_manifests(manifests(settings_of(raw))) + declared(settings_of(raw))
    (finding,) = analyze(objects, istio_resources.callers(stack_of(raw)), "istio-system")
    assert str(finding).startswith(
        "gke-mtls:mesh.edgeBackend: the load balancer's requests to istio-ingress/{istio: ingressgateway}:8080 carry "
        "no principal; ALLOW policy istio-ingress/gateway-callers (gke-mtls:mesh.authorization[0]) denies them"
    )


def test_a_peer_authentication_of_the_gateway_pods_is_said_to_do_nothing():
    raw = {
        "mode": "STRICT",
        "edgeBackend": INGRESS,
        "workloads": [{"namespace": "istio-ingress", "selector": {"istio": "ingressgateway"}, "mode": "STRICT"}],
    }
    assert findings_of(raw) == [
        "warning gke-mtls:mesh.workloads[0]: it selects gateway pods (gke-mtls:mesh.edgeBackend), and no "
        "PeerAuthentication applies to a gateway: istiod builds its listeners from the Gateway's servers. Remove it; "
        "to require mTLS there, set `tls.mode: ISTIO_MUTUAL` (or MUTUAL) on the Gateway's servers. "
        "[mesh.gateway-peer-authentication]"
    ]


def test_a_gateway_from_cluster_files_is_recognised_by_its_selector():
    """The ingress Gateway of the same istio.io task (snip_enduser_authentication_1): plaintext to its pods under a
    STRICT mesh is taken, as the task's `curl $INGRESS_HOST:$INGRESS_PORT/headers` (200) shows."""
    gateway = {
        "apiVersion": "networking.istio.io/v1alpha3",
        "kind": "Gateway",
        "metadata": {"name": "httpbin-gateway", "namespace": "foo"},
        "spec": {
            "selector": {"istio": "ingressgateway"},
            "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}],
        },
    }
    mesh = {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": "istio-system"},
        "spec": {"mtls": {"mode": "STRICT"}},
    }
    objects = [o for i, d in enumerate([gateway, mesh]) if (o := from_document(d, f"f.yaml[{i}]", i)) is not None]
    outside = caller({"ipBlocks": ["0.0.0.0/0"]}, port=8080, app="ingressgateway")
    outside["to"] = {"namespace": "istio-system", "selector": {"istio": "ingressgateway"}, "ports": [8080]}
    callers = istio_resources.callers(stack_of({"callers": [outside]}))
    assert analyze(objects, callers, "istio-system") == []
    strict_pod = {**outside, "to": {"namespace": "istio-system", "selector": {"app": "istiod"}, "ports": [15012]}}
    assert [
        f.code for f in analyze(objects, istio_resources.callers(stack_of({"callers": [strict_pod]})), "istio-system")
    ] == ["mesh.caller-refused"]


def old_caller() -> dict[str, Any]:
    target = {"namespace": "shop", "selector": {"app": "old"}, "ports": [8443]}
    return {"name": "sleep", "from": SLEEP, "to": target}


def test_a_sidecar_that_a_disable_destination_rule_makes_send_plaintext_is_refused_by_a_strict_port():
    """Istio's "migration tls disabled" reachability case: plaintext from the rule, refused by STRICT."""
    workload = {"namespace": "shop", "selector": {"app": "old"}, "mode": "DISABLE", "service": "old"}
    raw = {"mode": "STRICT", "workloads": [{**workload, "ports": {"8443": "STRICT"}}], "callers": [old_caller()]}
    assert findings_of(raw)[0] == (
        "error gke-mtls:mesh.callers[0]: caller sleep's sidecar sends plaintext to shop/{app: old}:8443 "
        "(gke-mtls:mesh.workloads[0].service sets tls.mode DISABLE), but mTLS there is STRICT "
        "(gke-mtls:mesh.workloads[0]), so every request is refused. Remove that DestinationRule's `tls.mode: "
        "DISABLE` for this host (auto mTLS then sends mTLS), or make the port PERMISSIVE. [mesh.caller-refused]"
    )


def test_a_sidecar_that_the_local_istio_mutual_rule_makes_send_mtls_fails_at_a_disable_port():
    """The `*.local` ISTIO_MUTUAL rule replaces auto mTLS: the sidecar sends mTLS, which a DISABLE port cannot read
    (reference section 2.4; Istio's "migration tls mutual" case expects the same failure toward pods without a
    sidecar)."""
    workload = {"namespace": "shop", "selector": {"app": "old"}, "mode": "DISABLE"}
    raw = {"mode": "STRICT", "meshWideIstioMutual": True, "workloads": [workload], "callers": [old_caller()]}
    assert findings_of(raw)[0] == (
        "error gke-mtls:mesh.callers[0]: caller sleep's sidecar sends Istio mTLS to shop/{app: old}:8443 "
        "(gke-mtls:mesh.meshWideIstioMutual sets tls.mode ISTIO_MUTUAL), but mTLS there is DISABLE "
        "(gke-mtls:mesh.workloads[0]): that port takes plaintext only, so every request fails. Add a more specific "
        "DestinationRule with `tls: {mode: DISABLE}` for its Service (for a workload of gke-mtls:mesh.workloads, set "
        "its `service`), or make the port PERMISSIVE. [mesh.caller-refused]"
    )
    raw["workloads"][0]["service"] = "old"
    assert [f for f in findings_of(raw) if not f.startswith("note")] == []
