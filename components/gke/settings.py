"""The GKE side's settings: `gke-mtls:cluster` (which cluster Pulumi writes to) and `gke-mtls:gkeBackend` (the
objects that make GKE create the edge's backend service), each key declared once; and the rules that relate them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from components.core.findings import Finding, error, quoted
from components.core.names import (
    NUL_IN_PATH,
    Labels,
    Namespace,
    Port,
    ServiceName,
    Syntax,
    file_path,
    label_key_problem,
    label_value_problem,
    word,
)
from components.core.settings import Omittable, SettingsModel, config_key
from components.gke.headers import DEFAULT_HEADERS, header_findings

CLUSTER_KEY = config_key("cluster")
KEY = config_key("gkeBackend")

KubeconfigPath = Annotated[str, file_path("a kubeconfig path")]
ContextName = Annotated[str, word("a context name")]
# The path is also excluded in the mesh guard's `notPaths`: there braces are a path template, `*` a wildcard that
# could exempt every path, and Envoy matches the path without its query.
RequestPath = Annotated[
    str, Syntax(r"/[^\s{}*?]*", "a path starts with / and has no spaces, braces, '*' or query ('?')")
]


class ClusterSettings(SettingsModel):
    """How Pulumi reaches the GKE cluster (an explicit Kubernetes provider). Set `context`, `kubeconfig`, or both.
    Required with `mesh` and `gkeBackend`."""

    kubeconfig: Omittable[KubeconfigPath] = Field(
        None,
        description="Path of a kubeconfig file (relative to the project root, or absolute); default: the KUBECONFIG "
        "the CLI sees.",
        examples=["~/.kube/config"],
    )
    context: Omittable[ContextName] = Field(
        None,
        description="Context in that kubeconfig, as written by `gcloud container clusters get-credentials`.",
        examples=["gke_acme-dev_europe-west1_platform"],
    )

    @field_validator("kubeconfig")
    @classmethod
    def _existing_file(cls, kubeconfig: str | None, info: ValidationInfo) -> str | None:
        """The absolute path of an existing file, when parsed with the project root as context."""
        root = (info.context or {}).get("project_root")
        if kubeconfig is None or root is None:
            return kubeconfig
        try:
            path = (Path(root) / Path(kubeconfig).expanduser()).resolve()
            found = path.is_file()
        except ValueError:  # the operating system takes no path with a NUL character
            raise PydanticCustomError("config.file", f"{kubeconfig!r}: {NUL_IN_PATH}") from None
        except (OSError, RuntimeError) as exc:  # a name too long; a ~user that does not exist
            reason = exc.strerror if isinstance(exc, OSError) else str(exc)
            message = f"{kubeconfig[:80]!r}: cannot be used as a path ({reason})."
            raise PydanticCustomError("config.file", message) from None
        if not found:
            raise PydanticCustomError(
                "config.file",
                f"{kubeconfig}: no such file; run `gcloud container clusters get-credentials` or fix the path.",
            )
        return str(path)


class HealthCheck(SettingsModel):
    """The load balancer's health check of the pods (BackendConfig healthCheck)."""

    request_path: RequestPath = Field("/", description="HTTP path probed.", examples=["/healthz"])
    port: Omittable[Port] = Field(
        None, description="Container port probed; default: the serving port.", examples=[8080]
    )
    type: Literal["HTTP", "HTTPS", "HTTP2"] = Field("HTTP", description="Protocol of the probe.", examples=["HTTP"])
    check_interval_sec: Annotated[int, Field(ge=1, le=300)] = Field(
        15, description="Seconds between probes.", examples=[15]
    )
    timeout_sec: Annotated[int, Field(ge=1, le=300)] = Field(
        5, description="Seconds before a probe fails.", examples=[5]
    )
    healthy_threshold: Annotated[int, Field(ge=1, le=10)] = Field(
        1, description="Successes to become healthy.", examples=[1]
    )
    unhealthy_threshold: Annotated[int, Field(ge=1, le=10)] = Field(
        2, description="Failures to become unhealthy.", examples=[2]
    )


class GkeBackendSettings(SettingsModel):
    """The anchor that makes GKE's Ingress controller create the backend service the edge fronts, with the mTLS
    headers and logging on it (for a platform stack; the edge stack reads its `backendServiceName` output). Needs
    `cluster`."""

    namespace: Namespace = Field(description="Namespace of the application.", examples=["default"])
    service: ServiceName = Field(description="Name of the application's Service.", examples=["web"])
    port: Port = Field(description="The Service port the backend serves.", examples=[80])
    create_service: bool = Field(
        False, description="Create the Service (true) or annotate an existing one (false).", examples=[False]
    )
    selector: Labels = Field(
        {}, description="Pod labels; needed to create the Service and for meshGuard.", examples=[{"app": "web"}]
    )
    target_port: Omittable[Port] = Field(
        None, description="Container port behind `port`; default: the same number.", examples=[8080]
    )
    health_check: HealthCheck = Field(HealthCheck(), examples=[{"requestPath": "/healthz"}])
    log_sample_rate: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        1.0, description="Share of requests logged by the load balancer.", examples=[1.0]
    )
    headers: dict[str, str] = Field(
        DEFAULT_HEADERS,
        description="Custom request headers carrying the mTLS verdict to the application (name: value with "
        "{client_cert_*} variables).",
        examples=[{"X-Client-Cert-Chain-Verified": "{client_cert_chain_verified}"}],
    )
    mesh_guard: bool = Field(
        False,
        description="Also add an Istio policy that refuses plaintext requests to the serving port unless the load "
        "balancer marked the client chain verified.",
        examples=[False],
    )

    @property
    def container_port(self) -> int:
        return self.target_port or self.port

    @property
    def backend_config_name(self) -> str:
        return f"{self.service}-mtls"

    @property
    def anchor_name(self) -> str:
        return f"{self.service}-backend-anchor"

    def header_for(self, variable: str) -> str | None:
        return next((name for name, value in self.headers.items() if value == "{" + variable + "}"), None)


def check_cluster(cluster: ClusterSettings) -> list[Finding]:
    if cluster.kubeconfig is None and cluster.context is None:
        return [
            error(
                "config.cluster",
                CLUSTER_KEY,
                "set `context` (and/or `kubeconfig`) so the mesh goes to the cluster "
                "you mean, not to whatever the current kubeconfig context is.",
            )
        ]
    return []


def check(gke: GkeBackendSettings) -> list[Finding]:
    """The rules that relate several gkeBackend keys, GCP's rules for the headers, Kubernetes' for the labels."""
    found = header_findings(gke.headers, f"{KEY}.headers")
    for name, value in gke.selector.items():
        where = f"{KEY}.selector.{name}" if len(name) <= 100 else f"{KEY}.selector"
        if problem := label_key_problem(name):
            found.append(error("config.label", where, f"{quoted(name)} is not a Kubernetes label key: {problem}."))
        if problem := label_value_problem(value):
            found.append(error("config.label", where, f"{quoted(value)} is not a Kubernetes label value: {problem}."))
    if gke.create_service and not gke.selector:
        found.append(
            error(
                "config.gke-backend",
                f"{KEY}.selector",
                "createService needs the pod labels the Service selects; add `selector`.",
            )
        )
    if gke.mesh_guard and not gke.selector:
        found.append(
            error(
                "config.gke-backend",
                f"{KEY}.selector",
                "meshGuard needs the pod labels of the application; add `selector`.",
            )
        )
    if gke.mesh_guard and gke.header_for("client_cert_chain_verified") is None:
        found.append(
            error(
                "config.gke-backend",
                f"{KEY}.headers",
                "meshGuard checks the header that carries "
                "{client_cert_chain_verified}; add one, such as X-Client-Cert-Chain-Verified.",
            )
        )
    return found
