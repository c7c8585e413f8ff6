"""The GKE side of the edge: the objects that make GKE's Ingress controller create, and keep in step, the backend
service the edge fronts; the mTLS headers it carries; and where its generated name is read from.

Facts: ../shared/reference/gcp-edge-mtls.md sections 5, 6 and 11 (ingress-gce read at acbcf5d).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.core.config import INVALID, Boolean, Choice, Integer, Key, MapOf, Number, Section, Text
from components.core.findings import Finding, error
from components.mesh.analysis import SECURITY, Manifest
from components.mesh.settings import LABELS, NAMESPACE, RESOURCE_NAME

NEG_ANNOTATION = "cloud.google.com/neg"
NEG_STATUS_ANNOTATION = "cloud.google.com/neg-status"
BACKEND_CONFIG_ANNOTATION = "cloud.google.com/backend-config"
BACKENDS_ANNOTATION = "ingress.kubernetes.io/backends"
# Source ranges of Google's front ends and health checkers (GCP load balancing docs).
GOOGLE_FRONT_END_RANGES = ("130.211.0.0/22", "35.191.0.0/16")

CLIENT_CERT_VARIABLES = (
    "client_cert_present",
    "client_cert_chain_verified",
    "client_cert_error",
    "client_cert_sha256_fingerprint",
    "client_cert_serial_number",
    "client_cert_spiffe_id",
    "client_cert_uri_sans",
    "client_cert_dnsname_sans",
    "client_cert_valid_not_before",
    "client_cert_valid_not_after",
    "client_cert_issuer_dn",
    "client_cert_subject_dn",
    "client_cert_leaf",
    "client_cert_chain",
)
DEFAULT_HEADERS = {
    "X-Client-Cert-Present": "{client_cert_present}",
    "X-Client-Cert-Chain-Verified": "{client_cert_chain_verified}",
    "X-Client-Cert-Error": "{client_cert_error}",
    "X-Client-Cert-Hash": "{client_cert_sha256_fingerprint}",
    "X-Client-Cert-Spiffe-Id": "{client_cert_spiffe_id}",
}
MAX_HEADERS = 16
MAX_HEADER_BYTES = 8 * 1024
RESERVED_HEADERS = ("x-user-ip", "cdn-loop")
HOP_BY_HOP = ("keep-alive", "transfer-encoding", "te", "connection", "trailer", "upgrade")
RESERVED_PREFIXES = ("x-google", "x-goog-", "x-gfe", "x-amz-")
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 7230 token
VARIABLE = re.compile(r"(?<!\{)\{([a-z_]+)\}(?!\})")

HEALTH_CHECK = Section(
    doc="The load balancer's health check of the pods (BackendConfig healthCheck).",
    keys=(
        Key(
            "requestPath",
            Text(pattern=r"/\S*", syntax="a path starts with /"),
            "HTTP path probed.",
            example="/healthz",
            default="/",
        ),
        Key("port", Integer(1, 65535), "Container port probed; default: the serving port.", example=8080, default=None),
        Key("type", Choice(("HTTP", "HTTPS", "HTTP2")), "Protocol of the probe.", example="HTTP", default="HTTP"),
        Key("checkIntervalSec", Integer(1, 300), "Seconds between probes.", example=15, default=15),
        Key("timeoutSec", Integer(1, 300), "Seconds before a probe fails.", example=5, default=5),
        Key("healthyThreshold", Integer(1, 10), "Successes to become healthy.", example=1, default=1),
        Key("unhealthyThreshold", Integer(1, 10), "Failures to become unhealthy.", example=2, default=2),
    ),
)

GKE_BACKEND = Section(
    doc="The anchor that makes GKE's Ingress controller create the backend service the edge fronts, with the mTLS "
    "headers and logging on it (for a platform stack; the edge stack reads its `backendServiceName` output).",
    keys=(
        Key("namespace", NAMESPACE, "Namespace of the application.", example="default"),
        Key("service", RESOURCE_NAME, "Name of the application's Service.", example="web"),
        Key("port", Integer(1, 65535), "The Service port the backend serves.", example=80),
        Key(
            "createService",
            Boolean(),
            "Create the Service (true) or annotate an existing one (false).",
            example=False,
            default=False,
        ),
        Key(
            "selector",
            LABELS,
            "Pod labels; needed to create the Service and for meshGuard.",
            example={"app": "web"},
            default={},
        ),
        Key(
            "targetPort",
            Integer(1, 65535),
            "Container port behind `port`; default: the same number.",
            example=8080,
            default=None,
        ),
        Key("healthCheck", HEALTH_CHECK, HEALTH_CHECK.doc, example={"requestPath": "/healthz"}, default={}),
        Key(
            "logSampleRate",
            Number(0.0, 1.0),
            "Share of requests logged by the load balancer.",
            example=1.0,
            default=1.0,
        ),
        Key(
            "headers",
            MapOf(Text(), Text()),
            "Custom request headers carrying the mTLS verdict to the application "
            "(name: value with {client_cert_*} variables).",
            example={"X-Client-Cert-Chain-Verified": "{client_cert_chain_verified}"},
            default=DEFAULT_HEADERS,
        ),
        Key(
            "meshGuard",
            Boolean(),
            "Also add an Istio policy that refuses plaintext requests to the serving port "
            "unless the load balancer marked the client chain verified.",
            example=False,
            default=False,
        ),
    ),
)


@dataclass(frozen=True)
class HealthCheck:
    request_path: str
    port: int | None
    type: str
    check_interval_sec: int
    timeout_sec: int
    healthy_threshold: int
    unhealthy_threshold: int


@dataclass(frozen=True)
class GkeBackendSettings:
    key: str
    namespace: str
    service: str
    port: int
    create_service: bool
    selector: tuple[tuple[str, str], ...]
    target_port: int
    health_check: HealthCheck
    log_sample_rate: float
    headers: tuple[tuple[str, str], ...]
    mesh_guard: bool

    @property
    def backend_config_name(self) -> str:
        return f"{self.service}-mtls"

    @property
    def anchor_name(self) -> str:
        return f"{self.service}-backend-anchor"

    def header_for(self, variable: str) -> str | None:
        return next((name for name, value in self.headers if value == "{" + variable + "}"), None)


def build(raw: Any, key: str, findings: list[Finding]) -> GkeBackendSettings | None:
    if raw is INVALID or INVALID in raw.values():
        return None
    before = len(findings)
    findings += header_findings(raw["headers"], f"{key}.headers")
    if raw["createService"] and not raw["selector"]:
        findings.append(
            error(
                "config.gke-backend",
                f"{key}.selector",
                "createService needs the pod labels the Service selects; add `selector`.",
            )
        )
    settings = GkeBackendSettings(
        key=key,
        namespace=raw["namespace"],
        service=raw["service"],
        port=raw["port"],
        create_service=raw["createService"],
        selector=tuple(raw["selector"].items()),
        target_port=raw["targetPort"] or raw["port"],
        health_check=HealthCheck(**{_snake(k): v for k, v in raw["healthCheck"].items()}),
        log_sample_rate=raw["logSampleRate"],
        headers=tuple(raw["headers"].items()),
        mesh_guard=raw["meshGuard"],
    )
    if settings.mesh_guard:
        if not settings.selector:
            findings.append(
                error(
                    "config.gke-backend",
                    f"{key}.selector",
                    "meshGuard needs the pod labels of the application; add `selector`.",
                )
            )
        if settings.header_for("client_cert_chain_verified") is None:
            findings.append(
                error(
                    "config.gke-backend",
                    f"{key}.headers",
                    "meshGuard checks the header that carries "
                    "{client_cert_chain_verified}; add one, such as X-Client-Cert-Chain-Verified.",
                )
            )
    return None if len(findings) > before else settings


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def header_findings(headers: Mapping[str, str], key: str) -> list[Finding]:
    """GCP's rules for custom request headers on a backend service (custom-headers docs)."""
    found: list[Finding] = []
    if len(headers) > MAX_HEADERS:
        found.append(
            error("header.count", key, f"{len(headers)} headers; a backend service takes at most {MAX_HEADERS}.")
        )
    size = sum(len(name) + len(value) for name, value in headers.items())
    if size > MAX_HEADER_BYTES:
        found.append(
            error(
                "header.size",
                key,
                f"the headers take {size} bytes; a backend service takes at most "
                f"{MAX_HEADER_BYTES} (names and values, before variables expand).",
            )
        )
    seen: dict[str, str] = {}
    for name, value in headers.items():
        where, lower = f"{key}.{name}", name.lower()
        if not TOKEN.fullmatch(name):
            found.append(
                error(
                    "header.name",
                    where,
                    f"{name!r} is not a valid header name (an RFC 7230 token: letters, digits and !#$%&'*+-.^_`|~).",
                )
            )
        elif lower in RESERVED_HEADERS:
            found.append(
                error("header.reserved", where, f"{name} is reserved by the load balancer; pick another name.")
            )
        elif lower in HOP_BY_HOP:
            found.append(
                error(
                    "header.hop-by-hop",
                    where,
                    f"{name} is a hop-by-hop header, which the load balancer does not forward; pick another name.",
                )
            )
        elif lower.startswith(RESERVED_PREFIXES):
            found.append(
                error(
                    "header.prefix",
                    where,
                    f"{name} starts with a prefix Google reserves (X-Google, "
                    "X-Goog-, X-GFE, X-Amz-); pick another name.",
                )
            )
        earlier = seen.setdefault(lower, name)
        if earlier != name:
            found.append(
                error("header.duplicate", where, f"{name} repeats {earlier} (header names are case-insensitive).")
            )
        for variable in VARIABLE.findall(value):
            if variable.startswith("client_cert_") and variable not in CLIENT_CERT_VARIABLES:
                found.append(
                    error(
                        "header.variable",
                        where,
                        f"{{{variable}}} is not a variable the load balancer knows "
                        f"(it would expand to nothing); known ones are {', '.join(CLIENT_CERT_VARIABLES)}.",
                    )
                )
    return found


# --- the objects --------------------------------------------------------------------------------------------------


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
        "customRequestHeaders": {"headers": [f"{name}:{value}" for name, value in s.headers]},
    }


def service_annotations(s: GkeBackendSettings) -> dict[str, str]:
    return {
        NEG_ANNOTATION: json.dumps({"ingress": True}),
        BACKEND_CONFIG_ANNOTATION: json.dumps({"default": s.backend_config_name}),
    }


def service_spec(s: GkeBackendSettings) -> dict[str, Any]:
    return {
        "type": "ClusterIP",
        "selector": dict(s.selector),
        "ports": [{"name": "http", "port": s.port, "targetPort": s.target_port, "protocol": "TCP"}],
    }


ANCHOR_PURPOSE = (
    "Keeps GKE's Ingress controller creating and syncing the backend service (NEG, health check, BackendConfig "
    "headers and logging) that the gke-mtls edge load balancer fronts. Deleting it deletes that backend service. "
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
    port = {"ports": [str(s.target_port)]}
    plaintext = {"notPrincipals": ["*"]}
    return Manifest(
        SECURITY,
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
                    "from": [{"source": {**plaintext, "notIpBlocks": list(GOOGLE_FRONT_END_RANGES)}}],
                    "to": [{"operation": port}],
                },
            ],
        },
    )


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
