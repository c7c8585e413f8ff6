"""Typed, immutable stack settings parsed from the stack's config, with every problem reported at once.

Pure: reads a config map (`{"gke-mtls:edge": "<json>", ...}`, the form the Pulumi engine hands a program)
and files under the project root. Knows nothing of Pulumi resources.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.core.config import (
    INVALID,
    NAMESPACE,
    Boolean,
    Choice,
    Integer,
    Key,
    ListOf,
    Section,
    Text,
    child_key,
)
from components.core.findings import Finding, error, errors, warning
from components.edge import certificates
from components.edge.certificates import LoadedCertificate
from components.gke import objects as gke_backend_rules
from components.gke.objects import GKE_BACKEND, GkeBackendSettings
from components.mesh.settings import CLUSTER, MESH, ClusterSettings, MeshSettings, build_cluster, build_mesh

GCE_NAME = Text(
    pattern=r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?",
    syntax="a GCE resource name starts with a lowercase letter, then up to 62 lowercase letters, digits or "
    "hyphens, and does not end with a hyphen",
)
STACK_NAME = Text(
    pattern=r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,2}",
    syntax="a stack reference is <organization>/<project>/<stack> (or <stack> for the current project)",
)
SSL_PROFILES = ("MODERN", "RESTRICTED", "COMPATIBLE", "CUSTOM")
TLS_VERSIONS = ("TLS_1_0", "TLS_1_1", "TLS_1_2")
CLIENT_VALIDATION_MODES = ("REJECT_INVALID", "ALLOW_INVALID_OR_MISSING_CLIENT_CERT")
# Google-managed certificates take at most 100 domains (compute ManagedSslCertificate).
MAX_MANAGED_CERT_DOMAINS = 100

BACKEND = Section(
    doc="Where the edge finds the backend service that GKE's Ingress controller generated. "
    "Set exactly one of `stack` and `name`.",
    keys=(
        Key(
            "stack",
            STACK_NAME,
            "Stack that exports the backend service name (read through a StackReference).",
            example="acme/gke-platform/dev",
            default=None,
        ),
        Key(
            "output",
            Text(pattern=r"\S+", syntax="an output name is a non-empty word"),
            "Name of that stack's output holding the backend service name.",
            example="backendServiceName",
            default="backendServiceName",
        ),
        Key(
            "name",
            GCE_NAME,
            "The backend service name itself, instead of a stack reference.",
            example="k8s1-0123abcd-default-web-80-5104b449",
            default=None,
        ),
    ),
)

SSL_POLICY = Section(
    doc="The SSL policy of the HTTPS proxy.",
    keys=(
        Key("profile", Choice(SSL_PROFILES), "Cipher profile.", example="MODERN", default="MODERN"),
        Key(
            "minTlsVersion",
            Choice(TLS_VERSIONS),
            "Lowest TLS version clients may negotiate.",
            example="TLS_1_2",
            default="TLS_1_2",
        ),
        Key(
            "customFeatures",
            ListOf(
                Text(
                    pattern=r"TLS_[A-Z0-9_]+", syntax="a feature is a cipher suite name such as TLS_AES_128_GCM_SHA256"
                )
            ),
            "Cipher suites, only with profile CUSTOM.",
            example=["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
            default=(),
        ),
    ),
)

REJECTED_CLIENTS_ALERT = Section(
    doc="An alert policy on the count of client certificates the edge rejected.",
    keys=(
        Key("threshold", Integer(1, 1_000_000), "Rejections per window that open an incident.", example=10),
        Key("windowSeconds", Integer(60, 86_400), "Length of the window.", example=300, default=300),
        Key(
            "notificationChannels",
            ListOf(
                Text(
                    pattern=r"projects/[^/]+/notificationChannels/[^/]+",
                    syntax="a channel is projects/<project>/notificationChannels/<id>",
                )
            ),
            "Where incidents are sent.",
            example=["projects/acme-dev/notificationChannels/1234567890"],
            default=(),
        ),
    ),
)

PEM_PATHS = ListOf(Text(pattern=r".*\S.*", syntax="a path is a non-empty file path relative to the project root"))

EDGE = Section(
    doc="The external Application Load Balancer with client-certificate (mTLS) validation.",
    keys=(
        Key(
            "domains",
            ListOf(Text(), max_items=MAX_MANAGED_CERT_DOMAINS),
            "Host names of the Google-managed certificate (no wildcards, at most 100).",
            example=["dev.example.com"],
        ),
        Key(
            "sslPolicy",
            SSL_POLICY,
            SSL_POLICY.doc,
            example={"profile": "MODERN", "minTlsVersion": "TLS_1_2"},
            default={},
        ),
        Key(
            "clientValidation",
            Choice(CLIENT_VALIDATION_MODES),
            "What the load balancer does with a missing or invalid client certificate.",
            example="REJECT_INVALID",
            default="REJECT_INVALID",
        ),
        Key(
            "trustAnchors",
            PEM_PATHS,
            "PEM files of the root CAs client chains must end in (paths relative to the project root).",
            example=["certs/dev/root-ca.pem"],
            default=(),
        ),
        Key(
            "intermediateCas",
            PEM_PATHS,
            "PEM files of intermediate CAs used to build client chains.",
            example=["certs/dev/intermediate-ca.pem"],
            default=(),
        ),
        Key(
            "allowlistedCertificates",
            PEM_PATHS,
            "PEM files of client certificates accepted as they are (self-signed and expired ones too).",
            example=[],
            default=(),
        ),
        Key("httpsRedirect", Boolean(), "Also listen on port 80 and redirect to HTTPS.", example=False, default=False),
        Key(
            "rejectedClientsAlert",
            REJECTED_CLIENTS_ALERT,
            REJECTED_CLIENTS_ALERT.doc,
            example={"threshold": 10, "notificationChannels": ["projects/acme-dev/notificationChannels/123"]},
            default=None,
        ),
        Key(
            "expiryWarningDays",
            Integer(0, 3650),
            "Warn when a trust anchor or intermediate CA expires within this many days.",
            example=30,
            default=30,
        ),
    ),
)

STACK = Section(
    doc="The project's stack configuration.",
    keys=(
        Key(
            "backend",
            BACKEND,
            BACKEND.doc + " Required with `edge`.",
            example={"stack": "acme/gke-platform/dev"},
            default=None,
        ),
        Key(
            "edge",
            EDGE,
            EDGE.doc,
            example={"domains": ["dev.example.com"], "trustAnchors": ["certs/dev/root-ca.pem"]},
            default=None,
        ),
        Key(
            "cluster",
            CLUSTER,
            CLUSTER.doc + " Required with `mesh`.",
            example={"context": "gke_acme-dev_europe-west1_platform"},
            default=None,
        ),
        Key("mesh", MESH, MESH.doc, example={"mode": "STRICT", "namespaces": {"legacy": "PERMISSIVE"}}, default=None),
        Key(
            "gkeBackend",
            GKE_BACKEND,
            GKE_BACKEND.doc + " Needs `cluster`.",
            example={"namespace": "default", "service": "web", "port": 80},
            default=None,
        ),
    ),
)


@dataclass(frozen=True)
class BackendSettings:
    stack: str | None
    output: str
    name: str | None


@dataclass(frozen=True)
class SslPolicySettings:
    profile: str
    min_tls_version: str
    custom_features: tuple[str, ...]


@dataclass(frozen=True)
class RejectedClientsAlert:
    threshold: int
    window_seconds: int
    notification_channels: tuple[str, ...]


@dataclass(frozen=True)
class EdgeSettings:
    domains: tuple[str, ...]
    ssl_policy: SslPolicySettings
    client_validation: str
    trust_anchors: tuple[LoadedCertificate, ...]
    intermediate_cas: tuple[LoadedCertificate, ...]
    allowlisted_certificates: tuple[LoadedCertificate, ...]
    https_redirect: bool
    expiry_warning_days: int
    rejected_clients_alert: RejectedClientsAlert | None


@dataclass(frozen=True)
class StackSettings:
    backend: BackendSettings | None
    edge: EdgeSettings | None
    cluster: ClusterSettings | None
    mesh: MeshSettings | None
    gke_backend: GkeBackendSettings | None


def namespace_values(config: Mapping[str, str]) -> dict[str, Any]:
    """The project's keys, decoded the way `pulumi.Config.get_object` decodes them."""
    values: dict[str, Any] = {}
    prefix = NAMESPACE + ":"
    for full_key, raw in config.items():
        if not full_key.startswith(prefix):
            continue
        try:
            values[full_key[len(prefix) :]] = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError:
            values[full_key[len(prefix) :]] = raw
    return values


def parse(config: Mapping[str, str], project_root: Path) -> tuple[StackSettings | None, list[Finding]]:
    """Settings, or None when any error stands; and every finding of the run."""
    findings: list[Finding] = []
    top = STACK.read(namespace_values(config), NAMESPACE, findings)
    # namespace_values() always gives an object, so `top` is a dict of the section's keys.
    _require_together(top, "edge", "backend", "the edge needs to know which backend service to front", findings)
    if top["cluster"] is None:
        for part in ("mesh", "gkeBackend"):
            if top[part] is not None:
                findings.append(
                    error(
                        "config.required",
                        child_key(NAMESPACE, "cluster"),
                        f"is required with {NAMESPACE}:{part}: it needs to know which cluster to write to.",
                    )
                )
    elif top["mesh"] is None and top["gkeBackend"] is None:
        findings.append(
            error(
                "config.unused",
                child_key(NAMESPACE, "cluster"),
                f"applies only with {NAMESPACE}:mesh or {NAMESPACE}:gkeBackend; add one of them or remove this key.",
            )
        )
    if top["edge"] is None and top["mesh"] is None and top["gkeBackend"] is None and not errors(findings):
        findings.append(
            error(
                "config.required",
                NAMESPACE,
                "configure at least one of gke-mtls:edge, gke-mtls:mesh and "
                "gke-mtls:gkeBackend; see Pulumi.dev.yaml for an example.",
            )
        )
    backend = None if top["backend"] is None else _backend(top["backend"], findings)
    edge = None if top["edge"] is None else _edge(top["edge"], project_root, findings)
    cluster = (
        None
        if top["cluster"] is None
        else build_cluster(top["cluster"], f"{NAMESPACE}:cluster", project_root, findings)
    )
    mesh = None if top["mesh"] is None else build_mesh(top["mesh"], f"{NAMESPACE}:mesh", findings)
    gke_backend = None
    if top["gkeBackend"] is not None:
        gke_backend = gke_backend_rules.build(top["gkeBackend"], f"{NAMESPACE}:gkeBackend", findings)
        if gke_backend is not None and gke_backend.mesh_guard and top["mesh"] is None:
            findings.append(
                error(
                    "config.gke-backend",
                    f"{NAMESPACE}:gkeBackend.meshGuard",
                    "is an Istio policy, so it needs gke-mtls:mesh; add the mesh or turn meshGuard off.",
                )
            )
    if errors(findings):
        return None, findings
    return StackSettings(backend=backend, edge=edge, cluster=cluster, mesh=mesh, gke_backend=gke_backend), findings


def _require_together(top: dict[str, Any], part: str, needs: str, why: str, findings: list[Finding]) -> None:
    if top[part] is not None and top[needs] is None:
        findings.append(
            error("config.required", child_key(NAMESPACE, needs), f"is required with {NAMESPACE}:{part}: {why}.")
        )
    if top[needs] is not None and top[part] is None:
        findings.append(
            error(
                "config.unused",
                child_key(NAMESPACE, needs),
                f"applies only with {NAMESPACE}:{part}; add {NAMESPACE}:{part} or remove this key.",
            )
        )


def _backend(raw: Any, findings: list[Finding]) -> BackendSettings | None:
    key = child_key(NAMESPACE, "backend")
    if raw is INVALID:
        return None
    has_stack, has_name = raw["stack"] is not None, raw["name"] is not None
    if has_stack == has_name:
        findings.append(
            error(
                "config.backend",
                key,
                "set exactly one of `stack` (a stack that exports the backend service name) "
                "and `name` (the name itself)" + (", not both." if has_stack else "; neither is set."),
            )
        )
        return None
    if has_name and raw["output"] != BACKEND.by_name["output"].default:
        findings.append(
            error("config.backend", f"{key}.output", "applies only with `stack`; remove it or use `stack`.")
        )
        return None
    if INVALID in raw.values():
        return None
    return BackendSettings(stack=raw["stack"], output=raw["output"], name=raw["name"])


DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", re.IGNORECASE)


def _domain_problem(domain: str) -> str | None:
    if domain.startswith("*."):
        return (
            "Google-managed certificates do not support wildcard domains; list each host name "
            "(or use a Certificate Manager certificate with DNS authorization)."
        )
    if domain.endswith("."):
        return "write the name without the trailing dot."
    labels = domain.split(".")
    if len(domain) > 253 or len(labels) < 2 or not all(DNS_LABEL.fullmatch(label) for label in labels):
        return (
            "is not a valid DNS name: use two or more labels of letters, digits and hyphens "
            "(1 to 63 characters each, not starting or ending with a hyphen), at most 253 characters."
        )
    if labels[-1].isdigit():
        return "is an IP address, not a DNS name; a Google-managed certificate needs host names."
    return None


def _domains(raw: Any, key: str, findings: list[Finding]) -> tuple[str, ...] | None:
    if raw is INVALID:
        return None
    if not raw:
        findings.append(error("config.domain", key, "list at least one host name for the managed certificate."))
        return None
    seen: set[str] = set()
    ok = True
    for i, domain in enumerate(raw):
        problem = _domain_problem(domain)
        if problem is None and domain.lower() in seen:
            problem = "is listed twice; list each host name once."
        if problem is not None:
            findings.append(error("config.domain", f"{key}[{i}]", f"{domain!r}: {problem}"))
            ok = False
        seen.add(domain.lower())
    return tuple(raw) if ok else None


def _ssl_policy(raw: Any, key: str, findings: list[Finding]) -> SslPolicySettings | None:
    if raw is INVALID or INVALID in raw.values():
        return None
    if raw["profile"] == "CUSTOM" and not raw["customFeatures"]:
        findings.append(
            error("config.ssl-policy", f"{key}.customFeatures", "profile CUSTOM needs the cipher suites to allow.")
        )
        return None
    if raw["profile"] != "CUSTOM" and raw["customFeatures"]:
        findings.append(
            error(
                "config.ssl-policy",
                f"{key}.customFeatures",
                f"applies only to profile CUSTOM, not {raw['profile']}; remove it.",
            )
        )
        return None
    if raw["minTlsVersion"] != "TLS_1_2":
        findings.append(
            warning(
                "config.weak-tls",
                f"{key}.minTlsVersion",
                f"{raw['minTlsVersion']} admits clients on TLS versions with known weaknesses; use TLS_1_2 unless "
                "a client you must serve cannot.",
            )
        )
    if raw["profile"] == "COMPATIBLE":
        findings.append(
            warning(
                "config.weak-tls", f"{key}.profile", "COMPATIBLE allows weak cipher suites; use MODERN or RESTRICTED."
            )
        )
    return SslPolicySettings(raw["profile"], raw["minTlsVersion"], tuple(raw["customFeatures"]))


def read_certificate_file(path: str, key: str, project_root: Path, findings: list[Finding]) -> LoadedCertificate | None:
    where = project_root / path
    try:
        data = where.read_bytes()
    except FileNotFoundError:
        findings.append(error("config.file", key, f"{path}: no such file under {project_root}; fix the path."))
        return None
    except IsADirectoryError:
        findings.append(error("config.file", key, f"{path}: is a directory; name a PEM file."))
        return None
    except OSError as exc:
        findings.append(error("config.file", key, f"{path}: cannot be read ({exc.strerror}); check its permissions."))
        return None
    loaded, problems = certificates.load_one(data, path, key)
    findings.extend(problems)
    return loaded


def _certificate_files(
    raw: Any, key: str, project_root: Path, findings: list[Finding]
) -> tuple[LoadedCertificate, ...] | None:
    if raw is INVALID:
        return None
    files = [read_certificate_file(p, f"{key}[{i}]", project_root, findings) for i, p in enumerate(raw)]
    if any(f is None for f in files):
        return None
    return tuple(f for f in files if f is not None)


def _edge(raw: Any, project_root: Path, findings: list[Finding]) -> EdgeSettings | None:
    key = child_key(NAMESPACE, "edge")
    if raw is INVALID:
        return None
    domains = _domains(raw["domains"], f"{key}.domains", findings)
    ssl_policy = _ssl_policy(raw["sslPolicy"], f"{key}.sslPolicy", findings)
    anchors = _certificate_files(raw["trustAnchors"], f"{key}.trustAnchors", project_root, findings)
    intermediates = _certificate_files(raw["intermediateCas"], f"{key}.intermediateCas", project_root, findings)
    allowlisted = _certificate_files(
        raw["allowlistedCertificates"], f"{key}.allowlistedCertificates", project_root, findings
    )
    if anchors is not None and allowlisted is not None and not anchors and not allowlisted:
        findings.append(
            error(
                "config.trust",
                f"{key}.trustAnchors",
                "the trust config is empty, so no client could ever be validated; list at least one trust anchor "
                "(or an allowlisted certificate).",
            )
        )
        return None
    if intermediates and anchors is not None and not anchors:
        findings.append(
            error(
                "config.trust",
                f"{key}.intermediateCas",
                "intermediate CAs need a trust anchor to chain to; add trustAnchors.",
            )
        )
        return None
    if raw["clientValidation"] == "ALLOW_INVALID_OR_MISSING_CLIENT_CERT":
        findings.append(
            warning(
                "config.weak-validation",
                f"{key}.clientValidation",
                "requests without a valid client certificate reach the backend too; the application must refuse "
                "them by the X-Client-Cert-Chain-Verified header (gke-mtls:gkeBackend.meshGuard does it in the "
                "mesh). Use REJECT_INVALID unless you are migrating clients.",
            )
        )
    if None in (domains, ssl_policy, anchors, intermediates, allowlisted) or INVALID in raw.values():
        return None
    return EdgeSettings(
        domains=domains,  # type: ignore[arg-type]
        ssl_policy=ssl_policy,  # type: ignore[arg-type]
        client_validation=raw["clientValidation"],
        trust_anchors=anchors,  # type: ignore[arg-type]
        intermediate_cas=intermediates,  # type: ignore[arg-type]
        allowlisted_certificates=allowlisted,  # type: ignore[arg-type]
        https_redirect=raw["httpsRedirect"],
        expiry_warning_days=raw["expiryWarningDays"],
        rejected_clients_alert=None
        if raw["rejectedClientsAlert"] is None
        else RejectedClientsAlert(
            raw["rejectedClientsAlert"]["threshold"],
            raw["rejectedClientsAlert"]["windowSeconds"],
            tuple(raw["rejectedClientsAlert"]["notificationChannels"]),
        ),
    )
