"""`import`'s block (components/mesh/interchange/from_cluster.py): which ambient namespaces it carries."""

from __future__ import annotations

from components.mesh.interchange.from_cluster import mesh_settings
from components.mesh.interchange.istio_objects import IstioObject, Origin


def namespace(name: str, **labels: str) -> IstioObject:
    return IstioObject("Namespace", name, name, {}, Origin(f"ns.yaml[{name}]", False), labels=labels)


def policy(namespace: str) -> IstioObject:
    spec = {"targetRefs": [{"kind": "Service", "group": "", "name": "productpage"}]}
    return IstioObject("AuthorizationPolicy", namespace, "viewer", spec, Origin(f"ap.yaml[{namespace}]", False))


AMBIENT = "istio.io/dataplane-mode"


def test_the_ambient_namespaces_the_block_names_are_imported_with_their_own_waypoint():
    objects = [
        namespace("default", **{AMBIENT: "ambient", "istio.io/use-waypoint": "waypoint"}),
        namespace("quiet", **{AMBIENT: "ambient"}),  # no key of the block names it: `check` would refuse it
        namespace("legacy"),
        namespace("opted", **{AMBIENT: "ambient", "istio.io/use-waypoint": "none"}),
        policy("default"),
        policy("legacy"),
        policy("opted"),
    ]
    block, findings = mesh_settings(objects, "istio-system")
    assert block["ambient"] == {"default": {"waypoint": "waypoint"}, "opted": {}}
    assert [f.code for f in findings] == ["import.no-mesh-policy"]


def test_a_waypoint_of_another_namespace_is_said_to_be_left_out():
    labels = {AMBIENT: "ambient", "istio.io/use-waypoint": "shared", "istio.io/use-waypoint-namespace": "infra"}
    block, findings = mesh_settings([namespace("default", **labels), policy("default")], "istio-system")
    assert block["ambient"] == {"default": {}}
    [skipped] = [f for f in findings if f.code == "import.skipped"]
    assert (skipped.key, skipped.message) == (
        "ns.yaml[default]",
        "namespace default's waypoint shared is in namespace infra, which gke-mtls:mesh.ambient cannot name: default "
        "is imported without it, so the policies bound to its Services are refused until it is set.",
    )
