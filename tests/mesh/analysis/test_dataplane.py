"""Which namespaces are ambient and which waypoint is in the path (components/mesh/analysis/dataplane.py), from the
labels Istio defines (istio.io's ambient architecture page, content/en/docs/ambient/architecture/index.md of
istio/istio.io @12eb11b4; pilot/pkg/serviceregistry/ambient/waypoints.go of istio/istio @86c9f01fd) and the objects
Istio's own tools write: the Gateway `istioctl waypoint apply` creates (istioctl/pkg/waypoint/waypoint.go) and the
namespace label of the getting-started task (content/en/docs/ambient/getting-started/enforce-auth-policies)."""

from __future__ import annotations

from typing import Any

import yaml

from components.mesh.analysis.engine import analyze
from components.mesh.analysis.transport import MeshView
from components.mesh.interchange.istio_objects import IstioObject, from_document

# `istioctl waypoint apply --enroll-namespace` in default: "waypoint default/waypoint applied", "namespace default
# labeled with istio.io/use-waypoint: waypoint"; the namespace is in ambient from the task before.
ENROLLED = """
apiVersion: v1
kind: Namespace
metadata:
  name: default
  labels: {istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: default}
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - name: mesh
    port: 15008
    protocol: HBONE
---
apiVersion: v1
kind: Service
metadata: {name: productpage, namespace: default}
spec:
  selector: {app: productpage}
  ports: [{port: 9080}]
"""


def objects_of(text: str) -> list[IstioObject]:
    documents = [d for d in yaml.safe_load_all(text) if d]
    found = [from_document(d, f"f.yaml[{i}]", i) for i, d in enumerate(documents)]
    return [o for o in found if o is not None]


def view_of(text: str) -> MeshView:
    return MeshView(objects_of(text), "istio-system")


def findings(text: str) -> list[tuple[str, str, str]]:
    return [
        (f.code, f.key, f.message) for f in analyze(objects_of(text), [], "istio-system") if f.code[:8] == "ambient."
    ]


def edited(text: str, index: int, change: Any) -> str:
    documents = [d for d in yaml.safe_load_all(text) if d]
    change(documents[index])
    return yaml.safe_dump_all(documents)


def test_the_enrolled_namespace_is_ambient_and_its_services_go_through_the_waypoint():
    planes = view_of(ENROLLED).planes
    assert planes.ambient == {"default"}
    waypoint = planes.in_path("default", frozenset({("app", "productpage")}))
    assert waypoint is not None and waypoint.title == "waypoint default/waypoint"
    # The Gateway's name is the pods' service account: TestAuthorizationL4 allows cluster.local/ns/<ns>/sa/<waypoint>.
    assert waypoint.principal() == "cluster.local/ns/default/sa/waypoint"
    assert findings(ENROLLED) == []


def test_a_namespace_without_the_label_or_opted_out_is_not_ambient():
    def none(namespace: dict[str, Any]) -> None:
        namespace["metadata"]["labels"]["istio.io/dataplane-mode"] = "none"

    assert view_of(edited(ENROLLED, 0, none)).planes.ambient == set()
    assert findings(edited(ENROLLED, 0, none)) == []


def test_a_dataplane_mode_istio_does_not_define_is_named_with_its_file_and_document():
    def capitalised(namespace: dict[str, Any]) -> None:
        namespace["metadata"]["labels"]["istio.io/dataplane-mode"] = "Ambient"

    text = edited(ENROLLED, 0, capitalised)
    assert view_of(text).planes.ambient == set()
    assert findings(text) == [
        (
            "ambient.label",
            "f.yaml[0]",
            "istio.io/dataplane-mode of namespace default is 'Ambient', which Istio does not define: only `ambient` "
            "moves the namespace's pods to ztunnel (`none` keeps a pod out), so it stays as it is. Write `ambient`.",
        )
    ]


def test_a_use_waypoint_label_naming_no_gateway_is_a_reference_to_nothing():
    """istiod reports WaypointIsNotReady and sends the traffic without a waypoint (`fetchWaypointForTarget`)."""
    text = edited(ENROLLED, 0, lambda ns: ns["metadata"]["labels"].update({"istio.io/use-waypoint": "waypoints"}))
    assert view_of(text).planes.in_path("default", frozenset({("app", "productpage")})) is None
    assert findings(text) == [
        (
            "ambient.waypoint",
            "f.yaml[0]",
            "istio.io/use-waypoint of namespace default names waypoint 'waypoints', but no Gateway "
            "default/waypoints is in the files (istiod reports WaypointIsNotReady): its traffic goes through no "
            "waypoint, and no L7 policy is enforced for it. Did you mean 'waypoint'? Add the Gateway's YAML "
            "(`kubectl get gateways.gateway.networking.k8s.io -A -o yaml`), or fix the name.",
        )
    ]


def test_the_docs_namespace_slash_name_form_is_no_label_value():
    """istio.io's table lists `{namespace}/{waypoint-name}` and `#none`; istiod reads the value as a name
    (`GetUseWaypoint`) and takes the namespace from istio.io/use-waypoint-namespace, and Kubernetes refuses '/' and
    '#' in a label value."""
    text = edited(
        ENROLLED, 0, lambda ns: ns["metadata"]["labels"].update({"istio.io/use-waypoint": "default/waypoint"})
    )
    [(code, key, message)] = findings(text)
    assert (code, key) == ("ambient.waypoint", "f.yaml[0]")
    assert message.endswith(
        "Kubernetes takes no 'default/waypoint' as a label value: write the Gateway's name, with "
        "istio.io/use-waypoint-namespace for a waypoint of another namespace, or `none` to opt out."
    )


def test_a_service_label_comes_before_the_namespace_and_none_opts_out():
    """`GetUseWaypoint` (pilot/pkg/serviceregistry/ambient/waypoints.go): `none` is no Gateway's name but the opt-out,
    so it is no reference to nothing either."""
    text = edited(ENROLLED, 2, lambda s: s["metadata"].update({"labels": {"istio.io/use-waypoint": "none"}}))
    planes = view_of(text).planes
    assert planes.in_path("default", frozenset({("app", "productpage")})) is None
    assert planes.service_named("default", "productpage").why == ""
    assert findings(text) == []
    assert view_of(ENROLLED).planes.in_path("default", frozenset({("app", "reviews")})) is not None  # the namespace's


def test_a_waypoint_for_workloads_only_takes_no_service_traffic():
    """`fetchWaypointForService`: only `service` or `all` waypoints take a Service's traffic."""
    workload = edited(ENROLLED, 1, lambda g: g["metadata"].update({"labels": {"istio.io/waypoint-for": "workload"}}))
    assert view_of(workload).planes.in_path("default", frozenset({("app", "productpage")})) is None
    every = edited(ENROLLED, 1, lambda g: g["metadata"].update({"labels": {"istio.io/waypoint-for": "all"}}))
    assert view_of(every).planes.in_path("default", frozenset({("app", "productpage")})) is not None
    wrong = edited(ENROLLED, 1, lambda g: g["metadata"].update({"labels": {"istio.io/waypoint-for": "services"}}))
    assert findings(wrong) == [
        (
            "ambient.label",
            "f.yaml[1]",
            "istio.io/waypoint-for of Gateway default/waypoint is 'services', which Istio does not define: write one "
            "of service, workload, all, none (service is the default).",
        )
    ]


def test_the_gateway_class_says_what_traffic_its_waypoints_take_unless_the_gateway_does():
    """waypoints.go:430-444: the Gateway's istio.io/waypoint-for, else its GatewayClass's, else service."""
    klass = """
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: istio-waypoint, labels: {istio.io/waypoint-for: workload}}
spec: {controllerName: istio.io/mesh-controller}
"""
    assert view_of(ENROLLED + klass).planes.in_path("default", frozenset({("app", "productpage")})) is None
    own = edited(ENROLLED + klass, 1, lambda g: g["metadata"].update({"labels": {"istio.io/waypoint-for": "service"}}))
    assert view_of(own).planes.in_path("default", frozenset({("app", "productpage")})) is not None


def test_a_service_entry_uses_its_own_label_then_its_namespaces():
    """policies.go:122-137 (`fetchWaypointForService` of the ServiceEntry): unlabelled in an unlabelled namespace, it
    has no waypoint."""
    entry = """
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: default, labels: {istio.io/use-waypoint: none}}
spec: {hosts: [ext.example.com], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS}
"""
    assert view_of(ENROLLED + entry).planes.service_named("default", "ext", "ServiceEntry").waypoint is None
    assert view_of(ENROLLED).planes.service_named("default", "ext", "ServiceEntry").waypoint is not None
    unlabelled = edited(ENROLLED, 0, lambda n: n["metadata"]["labels"].pop("istio.io/use-waypoint"))
    assert view_of(unlabelled).planes.service_named("default", "ext", "ServiceEntry").waypoint is None


def test_a_waypoint_of_another_namespace_needs_its_listener_to_let_the_namespace_attach():
    """`AllowsAttachmentFromNamespace`: the HBONE listener's allowedRoutes, Same by default."""

    def elsewhere(namespace: dict[str, Any]) -> None:
        namespace["metadata"]["name"] = "shop"
        namespace["metadata"]["labels"]["istio.io/use-waypoint-namespace"] = "default"

    text = edited(ENROLLED, 0, elsewhere)
    [(code, key, message)] = findings(text)
    assert (code, key) == ("ambient.waypoint", "f.yaml[0]")
    assert "Gateway default/waypoint lets only its own namespace attach" in message
    opened = edited(
        text, 1, lambda g: g["spec"]["listeners"][0].update({"allowedRoutes": {"namespaces": {"from": "All"}}})
    )
    assert view_of(opened).planes.in_path("shop", frozenset({("app", "web")})) is not None
    assert findings(opened) == []


def test_the_service_account_annotation_names_the_waypoints_identity():
    text = edited(
        ENROLLED, 1, lambda g: g["metadata"].update({"annotations": {"gateway.istio.io/service-account": "wp-sa"}})
    )
    waypoint = view_of(text).planes.in_path("default", frozenset({("app", "productpage")}))
    assert waypoint is not None and waypoint.principal("acme.com") == "acme.com/ns/default/sa/wp-sa"


def test_a_namespace_labelled_for_ambient_and_sidecar_injection_is_warned_about():
    """istioctl analyze's IST0123 (pkg/config/analysis/analyzers/injection/injection.go); the CNI skips a pod with a
    sidecar (cni/pkg/util/podutil.go `podHasSidecar`)."""
    text = edited(ENROLLED, 0, lambda ns: ns["metadata"]["labels"].update({"istio-injection": "enabled"}))
    [(code, key, message)] = findings(text)
    assert (code, key) == ("ambient.sidecar-injection", "f.yaml[0]")
    assert message.startswith("namespace default is labelled for ambient and for sidecar injection (istio-injection:")
    disabled = edited(ENROLLED, 0, lambda ns: ns["metadata"]["labels"].update({"istio-injection": "disabled"}))
    assert findings(disabled) == []


def test_two_documents_of_one_namespace_are_not_merged_silently():
    """The cluster holds one Namespace: the later document's labels are read, and the second is named."""
    second = """
---
apiVersion: v1
kind: Namespace
metadata: {name: default, labels: {istio.io/use-waypoint: none}}
"""
    assert view_of(ENROLLED + second).planes.ambient == frozenset()
    assert [(code, key) for code, key, _ in findings(ENROLLED + second)] == [
        ("ambient.duplicate-namespace", "f.yaml[3]")
    ]
    same = ENROLLED + "---\n" + ENROLLED.split("---")[0]
    assert view_of(same).planes.ambient == {"default"} and findings(same) == []
