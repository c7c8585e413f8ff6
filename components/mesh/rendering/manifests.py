"""The Istio resources the mesh settings ask for, as plain manifests. Facts: ../shared/reference/istio-mesh-mtls.md."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from components.core.manifest import ISTIO_NETWORKING, ISTIO_SECURITY, Manifest
from components.mesh.interchange.istio_objects import DRY_RUN, IstioObject, Origin
from components.mesh.istio_api import (
    AMBIENT,
    DATAPLANE_MODE,
    GATEWAY_API_GROUP,
    HBONE_PORT,
    USE_WAYPOINT,
    WAYPOINT_CLASS,
)
from components.mesh.settings import (
    AMBIENT_KEY,
    EDGE_BACKEND_KEY,
    KEY,
    STAGE_MODES,
    MeshSettings,
    WorkloadPolicy,
    policy_key,
    workload_key,
)
from components.mesh.validation.syntax import port_problem

MESH_WIDE_ISTIO_MUTUAL_NAME = "mesh-wide-istio-mutual"
WAYPOINT_API = f"{GATEWAY_API_GROUP}/v1"
OBSERVE_NAME = "plaintext-observe"


def _selector(labels: Mapping[str, str]) -> dict[str, Any]:
    return {"selector": {"matchLabels": dict(labels)}} if labels else {}


def workload_name(workload: WorkloadPolicy) -> str:
    if workload.name:
        return workload.name
    if not workload.selector:
        return "default"
    made = "-".join(workload.selector.values()).lower()
    # Cut before stripping, so that the name never ends in '-'.
    return re.sub(r"[^a-z0-9-]+", "-", made)[:63].strip("-") or "workload"


def manifests(mesh: MeshSettings) -> list[Manifest]:
    mesh_mode = {"mtls": {"mode": mesh.mode}}
    found = [Manifest(ISTIO_SECURITY, "PeerAuthentication", "default", mesh.root_namespace, mesh_mode, f"{KEY}.mode")]
    found += [
        Manifest(ISTIO_SECURITY, "PeerAuthentication", "default", ns, {"mtls": {"mode": m}}, f"{KEY}.namespaces.{ns}")
        for ns, m in mesh.namespaces.items()
    ]
    for ns, stage in mesh.migration.items():
        key = f"{KEY}.migration.{ns}"
        staged = {"mtls": {"mode": STAGE_MODES[stage]}}
        found.append(Manifest(ISTIO_SECURITY, "PeerAuthentication", "default", ns, staged, key))
        if stage == "observe":
            found.append(observe_policy(OBSERVE_NAME, ns, {}, key))
    for i, w in enumerate(mesh.workloads):
        mode = STAGE_MODES[w.stage] if w.stage is not None else w.mode
        spec: dict[str, Any] = {**_selector(w.selector), "mtls": {"mode": mode}}
        if w.ports:
            spec["portLevelMtls"] = {port: {"mode": mode} for port, mode in w.ports.items()}
        key = workload_key(i)
        found.append(Manifest(ISTIO_SECURITY, "PeerAuthentication", workload_name(w), w.namespace, spec, key))
        found += _plaintext_destination_rule(w, f"{key}.service")
        if w.stage == "observe":
            found.append(observe_policy(f"{workload_name(w)}-{OBSERVE_NAME}", w.namespace, w.selector, f"{key}.stage"))
    for i, p in enumerate(mesh.authorization):
        spec = {**_selector(p.selector), "action": p.action}
        if p.target_refs:
            spec["targetRefs"] = [{"group": t.api_group, "kind": t.kind, "name": t.name} for t in p.target_refs]
        if p.provider is not None:
            spec["provider"] = {"name": p.provider}
        if p.rules is not None:
            spec["rules"] = list(p.rules)
        found.append(Manifest(ISTIO_SECURITY, "AuthorizationPolicy", p.name, p.namespace, spec, policy_key(i)))
    found += [
        Manifest(ISTIO_SECURITY, "AuthorizationPolicy", "allow-nothing", ns, {}, f"{KEY}.denyByDefault[{i}]")
        for i, ns in enumerate(mesh.deny_by_default)
    ]
    if mesh.mesh_wide_istio_mutual:
        found.append(
            Manifest(
                ISTIO_NETWORKING,
                "DestinationRule",
                MESH_WIDE_ISTIO_MUTUAL_NAME,
                mesh.root_namespace,
                {"host": "*.local", "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}},
                f"{KEY}.meshWideIstioMutual",
            )
        )
    return found


def declared(mesh: MeshSettings) -> list[IstioObject]:
    """What the settings say about the cluster without applying it, for the analysis: the Service in front of each
    workload with `service` (its DestinationRule names that host), the ingress gateway's pods of `edgeBackend` (no
    PeerAuthentication applies to them), and each `ambient` namespace with the labels that make it so, and its
    waypoint's Gateway as `istioctl waypoint apply` makes it. None is created."""
    found = []
    for ns, entry in mesh.ambient.items():
        key = f"{AMBIENT_KEY}.{ns}"
        labels = {DATAPLANE_MODE: AMBIENT}
        if entry.waypoint is not None:
            labels[USE_WAYPOINT] = entry.waypoint
            waypoint: dict[str, Any] = {
                "gatewayClassName": WAYPOINT_CLASS,
                "listeners": [{"name": "mesh", "port": HBONE_PORT, "protocol": "HBONE"}],
            }
            origin = Origin(f"{key}.waypoint", True)
            found.append(IstioObject("Gateway", ns, entry.waypoint, waypoint, origin, api_version=WAYPOINT_API))
        found.append(IstioObject("Namespace", ns, ns, {}, Origin(key, True), labels=labels))
    for i, w in enumerate(mesh.workloads):
        if w.service is None or not w.selector:
            continue
        ports = [
            {"port": w.service_ports.get(port, int(port)), "targetPort": int(port)}
            for port in dict.fromkeys([*w.ports, *w.service_ports])
            if port_problem(port) is None
        ]
        spec = {"selector": dict(w.selector), "ports": ports}
        found.append(IstioObject("Service", w.namespace, w.service, spec, Origin(f"{workload_key(i)}.service", True)))
    backend = mesh.edge_backend
    if backend is not None and backend.istio_ingress_gateway and backend.namespace is not None and backend.selector:
        spec = {"selector": dict(backend.selector)}
        found.append(IstioObject("Gateway", backend.namespace, "edge-backend", spec, Origin(EDGE_BACKEND_KEY, True)))
    return found


def observe_policy(name: str, namespace: str, selector: Mapping[str, str], key: str) -> Manifest:
    """Denies, in dry run only, exactly what STRICT refuses: requests without a peer identity (`notPrincipals: ["*"]`
    matches only them). Envoy records each match without blocking it: the `shadow denied` proxy debug log, the
    `authz_dry_run_result="denied"` RBAC statistic, the `istio.authorization.dry_run.deny_policy.*` trace tags, and
    the `istio_dry_run_deny_shadow_*` dynamic metadata of `envoy.filters.http.rbac` that an access log format can
    print (Istio's dry-run task; pilot/pkg/security/authz/builder)."""
    spec = {**_selector(selector), "action": "DENY", "rules": [{"from": [{"source": {"notPrincipals": ["*"]}}]}]}
    return Manifest(ISTIO_SECURITY, "AuthorizationPolicy", name, namespace, spec, key, {DRY_RUN: "true"})


def _plaintext_destination_rule(w: WorkloadPolicy, key: str) -> list[Manifest]:
    """Turns TLS off for the Service's clients at its DISABLE ports. Auto mTLS already does, per endpoint and port
    (pilot/pkg/xds/endpoints/mtls_checker.go); the rule matters where a DestinationRule sets client TLS for the host
    instead, such as the `*.local` ISTIO_MUTUAL rule, which it overrides by its more specific host."""
    if w.service is None:
        return []
    spec: dict[str, Any] = {"host": f"{w.service}.{w.namespace}.svc.cluster.local"}
    # A port that is not one is reported by the settings checks; the rest are still generated for the analysis.
    disabled_ports = [port for port, mode in w.ports.items() if mode == "DISABLE" and port_problem(port) is None]
    if w.mode == "DISABLE":
        spec["trafficPolicy"] = {"tls": {"mode": "DISABLE"}}
    elif disabled_ports:
        spec["trafficPolicy"] = {
            "portLevelSettings": [
                {"port": {"number": w.service_ports.get(port, int(port))}, "tls": {"mode": "DISABLE"}}
                for port in disabled_ports
            ]
        }
    else:
        return []
    return [Manifest(ISTIO_NETWORKING, "DestinationRule", f"{w.service}-plaintext", w.namespace, spec, key)]
