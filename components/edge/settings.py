"""The edge's settings: `gke-mtls:edge` (the load balancer) and `gke-mtls:backend` (where it finds the backend
service), each key declared once; and the rules that relate several of them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationInfo
from pydantic_core import PydanticCustomError

from components.core.findings import Finding, error, quoted, warning
from components.core.load_balancer import CAPABILITIES, Capabilities, LoadBalancerType, Source
from components.core.names import (
    GceName,
    NotificationChannel,
    RegionName,
    StackReference,
    Syntax,
    file_path,
    is_host_label,
    word,
)
from components.core.settings import Omittable, SettingsModel, child_key, config_key
from components.edge.pem import read_certificate

KEY = config_key("edge")
BACKEND_KEY = config_key("backend")
# Google-managed certificates take at most 100 domains (compute ManagedSslCertificate).
MAX_MANAGED_CERT_DOMAINS = 100

CIPHER_SUITE = Syntax(r"TLS_[A-Z0-9_]+", "a feature is a cipher suite name such as TLS_AES_128_GCM_SHA256")
OutputName = Annotated[str, word("an output name")]
CipherSuite = Annotated[str, CIPHER_SUITE]


def _one_certificate(path: str, info: ValidationInfo) -> str:
    """Parsed with the project root as context, the file must be readable and hold exactly one certificate: so a
    wrong file is reported together with every other problem of the run."""
    root = (info.context or {}).get("project_root")
    if root is not None:
        _, problems = read_certificate(path, "", Path(root))
        if problems:
            raise PydanticCustomError(problems[0].code, problems[0].message)
    return path


PemPath = Annotated[
    str,
    file_path("a certificate's path, relative to the project root,"),
    AfterValidator(_one_certificate),
]


def _domain_problem(domain: str) -> str | None:
    if domain.startswith("*."):
        return (
            "Google-managed certificates do not support wildcard domains; list each host name "
            "(or use a Certificate Manager certificate with DNS authorization)."
        )
    if domain.endswith("."):
        return "write the name without the trailing dot."
    if not domain.isascii():
        return (
            "is not ASCII: certificates name hosts in ASCII, so write an internationalized name IDNA-encoded "
            "(its xn-- form, as `idn2` prints it)."
        )
    labels = domain.split(".")
    if len(domain) > 253 or len(labels) < 2 or not all(is_host_label(label) for label in labels):
        return (
            "is not a valid DNS name: use two or more labels of letters, digits and hyphens "
            "(1 to 63 characters each, not starting or ending with a hyphen), at most 253 characters."
        )
    if labels[-1].isdigit():
        return "is an IP address, not a DNS name; a Google-managed certificate needs host names."
    return None


def _host_name(domain: str) -> str:
    problem = _domain_problem(domain)
    if problem is not None:
        raise PydanticCustomError("config.domain", f"{quoted(domain)}: {problem}")
    return domain


def _not_empty(domains: tuple[str, ...]) -> tuple[str, ...]:
    if not domains:
        raise PydanticCustomError("config.domain", "list at least one host name for the managed certificate.")
    return domains


HostName = Annotated[str, AfterValidator(_host_name)]
Domains = Annotated[tuple[HostName, ...], Field(max_length=MAX_MANAGED_CERT_DOMAINS), AfterValidator(_not_empty)]


class BackendSettings(SettingsModel):
    """Where the edge's backend comes from. `gkeIngress`: the backend service that GKE's Ingress controller generated
    (classic load balancer); set exactly one of `stack` and `name`. `standaloneNeg`: the platform stack's standalone
    NEG, behind a backend service, health check and firewall rule of the edge's own (EXTERNAL_MANAGED); set `stack`
    and `network`. Required with `edge`."""

    source: Literal["gkeIngress", "standaloneNeg"] = Field(
        "gkeIngress", description="Which backend the edge fronts.", examples=["gkeIngress"]
    )
    stack: Omittable[StackReference] = Field(
        None,
        description="Stack that exports the backend service name (read through a StackReference).",
        examples=["acme/gke-platform/dev"],
    )
    output: OutputName = Field(
        "backendServiceName",
        description="Name of that stack's output holding the backend service name.",
        examples=["backendServiceName"],
    )
    name: Omittable[GceName] = Field(
        None,
        description="The backend service name itself, instead of a stack reference.",
        examples=["k8s1-0123abcd-default-web-80-5104b449"],
    )
    network: Omittable[GceName] = Field(
        None,
        description="standaloneNeg: the cluster's VPC network, where the firewall rule lets Google's load balancer "
        "and health checks reach the pods.",
        examples=["default"],
    )
    node_tags: tuple[GceName, ...] = Field(
        (),
        description="standaloneNeg: network tags of the cluster's nodes, the firewall rule's targets; default: every "
        "instance of the network.",
        examples=[["gke-platform-3f2a1b9c-node"]],
    )
    max_rate_per_endpoint: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        100,
        description="standaloneNeg: requests per second per pod at which the load balancer counts a zone full.",
        examples=[100],
    )
    proxy_only_subnet: Omittable[GceName] = Field(
        None,
        description="edge.loadBalancer regionalExternal: the proxy-only subnet (purpose REGIONAL_MANAGED_PROXY) of "
        "`network` in edge.region. The load balancer's requests come from its range, which the firewall rule opens.",
        examples=["proxy-only-europe-west1"],
    )


class SslPolicy(SettingsModel):
    """The SSL policy of the HTTPS proxy."""

    profile: Literal["MODERN", "RESTRICTED", "COMPATIBLE", "CUSTOM"] = Field(
        "MODERN", description="Cipher profile.", examples=["MODERN"]
    )
    min_tls_version: Literal["TLS_1_0", "TLS_1_1", "TLS_1_2"] = Field(
        "TLS_1_2", description="Lowest TLS version clients may negotiate.", examples=["TLS_1_2"]
    )
    custom_features: tuple[CipherSuite, ...] = Field(
        (),
        description="Cipher suites, only with profile CUSTOM.",
        examples=[["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]],
    )


class RejectedClientsAlert(SettingsModel):
    """An alert policy on the count of client certificates the edge rejected."""

    threshold: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        description="Rejections per window that open an incident.", examples=[10]
    )
    window_seconds: Annotated[int, Field(ge=60, le=86_400)] = Field(
        300, description="Length of the window.", examples=[300]
    )
    notification_channels: tuple[NotificationChannel, ...] = Field(
        (),
        description="Where incidents are sent.",
        examples=[["projects/acme-dev/notificationChannels/1234567890"]],
    )


class EdgeSettings(SettingsModel):
    """The external Application Load Balancer with client-certificate (mTLS) validation."""

    domains: Domains = Field(
        description="Host names of the Google-managed certificate (no wildcards, at most 100).",
        examples=[["dev.example.com"]],
    )
    ssl_policy: SslPolicy = Field(SslPolicy(), examples=[{"profile": "MODERN"}])
    client_validation: Literal["REJECT_INVALID", "ALLOW_INVALID_OR_MISSING_CLIENT_CERT"] = Field(
        "REJECT_INVALID",
        description="What the load balancer does with a missing or invalid client certificate.",
        examples=["REJECT_INVALID"],
    )
    trust_anchors: tuple[PemPath, ...] = Field(
        (),
        description="PEM files of the root CAs client chains must end in (paths relative to the project root).",
        examples=[["certs/dev/root-ca.pem"]],
    )
    intermediate_cas: tuple[PemPath, ...] = Field(
        (),
        description="PEM files of intermediate CAs used to build client chains.",
        examples=[["certs/dev/intermediate-ca.pem"]],
    )
    allowlisted_certificates: tuple[PemPath, ...] = Field(
        (),
        description="PEM files of client certificates accepted as they are (self-signed and expired ones too).",
        examples=[["certs/legacy-client.pem"]],
    )
    https_redirect: bool = Field(False, description="Also listen on port 80 and redirect to HTTPS.", examples=[False])
    rejected_clients_alert: Omittable[RejectedClientsAlert] = Field(
        None,
        examples=[{"threshold": 10, "notificationChannels": ["projects/acme-dev/notificationChannels/123"]}],
    )
    load_balancer: Omittable[Literal["classic", "globalExternal", "regionalExternal"]] = Field(
        None,
        description="Which external Application Load Balancer the edge is: classic (in front of GKE Ingress's "
        "backend service), globalExternal or regionalExternal (on a standalone NEG). Default: classic with "
        "backend.source gkeIngress, globalExternal with standaloneNeg.",
        examples=["regionalExternal"],
    )
    region: Omittable[RegionName] = Field(
        None,
        description="regionalExternal: the region of the load balancer, which its NEGs and proxy-only subnet share.",
        examples=["europe-west1"],
    )
    network_tier: Literal["PREMIUM", "STANDARD"] = Field(
        "PREMIUM",
        description="Network tier of the address and forwarding rules; STANDARD only on regionalExternal.",
        examples=["PREMIUM"],
    )
    load_balancer_authorization: Omittable[bool] = Field(
        None,
        description="Also enforce the platform stack's allowedClients at the load balancer, with authorization "
        "policies whose principals are the clients' certificate identities, on the forwarding rule. Google documents "
        "principals for regionalExternal only. Default: true where they are documented, false elsewhere.",
        examples=[True],
    )
    expiry_warning_days: Annotated[int, Field(ge=0, le=3650)] = Field(
        30,
        description="Warn when a trust anchor or intermediate CA expires within this many days.",
        examples=[30],
    )


# The platform stack's outputs an edge with `backend.source: standaloneNeg` reads.
NEG_OUTPUTS = ("negName", "negZones", "negBackend")


def check_backend(backend: BackendSettings) -> list[Finding]:
    if backend.source == "standaloneNeg":
        return _standalone_neg_findings(backend)
    neg_only = [
        error("config.backend", f"{BACKEND_KEY}.{alias}", "applies only with `source: standaloneNeg`; remove it.")
        for name, alias in (
            ("network", "network"),
            ("node_tags", "nodeTags"),
            ("max_rate_per_endpoint", "maxRatePerEndpoint"),
        )
        if getattr(backend, name) != BackendSettings.model_fields[name].default
    ]
    return neg_only + _ingress_findings(backend)


def _standalone_neg_findings(backend: BackendSettings) -> list[Finding]:
    found = []
    if backend.stack is None:
        found.append(
            error(
                "config.backend",
                f"{BACKEND_KEY}.stack",
                f"source standaloneNeg needs the platform stack that exports {', '.join(NEG_OUTPUTS)}.",
            )
        )
    if backend.name is not None:
        found.append(
            error(
                "config.backend",
                f"{BACKEND_KEY}.name",
                "applies only with `source: gkeIngress`: with a standalone NEG the edge makes its own backend "
                "service. Remove it.",
            )
        )
    if backend.output != BackendSettings.model_fields["output"].default:
        found.append(
            error(
                "config.backend",
                f"{BACKEND_KEY}.output",
                f"applies only with `source: gkeIngress`; a standalone NEG is read from the outputs "
                f"{', '.join(NEG_OUTPUTS)}. Remove it.",
            )
        )
    if backend.network is None:
        found.append(
            error(
                "config.backend",
                f"{BACKEND_KEY}.network",
                "source standaloneNeg needs the cluster's VPC network, for the firewall rule that lets Google's load "
                "balancer and health checks reach the pods.",
            )
        )
    elif not backend.node_tags:
        found.append(
            warning(
                "config.wide-firewall",
                f"{BACKEND_KEY}.nodeTags",
                f"the firewall rule for Google's ranges opens the serving port on every instance of network "
                f"{backend.network!r}; list the cluster's node tags to narrow it.",
            )
        )
    return found


def _ingress_findings(backend: BackendSettings) -> list[Finding]:
    has_stack, has_name = backend.stack is not None, backend.name is not None
    if has_stack == has_name:
        return [
            error(
                "config.backend",
                BACKEND_KEY,
                "set exactly one of `stack` (a stack that exports the backend service name) "
                "and `name` (the name itself)" + (", not both." if has_stack else "; neither is set."),
            )
        ]
    if has_name and backend.output != BackendSettings.model_fields["output"].default:
        return [
            error("config.backend", f"{BACKEND_KEY}.output", "applies only with `stack`; remove it or use `stack`.")
        ]
    return []


def check(edge: EdgeSettings) -> list[Finding]:
    """The rules that relate several edge keys, or several entries of one."""
    found = _duplicate_domains(edge.domains) + _ssl_policy_findings(edge.ssl_policy)
    trust = _trust_findings(edge)
    if not trust and edge.client_validation == "ALLOW_INVALID_OR_MISSING_CLIENT_CERT":
        trust.append(
            warning(
                "config.weak-validation",
                f"{KEY}.clientValidation",
                "requests without a valid client certificate reach the backend too; the application must refuse "
                "them by the X-Client-Cert-Chain-Verified header (gke-mtls:gkeBackend.meshGuard does it in the "
                "mesh). Use REJECT_INVALID unless you are migrating clients.",
            )
        )
    return found + trust


def load_balancer_type(edge: EdgeSettings, backend: BackendSettings) -> LoadBalancerType:
    if edge.load_balancer is not None:
        return LoadBalancerType(edge.load_balancer)
    return LoadBalancerType.CLASSIC if backend.source == "gkeIngress" else LoadBalancerType.GLOBAL_EXTERNAL


def authorizes_clients(edge: EdgeSettings, capabilities: Capabilities) -> bool:
    """Whether the load balancer enforces the allowed clients too: by default where Google documents principals."""
    if edge.load_balancer_authorization is not None:
        return edge.load_balancer_authorization
    return bool(capabilities.principals.value)


def cited(source: Source) -> str:
    return f'Google: "{source.quote}" ({source.url})'


def check_with_backend(edge: EdgeSettings, backend: BackendSettings) -> list[Finding]:
    """The edge held to what Google documents for its load balancer type (components/core/load_balancer.py)."""
    kind = load_balancer_type(edge, backend)
    lb = CAPABILITIES[kind]
    found = []
    if backend.source == "gkeIngress" and kind is not LoadBalancerType.CLASSIC:
        found.append(
            error(
                "config.scheme",
                f"{KEY}.loadBalancer",
                f"is {kind}, but the backend service GKE Ingress makes has scheme EXTERNAL, which only the classic "
                f"load balancer serves ({cited(CAPABILITIES[LoadBalancerType.CLASSIC].scheme.source)}). Set "
                f"{BACKEND_KEY}.source: standaloneNeg for {kind}, or remove this key.",
            )
        )
    if backend.source == "standaloneNeg" and kind is LoadBalancerType.CLASSIC:
        found.append(
            error(
                "config.scheme",
                f"{KEY}.loadBalancer",
                "is classic, but on a standalone NEG the edge makes its own EXTERNAL_MANAGED backend service; use "
                "globalExternal or regionalExternal.",
            )
        )
    if lb.regional.value and edge.region is None:
        found.append(error("config.region", f"{KEY}.region", f"the {lb.name} needs its region, which its NEGs share."))
    if not lb.regional.value and edge.region is not None:
        found.append(
            error("config.region", f"{KEY}.region", f"applies only to regionalExternal; the {lb.name} is global.")
        )
    if kind is LoadBalancerType.REGIONAL_EXTERNAL and backend.source == "standaloneNeg":
        if backend.proxy_only_subnet is None:
            found.append(
                error(
                    "config.backend",
                    f"{BACKEND_KEY}.proxyOnlySubnet",
                    f"the {lb.name} reaches the pods from the region's proxy-only subnet "
                    f"({cited(lb.backend_sources.source)}); name the subnet of purpose REGIONAL_MANAGED_PROXY in "
                    f"{BACKEND_KEY}.network, for the firewall rule.",
                )
            )
    elif backend.proxy_only_subnet is not None:
        found.append(
            error(
                "config.backend",
                f"{BACKEND_KEY}.proxyOnlySubnet",
                f"applies only to regionalExternal; the {lb.name} reaches the pods from {lb.backend_sources.value}. "
                "Remove it.",
            )
        )
    if edge.network_tier not in lb.network_tiers.value:
        found.append(
            error(
                "config.capability",
                f"{KEY}.networkTier",
                f"the {lb.name} takes {' or '.join(lb.network_tiers.value)} only; {cited(lb.network_tiers.source)}",
            )
        )
    if edge.load_balancer_authorization and not lb.principals.value:
        what = "principals" if lb.authorization_policies.value else "authorization policies"
        found.append(
            error(
                "config.capability",
                f"{KEY}.loadBalancerAuthorization",
                f"the {lb.name} takes no client-certificate {what}; {cited(lb.principals.source)} The mesh enforces "
                "the platform stack's allowedClients on every path: remove this key, or use loadBalancer: "
                "regionalExternal to have the load balancer enforce them too.",
            )
        )
    return found


def _duplicate_domains(domains: tuple[str, ...]) -> list[Finding]:
    seen: set[str] = set()
    found = []
    for i, domain in enumerate(domains):
        if domain.lower() in seen:
            message = f"{quoted(domain)}: is listed twice; list each host name once."
            found.append(error("config.domain", f"{KEY}.domains[{i}]", message))
        seen.add(domain.lower())
    return found


def _ssl_policy_findings(policy: SslPolicy) -> list[Finding]:
    key = child_key(KEY, "sslPolicy")
    if policy.profile == "CUSTOM" and not policy.custom_features:
        return [error("config.ssl-policy", f"{key}.customFeatures", "profile CUSTOM needs the cipher suites to allow.")]
    if policy.profile != "CUSTOM" and policy.custom_features:
        return [
            error(
                "config.ssl-policy",
                f"{key}.customFeatures",
                f"applies only to profile CUSTOM, not {policy.profile}; remove it.",
            )
        ]
    found = []
    if policy.min_tls_version != "TLS_1_2":
        found.append(
            warning(
                "config.weak-tls",
                f"{key}.minTlsVersion",
                f"{policy.min_tls_version} admits clients on TLS versions with known weaknesses; use TLS_1_2 unless "
                "a client you must serve cannot.",
            )
        )
    if policy.profile == "COMPATIBLE":
        found.append(
            warning(
                "config.weak-tls", f"{key}.profile", "COMPATIBLE allows weak cipher suites; use MODERN or RESTRICTED."
            )
        )
    return found


def _trust_findings(edge: EdgeSettings) -> list[Finding]:
    if not edge.trust_anchors and not edge.allowlisted_certificates:
        return [
            error(
                "config.trust",
                f"{KEY}.trustAnchors",
                "the trust config is empty, so no client could ever be validated; list at least one trust anchor "
                "(or an allowlisted certificate).",
            )
        ]
    if edge.intermediate_cas and not edge.trust_anchors:
        return [
            error(
                "config.trust",
                f"{KEY}.intermediateCas",
                "intermediate CAs need a trust anchor to chain to; add trustAnchors.",
            )
        ]
    return []
