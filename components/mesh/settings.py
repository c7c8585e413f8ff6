"""Typed settings of `gke-mtls:mesh` and `gke-mtls:cluster`: the keys, their docs and their parsing.

Rules about what the mesh means (duplicates, identity without mTLS, the edge's port) live in mtls/mesh.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.core.config import INVALID, Anything, Boolean, Choice, Integer, Key, ListOf, MapOf, Section, Text
from components.core.findings import Finding, error

MODES = ("STRICT", "PERMISSIVE", "DISABLE", "UNSET")
ACTIONS = ("ALLOW", "DENY", "AUDIT", "CUSTOM")
NAMESPACE = Text(
    pattern=r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?",
    syntax="a namespace is a lowercase RFC 1123 label: up to 63 lowercase letters, digits or hyphens, starting and "
    "ending with a letter or digit",
)
RESOURCE_NAME = Text(
    pattern=r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?",
    syntax="a resource name is a lowercase RFC 1123 subdomain: lowercase letters, digits, '-' and '.', starting and "
    "ending with a letter or digit",
)
LABELS = MapOf(Text(), Text())  # Istio's own label rules are checked by the mesh preflight, with their reasons
PORT = Text()  # "8080": any string here; the mesh preflight reports one that is not a port, with its key

CLUSTER = Section(
    doc="How Pulumi reaches the GKE cluster (an explicit Kubernetes provider). Set `context`, `kubeconfig`, or both.",
    keys=(
        Key(
            "kubeconfig",
            Text(pattern=r".*\S.*", syntax="a path"),
            "Path of a kubeconfig file (relative to the project "
            "root, or absolute); default: the KUBECONFIG the CLI sees.",
            example="~/.kube/config",
            default=None,
        ),
        Key(
            "context",
            Text(pattern=r"\S+", syntax="a context name"),
            "Context in that kubeconfig, as written by `gcloud container clusters get-credentials`.",
            example="gke_acme-dev_europe-west1_platform",
            default=None,
        ),
    ),
)

WORKLOAD = Section(
    doc="A PeerAuthentication for one workload (with `selector`) or one namespace (without).",
    keys=(
        Key("namespace", NAMESPACE, "Namespace of the workload.", example="my-namespace"),
        Key(
            "selector",
            LABELS,
            "Pod labels that pick the workload (selector.matchLabels).",
            example={"app": "my-special-app"},
            default={},
        ),
        Key(
            "mode",
            Choice(MODES),
            "mTLS mode of the workload; UNSET inherits the namespace's.",
            example="PERMISSIVE",
            default="UNSET",
        ),
        Key(
            "ports",
            MapOf(PORT, Choice(MODES)),
            "Per container port modes (portLevelMtls); needs a selector.",
            example={"8080": "DISABLE"},
            default={},
        ),
        Key(
            "name",
            RESOURCE_NAME,
            "metadata.name of the PeerAuthentication; default: made from the selector.",
            example="my-special-app",
            default=None,
        ),
        Key(
            "service",
            RESOURCE_NAME,
            "The Kubernetes Service in front of the workload; needed for DISABLE, so that "
            "clients get a DestinationRule that turns mTLS off.",
            example="my-special-app",
            default=None,
        ),
        Key(
            "servicePorts",
            MapOf(PORT, Integer(1, 65535)),
            "Service port for each container port in `ports`, where they differ.",
            example={"8080": 80},
            default={},
        ),
    ),
)

POLICY = Section(
    doc="An AuthorizationPolicy; `rules` use Istio's own field names.",
    keys=(
        Key("name", RESOURCE_NAME, "metadata.name.", example="httpbin-policy"),
        Key(
            "namespace",
            NAMESPACE,
            "Namespace of the policy (the root namespace makes it mesh-wide).",
            example="default",
        ),
        Key(
            "selector",
            LABELS,
            "Pod labels the policy applies to; none: the whole namespace.",
            example={"app": "httpbin"},
            default={},
        ),
        Key("action", Choice(ACTIONS), "What a matching request gets.", example="ALLOW", default="ALLOW"),
        Key(
            "provider",
            Text(pattern=r"\S+", syntax="a provider name"),
            "Extension provider, only with CUSTOM.",
            example="ext-authz",
            default=None,
        ),
        Key(
            "rules",
            ListOf(Anything()),
            "Istio rules: from.source, to.operation, when.",
            example=[{"from": [{"source": {"principals": ["cluster.local/ns/default/sa/sleep"]}}]}],
            default=None,
        ),
    ),
)

EDGE_BACKEND = Section(
    doc="What the edge load balancer's backend reaches: a workload port, or the Istio ingress gateway.",
    keys=(
        Key(
            "namespace",
            NAMESPACE,
            "Namespace of the workload behind the GKE backend service.",
            example="default",
            default=None,
        ),
        Key("selector", LABELS, "Its pod labels.", example={"app": "web"}, default={}),
        Key("port", Integer(1, 65535), "The container port the load balancer sends to.", example=8080, default=None),
        Key(
            "istioIngressGateway",
            Boolean(),
            "True when the backend is the Istio ingress gateway instead.",
            example=False,
            default=False,
        ),
    ),
)

MESH = Section(
    doc="Istio mTLS and authorization for the cluster.",
    keys=(
        Key(
            "rootNamespace",
            NAMESPACE,
            "Istio's root namespace (meshConfig.rootNamespace).",
            example="istio-system",
            default="istio-system",
        ),
        Key("mode", Choice(MODES), "Mesh-wide mTLS mode.", example="STRICT", default="STRICT"),
        Key(
            "namespaces",
            MapOf(NAMESPACE, Choice(MODES)),
            "Namespace-wide modes.",
            example={"legacy": "PERMISSIVE"},
            default={},
        ),
        Key(
            "workloads",
            ListOf(WORKLOAD),
            WORKLOAD.doc,
            example=[{"namespace": "my-namespace", "selector": {"app": "my-special-app"}, "mode": "PERMISSIVE"}],
            default=(),
        ),
        Key(
            "authorization",
            ListOf(POLICY),
            POLICY.doc,
            example=[
                {
                    "name": "httpbin-policy",
                    "namespace": "default",
                    "selector": {"app": "httpbin"},
                    "rules": [{"to": [{"operation": {"methods": ["GET"]}}]}],
                }
            ],
            default=(),
        ),
        Key(
            "denyByDefault",
            ListOf(NAMESPACE),
            "Namespaces that get an allow-nothing AuthorizationPolicy (spec: {}).",
            example=["default"],
            default=(),
        ),
        Key(
            "meshWideIstioMutual",
            Boolean(),
            "Also create the classic `*.local` ISTIO_MUTUAL DestinationRule. Not "
            "recommended: it breaks calls to services without a sidecar.",
            example=False,
            default=False,
        ),
        Key(
            "edgeBackend",
            EDGE_BACKEND,
            EDGE_BACKEND.doc,
            example={"namespace": "default", "selector": {"app": "web"}, "port": 8080},
            default=None,
        ),
    ),
)


@dataclass(frozen=True)
class ClusterSettings:
    kubeconfig: str | None  # absolute path, or None for the CLI's own
    context: str | None


@dataclass(frozen=True)
class WorkloadPolicy:
    key: str
    namespace: str
    selector: tuple[tuple[str, str], ...]
    mode: str
    ports: tuple[tuple[str, str], ...]
    name: str | None
    service: str | None
    service_ports: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class AuthorizationSettings:
    key: str
    name: str
    namespace: str
    selector: tuple[tuple[str, str], ...]
    action: str
    provider: str | None
    rules: tuple[Any, ...] | None


@dataclass(frozen=True)
class EdgeBackendSettings:
    key: str
    namespace: str | None
    selector: tuple[tuple[str, str], ...]
    port: int | None
    istio_ingress_gateway: bool


@dataclass(frozen=True)
class MeshSettings:
    key: str
    root_namespace: str
    mode: str
    namespaces: tuple[tuple[str, str], ...]
    workloads: tuple[WorkloadPolicy, ...]
    authorization: tuple[AuthorizationSettings, ...]
    deny_by_default: tuple[str, ...]
    mesh_wide_istio_mutual: bool
    edge_backend: EdgeBackendSettings | None


def _pairs(mapping: dict) -> tuple:
    return tuple((str(k), v) for k, v in mapping.items())


def build_cluster(raw: Any, key: str, project_root: Path, findings: list[Finding]) -> ClusterSettings | None:
    if raw is INVALID or INVALID in raw.values():
        return None
    if raw["kubeconfig"] is None and raw["context"] is None:
        findings.append(
            error(
                "config.cluster",
                key,
                "set `context` (and/or `kubeconfig`) so the mesh goes to the cluster "
                "you mean, not to whatever the current kubeconfig context is.",
            )
        )
        return None
    kubeconfig = raw["kubeconfig"]
    if kubeconfig is not None:
        path = (project_root / Path(kubeconfig).expanduser()).resolve()
        if not path.is_file():
            findings.append(
                error(
                    "config.file",
                    f"{key}.kubeconfig",
                    f"{kubeconfig}: no such file; run `gcloud container clusters get-credentials` or fix the path.",
                )
            )
            return None
        kubeconfig = str(path)
    return ClusterSettings(kubeconfig=kubeconfig, context=raw["context"])


def build_mesh(raw: Any, key: str, findings: list[Finding]) -> MeshSettings | None:
    if raw is INVALID or INVALID in raw.values():
        return None
    workloads = tuple(
        WorkloadPolicy(
            f"{key}.workloads[{i}]",
            w["namespace"],
            _pairs(w["selector"]),
            w["mode"],
            _pairs(w["ports"]),
            w["name"],
            w["service"],
            _pairs(w["servicePorts"]),
        )
        for i, w in enumerate(raw["workloads"])
    )
    policies = tuple(
        AuthorizationSettings(
            f"{key}.authorization[{i}]",
            p["name"],
            p["namespace"],
            _pairs(p["selector"]),
            p["action"],
            p["provider"],
            None if p["rules"] is None else tuple(p["rules"]),
        )
        for i, p in enumerate(raw["authorization"])
    )
    edge_backend = None
    if raw["edgeBackend"] is not None:
        e = raw["edgeBackend"]
        backend_key = f"{key}.edgeBackend"
        workload_form = e["namespace"] is not None or e["port"] is not None or bool(e["selector"])
        if e["istioIngressGateway"] == workload_form:
            findings.append(
                error(
                    "config.edge-backend",
                    backend_key,
                    "set either `istioIngressGateway: true` or the "
                    "workload (`namespace`, `selector`, `port`), not both and not neither.",
                )
            )
            return None
        if workload_form and (e["namespace"] is None or e["port"] is None or not e["selector"]):
            findings.append(
                error(
                    "config.edge-backend",
                    backend_key,
                    "a workload backend needs `namespace`, `selector` "
                    "and `port` (the container port the load balancer sends to).",
                )
            )
            return None
        edge_backend = EdgeBackendSettings(
            backend_key, e["namespace"], _pairs(e["selector"]), e["port"], e["istioIngressGateway"]
        )
    return MeshSettings(
        key=key,
        root_namespace=raw["rootNamespace"],
        mode=raw["mode"],
        namespaces=_pairs(raw["namespaces"]),
        workloads=workloads,
        authorization=policies,
        deny_by_default=tuple(raw["denyByDefault"]),
        mesh_wide_istio_mutual=raw["meshWideIstioMutual"],
        edge_backend=edge_backend,
    )
