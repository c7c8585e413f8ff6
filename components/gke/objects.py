"""The GKE side of the edge: the objects that make GKE's Ingress controller create, and keep in step, the backend
service the edge fronts; and where its generated name is read from.

Facts: ../shared/reference/gcp-edge-mtls.md sections 5, 6 and 11 (ingress-gce read at acbcf5d).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from components.core.edge_backend import NegBackend
from components.core.load_balancer import FRONT_END_RANGES
from components.core.manifest import ISTIO_SECURITY, Manifest
from components.gke.settings import KEY, GkeBackendSettings

NEG_ANNOTATION = "cloud.google.com/neg"
NEG_STATUS_ANNOTATION = "cloud.google.com/neg-status"
BACKEND_CONFIG_ANNOTATION = "cloud.google.com/backend-config"
BACKENDS_ANNOTATION = "ingress.kubernetes.io/backends"


def created_objects(s: GkeBackendSettings) -> list[tuple[str, str, str]]:
    """The Kubernetes objects the GKE side creates, as (kind, namespace, name): a patched Service is the
    application's own, not created here."""
    made = [("Service", s.namespace, s.service)] if s.create_service else []
    if s.standalone_neg is None:
        made += [("BackendConfig", s.namespace, s.backend_config_name), ("Ingress", s.namespace, s.anchor_name)]
    return made


def backend_config_spec(s: GkeBackendSettings) -> dict[str, Any]:
    h = s.health_check
    health: dict[str, Any] = {
        "type": h.type,
        "requestPath": h.request_path,
        "checkIntervalSec": h.check_interval_sec,
        "timeoutSec": h.timeout_sec,
        "healthyThreshold": h.healthy_threshold,
        "unhealthyThreshold": h.unhealthy_threshold,
    }
    if h.port is not None:
        health["port"] = h.port
    return {
        "healthCheck": health,
        "logging": {"enable": True, "sampleRate": s.log_sample_rate},
        "customRequestHeaders": {"headers": [f"{name}:{value}" for name, value in s.headers.items()]},
    }


def service_annotations(s: GkeBackendSettings) -> dict[str, str]:
    if s.standalone_neg is not None:  # a NEG of the Service port, named; ingress-gce refuses it beside "ingress"
        return {NEG_ANNOTATION: json.dumps({"exposed_ports": {str(s.port): {"name": s.standalone_neg}}})}
    return {
        NEG_ANNOTATION: json.dumps({"ingress": True}),
        BACKEND_CONFIG_ANNOTATION: json.dumps({"default": s.backend_config_name}),
    }


def service_spec(s: GkeBackendSettings) -> dict[str, Any]:
    return {
        "type": "ClusterIP",
        "selector": dict(s.selector),
        "ports": [{"name": "http", "port": s.port, "targetPort": s.container_port, "protocol": "TCP"}],
    }


ANCHOR_PURPOSE = (
    "Keeps GKE's Ingress controller creating and syncing the backend service (NEG, health check, BackendConfig "
    "headers and logging) that the gke-mtls edge load balancer fronts. Deleting it stops that sync: the backend "
    "service, still used by the edge, is left orphaned and its endpoints go stale. "
    "It has neither HTTP nor TLS on purpose, so it serves nobody: the controller reports 'both HTTP and HTTPS are "
    "disabled ... will not be able to serve any traffic' on every sync, and that is expected."
)


def anchor_annotations() -> dict[str, str]:
    return {
        "kubernetes.io/ingress.class": "gce",
        "kubernetes.io/ingress.allow-http": "false",
        "pulumi.com/skipAwait": "true",  # it never gets an address; Pulumi would wait for one forever
        "gke-mtls/purpose": ANCHOR_PURPOSE,
    }


def anchor_spec(s: GkeBackendSettings) -> dict[str, Any]:
    return {"defaultBackend": {"service": {"name": s.service, "port": {"number": s.port}}}}


def mesh_guard(s: GkeBackendSettings) -> Manifest:
    """Refuses plaintext (no mesh identity) requests to the serving port unless the load balancer marked the client
    chain verified, and plaintext that does not come from Google's front ends at all. The load balancer overwrites a
    same-named header a client sends, so only it can set the header on the way in."""
    verified = (s.header_for("client_cert_chain_verified") or "").lower()
    port = {"ports": [str(s.container_port)]}
    plaintext = {"notPrincipals": ["*"]}
    return Manifest(
        ISTIO_SECURITY,
        "AuthorizationPolicy",
        f"{s.service}-edge-guard",
        s.namespace,
        {
            "selector": {"matchLabels": dict(s.selector)},
            "action": "DENY",
            "rules": [
                {
                    "from": [{"source": plaintext}],
                    "to": [{"operation": {**port, "notPaths": [s.health_check.request_path]}}],
                    "when": [{"key": f"request.headers[{verified}]", "notValues": ["true"]}],
                },
                {
                    "from": [{"source": {**plaintext, "notIpBlocks": _load_balancer_sources(s)}}],
                    "to": [{"operation": port}],
                },
            ],
        },
        origin=f"{KEY}.meshGuard",
    )


def _load_balancer_sources(s: GkeBackendSettings) -> list[str]:
    """The load balancer's requests and its health checks: from the front-end ranges, or (regional) from the
    proxy-only subnet and the front-end ranges of the health checks."""
    return list(dict.fromkeys([*s.load_balancer_ranges, *FRONT_END_RANGES]))


# --- the generated name -------------------------------------------------------------------------------------------


def backend_service_name(
    service_annotations: Mapping[str, str] | None, ingress_annotations: Mapping[str, str] | None, s: GkeBackendSettings
) -> str | None:
    """The name GKE gave the backend service: the NEG's name from the Service's neg-status (the backend service of a
    container-native NEG carries the NEG's name), else the Ingress's backends annotation; None until either exists."""
    status = _json((service_annotations or {}).get(NEG_STATUS_ANNOTATION))
    if isinstance(status, dict):
        groups = status.get("network_endpoint_groups")
        if isinstance(groups, dict) and isinstance(groups.get(str(s.port)), str):
            return groups[str(s.port)]
    backends = _json((ingress_annotations or {}).get(BACKENDS_ANNOTATION))
    if isinstance(backends, dict) and backends:
        fragment = f"-{s.namespace}-{s.service}-{s.port}-"
        matching = [name for name in backends if fragment in name] or (list(backends) if len(backends) == 1 else [])
        if len(matching) == 1:
            return matching[0]
    return None


def service_port_problem(spec: Mapping[str, Any] | None, s: GkeBackendSettings) -> str | None:
    """Why the live Service cannot carry the standalone NEG of `s.port`, or None."""
    ports = [p for p in ((spec or {}).get("ports") or []) if isinstance(p, Mapping)]
    listed = ", ".join(f"{p.get('port'):g}" if isinstance(p.get("port"), float) else str(p.get("port")) for p in ports)
    listed = listed or "none"
    port = next((p for p in ports if p.get("port") == s.port), None)
    if port is None:
        return (
            f"{KEY}.port: Service {s.namespace}/{s.service} exposes no port {s.port} (its ports: {listed}); set port "
            "to the Service port the NEG is for."
        )
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, float) and target.is_integer():  # numbers come from the engine as floats
        target = int(target)
    if isinstance(target, int) and target != s.container_port:
        return (
            f"{KEY}.targetPort: Service {s.namespace}/{s.service} sends port {s.port} to container port {target}, "
            f"not {s.container_port}; the health check, the firewall rule and the mesh policies need the container "
            f"port, so set targetPort to {target}."
        )
    return None


def service_unreadable_message(s: GkeBackendSettings, reason: object) -> str:
    return (
        f"{KEY}.service: the live Service {s.namespace}/{s.service} cannot be read ({reason}). Check "
        f"{KEY}.namespace and service, and this stack's cluster access; or set createService: true to create it."
    )


def named_target_port(ports: Sequence[Mapping[str, Any]], s: GkeBackendSettings) -> str | None:
    """A warning when the Service sends the NEG's port to a named container port, which only the pods resolve."""
    port = next((p for p in ports if p.get("port") == s.port), None)
    target = port.get("targetPort") if port is not None else None
    if not isinstance(target, str):
        return None
    return (
        f"{KEY}.targetPort: Service {s.namespace}/{s.service} sends port {s.port} to the named container port "
        f"{target!r}, which the program cannot resolve; the health check, the firewall rule and the mesh policies "
        f"use {s.container_port}. Make sure that is the port {target!r} names."
    )


def neg_zones(service_annotations: Mapping[str, str] | None, s: GkeBackendSettings) -> list[str]:
    """The zones the NEG controller made the standalone NEG in, from the Service's neg-status; [] until it has."""
    status = _json((service_annotations or {}).get(NEG_STATUS_ANNOTATION))
    if not isinstance(status, dict):
        return []
    groups, zones = status.get("network_endpoint_groups"), status.get("zones")
    if not isinstance(groups, dict) or groups.get(str(s.port)) != s.standalone_neg or not isinstance(zones, list):
        return []
    return sorted(zone for zone in zones if isinstance(zone, str))


def neg_backend(s: GkeBackendSettings) -> dict[str, Any]:
    """The platform stack's `negBackend` output: what the edge stack's backend service is built from."""
    exported = NegBackend(
        port=s.container_port,
        health_check=s.health_check,
        log_sample_rate=s.log_sample_rate,
        headers=s.headers,
        allowed_clients=s.allowed_clients,
        **({"proxy_only_subnet_range": s.proxy_only_subnet_range} if s.proxy_only_subnet_range else {}),
    )
    return exported.model_dump(mode="json", by_alias=True, exclude_none=True)


def neg_pending_message(s: GkeBackendSettings) -> str:
    return (
        f"pending: the NEG controller has not reported NEG {s.standalone_neg!r} yet ({NEG_STATUS_ANNOTATION} on "
        f"Service {s.namespace}/{s.service} has no zones for port {s.port}). Wait a minute, then run `pulumi up "
        "--refresh` on this stack once more, before the edge stack."
    )


def pending_message(s: GkeBackendSettings) -> str:
    return (
        f"pending: GKE has not named the backend service yet ({NEG_STATUS_ANNOTATION} on Service "
        f"{s.namespace}/{s.service} has no entry for port {s.port}). Wait a minute for the NEG controller, then run "
        "`pulumi up --refresh` on this stack once more."
    )


def _json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return None
