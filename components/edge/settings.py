"""The edge's settings: `gke-mtls:edge` (the load balancer) and `gke-mtls:backend` (where it finds the backend
service), each key declared once; and the rules that relate several of them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationInfo
from pydantic_core import PydanticCustomError

from components.core.findings import Finding, error, note, quoted, warning
from components.core.load_balancer import CAPABILITIES, Capabilities, Certificate, LoadBalancerType, Source
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

KEY = config_key("edge")
BACKEND_KEY = config_key("backend")
# Google-managed certificates take at most 100 domains (compute ManagedSslCertificate; Certificate Manager gives its
# Google-managed certificates the same limit, as read in its quotas page, not confirmed here).
MAX_MANAGED_CERT_DOMAINS = 100
WILDCARD = "*."

CIPHER_SUITE = Syntax(r"TLS_[A-Z0-9_]+", "a feature is a cipher suite name such as TLS_AES_128_GCM_SHA256")
OutputName = Annotated[str, word("an output name")]
CipherSuite = Annotated[str, CIPHER_SUITE]


def _one_certificate(path: str, info: ValidationInfo) -> str:
    """Parsed with the project root as context, the file must be readable and hold exactly one certificate: so a
    wrong file is reported together with every other problem of the run."""
    root = (info.context or {}).get("project_root")
    if root is not None:
        from components.edge.pem import read_certificate  # cryptography, only when a stack's files are read

        _, problems = read_certificate(path, "", Path(root))
        if problems:
            raise PydanticCustomError(problems[0].code, problems[0].message)
    return path


PemPath = Annotated[
    str,
    file_path("a certificate's path, relative to the project root,"),
    AfterValidator(_one_certificate),
]
PemChainPath = Annotated[str, file_path("a certificate chain's path, relative to the project root,")]
ClientPath = Annotated[str, file_path("a client certificate's file or folder, relative to the project root,")]
KeyPath = Annotated[str, file_path("a private key's path")]


def _domain_problem(domain: str) -> str | None:
    """Why `domain` is no host name a certificate can name, or None. A leading `*.` is a wildcard, which only some
    certificates take (see `check`)."""
    domain = domain.removeprefix(WILDCARD)
    if "*" in domain:
        return "has a '*' that is not a whole first label; a wildcard is written *.example.com."
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
        return "is an IP address, not a DNS name; a certificate here needs host names."
    return None


def _host_name(domain: str) -> str:
    problem = _domain_problem(domain)
    if problem is not None:
        raise PydanticCustomError("config.domain", f"{quoted(domain)}: {problem}")
    return domain


def _not_empty(domains: tuple[str, ...]) -> tuple[str, ...]:
    if not domains:
        raise PydanticCustomError("config.domain", "list at least one host name for the edge's certificate.")
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


class ServerCertificate(SettingsModel):
    """The certificate the load balancer presents for `domains`. Default: a Google-managed Certificate Manager
    certificate with DNS authorization. A stack without this key keeps the Compute managed certificate it had
    (global load balancers; the regional one gets the default)."""

    source: Literal["dnsAuthorization", "selfManaged", "computeManaged"] = Field(
        "dnsAuthorization",
        description="dnsAuthorization: Certificate Manager, Google-managed, authorized by DNS records you create "
        "(wildcards allowed; provisions before the load balancer serves). selfManaged: Certificate Manager, from "
        "your PEM files. computeManaged: the Compute managed certificate, which provisions only once DNS points at "
        "the load balancer (global types only).",
        examples=["dnsAuthorization"],
    )
    dns_authorization_type: Omittable[Literal["FIXED_RECORD", "PER_PROJECT_RECORD"]] = Field(
        None,
        description="dnsAuthorization: FIXED_RECORD (one CNAME per domain) or PER_PROJECT_RECORD (a record of its "
        "own per project, for a domain used from several projects). Default: Google's, FIXED_RECORD in global and "
        "PER_PROJECT_RECORD in a region.",
        examples=["PER_PROJECT_RECORD"],
    )
    certificate_file: Omittable[PemChainPath] = Field(
        None,
        description="selfManaged: PEM file of the certificate and its chain, leaf first (relative to the project "
        "root).",
        examples=["certs/edge/server.pem"],
    )
    private_key_file: Omittable[KeyPath] = Field(
        None,
        description="selfManaged: PEM file of its unencrypted private key; keep it out of the repository (an "
        "absolute path, or relative to the project root). Pulumi stores it as a secret.",
        examples=["/secure/edge/server-key.pem"],
    )
    switch_from_compute: Omittable[Literal["prepare", "attach", "drop"]] = Field(
        None,
        description="Moving a global edge from its Compute managed certificate, one `pulumi up` per step: prepare "
        "(the new certificate is made; the proxy keeps the Compute one), attach (the certificate map joins the "
        "proxy once the certificate is ACTIVE; Google serves the map's), drop (the Compute certificate goes). "
        "Remove the key afterwards.",
        examples=["prepare"],
    )


class TrustRotation(SettingsModel):
    """Moving the trust config to new client CAs without locking anyone out, one `pulumi up` per phase: `add` (the
    new anchors and intermediates join the current ones), then `remove` (only the new ones stay). Then make them
    trustAnchors and intermediateCas, and remove this key."""

    phase: Literal["add", "remove"] = Field(description="Where the rotation stands.", examples=["add"])
    trust_anchors: tuple[PemPath, ...] = Field(
        (), description="PEM files of the new root CAs.", examples=[["certs/dev/root-ca-2027.pem"]]
    )
    intermediate_cas: tuple[PemPath, ...] = Field(
        (), description="PEM files of the new intermediate CAs.", examples=[["certs/dev/intermediate-ca-2027.pem"]]
    )
    clients: tuple[ClientPath, ...] = Field(
        (),
        description="Client certificates (leaf first, then its chain; files, or folders of .pem files) that must "
        "keep getting in: phase remove is refused while one of them would be locked out.",
        examples=[["certs/clients/"]],
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
        description="Host names the edge's certificate covers (at most 100; a wildcard *.example.com only with a "
        "Certificate Manager certificate).",
        examples=[["dev.example.com"]],
    )
    certificate: Omittable[ServerCertificate] = Field(
        None, examples=[{"source": "dnsAuthorization"}, {"source": "selfManaged"}]
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
    trust_rotation: Omittable[TrustRotation] = Field(
        None, examples=[{"phase": "add", "trustAnchors": ["certs/dev/root-ca-2027.pem"]}]
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
    found = _duplicate_domains(edge.domains) + _ssl_policy_findings(edge.ssl_policy) + _rotation_findings(edge)
    found += _allowlist_findings(edge)
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


def certificate_source(edge: EdgeSettings, capabilities: Capabilities) -> str:
    """The edge's certificate: as set, else what a stack without the key had (the Compute managed certificate, on the
    global load balancers), or DNS authorization where that never existed (the regional one)."""
    if edge.certificate is not None:
        return edge.certificate.source
    return "dnsAuthorization" if capabilities.regional.value else "computeManaged"


def serves_compute_certificate(edge: EdgeSettings, capabilities: Capabilities) -> bool:
    """Whether the proxy holds the Compute managed certificate: as the edge's certificate, or until the switch
    drops it."""
    switch = edge.certificate.switch_from_compute if edge.certificate is not None else None
    return certificate_source(edge, capabilities) == "computeManaged" or switch in ("prepare", "attach")


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
    found += _certificate_findings(edge, lb)
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


# What each step of the switch from a Compute managed certificate does, as the plan says it.
SWITCH_STEPS = {
    "prepare": "step 1 of 3 (prepare): the DNS authorizations, the Certificate Manager certificate and its map are "
    "made; the proxy keeps serving the Compute certificate. Next: create the records of output "
    "dnsAuthorizationRecords, wait until the certificate is ACTIVE, then set attach.",
    "attach": "step 2 of 3 (attach): the certificate map joins the proxy, which serves the map's certificate and "
    "ignores the Compute one it still holds; `pulumi up` refuses this step until the certificate is ACTIVE. Next: "
    "check the served certificate, then set drop.",
    "drop": "step 3 of 3 (drop): the Compute certificate leaves the proxy and is deleted. Next: remove "
    "switchFromCompute.",
}


def _certificate_findings(edge: EdgeSettings, lb: Capabilities) -> list[Finding]:
    key = f"{KEY}.certificate"
    source = certificate_source(edge, lb)
    found = []
    needed = {
        "computeManaged": Certificate.COMPUTE_MANAGED,
        "selfManaged": Certificate.CERTIFICATE_MANAGER if lb.regional.value else Certificate.CERTIFICATE_MAP,
        "dnsAuthorization": Certificate.CERTIFICATE_MANAGER if lb.regional.value else Certificate.CERTIFICATE_MAP,
    }[source]
    if needed not in lb.certificates.value:
        found.append(
            error(
                "config.capability",
                f"{key}.source",
                f"{source} is a {needed} certificate, which the {lb.name} does not take; "
                f"{cited(lb.certificates.source)} Use dnsAuthorization or selfManaged.",
            )
        )
    certificate = edge.certificate or ServerCertificate(source="computeManaged")
    files = {"certificateFile": certificate.certificate_file, "privateKeyFile": certificate.private_key_file}
    for alias, value in files.items():
        if source == "selfManaged" and value is None:
            found.append(
                error("config.certificate", f"{key}.{alias}", "selfManaged needs the certificate's PEM files.")
            )
        elif source != "selfManaged" and value is not None:
            found.append(error("config.certificate", f"{key}.{alias}", f"applies only to selfManaged, not {source}."))
    if certificate.dns_authorization_type is not None and source != "dnsAuthorization":
        found.append(
            error(
                "config.certificate", f"{key}.dnsAuthorizationType", f"applies only to dnsAuthorization, not {source}."
            )
        )
    if certificate.switch_from_compute is not None and (lb.regional.value or source == "computeManaged"):
        why = f"the {lb.name} never held one" if lb.regional.value else "the certificate is still the Compute one"
        found.append(
            error(
                "config.certificate",
                f"{key}.switchFromCompute",
                f"moves a global edge from its Compute managed certificate to a Certificate Manager one, and {why}. "
                "Remove it.",
            )
        )
    if edge.certificate is None and source == "computeManaged":
        found.append(
            note(
                "edge.compute-certificate",
                key,
                "is unset, so the edge keeps a Compute managed certificate, which Google provisions only once DNS "
                "points at the load balancer. Move to a Certificate Manager certificate with certificate."
                "switchFromCompute (README: the switch from a Compute certificate), or set certificate.source: "
                "computeManaged to keep it.",
            )
        )
    if certificate.switch_from_compute is not None and not found:
        step = certificate.switch_from_compute
        found.append(note("edge.certificate-switch", f"{key}.switchFromCompute", SWITCH_STEPS[step]))
    if serves_compute_certificate(edge, lb):
        found += [
            error(
                "config.domain",
                f"{KEY}.domains[{i}]",
                f"{quoted(domain)}: the Compute managed certificate does not cover wildcards; list each host name, or "
                "move to certificate.source dnsAuthorization (README: the switch from a Compute certificate), where "
                "the wildcard can follow once the Compute certificate is dropped.",
            )
            for i, domain in enumerate(edge.domains)
            if domain.startswith(WILDCARD)
        ]
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


# What each phase of a trust rotation does, as the plan says it.
ROTATION_PHASES = {
    "add": "phase 1 of 2 (add): the trust config holds the current anchors and the new ones, so clients of either "
    "CA get in. Next: re-issue every client under the new CA, check them with `python -m mtls rotation`, then set "
    "remove.",
    "remove": "phase 2 of 2 (remove): the trust config holds only the new anchors; a client still on the old CA is "
    "refused. Next: move the new files to trustAnchors and intermediateCas, and remove trustRotation.",
}


def _rotation_findings(edge: EdgeSettings) -> list[Finding]:
    rotation = edge.trust_rotation
    if rotation is None:
        return []
    key = f"{KEY}.trustRotation"
    if not rotation.trust_anchors:
        why = (
            "would remove the last trust anchor, and no client could be validated"
            if rotation.phase == "remove"
            else "has no new trust anchor to add"
        )
        return [error("config.rotation", f"{key}.trustAnchors", f"phase {rotation.phase} {why}; list the new CAs.")]
    found = [
        error(
            "config.rotation",
            f"{key}.trustAnchors[{i}]",
            f"{path} is already a trust anchor (trustAnchors); a rotation adds another CA.",
        )
        for i, path in enumerate(rotation.trust_anchors)
        if path in edge.trust_anchors
    ]
    return found or [note("edge.trust-rotation", f"{key}.phase", ROTATION_PHASES[rotation.phase])]


def _allowlist_findings(edge: EdgeSettings) -> list[Finding]:
    if not edge.allowlisted_certificates:
        return []
    return [
        warning(
            "config.allowlisted",
            f"{KEY}.allowlistedCertificates",
            'are let in as they are, without chain validation: Google considers an allowlisted certificate "always '
            "valid as long as the certificate is parseable, proof of private key possession is established, and "
            'constraints on the SAN field of the certificate are met", expired ones included. Keep the list to the '
            "clients a CA cannot serve, and remove each once it has a CA-issued certificate.",
        )
    ]


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
