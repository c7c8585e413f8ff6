"""The GKE side's settings: `gke-mtls:cluster` (which cluster Pulumi writes to) and `gke-mtls:gkeBackend` (the
objects that make GKE create the edge's backend service), each key declared once; and the rules that relate them."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from components.core.edge_backend import CHAIN_VERIFIED, DNS_SANS, SPIFFE_ID, URI_SANS, AllowedClient, HealthCheck
from components.core.files import NUL_IN_PATH
from components.core.findings import Finding, error, note, quoted
from components.core.load_balancer import CAPABILITIES, FRONT_END_RANGES, HeaderPlace, LoadBalancerType
from components.core.names import (
    Labels,
    Namespace,
    NegName,
    Port,
    ServiceName,
    file_path,
    label_key_problem,
    label_value_problem,
    word,
)
from components.core.settings import Omittable, SettingsModel, config_key
from components.gke.headers import DEFAULT_HEADERS, header_findings, url_map_header_findings

CLUSTER_KEY = config_key("cluster")
KEY = config_key("gkeBackend")

KubeconfigPath = Annotated[str, file_path("a kubeconfig path")]
# A proxy-only subnet holds at least 64 addresses, "a prefix length of /26 or less"
# (https://cloud.google.com/load-balancing/docs/proxy-only-subnets).
MAX_PROXY_ONLY_PREFIX = 26


def _proxy_only_range(text: str) -> str:
    try:
        network = ipaddress.IPv4Network(text)
    except ValueError:
        network = None
    if network is None or "/" not in text:
        raise PydanticCustomError(
            "config.syntax",
            f"{quoted(text)} is not an IPv4 range: write the subnet's CIDR, such as 10.129.0.0/23, with no host bits "
            "set (gcloud compute networks subnets describe NAME --region REGION --format 'value(ipCidrRange)').",
        )
    if network.prefixlen > MAX_PROXY_ONLY_PREFIX:
        raise PydanticCustomError(
            "config.syntax",
            f"{quoted(text)} is smaller than a proxy-only subnet can be (/{MAX_PROXY_ONLY_PREFIX} at most); give the "
            "range of the region's proxy-only subnet.",
        )
    return str(network)


ProxyOnlyRange = Annotated[str, AfterValidator(_proxy_only_range)]
ContextName = Annotated[str, word("a context name")]


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


class GkeBackendSettings(SettingsModel):
    """The GKE side of the edge, in a platform stack. By default the anchor that makes GKE's Ingress controller
    create the backend service the edge fronts, with the mTLS headers and logging on it (the edge stack reads its
    `backendServiceName` output); with `standaloneNeg`, a named NEG whose health check, headers and allowed clients
    the edge stack reads instead. Needs `cluster`."""

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
    standalone_neg: Omittable[NegName] = Field(
        None,
        description="Name of a standalone NEG for an edge with its own EXTERNAL_MANAGED backend service (the "
        "edge's `backend.source: standaloneNeg`). The Service gets only this NEG: no BackendConfig and no anchor "
        "Ingress. Default: the GKE Ingress path.",
        examples=["web-mtls"],
    )
    proxy_only_subnet_range: Omittable[ProxyOnlyRange] = Field(
        None,
        description="standaloneNeg for a regional external Application Load Balancer: the IP range of the proxy-only "
        "subnet in the NEG's region and network. The load balancer's requests come from it, so the mesh lets them "
        "in from there (health checks still come from Google's ranges). Default: a global load balancer, whose "
        "requests come from Google's front-end ranges.",
        examples=["10.129.0.0/23"],
    )
    allowed_clients: tuple[AllowedClient, ...] = Field(
        (),
        description="The only clients the edge lets through, by an identity in their certificate. The mesh enforces "
        "the list on both paths; the load balancer too on the standalone-NEG path. Default: every client the trust "
        "config validates.",
        examples=[[{"uriSan": "spiffe://acme.com/ns/shop/sa/checkout", "paths": ["/api/*"], "methods": ["GET"]}]],
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

    @property
    def load_balancer(self) -> LoadBalancerType:
        """The load balancer in front of this backend, as far as the GKE side knows it."""
        if self.standalone_neg is None:
            return LoadBalancerType.CLASSIC
        if self.proxy_only_subnet_range is None:
            return LoadBalancerType.GLOBAL_EXTERNAL
        return LoadBalancerType.REGIONAL_EXTERNAL

    @property
    def load_balancer_ranges(self) -> tuple[str, ...]:
        """Where the load balancer's requests reach the pods from (not its health checks: those come from Google's
        front-end ranges on every type)."""
        if self.proxy_only_subnet_range is not None:
            return (self.proxy_only_subnet_range,)
        return FRONT_END_RANGES

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
    if CAPABILITIES[gke.load_balancer].verdict_headers.value is HeaderPlace.URL_MAP:
        found += url_map_header_findings(gke.headers, f"{KEY}.headers")
    if gke.proxy_only_subnet_range is not None and gke.standalone_neg is None:
        found.append(
            error(
                "config.gke-backend",
                f"{KEY}.proxyOnlySubnetRange",
                "applies only with standaloneNeg: a regional external load balancer runs on a standalone NEG. Set "
                "standaloneNeg, or remove this key.",
            )
        )
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
    found += _allowed_client_findings(gke)
    if gke.mesh_guard and gke.header_for(CHAIN_VERIFIED) is None:
        found.append(
            error(
                "config.gke-backend",
                f"{KEY}.headers",
                "meshGuard checks the header that carries "
                "{client_cert_chain_verified}; add one, such as X-Client-Cert-Chain-Verified.",
            )
        )
    return found


# Header names suggested for the variables that carry a client's identity.
IDENTITY_HEADERS = {
    SPIFFE_ID: "X-Client-Cert-Spiffe-Id",
    URI_SANS: "X-Client-Cert-Uri-Sans",
    DNS_SANS: "X-Client-Cert-Dnsname-Sans",
}


def _allowed_client_findings(gke: GkeBackendSettings) -> list[Finding]:
    key = f"{KEY}.allowedClients"
    found = []
    seen: dict[tuple, int] = {}
    for i, client in enumerate(gke.allowed_clients):
        where = f"{key}[{i}]"
        field = "uriSan" if client.uri_san is not None else "dnsSan"
        earlier = seen.setdefault((field, client.identity, client.paths, client.methods), i)
        if earlier != i:
            found.append(error("config.duplicate", where, f"repeats {key}[{earlier}]; list each client once."))
        if gke.header_for(client.variable) is None:
            header = IDENTITY_HEADERS[client.variable]
            found.append(
                error(
                    "config.gke-backend",
                    f"{where}.{field}",
                    f"reaches the mesh in the load balancer's {{{client.variable}}} variable, which no header of "
                    f"{KEY}.headers carries; add one, such as {header}: '{{{client.variable}}}'.",
                )
            )
    if not gke.allowed_clients:
        return found
    if gke.header_for(CHAIN_VERIFIED) is None:
        found.append(
            error(
                "config.gke-backend",
                f"{KEY}.headers",
                f"allowedClients needs the header that carries {{{CHAIN_VERIFIED}}}: an identity counts only in a "
                "verified chain. Add one, such as X-Client-Cert-Chain-Verified.",
            )
        )
    if not gke.selector:
        found.append(
            error("config.gke-backend", f"{KEY}.selector", "allowedClients needs the application's pod labels.")
        )
    if gke.health_check.type != "HTTP":
        found.append(
            error(
                "config.gke-backend",
                f"{KEY}.healthCheck.type",
                f"is {gke.health_check.type}, so the pods serve TLS themselves and the mesh cannot read the headers "
                "that carry a client's identity; allowedClients needs pods that serve plain HTTP (type HTTP).",
            )
        )
    lb = CAPABILITIES[gke.load_balancer]
    if gke.load_balancer is LoadBalancerType.CLASSIC:
        found.append(
            note(
                "edge.classic-authorization",
                key,
                "the classic load balancer that GKE Ingress makes takes no authorization policy, so only the mesh "
                "enforces this list. Set standaloneNeg and proxyOnlySubnetRange (with a regionalExternal edge stack) "
                "to have the load balancer enforce it too.",
            )
        )
    elif not lb.principals.value:
        found.append(
            note(
                "edge.global-authorization",
                key,
                f'the {lb.name} takes no client-certificate principals (Google: "{lb.principals.source.quote}"), so '
                "only the mesh enforces this list. Set proxyOnlySubnetRange (with a regionalExternal edge stack) to "
                "have the load balancer enforce it too.",
            )
        )
    return found
