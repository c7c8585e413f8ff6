"""`gke-mtls:mesh.ambient` and `authorization[].targetRefs` (components/mesh/settings.py and
components/mesh/validation/ambient.py): the settings refuse what ztunnel ignores in a namespace they mark ambient,
DISABLE and a rule or action no waypoint would enforce, each naming its key (sources: istio.io "Use Layer 4 security
policy", content/en/docs/ambient/usage/l4-policy/index.md of istio/istio.io @03ae9342;
pilot/pkg/serviceregistry/ambient/authorization.go of istio/istio @86c9f01fd); what they declare reaches the analysis
as the labels and waypoint Gateway `istioctl waypoint apply --enroll-namespace` writes."""

from __future__ import annotations

import copy
from typing import Any

from components.core.settings import parse
from components.mesh.rendering.manifests import declared, manifests
from components.mesh.settings import KEY, MeshSettings, check
from tests.mesh.configs import analysis_of, settings_of

# The getting-started task's shop, in the stack's words: default is ambient with its waypoint, productpage's
# viewers bound to it (deploy_l7_policy of content/en/docs/ambient/getting-started/enforce-auth-policies).
AMBIENT_SHOP: dict[str, Any] = {
    "mode": "STRICT",
    "ambient": {"default": {"waypoint": "waypoint"}},
    "authorization": [
        {
            "name": "productpage-viewer",
            "namespace": "default",
            "targetRefs": [{"kind": "Service", "name": "productpage"}],
            "rules": [
                {
                    "from": [{"source": {"principals": ["cluster.local/ns/default/sa/curl"]}}],
                    "to": [{"operation": {"methods": ["GET"]}}],
                }
            ],
        }
    ],
}


def problems(raw: dict[str, Any]) -> list[tuple[str, str, str]]:
    mesh, findings = parse(MeshSettings, raw, KEY)
    assert mesh is not None, [str(f) for f in findings]
    return [(f.code, f.key, f.message) for f in check(mesh)]


def changed(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(AMBIENT_SHOP)
    raw.update(changes)
    return raw


def test_an_ambient_namespace_with_an_l7_policy_bound_to_its_waypoint_is_accepted_and_rendered():
    mesh = settings_of(AMBIENT_SHOP)
    [policy] = [m for m in manifests(mesh) if m.kind == "AuthorizationPolicy"]
    assert policy.spec == {
        "action": "ALLOW",
        "targetRefs": [{"group": "", "kind": "Service", "name": "productpage"}],
        "rules": AMBIENT_SHOP["authorization"][0]["rules"],
    }
    labels = {(o.kind, o.name): dict(o.labels) for o in declared(mesh)}
    assert labels == {
        ("Gateway", "waypoint"): {},
        ("Namespace", "default"): {"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "waypoint"},
    }
    [gateway] = [o for o in declared(mesh) if o.kind == "Gateway"]
    assert (
        gateway.spec["gatewayClassName"] == "istio-waypoint" and gateway.origin.key == f"{KEY}.ambient.default.waypoint"
    )
    # The cluster's verdict on the generated policy, and the analysis: the waypoint enforces it, so nothing to say
    # but "unchanged", which the preflight leaves out.
    assert analysis_of(AMBIENT_SHOP) == []


def test_disable_in_an_ambient_namespace_is_refused_at_its_key():
    """The page: "it is not possible to use the DISABLE mode in a policy. Such policies will be ignored"."""
    raw = changed(
        namespaces={"default": "DISABLE"},
        workloads=[{"namespace": "default", "selector": {"app": "legacy"}, "ports": {"9090": "DISABLE"}}],
    )
    assert [(code, key) for code, key, _ in problems(raw)] == [
        ("config.ambient", f"{KEY}.namespaces.default"),
        ("config.ambient", f"{KEY}.workloads[0].ports.9090"),
    ]
    assert problems(raw)[0][2] == (
        "default runs ambient (gke-mtls:mesh.ambient.default), where ztunnel takes DISABLE as PERMISSIVE: istiod sends "
        "ztunnel policies that refuse connections without an identity only where a port is STRICT "
        "(`convertedSelectorPeerAuthentications`, pilot/pkg/serviceregistry/ambient/authorization.go:106-136), so "
        "callers in the mesh keep sending mTLS over HBONE, and plaintext from outside the mesh still gets in. Use "
        "PERMISSIVE, or take default out of gke-mtls:mesh.ambient to run it without mTLS."
    )
    assert problems(changed(namespaces={"default": "PERMISSIVE"})) == []


def test_a_disable_port_that_ztunnel_keeps_strict_is_refused_as_ignored():
    """pilot/pkg/serviceregistry/ambient/authorization.go:175-195: under the mesh's STRICT, a workload without a mode
    of its own is an exception only for a PERMISSIVE port."""
    legacy = {"namespace": "default", "selector": {"app": "legacy"}, "ports": {"9090": "DISABLE"}}
    [(code, key, message)] = problems(changed(workloads=[legacy]))
    assert (code, key) == ("config.ambient", f"{KEY}.workloads[0].ports.9090")
    assert message.startswith(
        "default runs ambient (gke-mtls:mesh.ambient.default), where ztunnel ignores this DISABLE"
    )
    assert message.endswith(
        "so the port stays STRICT and ztunnel refuses plaintext to it. Use PERMISSIVE for port 9090."
    )
    assert problems(changed(workloads=[{**legacy, "ports": {"9090": "PERMISSIVE"}}])) == []


def test_a_strict_port_istiod_would_leave_out_is_refused_naming_the_namespace_key():
    """authorization.go:281-285: with the mesh STRICT and the namespace unset, a workload's STRICT port under its own
    PERMISSIVE is skipped, and 134-136 dropped the static STRICT for the workload."""
    admin = {"namespace": "default", "selector": {"app": "admin"}, "mode": "PERMISSIVE", "ports": {"8443": "STRICT"}}
    [(code, key, message)] = problems(changed(workloads=[admin]))
    assert (code, key) == ("config.ambient", f"{KEY}.workloads[0].ports.8443")
    assert message.endswith("which the sidecars refused. Set gke-mtls:mesh.namespaces.default: STRICT.")
    assert problems(changed(workloads=[admin], namespaces={"default": "STRICT"})) == []


def test_a_mesh_wide_disable_is_refused_where_an_ambient_namespace_inherits_it():
    assert [k for _, k, _ in problems(changed(mode="DISABLE"))] == [f"{KEY}.mode"]
    assert problems(changed(mode="DISABLE", namespaces={"default": "STRICT"})) == []
    # No ambient namespace: the sidecars' DISABLE.
    assert problems(changed(mode="DISABLE", ambient={}, authorization=[])) == []


def test_an_l7_rule_of_a_selector_policy_is_refused_naming_the_rule_and_the_attributes():
    """A selector-bound policy is ztunnel's, with or without a waypoint; istiod leaves the ALLOW rule out."""
    selector = {**AMBIENT_SHOP["authorization"][0], "selector": {"app": "productpage"}}
    del selector["targetRefs"]
    [(code, key, message)] = problems(changed(authorization=[selector]))
    assert (code, key) == ("config.ambient", f"{KEY}.authorization[0].rules[0]")
    assert message == (
        "ztunnel enforces the policies of ambient namespace default (gke-mtls:mesh.ambient.default) that bind pods by "
        "selector, and it cannot read methods: istiod would leave this rule out, and no waypoint enforces a "
        "selector-bound policy. Bind the policy to the waypoint with `targetRefs` (a Service it serves, or its "
        "Gateway; gke-mtls:mesh.ambient.<namespace>.waypoint names it) instead of `selector`, or keep the rule to L4 "
        "attributes (principals, namespaces, serviceAccounts, ipBlocks, ports)."
    )
    l4 = copy.deepcopy(selector)
    del l4["rules"][0]["to"]
    assert problems(changed(authorization=[l4])) == []
    assert problems({"authorization": [selector]}) == []  # no namespace is ambient: the sidecars enforce it


def test_a_custom_policy_on_a_selector_is_refused():
    custom = {"name": "ext", "namespace": "default", "action": "CUSTOM", "provider": "oauth2", "rules": [{}]}
    assert [(c, k) for c, k, _ in problems(changed(authorization=[custom]))] == [
        ("config.ambient", f"{KEY}.authorization[0].action")
    ]


def test_a_target_ref_to_a_service_needs_the_namespaces_waypoint():
    """istio/istio#57315: policies bound to a waypoint that was never created allowed all traffic."""
    [(code, key, message)] = problems(changed(ambient={"default": {}}))
    assert (code, key) == ("config.ambient", f"{KEY}.authorization[0].targetRefs")
    assert message.endswith("nothing would. Set gke-mtls:mesh.ambient.default.waypoint to the waypoint that serves it.")


def test_a_service_bound_policy_outside_ambient_is_refused_since_sidecars_ignore_it():
    """pilot/pkg/model/policyattachment.go `ShouldAttachPolicy`: a sidecar ignores any policy with targetRefs, and
    only a waypoint applies one bound to a Service (istio/istio#57315: such a policy then allows everything)."""
    [(code, key, message)] = problems(changed(ambient={}))
    assert (code, key) == ("config.ambient", f"{KEY}.authorization[0].targetRefs")
    assert message == (
        "it is bound to Service productpage, which only a waypoint enforces, and default is not in "
        "gke-mtls:mesh.ambient: its sidecars ignore a policy bound by targetRefs (`ShouldAttachPolicy`, "
        "pilot/pkg/model/policyattachment.go), so nothing would enforce it and the requests it should refuse get "
        "through (istio/istio#57315). Bind it to the pods with `selector`, or mark default ambient with its waypoint "
        "(gke-mtls:mesh.ambient.default.waypoint)."
    )
    entry = {**AMBIENT_SHOP["authorization"][0], "targetRefs": [{"kind": "ServiceEntry", "name": "ext"}]}
    assert [k for _, k, _ in problems(changed(authorization=[entry], ambient={"default": {}}))] == [
        f"{KEY}.authorization[0].targetRefs"
    ]
    assert problems(changed(authorization=[entry])) == []


def test_a_gateway_the_stack_does_not_declare_is_refused_as_a_typo_of_its_waypoint_and_warned_about_otherwise():
    """A policy bound to a Gateway applies to the pods labelled with its name (`ShouldAttachPolicy`): the waypoint
    the settings declare, the edge backend's gateway, or an ingress gateway the stack does not manage."""
    policy = {**AMBIENT_SHOP["authorization"][0], "targetRefs": [{"kind": "Gateway", "name": "waypont"}]}
    mesh, _ = parse(MeshSettings, changed(authorization=[policy]), KEY)
    assert mesh is not None
    [typo] = check(mesh)
    assert (typo.severity.value, typo.key) == ("error", f"{KEY}.authorization[0].targetRefs[0]")
    assert typo.message.endswith("nothing would enforce it (istio/istio#57315). Did you mean 'waypoint'?")
    ingress = {**policy, "targetRefs": [{"kind": "Gateway", "name": "bookinfo-gateway"}]}
    mesh, _ = parse(MeshSettings, changed(authorization=[ingress]), KEY)
    assert mesh is not None
    [unknown] = check(mesh)
    assert (unknown.severity.value, unknown.code) == ("warning", "config.ambient")
    assert unknown.message.startswith(
        "the stack declares no Gateway default/bookinfo-gateway: neither the waypoint of "
        "gke-mtls:mesh.ambient.default.waypoint nor the edge backend's gateway (its pods labelled "
        "gateway.networking.k8s.io/gateway-name: bookinfo-gateway) is one"
    )
    backend = {
        "istioIngressGateway": True,
        "namespace": "default",
        "selector": {"gateway.networking.k8s.io/gateway-name": "bookinfo-gateway"},
        "port": 80,
    }
    assert problems(changed(authorization=[ingress], edgeBackend=backend)) == []
    assert problems(changed(authorization=[{**policy, "targetRefs": [{"kind": "Gateway", "name": "waypoint"}]}])) == []


NAMED = {"default": "STRICT"}  # another key names the ambient namespace


def test_a_gateway_class_binding_must_name_istio_waypoint():
    """policyattachment.go:176-181: only constants.WaypointGatewayClassName binds by GatewayClass."""
    root = {**AMBIENT_SHOP["authorization"][0], "namespace": "istio-system"}
    other = {**root, "targetRefs": [{"kind": "GatewayClass", "name": "istio"}]}
    assert [(c, k) for c, k, _ in problems(changed(authorization=[other], namespaces=NAMED))] == [
        ("config.ambient", f"{KEY}.authorization[0].targetRefs[0]")
    ]
    waypoints = {**root, "targetRefs": [{"kind": "GatewayClass", "name": "istio-waypoint"}]}
    assert problems(changed(authorization=[waypoints], namespaces=NAMED)) == []
    mesh, _ = parse(MeshSettings, changed(authorization=[waypoints], ambient={"default": {}}, namespaces=NAMED), KEY)
    assert mesh is not None
    assert [(f.severity.value, f.key) for f in check(mesh)] == [("warning", f"{KEY}.authorization[0].targetRefs[0]")]


def test_target_refs_are_checked_as_istio_checks_them():
    both = {**AMBIENT_SHOP["authorization"][0], "selector": {"app": "productpage"}}
    group = {**AMBIENT_SHOP["authorization"][0], "targetRefs": [{"kind": "Gateway", "name": "waypoint", "group": ""}]}
    klass = {**AMBIENT_SHOP["authorization"][0], "targetRefs": [{"kind": "GatewayClass", "name": "istio-waypoint"}]}
    assert [(c, k) for c, k, _ in problems(changed(authorization=[both, group, klass]))] == [
        ("config.target-refs", f"{KEY}.authorization[0].targetRefs"),
        ("config.target-refs", f"{KEY}.authorization[1].targetRefs[0].group"),
        ("config.target-refs", f"{KEY}.authorization[2].targetRefs[0]"),
    ]
    core = {**AMBIENT_SHOP["authorization"][0], "targetRefs": [{"kind": "Service", "name": "p", "group": "core"}]}
    assert problems(changed(authorization=[core])) == []


def test_a_namespace_the_stack_does_not_know_and_a_waypoint_named_none_are_refused():
    raw = changed(ambient={"default": {"waypoint": "waypoint"}, "shopp": {"waypoint": "none"}})
    assert problems(raw) == [
        (
            "config.ambient",
            f"{KEY}.ambient.shopp",
            "no other key of gke-mtls:mesh names namespace shopp, so marking it ambient changes nothing the stack "
            "applies or checks: check the name, or remove it.",
        ),
        (
            "config.ambient",
            f"{KEY}.ambient.shopp.waypoint",
            "`none` is not a waypoint: Istio reserves it to opt out of one (istio.io/use-waypoint: none). Name the "
            "waypoint's Gateway, or leave `waypoint` out.",
        ),
    ]


def test_a_selector_policy_naming_an_ambient_caller_behind_the_waypoint_stops_the_preflight():
    """The analysis of the stack's objects: the waypoint presents its own identity to ztunnel (istio.io "Use Layer 4
    security policy", "Authorization policy attachment")."""
    raw = changed(
        authorization=[
            {
                "name": "reviews-callers",
                "namespace": "default",
                "selector": {"app": "reviews"},
                "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/default/sa/productpage"]}}]}],
            }
        ]
    )
    [finding] = [f for f in analysis_of(raw) if f.code.startswith("ambient.")]
    assert (finding.severity.value, finding.code, finding.key) == (
        "error",
        "ambient.stops-matching",
        f"{KEY}.authorization[0].rules[0]",
    )
    assert finding.message.startswith(
        "stops matching: cluster.local/ns/default/sa/productpage reach the pods labelled {app: reviews} in default "
        "through waypoint default/waypoint"
    )


def test_an_observe_stage_in_an_ambient_namespace_is_warned_about():
    """Its dry-run policy is not ztunnel's unless istiod runs with AMBIENT_ENABLE_DRY_RUN_AUTHORIZATION_POLICY
    (pilot/pkg/features/ambient.go, off by default); ztunnel still reports plaintext in its TCP metrics with
    connection_security_policy "unknown" (src/proxy/inbound_passthrough.rs of istio/ztunnel)."""
    raw = changed(migration={"default": "observe"})
    [finding] = [f for f in analysis_of(raw) if f.code.startswith("ambient.")]
    assert (finding.severity.value, finding.code, finding.key) == (
        "warning",
        "ambient.ignored",
        f"{KEY}.migration.default",
    )
    assert analysis_of(changed(migration={"default": "enforce"})) == []
