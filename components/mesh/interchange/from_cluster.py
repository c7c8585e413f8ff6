"""Existing PeerAuthentications and AuthorizationPolicies as a `gke-mtls:mesh` settings block, so a team can hand a
mesh it wrote by hand to the stack. What the settings cannot express is said, object by object, never dropped
silently."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from components.core.findings import Finding, error, warning
from components.mesh.analysis.modes import mode_of, port_modes
from components.mesh.interchange.istio_objects import DRY_RUN, IstioObject, by_age
from components.mesh.istio_api import (
    AMBIENT,
    DATAPLANE_MODE,
    NO_WAYPOINT,
    TARGET_GROUPS,
    USE_WAYPOINT,
    USE_WAYPOINT_NAMESPACE,
)
from components.mesh.rendering.manifests import MESH_WIDE_ISTIO_MUTUAL_NAME

MESH_WIDE_ISTIO_MUTUAL = {"host": "*.local", "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}}
# The AuthorizationPolicy fields the settings carry; anything else in a spec cannot be expressed.
POLICY_FIELDS = ("selector", "action", "provider", "rules")


def _skip(obj: IstioObject, why: str) -> Finding:
    """Left out without changing what Istio does: it ignores the object, or the stack keeps away from it."""
    return warning("import.skipped", obj.origin.key, f"{obj.title} is not imported: {why}")


def _unsupported(obj: IstioObject, why: str, fix: str) -> Finding:
    """A policy the settings cannot express: a stack made from the block would enforce less than the cluster does."""
    return error(
        "import.unsupported",
        obj.origin.key,
        f"{obj.title} cannot be expressed in gke-mtls:mesh: {why}. A stack from this block would enforce less than "
        f"the cluster does; {fix}.",
    )


def _have(fields: list[str]) -> str:
    return "has" if len(fields) == 1 else "have"


def mesh_settings(objects: Iterable[IstioObject], root_namespace: str) -> tuple[dict[str, Any], list[Finding]]:
    """The settings (keys as users write them) and a finding for everything left out or changed."""
    objects = list(objects)
    settings: dict[str, Any] = {"rootNamespace": root_namespace, "mode": "UNSET"}
    namespaces: dict[str, str] = {}
    workloads: list[dict[str, Any]] = []
    authorization: list[dict[str, Any]] = []
    deny_by_default: list[str] = []
    found: list[Finding] = []
    mesh_wide = None
    for obj in by_age(objects):
        if obj.kind == "PeerAuthentication":
            mesh_wide = _peer_authentication(obj, root_namespace, mesh_wide, settings, namespaces, workloads, found)
        elif obj.kind == "AuthorizationPolicy":
            _authorization_policy(obj, authorization, deny_by_default, found)
        elif (
            obj.kind == "DestinationRule"
            and obj.namespace == root_namespace
            and dict(obj.spec) == MESH_WIDE_ISTIO_MUTUAL
        ):
            settings["meshWideIstioMutual"] = True
            if obj.name != MESH_WIDE_ISTIO_MUTUAL_NAME:
                renamed = f"{obj.namespace}/{MESH_WIDE_ISTIO_MUTUAL_NAME}"
                found.append(warning("import.renamed", obj.origin.key, f"{obj.title} becomes {renamed}."))
        elif obj.kind == "DestinationRule":
            found.append(
                _skip(
                    obj,
                    "the settings make DestinationRules only for DISABLE workloads (from their `service`) and the "
                    "`*.local` rule; keep it where it is, or set `service` on the workload it serves.",
                )
            )  # Services and Gateways only place the policies
    if mesh_wide is None:
        found.append(
            warning(
                "import.no-mesh-policy",
                f"{root_namespace}",
                "no mesh-wide PeerAuthentication was found, so `mode` is UNSET (Istio's default, PERMISSIVE); the "
                "stack will create one. Set `mode: STRICT` once nothing sends plaintext.",
            )
        )
    for key, value in (
        ("namespaces", namespaces),
        ("workloads", workloads),
        ("authorization", authorization),
        ("denyByDefault", deny_by_default),
    ):
        if value:
            settings[key] = value
    named = {
        *namespaces,
        *deny_by_default,
        *(w["namespace"] for w in workloads),
        *(p["namespace"] for p in authorization),
    }
    ambient = _ambient(objects, named, found)
    if ambient:
        settings["ambient"] = ambient
    return settings, found


def _ambient(objects: Iterable[IstioObject], named: set[str], found: list[Finding]) -> dict[str, Any]:
    """`ambient` from the Namespaces of the input (`kubectl get namespaces -o yaml`) that the block names: those
    labelled `istio.io/dataplane-mode: ambient`, with the waypoint `istio.io/use-waypoint` names. The settings declare
    a waypoint of the namespace's own only."""
    ambient: dict[str, Any] = {}
    for obj in objects:
        if obj.kind != "Namespace" or obj.name not in named or obj.labels.get(DATAPLANE_MODE) != AMBIENT:
            continue
        entry: dict[str, Any] = {}
        waypoint = obj.labels.get(USE_WAYPOINT)
        elsewhere = obj.labels.get(USE_WAYPOINT_NAMESPACE, obj.name) != obj.name
        if waypoint is not None and waypoint != NO_WAYPOINT and elsewhere:
            found.append(
                warning(
                    "import.skipped",
                    obj.origin.key,
                    f"namespace {obj.name}'s waypoint {waypoint} is in namespace {obj.labels[USE_WAYPOINT_NAMESPACE]}, "
                    f"which gke-mtls:mesh.ambient cannot name: {obj.name} is imported without it, so the policies "
                    "bound to its Services are refused until it is set.",
                )
            )
        elif waypoint is not None and waypoint != NO_WAYPOINT:
            entry["waypoint"] = waypoint
        ambient[obj.name] = entry
    return ambient


def _peer_authentication(
    obj: IstioObject,
    root_namespace: str,
    mesh_wide: IstioObject | None,
    settings: dict[str, Any],
    namespaces: dict[str, str],
    workloads: list[dict[str, Any]],
    found: list[Finding],
) -> IstioObject | None:
    extra = sorted(set(obj.spec) - {"selector", "mtls", "portLevelMtls"})
    if extra:
        found.append(_unsupported(obj, f"{', '.join(extra)} {_have(extra)} no key", "keep it outside the stack"))
        return mesh_wide
    if obj.namespace == root_namespace and not obj.selector:
        if mesh_wide is not None:
            found.append(_skip(obj, f"Istio ignores it: {mesh_wide.title} is older and mesh-wide too."))
            return mesh_wide
        settings["mode"] = mode_of(obj)
        if obj.name != "default":
            found.append(warning("import.renamed", obj.origin.key, f"{obj.title} becomes {obj.namespace}/default."))
        return obj
    if obj.namespace == root_namespace:
        found.append(_skip(obj, "Istio ignores a PeerAuthentication with a selector in the root namespace."))
        return mesh_wide
    entry: dict[str, Any] = {"namespace": obj.namespace}
    if not obj.selector:
        if obj.namespace in namespaces or any(
            w["namespace"] == obj.namespace and "selector" not in w for w in workloads
        ):
            found.append(_skip(obj, f"Istio ignores it: an older namespace-wide policy of {obj.namespace} is kept."))
            return mesh_wide
        if obj.name == "default":
            namespaces[obj.namespace] = mode_of(obj)
            return mesh_wide
    if obj.selector:
        entry["selector"] = obj.selector
    entry["mode"] = mode_of(obj)
    if port_modes(obj):
        entry["ports"] = port_modes(obj)
    entry["name"] = obj.name
    workloads.append(entry)
    return mesh_wide


def _targets(obj: IstioObject) -> list[dict[str, str]]:
    """`targetRefs` (or the older single `targetRef`) as the settings' entries. istiod's webhook has already held
    them to the kinds and groups the settings take, and to the policy's own namespace."""
    refs = obj.spec.get("targetRefs") or ([obj.spec["targetRef"]] if obj.spec.get("targetRef") else [])
    targets = []
    for ref in refs:
        target = {"kind": str(ref["kind"]), "name": str(ref["name"])}
        if str(ref.get("group") or "") != TARGET_GROUPS[target["kind"]][0]:
            target["group"] = str(ref["group"])
        targets.append(target)
    return targets


def _authorization_policy(
    obj: IstioObject, authorization: list[dict[str, Any]], deny_by_default: list[str], found: list[Finding]
) -> None:
    # Of the annotations, istiod reads only istio.io/dry-run (kubectl's, Helm's and Argo CD's are for their tools).
    if obj.dry_run:
        found.append(
            _unsupported(
                obj,
                f'it is a dry run ({DRY_RUN}: "{obj.annotations[DRY_RUN]}"), which the settings make only for a '
                "migration stage",
                "keep applying it outside the stack, or drop the annotation to import it enforced",
            )
        )
        return
    extra = sorted(set(obj.spec) - {*POLICY_FIELDS, "targetRefs", "targetRef"})
    if extra:
        found.append(_unsupported(obj, f"{', '.join(extra)} {_have(extra)} no key", "keep it outside the stack"))
        return
    if dict(obj.spec) == {} and obj.name == "allow-nothing":
        deny_by_default.append(obj.namespace)
        return
    entry: dict[str, Any] = {"name": obj.name, "namespace": obj.namespace}
    if obj.selector:
        entry["selector"] = obj.selector
    if targets := _targets(obj):
        entry["targetRefs"] = targets
    entry["action"] = str(obj.spec.get("action") or "ALLOW")
    provider = obj.spec.get("provider")
    if isinstance(provider, dict) and provider.get("name"):
        entry["provider"] = provider["name"]
    if "rules" in obj.spec:
        entry["rules"] = obj.spec["rules"]
    authorization.append(entry)
