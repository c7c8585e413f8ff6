"""Ambient readiness (components/mesh/analysis/ambient.py): a verdict per policy that applies to pods of an ambient
namespace, and the callers' requests through ztunnel and the waypoint (transport.py). Each semantic is tested on
Istio's own inputs where they exist, with the source cited:
- istio.io "Use Layer 4 security policy", content/en/docs/ambient/usage/l4-policy/index.md of istio/istio.io @03ae9342;
- istio.io's getting-started task "Enforce authorization policies", content/en/docs/ambient/getting-started/
  enforce-auth-policies/index.md @0a6a89a0 (snips deploy_l4_policy, deploy_waypoint, deploy_l7_policy);
- istio.io "Migrate policies", content/en/docs/ambient/migrate/migrate-policies/index.md @006b1e49;
- tests/integration/ambient/baseline_test.go of istio/istio @86c9f01fd (TestPeerAuthentication, TestAuthorizationL4,
  TestAuthorizationL7), with {{.Namespace}} "echo", {{.Source}} "a", {{.Destination}} "b", {{.WaypointName}}
  "waypoint";
- pilot/pkg/serviceregistry/ambient/authorization.go of istio/istio @86c9f01fd and src/rbac.rs of istio/ztunnel
  @62d826530.
"""

from __future__ import annotations

import yaml

from components.core.findings import Finding
from components.mesh.analysis.authorization import Request
from components.mesh.analysis.callers import Caller
from components.mesh.analysis.engine import analyze
from components.mesh.analysis.transport import MeshView
from components.mesh.interchange.istio_objects import IstioObject, Origin, from_document

ROOT = "istio-system"


def objects_of(text: str) -> list[IstioObject]:
    documents = [d for d in yaml.safe_load_all(text) if d]
    found = [from_document(d, f"f.yaml[{i}]", i) for i, d in enumerate(documents)]
    return [o for o in found if o is not None]


def verdicts(text: str, callers: tuple[Caller, ...] = ()) -> list[Finding]:
    return [f for f in analyze(objects_of(text), callers, ROOT, every_verdict=True) if f.code.startswith("ambient.")]


def codes(text: str) -> list[tuple[str, str]]:
    return [(f.code, f.key) for f in verdicts(text)]


def caller(name: str, principal: str, namespace: str, app: str, port: str) -> Caller:
    return Caller(f"caller {name}", f"callers[{name}]", namespace, {"app": app}, (Request(port, principal=principal),))


def namespace(name: str, **labels: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})


AMBIENT_DEMO = namespace("ambient-demo", **{"istio.io/dataplane-mode": "ambient"})
DEFAULT = namespace("default", **{"istio.io/dataplane-mode": "ambient"})
ENROLLED_DEFAULT = namespace("default", **{"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "waypoint"})
# What `istioctl waypoint apply` creates (istioctl/pkg/waypoint/waypoint.go).
WAYPOINT = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: %s}
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - {name: mesh, port: 15008, protocol: HBONE}
"""

# --- l4-policy: L4 policy unchanged, L7 selector policy drops all traffic, DISABLE ignored -------------------------

L4_PAGE_L4 = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-sleep-to-httpbin, namespace: ambient-demo}
spec:
 selector:
   matchLabels:
     app: httpbin
 action: ALLOW
 rules:
 - from:
   - source:
       principals:
       - cluster.local/ns/ambient-demo/sa/sleep
"""
L4_PAGE_L7 = """
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: allow-sleep-to-httpbin, namespace: ambient-demo}
spec:
 selector:
   matchLabels:
     app: httpbin
 action: ALLOW
 rules:
 - from:
   - source:
       principals:
       - cluster.local/ns/ambient-demo/sa/sleep
   to:
   - operation:
       methods: ["GET"]
"""


def test_the_l4_policy_of_istio_docs_is_unchanged():
    """The page: "The behavior of the L4 AuthorizationPolicy API has the same functional behavior in Istio ambient
    mode as in sidecar mode"."""
    [verdict] = verdicts(AMBIENT_DEMO + "---" + L4_PAGE_L4)
    assert (verdict.code, verdict.key) == ("ambient.unchanged", "f.yaml[1]")
    assert verdict.message == (
        "unchanged: ztunnel reads every attribute of this ALLOW policy (L4 only) and enforces it for the pods "
        "labelled {app: httpbin} in ambient-demo as the sidecars do."
    )
    assert verdict.severity.value == "note"


def test_the_l7_selector_policy_of_istio_docs_drops_all_traffic_naming_the_rule_and_the_attribute():
    """The page's warning: "ztunnel proxy will simply drop all traffic as a defensive move"."""
    [verdict] = verdicts(AMBIENT_DEMO + "---" + L4_PAGE_L7)
    assert (verdict.severity.value, verdict.code, verdict.key) == (
        "error",
        "ambient.drops-all-traffic",
        "f.yaml[1].spec.rules[0]",
    )
    assert verdict.message.startswith(
        "drops all traffic: ztunnel enforces this selector-bound ALLOW policy for the pods labelled {app: httpbin} in "
        "ambient-demo, and istiod leaves out every ALLOW rule with an HTTP attribute, since ztunnel cannot read it: "
        "rules[0] (methods). With no rule left it allows nothing"
    )


def test_the_same_policies_outside_ambient_get_no_verdict():
    assert verdicts(L4_PAGE_L7) == []
    assert verdicts(namespace("ambient-demo") + "---" + L4_PAGE_L7) == []


def test_the_sleep_caller_is_denied_by_the_l7_policy_at_ztunnel_and_let_in_by_the_l4_one():
    """The page: "Even though the identity of the pod is otherwise correct, the presence of a L7 policy ... causes
    the ztunnel to deny the connection"."""
    sleep = caller("sleep", "cluster.local/ns/ambient-demo/sa/sleep", "ambient-demo", "httpbin", "8000")
    denied = [f for f in analyze(objects_of(AMBIENT_DEMO + "---" + L4_PAGE_L7), [sleep], ROOT) if f.key == sleep.key]
    assert [f.code for f in denied] == ["mesh.caller-denied"]
    assert "carry the principal cluster.local/ns/ambient-demo/sa/sleep; ALLOW policy" in denied[0].message
    allowed = analyze(objects_of(AMBIENT_DEMO + "---" + L4_PAGE_L4), [sleep], ROOT)
    assert [f for f in allowed if f.key == sleep.key] == []


DISABLE_NAMESPACE = """
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: ambient-demo}
spec:
  mtls: {mode: DISABLE}
"""


def test_a_namespace_disable_is_taken_as_permissive_and_strict_unchanged():
    """The page says "it is not possible to use the DISABLE mode in a policy. Such policies will be ignored"; istiod's
    code takes a namespace's DISABLE as not STRICT (authorization.go:118-122), so no static STRICT policy: PERMISSIVE,
    which the verdict says, quoting the page beside it."""
    [verdict] = verdicts(AMBIENT_DEMO + "---" + DISABLE_NAMESPACE)
    assert (verdict.severity.value, verdict.code, verdict.key) == ("warning", "ambient.permissive", "f.yaml[1]")
    assert verdict.message.startswith(
        "taken as PERMISSIVE: ztunnel takes its DISABLE (mtls.mode) in ambient namespace ambient-demo as PERMISSIVE: "
        "istiod sends ztunnel policies that refuse connections without an identity only where a port is STRICT"
    )
    assert "istio.io says such a policy is ignored" in verdict.message
    assert "istiod's code takes it as PERMISSIVE" in verdict.message
    [strict] = verdicts(AMBIENT_DEMO + "---" + DISABLE_NAMESPACE.replace("DISABLE", "STRICT"))
    assert strict.code == "ambient.unchanged"


def test_a_disable_namespace_no_longer_turns_auto_mtls_off_in_ambient():
    """Sidecars: a DISABLE namespace under a STRICT workload is mesh.strict-under-disable (istio/istio#56084). In
    ambient, DISABLE is PERMISSIVE and ztunnel always sends HBONE, so that finding is gone."""
    workload = """
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: web, namespace: ambient-demo}
spec:
  selector: {matchLabels: {app: web}}
  mtls: {mode: STRICT}
"""
    sidecar = analyze(objects_of(DISABLE_NAMESPACE + "---" + workload), [], ROOT)
    assert [f.code for f in sidecar] == ["mesh.strict-under-disable"]
    ambient = analyze(objects_of(AMBIENT_DEMO + "---" + DISABLE_NAMESPACE + "---" + workload), [], ROOT)
    assert [f.code for f in ambient] == ["ambient.permissive"]


def test_the_mesh_wide_disable_is_taken_as_permissive_where_an_ambient_namespace_inherits_it():
    mesh = DISABLE_NAMESPACE.replace("namespace: ambient-demo", f"namespace: {ROOT}")
    [verdict] = verdicts(AMBIENT_DEMO + "---" + mesh)
    assert verdict.code == "ambient.permissive" and "in ambient namespace ambient-demo" in verdict.message
    own = mesh + "---" + DISABLE_NAMESPACE.replace("DISABLE", "STRICT")
    assert [v.code for v in verdicts(AMBIENT_DEMO + "---" + own)] == ["ambient.unchanged"]  # the namespace's own


# --- port-level and root-namespace PeerAuthentications --------------------------------------------------------------

GLOBAL_STRICT_PERMISSIVE_PORTS = f"""
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {{name: global-strict, namespace: {ROOT}}}
spec:
  mtls:
    mode: STRICT
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {{name: local-port-override, namespace: echo}}
spec:
  selector:
    matchLabels:
      app: "b"
  portLevelMtls:
    18080:
      mode: PERMISSIVE
    19090:
      mode: PERMISSIVE
"""
ECHO = namespace("echo", **{"istio.io/dataplane-mode": "ambient"})


def test_port_level_modes_hold_at_ztunnel_for_a_caller_outside_the_mesh():
    """TestPeerAuthentication "global-strict-permissive-workload-ports": "Should pass for all workloads, in or out of
    mesh, targeting this port"; "strict": an uncaptured source is denied (CheckDeny) elsewhere."""
    outside = Caller("caller outside", "callers[outside]", "echo", {"app": "b"}, (Request("18080", principal=""),))
    strict = Caller("caller outside", "callers[outside]", "echo", {"app": "b"}, (Request("18081", principal=""),))
    found = analyze(objects_of(ECHO + "---" + GLOBAL_STRICT_PERMISSIVE_PORTS), [outside, strict], ROOT)
    refused = [f for f in found if f.code == "mesh.caller-refused"]
    assert [f.message.split(",")[0] for f in refused] == ["caller outside sends plaintext to echo/{app: b}:18081"]
    assert "Put the caller in the mesh (an ambient namespace, or a sidecar) and declare its `principal`" in (
        refused[0].message
    )
    assert [(v.code, v.key) for v in verdicts(ECHO + "---" + GLOBAL_STRICT_PERMISSIVE_PORTS)] == [
        ("ambient.unchanged", "f.yaml[1]"),
        ("ambient.unchanged", "f.yaml[2]"),
    ]


SHOP = namespace("shop", **{"istio.io/dataplane-mode": "ambient"})
LEGACY_METRICS = """
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec:
  mtls: {mode: STRICT}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: legacy-metrics, namespace: shop}
spec:
  selector: {matchLabels: {app: legacy}}
  portLevelMtls:
    "9090": {mode: DISABLE}
"""
SCRAPE = Caller("prometheus", "callers[prometheus]", "shop", {"app": "legacy"}, (Request("9090", principal=""),))


def test_a_disable_port_under_the_namespaces_strict_is_ignored_and_the_plaintext_scrape_refused():
    """authorization.go:175-195: without a mode of its own, under the namespace's STRICT, the workload policy is an
    exception only for a PERMISSIVE port; its DISABLE port keeps the static STRICT policy, as the page says of DISABLE
    ("Such policies will be ignored")."""
    [namespace_verdict, verdict] = verdicts(SHOP + "---" + LEGACY_METRICS)
    assert namespace_verdict.code == "ambient.unchanged"
    assert (verdict.severity.value, verdict.code, verdict.key) == ("error", "ambient.ignored", "f.yaml[2]")
    assert verdict.message == (
        "ignored: its DISABLE (port 9090) is ignored in ambient namespace shop: under a STRICT it inherits, a workload "
        "policy without a mode of its own exempts a port from the STRICT istiod sends ztunnel only where the port is "
        "PERMISSIVE, not DISABLE (`convertedSelectorPeerAuthentications`, pilot/pkg/serviceregistry/ambient/"
        "authorization.go:175-195), so the port stays STRICT and ztunnel refuses plaintext to it, such as a scrape "
        'from outside the mesh ("Such policies will be ignored", istio.io, Use Layer 4 security policy). Write '
        "PERMISSIVE for port 9090: ztunnel exempts a PERMISSIVE port, and lets plaintext in there again."
    )
    [refused] = [f for f in analyze(objects_of(SHOP + "---" + LEGACY_METRICS), [SCRAPE], ROOT) if f.key == SCRAPE.key]
    assert refused.code == "mesh.caller-refused"
    assert refused.message.startswith(
        "prometheus sends plaintext to shop/{app: legacy}:9090, but mTLS there is STRICT (PeerAuthentication "
        "shop/default (f.yaml[1])), so every request is refused."
    )
    # Quiet: the sidecars take the scrape, and so does ztunnel at PERMISSIVE.
    sidecars = LEGACY_METRICS
    assert [f for f in analyze(objects_of(sidecars), [SCRAPE], ROOT) if f.key == SCRAPE.key] == []
    permissive = SHOP + "---" + LEGACY_METRICS.replace("DISABLE", "PERMISSIVE")
    assert [f for f in analyze(objects_of(permissive), [SCRAPE], ROOT) if f.key == SCRAPE.key] == []
    assert [v.code for v in verdicts(permissive)] == ["ambient.unchanged", "ambient.unchanged"]


def test_a_strict_port_ztunnel_never_gets_is_an_error_naming_the_fix():
    """authorization.go:281-285 as Go groups it (`#1 || (unset && #2) || #3`): the namespace unset and the mesh STRICT
    skip the workload's STRICT port, while its own PERMISSIVE dropped the static STRICT (134-136)."""
    mesh = f"""
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {{name: default, namespace: {ROOT}}}
spec:
  mtls: {{mode: STRICT}}
"""
    workload = """
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: admin, namespace: shop}
spec:
  selector: {matchLabels: {app: legacy}}
  mtls: {mode: PERMISSIVE}
  portLevelMtls:
    "8443": {mode: STRICT}
"""
    found = verdicts(SHOP + "---" + mesh + "---" + workload)
    assert [(v.code, v.key) for v in found] == [("ambient.unchanged", "f.yaml[1]"), ("ambient.ignored", "f.yaml[2]")]
    assert found[1].message.startswith(
        "ignored: ztunnel does not enforce the STRICT (port 8443) that the sidecars did in ambient namespace shop: "
        "with the mesh STRICT and no mode of the namespace's own, istiod's two conversions disagree"
    )
    assert found[1].message.endswith(
        "Give namespace shop `mtls.mode: STRICT` of its own (a namespace-wide PeerAuthentication): ztunnel then "
        "enforces it."
    )
    own = LEGACY_METRICS.split("---")[0]  # quiet: the namespace's own STRICT (the mesh's then reaches no pod there)
    assert [(v.code, v.key) for v in verdicts(SHOP + "---" + mesh + "---" + own + "---" + workload)] == [
        ("ambient.unchanged", "f.yaml[2]"),
        ("ambient.unchanged", "f.yaml[3]"),
    ]


def test_a_root_namespace_peer_authentication_with_a_selector_is_ignored_in_ambient_too():
    """istio/istio#61023 (open): `convertedSelectorPeerAuthentications` skips a workload policy of the root
    namespace, as the sidecars do."""
    root_selector = GLOBAL_STRICT_PERMISSIVE_PORTS.replace("namespace: echo", f"namespace: {ROOT}")
    found = verdicts(ECHO + "---" + root_selector)
    assert [(v.code, v.key) for v in found] == [("ambient.unchanged", "f.yaml[1]"), ("ambient.ignored", "f.yaml[2]")]
    assert "istio/istio#61023" in found[1].message


# --- the getting-started task: targetRefs with and without a waypoint ----------------------------------------------

DEPLOY_L4_POLICY = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: productpage-viewer
  namespace: default
spec:
  selector:
    matchLabels:
      app: productpage
  action: ALLOW
  rules:
  - from:
    - source:
        principals:
        - cluster.local/ns/default/sa/bookinfo-gateway-istio
"""
DEPLOY_L7_POLICY = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: productpage-viewer
  namespace: default
spec:
  targetRefs:
  - kind: Service
    group: ""
    name: productpage
  action: ALLOW
  rules:
  - from:
    - source:
        principals:
        - cluster.local/ns/default/sa/curl
    to:
    - operation:
        methods: ["GET"]
"""


def test_the_task_l7_policy_is_enforced_by_its_waypoint():
    [verdict] = verdicts(ENROLLED_DEFAULT + "---" + WAYPOINT % "default" + "---" + DEPLOY_L7_POLICY)
    assert (verdict.code, verdict.key) == ("ambient.unchanged", "f.yaml[2]")
    assert verdict.message.startswith(
        "unchanged: enforced by waypoint default/waypoint (Service productpage) with the callers' own identities"
    )


def test_the_task_l7_policy_without_its_waypoint_needs_one():
    """Before deploy_waypoint nothing enforces it: ztunnel ignores targetRefs ("TargetRef is not intended for
    ztunnel"); istio/istio#57315, where a migration tool bound policies to a waypoint it never created."""
    [verdict] = verdicts(DEFAULT + "---" + DEPLOY_L7_POLICY)
    assert (verdict.severity.value, verdict.code, verdict.key) == ("error", "ambient.needs-waypoint", "f.yaml[1]")
    assert verdict.message == (
        "needs a waypoint: its targetRefs name what no waypoint serves (Service default/productpage: neither it nor "
        "namespace default has the label istio.io/use-waypoint), and ztunnel never enforces a policy bound by "
        'targetRefs ("TargetRef is not intended for ztunnel", authorization.go): nothing enforces it there, so the '
        "requests it should refuse get through (istio/istio#57315). Deploy a waypoint (`istioctl waypoint apply -n "
        "default --enroll-namespace`), or label the Service with istio.io/use-waypoint."
    )
    labelled_to_nothing = verdicts(ENROLLED_DEFAULT + "---" + DEPLOY_L7_POLICY)
    assert [v.code for v in labelled_to_nothing] == ["ambient.waypoint", "ambient.needs-waypoint"]
    assert "no Gateway default/waypoint is in the files" in labelled_to_nothing[1].message


def bound_to(*refs: str, namespace: str = "default") -> str:
    """The task's L7 policy, bound to `refs` (YAML flow mappings) instead of its Service."""
    targets = "\n".join(f"  - {ref}" for ref in refs)
    return DEPLOY_L7_POLICY.replace('  - kind: Service\n    group: ""\n    name: productpage', targets).replace(
        "namespace: default", f"namespace: {namespace}"
    )


def test_a_gateway_reference_to_nothing_names_the_closest_waypoint_and_where_to_add_it():
    text = (
        ENROLLED_DEFAULT
        + "---"
        + WAYPOINT % "default"
        + "---"
        + bound_to("{kind: Gateway, group: gateway.networking.k8s.io, name: waypont}")
    )
    [verdict] = verdicts(text)
    assert (verdict.code, verdict.key) == ("ambient.needs-waypoint", "f.yaml[2]")
    assert "(Gateway default/waypont: no Gateway of that name is known here)" in verdict.message
    assert verdict.message.endswith(
        "Did you mean 'waypoint'? Add the Gateway's YAML (`kubectl get gateways.gateway.networking.k8s.io -n default "
        "-o yaml`), or create it (`istioctl waypoint apply -n default --name waypont`)."
    )
    assert [v.code for v in verdicts(text.replace("name: waypont", "name: waypoint"))] == ["ambient.unchanged"]


def test_a_gateway_reference_to_nothing_in_a_namespace_the_stack_declares_names_the_settings_key():
    declared = IstioObject(
        "Namespace",
        "default",
        "default",
        {},
        Origin("gke-mtls:mesh.ambient.default", True),
        labels={"istio.io/dataplane-mode": "ambient"},
    )
    policy = objects_of(bound_to("{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}"))
    [verdict] = [f for f in analyze([declared, *policy], [], ROOT) if f.code.startswith("ambient.")]
    assert verdict.message.endswith(
        "Name the waypoint in gke-mtls:mesh.ambient.default.waypoint, and bind the policy to it."
    )


def test_a_gateway_class_binds_only_from_the_root_namespace_and_only_istio_waypoint():
    """policies.go:75-80: outside the root namespace istiod reports the binding invalid; policyattachment.go:176-181:
    a waypoint applies a GatewayClass-bound policy only for constants.WaypointGatewayClassName, istio-waypoint."""
    klass = "{kind: GatewayClass, group: gateway.networking.k8s.io, name: istio-waypoint}"
    outside = verdicts(ENROLLED_DEFAULT + "---" + WAYPOINT % "default" + "---" + bound_to(klass))
    assert [(v.severity.value, v.code) for v in outside] == [("error", "ambient.ignored")]
    assert "istiod binds a policy to a GatewayClass only from the root namespace istio-system" in outside[0].message
    root = bound_to(klass, namespace=ROOT)
    [served] = verdicts(ENROLLED_DEFAULT + "---" + WAYPOINT % "default" + "---" + root)
    assert served.message.startswith(
        "unchanged: enforced by every waypoint of class istio-waypoint (default/waypoint) with the callers' own"
    )
    [none] = verdicts(DEFAULT + "---" + root)
    assert none.code == "ambient.needs-waypoint" and "no Gateway of that class is known here" in none.message
    agentgateway = root.replace("name: istio-waypoint", "name: istio-agentgateway-waypoint")
    [ignored] = verdicts(ENROLLED_DEFAULT + "---" + WAYPOINT % "default" + "---" + agentgateway)
    assert ignored.code == "ambient.ignored" and "only for class istio-waypoint" in ignored.message


def test_an_agentgateway_waypoint_gets_no_authorization_policy():
    """pilot/pkg/config/kube/agentgateway/agentgateway_controller.go: "Authz/Authn are not use for agentgateway"."""
    agentgateway = (WAYPOINT % "default").replace("istio-waypoint", "istio-agentgateway-waypoint")
    [verdict] = verdicts(ENROLLED_DEFAULT + "---" + agentgateway + "---" + DEPLOY_L7_POLICY)
    assert (verdict.code, verdict.severity.value) == ("ambient.ignored", "error")
    assert "Service productpage uses waypoint default/waypoint, an agentgateway waypoint" in verdict.message
    # A caller the policy does not name gets through it; through an istio-waypoint one it is denied.
    other = caller("other", "cluster.local/ns/default/sa/other", "default", "productpage", "9080")
    text = "---".join([ENROLLED_DEFAULT, agentgateway, PRODUCTPAGE % "{}", DEPLOY_L7_POLICY])
    assert [f for f in analyze(objects_of(text), [other], ROOT) if f.key == other.key] == []
    envoy = text.replace("istio-agentgateway-waypoint", "istio-waypoint")
    assert [f.code for f in analyze(objects_of(envoy), [other], ROOT) if f.key == other.key] == ["mesh.caller-denied"]


def test_a_policy_bound_to_an_ingress_gateway_of_an_ambient_namespace_is_not_ambients():
    """The gateway enforces it as before (`ShouldAttachPolicy`: a Gateway's pods carry its name); no waypoint is
    involved, so no verdict."""
    ingress = bound_to("{kind: Gateway, group: gateway.networking.k8s.io, name: bookinfo-gateway}")
    assert verdicts(ENROLLED_DEFAULT + "---" + WAYPOINT % "default" + "---" + BOOKINFO_GATEWAY + "---" + ingress) == []


def test_a_service_entry_binds_through_its_own_label_or_its_namespaces():
    """policies.go:122-137: a ServiceEntry is bound where it, or its namespace, names a waypoint."""
    entry = """
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: default, labels: %s}
spec: {hosts: [ext.example.com], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS}
"""
    policy = bound_to("{kind: ServiceEntry, group: networking.istio.io, name: ext}")
    [unbound] = verdicts(DEFAULT + "---" + WAYPOINT % "default" + "---" + entry % "{}" + "---" + policy)
    assert unbound.code == "ambient.needs-waypoint"
    assert "(ServiceEntry default/ext: neither it nor namespace default has the label istio.io/use-waypoint)" in (
        unbound.message
    )
    labelled = entry % "{istio.io/use-waypoint: waypoint}"
    [bound] = verdicts(DEFAULT + "---" + WAYPOINT % "default" + "---" + labelled + "---" + policy)
    assert bound.message.startswith("unchanged: enforced by waypoint default/waypoint (ServiceEntry ext)")


def test_a_reference_of_the_wrong_group_binds_nothing():
    """istiod's webhook refuses it ("targetRef must be to one of ..."); a Service is of the core group."""
    wrong = bound_to("{kind: Service, group: networking.istio.io, name: productpage}")
    text = ENROLLED_DEFAULT + "---" + WAYPOINT % "default" + "---" + PRODUCTPAGE % "{}" + "---" + wrong
    assert verdicts(text) == []
    other = caller("other", "cluster.local/ns/default/sa/other", "default", "productpage", "9080")
    assert [f for f in analyze(objects_of(text), [other], ROOT) if f.key == other.key] == []
    right = text.replace("group: networking.istio.io", 'group: ""')
    assert [f.code for f in analyze(objects_of(right), [other], ROOT) if f.key == other.key] == ["mesh.caller-denied"]


def test_the_task_l4_policy_naming_the_ingress_gateway_keeps_matching_with_a_waypoint():
    """The ingress gateway goes straight to ztunnel ("traffic from sidecars and gateways won't go through any
    waypoint proxy", istio.io ambient data-plane page): its principal still matches."""
    gateway = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: default}
spec:
  gatewayClassName: istio
  listeners: [{name: http, port: 80, protocol: HTTP}]
"""
    text = ENROLLED_DEFAULT + "---" + WAYPOINT % "default" + "---" + gateway + "---" + DEPLOY_L4_POLICY
    [verdict] = verdicts(text)
    assert verdict.code == "ambient.unchanged"
    assert verdict.message.endswith("Requests through waypoint default/waypoint reach it with the waypoint's identity.")


BOOKINFO_GATEWAY = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: default}
spec:
  gatewayClassName: istio
  listeners: [{name: http, port: 80, protocol: HTTP}]
"""
PRODUCTPAGE = """
apiVersion: v1
kind: Service
metadata: {name: productpage, namespace: default, labels: %s}
spec:
  selector: {app: productpage}
  ports: [{port: 9080}]
"""
THE_GATEWAY = caller("gateway", "cluster.local/ns/default/sa/bookinfo-gateway-istio", "default", "productpage", "9080")


def gateway_findings(service_labels: str, namespace_text: str = ENROLLED_DEFAULT) -> list[Finding]:
    text = "---".join(
        [namespace_text, WAYPOINT % "default", BOOKINFO_GATEWAY, PRODUCTPAGE % service_labels, DEPLOY_L4_POLICY]
    )
    found = analyze(objects_of(text), [THE_GATEWAY], ROOT, every_verdict=True)
    return [f for f in found if f.key == THE_GATEWAY.key or f.code.startswith("ambient.")]


def test_the_gateway_goes_straight_to_ztunnel_unless_the_service_asks_for_its_waypoint():
    """The gateway's pods are not ztunnel's (`captured`), so its calls reach ztunnel with its own identity even from an
    ambient namespace; `istio.io/ingress-use-waypoint: "true"` on the Service sends them to the Service's waypoint
    (`findServiceWaypoint`, pilot/pkg/xds/endpoints/endpoint_builder.go:993-1023; ENABLE_INGRESS_WAYPOINT_ROUTING, on
    by default, pilot/pkg/features/ambient.go:62), which presents its own identity to ztunnel."""
    assert [f.code for f in gateway_findings("{}")] == ["ambient.unchanged"]
    found = gateway_findings('{istio.io/ingress-use-waypoint: "true"}')
    assert [(f.code, f.key) for f in found] == [
        ("mesh.caller-denied", "callers[gateway]"),
        ("ambient.stops-matching", "f.yaml[4].spec.rules[0]"),
    ]
    assert found[0].message.startswith(
        "caller gateway's requests to default/{app: productpage}:9080 go through waypoint default/waypoint, which "
        "presents its own identity cluster.local/ns/default/sa/waypoint to ztunnel"
    )
    assert found[1].message.startswith(
        "stops matching: cluster.local/ns/default/sa/bookinfo-gateway-istio reach the pods labelled {app: productpage} "
        "in default through waypoint default/waypoint"
    )
    assert "Gateways go through it too (istio.io/ingress-use-waypoint)" in found[1].message


def test_the_namespace_label_counts_where_the_service_has_none_and_go_s_parse_bool_reads_it():
    """`ingressUseWaypointFromLabels`, pilot/pkg/serviceregistry/ambient/services.go:772-789: the Service's label,
    else the namespace's; strconv.ParseBool, anything else false."""
    labelled = namespace(
        "default",
        **{
            "istio.io/dataplane-mode": "ambient",
            "istio.io/use-waypoint": "waypoint",
            "istio.io/ingress-use-waypoint": "1",
        },
    )
    assert "mesh.caller-denied" in [f.code for f in gateway_findings("{}", labelled)]
    assert [f.code for f in gateway_findings('{istio.io/ingress-use-waypoint: "false"}', labelled)] == [
        "ambient.unchanged"
    ]
    assert [f.code for f in gateway_findings('{istio.io/ingress-use-waypoint: "yes"}')] == ["ambient.unchanged"]


# --- TestAuthorizationL4 / L7: the waypoint's identity --------------------------------------------------------------

ECHO_ENROLLED = namespace("echo", **{"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "waypoint"})
SELECTOR_ALLOW = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: policy
  namespace: echo
spec:
  # affects zTunnels and Sidecars
  selector:
    matchLabels:
      app: "b"
  rules:
  - from:
    - source:
        principals: %s
"""
BOTH = '["cluster.local/ns/echo/sa/a", "cluster.local/ns/echo/sa/waypoint"]'
SOURCE_ONLY = '["cluster.local/ns/echo/sa/a"]'


def test_the_l4_integration_policy_allows_the_waypoint_and_stays_unchanged():
    """TestAuthorizationL4 "allow" lists the source and {{.WaypointName}}: requests through the waypoint reach ztunnel
    with the waypoint's identity."""
    text = ECHO_ENROLLED + "---" + WAYPOINT % "echo" + "---" + SELECTOR_ALLOW % BOTH
    assert codes(text) == [("ambient.unchanged", "f.yaml[2]")]


def test_a_principal_can_no_longer_match_once_a_waypoint_presents_its_own_identity():
    """The page: "Traffic arriving at the destination ztunnel will be coming from the waypoint's identity because
    waypoint proxies do not impersonate src identity"; its table: Selector, waypoint yes, source identity waypoint."""
    text = ECHO_ENROLLED + "---" + WAYPOINT % "echo" + "---" + SELECTOR_ALLOW % SOURCE_ONLY
    [verdict] = verdicts(text)
    assert (verdict.severity.value, verdict.code, verdict.key) == (
        "error",
        "ambient.stops-matching",
        "f.yaml[2].spec.rules[0]",
    )
    assert verdict.message == (
        "stops matching: cluster.local/ns/echo/sa/a reach the pods labelled {app: b} in echo through waypoint "
        "echo/waypoint, and ztunnel sees the waypoint's identity (cluster.local/ns/echo/sa/waypoint) instead of theirs "
        '("waypoint proxies do not impersonate src identity", istio.io, Use Layer 4 security policy), so rules[0] of '
        "this ALLOW policy no longer match them: they are refused unless a rule allows the waypoint. Sidecars, "
        "gateways (unless istio.io/ingress-use-waypoint says so) and clients outside the mesh still reach ztunnel "
        "directly, with their own identity. Bind the rules that name callers to waypoint echo/waypoint with targetRefs "
        "(it sees the callers' identities), and allow the waypoint's identity here (istiod adds that ALLOW itself for "
        "every workload behind a waypoint when it runs with PILOT_AUTO_ALLOW_WAYPOINT_POLICY=true, off by default)."
    )
    # Without the waypoint the same policy is ztunnel's own business, unchanged.
    assert codes(ECHO + "---" + SELECTOR_ALLOW % SOURCE_ONLY) == [("ambient.unchanged", "f.yaml[1]")]


def test_declared_callers_are_checked_through_the_waypoint_and_past_it():
    """An ambient caller goes through the waypoint and is denied by the selector policy that names it; a sidecar of
    a namespace that is not ambient reaches ztunnel directly (istio/istio#51445) and is allowed."""
    text = (
        ECHO_ENROLLED
        + "---"
        + WAYPOINT % "echo"
        + "---"
        + SELECTOR_ALLOW % '["cluster.local/ns/echo/sa/a", "cluster.local/ns/legacy/sa/c"]'
    )
    ambient = caller("a", "cluster.local/ns/echo/sa/a", "echo", "b", "18080")
    sidecar = caller("c", "cluster.local/ns/legacy/sa/c", "echo", "b", "18080")
    found = [f for f in analyze(objects_of(text), [ambient, sidecar], ROOT) if f.code == "mesh.caller-denied"]
    assert [f.key for f in found] == ["callers[a]"]
    assert found[0].message.startswith(
        "caller a's requests to echo/{app: b}:18080 go through waypoint echo/waypoint, which presents its own identity "
        "cluster.local/ns/echo/sa/waypoint to ztunnel (a waypoint does not pass on its callers' identities); ALLOW "
        "policy echo/policy (f.yaml[2]) denies them (no rule of it matches them). Allow the waypoint's identity"
    )
    assert "when it runs with PILOT_AUTO_ALLOW_WAYPOINT_POLICY=true, off by default" in found[0].message


TARGET_REFS_GATEWAY = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: policy-waypoint
  namespace: echo
spec:
  targetRefs:
  - kind: Gateway
    group: gateway.networking.k8s.io
    name: waypoint
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/something/sa/else"]
"""


def test_a_policy_bound_to_the_waypoint_sees_the_callers_own_identity():
    """TestAuthorizationL4 "not allow" on the waypoint (`policy-waypoint`): the caller is denied at the waypoint,
    with its own principal."""
    text = ECHO_ENROLLED + "---" + WAYPOINT % "echo" + "---" + TARGET_REFS_GATEWAY
    ambient = caller("a", "cluster.local/ns/echo/sa/a", "echo", "b", "18080")
    [denied] = [f for f in analyze(objects_of(text), [ambient], ROOT) if f.code == "mesh.caller-denied"]
    assert denied.message.startswith(
        "caller a's requests to echo/{app: b}:18080 go through waypoint echo/waypoint with the principal "
        "cluster.local/ns/echo/sa/a; ALLOW policy echo/policy-waypoint (f.yaml[2]) denies them"
    )
    assert codes(text) == [("ambient.unchanged", "f.yaml[2]")]


TARGET_REFS_SERVICE = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: policy-waypoint
  namespace: echo
spec:
  targetRefs:
  # affects Waypoints
  - kind: Service
    group: core
    name: "b"
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/something/sa/else"]
"""
SERVICE_B = """
apiVersion: v1
kind: Service
metadata: {name: b, namespace: echo}
spec:
  selector: {app: b}
  ports: [{port: 80, targetPort: 18080}]
"""


def test_a_policy_bound_to_a_service_applies_at_the_waypoint_only_to_the_pods_the_service_fronts():
    """TestAuthorizationL4's `policy-waypoint` (targetRefs to the Service, group core): with the Service in the
    files the caller is denied at the waypoint; without it, which pods the Service fronts is not known, and the
    caller's verdict stays open (never reported)."""
    ambient = caller("a", "cluster.local/ns/echo/sa/a", "echo", "b", "18080")
    base = ECHO_ENROLLED + "---" + WAYPOINT % "echo" + "---" + TARGET_REFS_SERVICE
    placed = [
        f.key for f in analyze(objects_of(base + "---" + SERVICE_B), [ambient], ROOT) if f.code == "mesh.caller-denied"
    ]
    assert placed == ["callers[a]"]
    assert [f for f in analyze(objects_of(base), [ambient], ROOT) if f.code == "mesh.caller-denied"] == []
    unplaced = MeshView(objects_of(base), ROOT).arrival(ambient, ambient.requests[0])
    assert unplaced.at_waypoint is not None and unplaced.at_waypoint.allowed is None
    assert unplaced.decision is not None and unplaced.decision.allowed is None


L7_POLICY_SPEC = """
  rules:
  - to:
    - operation:
        paths: ["/allowed"]
        methods: ["GET"]
  - from:
    - source:
        principals: ["cluster.local/ns/echo/sa/a"]
    to:
    - operation:
        paths: ["/allowed-identity"]
        methods: ["GET"]
"""
L7_SELECTOR = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: policy
  namespace: echo
spec:
  selector:
    matchLabels:
      app: "b"
"""
DENY_SPEC = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-policy
  namespace: echo
spec:
  selector:
    matchLabels:
      app: "b"
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/explicit-deny"]
"""


def test_the_l7_integration_policies_on_a_selector_drop_all_traffic_and_their_deny_is_ignored():
    """TestAuthorizationL7: "Only waypoint proxy can handle L7 policies" (CheckDeny without a waypoint); with one, the
    test rewrites the selector policy to allow the waypoint's identity only, because ztunnel converts it the same way
    with or without a waypoint (authorization.go does not look for one). The DENY of /explicit-deny keeps an empty
    match at ztunnel, which never matches."""
    for first, text in ((1, ECHO), (2, ECHO_ENROLLED + "---" + WAYPOINT % "echo")):
        found = verdicts(text + "---" + L7_SELECTOR + L7_POLICY_SPEC + "---" + DENY_SPEC)
        assert [(v.severity.value, v.code, v.key) for v in found] == [
            ("error", "ambient.drops-all-traffic", f"f.yaml[{first}].spec.rules[0]"),
            ("error", "ambient.ignored", f"f.yaml[{first + 1}].spec.rules[0]"),
        ]
        assert "cannot read it: rules[0] (methods, paths), rules[1] (methods, paths). With no rule" in found[0].message
        assert (
            "rules[0] (paths) is an empty match, which ztunnel skips, so the policy never matches" in found[1].message
        )


def test_the_l7_integration_policy_bound_to_the_waypoint_is_unchanged():
    text = ECHO_ENROLLED + "---" + WAYPOINT % "echo" + "---" + TARGET_REFS_GATEWAY.split("  rules:")[0] + L7_POLICY_SPEC
    assert codes(text) == [("ambient.unchanged", "f.yaml[2]")]


# --- Migrate policies: bypass prevention, CUSTOM -------------------------------------------------------------------

DENY_WAYPOINT_BYPASS = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-waypoint-bypass
  namespace: bookinfo
spec:
  selector:
    matchLabels:
      app: reviews
  action: DENY
  rules:
  - from:
    - source:
        notPrincipals:
        - "cluster.local/ns/bookinfo/sa/waypoint"
"""
BOOKINFO = namespace("bookinfo", **{"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "waypoint"})


def test_the_bypass_prevention_policy_of_the_migration_guide_is_unchanged():
    """ "Use a workload selector so that ztunnel denies any traffic that did not come from the waypoint"."""
    assert codes(BOOKINFO + "---" + WAYPOINT % "bookinfo" + "---" + DENY_WAYPOINT_BYPASS) == [
        ("ambient.unchanged", "f.yaml[2]")
    ]


def test_a_custom_selector_policy_is_ignored_by_ztunnel():
    """Migrate policies: "AuthorizationPolicy resources that ... use `action: CUSTOM` or `action: AUDIT`, must target
    waypoint proxies via `targetRefs`"; authorization.go: "ztunnel does not support the %s action"."""
    custom = DENY_WAYPOINT_BYPASS.replace("action: DENY", "action: CUSTOM\n  provider: {name: ext-authz}")
    [verdict] = verdicts(BOOKINFO + "---" + WAYPOINT % "bookinfo" + "---" + custom)
    assert (verdict.severity.value, verdict.code) == ("error", "ambient.ignored")
    assert verdict.message.startswith(
        "ignored: ztunnel does not support the CUSTOM action, so istiod gives it no part of this policy and nothing "
        "applies it to the pods labelled {app: reviews} in bookinfo: the external authorizer is no longer asked."
    )


def test_a_dry_run_policy_records_nothing_at_ztunnel_by_default():
    """pilot/pkg/features/ambient.go: AMBIENT_ENABLE_DRY_RUN_AUTHORIZATION_POLICY, false by default."""
    dry = DENY_WAYPOINT_BYPASS.replace(
        "namespace: bookinfo", "namespace: bookinfo\n  annotations: {istio.io/dry-run: 'true'}"
    )
    [verdict] = verdicts(BOOKINFO + "---" + WAYPOINT % "bookinfo" + "---" + dry)
    assert (verdict.severity.value, verdict.code) == ("warning", "ambient.ignored")
    assert "AMBIENT_ENABLE_DRY_RUN_AUTHORIZATION_POLICY=true" in verdict.message


def test_a_deny_rule_that_keeps_its_ports_denies_more_and_says_what():
    """authorization.go: "DENY policy with HTTP attributes is enforced without the HTTP rules": what is left denies
    every connection it matches, which is more than written but not all traffic."""
    deny = DENY_SPEC.replace('paths: ["/explicit-deny"]', 'ports: ["18080"]\n        paths: ["/explicit-deny"]')
    [verdict] = verdicts(ECHO + "---" + deny)
    assert (verdict.severity.value, verdict.code, verdict.key) == (
        "error",
        "ambient.denies-more",
        "f.yaml[1].spec.rules[0]",
    )
    assert verdict.message.startswith(
        "denies more: ztunnel enforces this DENY policy for the pods labelled {app: b} in echo without the attributes "
        "it cannot read, so rules[0] (paths) deny every connection that what is left of them matches (rules[0]: ports "
        "18080), not only the requests they name"
    )
    sourced = deny.replace(
        "  - to:", '  - from: [{source: {principals: ["a/ns/b/sa/c"]}}, {source: {ipBlocks: ["10.0.0.0/8"]}}]\n    to:'
    )
    [verdict] = verdicts(ECHO + "---" + sourced)
    assert "(rules[0]: (principals a/ns/b/sa/c or ipBlocks 10.0.0.0/8) and ports 18080)" in verdict.message


def test_the_engine_reports_only_what_changes_unless_asked_for_every_verdict():
    objects = objects_of(AMBIENT_DEMO + "---" + L4_PAGE_L4 + "---" + DISABLE_NAMESPACE)
    assert [f.code for f in analyze(objects, [], ROOT) if f.code.startswith("ambient.")] == ["ambient.permissive"]
    every = analyze(objects, [], ROOT, every_verdict=True)
    assert [f.code for f in every if f.code.startswith("ambient.")] == ["ambient.unchanged", "ambient.permissive"]


def test_a_sidecar_mesh_is_analysed_as_before():
    """No Namespace says ambient: no verdict, and the view's data plane is empty."""
    view = MeshView(objects_of(L4_PAGE_L7 + "---" + DISABLE_NAMESPACE), ROOT)
    assert view.planes.ambient == set()
    assert verdicts(L4_PAGE_L7 + "---" + DISABLE_NAMESPACE) == []


# --- the sidecar findings on the pods ztunnel serves -----------------------------------------------------------------

DENY_ADMIN_PATHS = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-bad, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules:
  - from: [{source: {principals: ["cluster.local/ns/shop/sa/bad"]}}]
    to: [{operation: {methods: ["DELETE"]}}]
"""
ALLOW_BUT_UNTRUSTED = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-most, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  rules:
  - from: [{source: {notNamespaces: ["untrusted"]}}]
    to: [{operation: {methods: ["GET"]}}]
"""


def codes_of(text: str) -> list[tuple[str, str]]:
    return [(f.code, f.key) for f in analyze(objects_of(text), [], ROOT) if f.code.startswith(("mesh.", "ambient."))]


def test_a_rule_ztunnel_never_matches_gets_no_sidecar_finding_on_ambient_pods():
    """ISTIO-SECURITY-2021-004's bypass is a sidecar's reading of the rule; ztunnel never matches a DENY rule whose
    only operation is an HTTP attribute (an empty match, src/rbac.rs), so the ambient verdict alone speaks."""
    assert codes_of(DENY_ADMIN_PATHS) == [("mesh.plaintext-bypass", "f.yaml[0].spec.rules[0]")]
    assert codes_of(SHOP + "---" + DENY_ADMIN_PATHS) == [("ambient.ignored", "f.yaml[1].spec.rules[0]")]


def test_an_allow_rule_istiod_leaves_out_gets_no_bypass_on_ambient_pods():
    assert codes_of(ALLOW_BUT_UNTRUSTED) == [("mesh.plaintext-bypass", "f.yaml[0].spec.rules[0]")]
    assert codes_of(SHOP + "---" + ALLOW_BUT_UNTRUSTED) == [("ambient.drops-all-traffic", "f.yaml[1].spec.rules[0]")]


def test_a_rule_ztunnel_reads_is_judged_on_ambient_pods_as_ztunnel_reads_it():
    """Quiet for the verdicts, still a bypass: ztunnel reads notNamespaces, which plaintext matches; and a DENY rule
    that keeps its port is judged on that port."""
    l4 = ALLOW_BUT_UNTRUSTED.replace('\n    to: [{operation: {methods: ["GET"]}}]', "")
    assert codes_of(SHOP + "---" + l4) == [("mesh.plaintext-bypass", "f.yaml[1].spec.rules[0]")]
    ported = DENY_ADMIN_PATHS.replace('{methods: ["DELETE"]}', '{ports: ["8080"], methods: ["DELETE"]}')
    found = [f for f in analyze(objects_of(SHOP + "---" + ported), [], ROOT) if f.code == "mesh.plaintext-bypass"]
    assert [f.key for f in found] == ["f.yaml[1].spec.rules[0]"]
    assert "(shop/{app: api}:8080 is PERMISSIVE)" in found[0].message
