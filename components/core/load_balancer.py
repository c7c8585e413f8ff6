"""What Google documents for each load balancer the edge can be, as data: one row per fact, each citing Google's page
or generated API definition and quoting it. The settings hold every stack to this table, the components build from
it, and the README's side-by-side table is rendered from it (`python -m mtls docs`).

Where Google contradicts itself, the most specific and newest text wins, and the row's `why` says so. Quotes from the
Cloud SDK on this machine, or from Google's generated types stored in the project, name that file in `local`, and a
test finds each of them there.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")

# Source ranges of the Google Front End proxies and of every health check prober, for zonal NEG backends.
FRONT_END_RANGES = ("130.211.0.0/22", "35.191.0.0/16")

# Where this machine holds Google's words: the Cloud SDK's generated messages and command code, and the generated
# networksecurity v1 types the project stores because the SDK predates them (tests/edge/google_types/README.md).
COMPUTE_MESSAGES = "cloud-sdk:lib/googlecloudsdk/generated_clients/apis/compute/v1/compute_v1_messages.py"
SSL_CERTIFICATES_CREATE = "cloud-sdk:lib/surface/compute/ssl_certificates/create.py"
AUTHZ_POLICY_TYPES = "project:tests/edge/google_types/network_security_v1_authz_policy.py.txt"

MTLS_SETUP = "https://cloud.google.com/load-balancing/docs/https/setting-up-mtls-ccm"
AUTHZ_POLICY_PROTO = (
    "https://github.com/googleapis/googleapis/blob/master/google/cloud/networksecurity/v1/authz_policy.proto"
)
FIREWALL_RULES = "https://cloud.google.com/load-balancing/docs/firewall-rules"


class LoadBalancerType(StrEnum):
    CLASSIC = "classic"
    GLOBAL_EXTERNAL = "globalExternal"
    REGIONAL_EXTERNAL = "regionalExternal"


class HeaderPlace(StrEnum):
    """Where Google documents the `{client_cert_*}` variables for a load balancer."""

    BACKEND_SERVICE = "backend service custom request headers"
    URL_MAP = "URL map header action"


class Certificate(StrEnum):
    """The kinds of server certificate a target HTTPS proxy can hold."""

    COMPUTE_MANAGED = "Compute Google-managed"
    COMPUTE_SELF_MANAGED = "Compute self-managed"
    CERTIFICATE_MAP = "Certificate Manager, through a certificate map"
    CERTIFICATE_MANAGER = "Certificate Manager, attached directly"


@dataclass(frozen=True)
class Source:
    url: str  # Google's page, or its generated API definition
    quote: str  # Google's words, verbatim
    local: str = ""  # the file on this machine that holds the same words, which a test checks
    why: str = ""  # where Google contradicts itself: which text wins, and why


@dataclass(frozen=True)
class Fact(Generic[T]):
    value: T
    source: Source


@dataclass(frozen=True)
class Capabilities:
    """One load balancer type, fact by fact."""

    name: str
    scheme: Fact[str]  # the loadBalancingScheme of its forwarding rules and backend services
    regional: Fact[bool]  # regional resources (and a region's trust config and policies) instead of global ones
    network_tiers: Fact[tuple[str, ...]]
    verdict_headers: Fact[HeaderPlace]  # where the `{client_cert_*}` variables are documented
    url_map_header_action: Fact[bool]  # whether the URL map takes a header action at all
    authorization_policies: Fact[bool]  # AuthzPolicy on its forwarding rules
    principals: Fact[tuple[str, ...]]  # the principal selectors an AuthzPolicy rule may use here; none: no principals
    max_principals_per_policy: Fact[int]
    backend_sources: Fact[str]  # where its requests reach the backends from
    health_check_ranges: Fact[tuple[str, ...]]
    certificates: Fact[tuple[Certificate, ...]]

    def facts(self) -> dict[str, Fact[object]]:
        return {f.name: getattr(self, f.name) for f in fields(self) if isinstance(getattr(self, f.name), Fact)}


_EXTERNAL = Source(
    "https://cloud.google.com/compute/docs/reference/rest/v1/backendServices",
    "EXTERNAL: Signifies that this will be used for classic Application Load Balancers, global external proxy "
    "Network Load Balancers, or external passthrough Network Load Balancers.",
    COMPUTE_MESSAGES,
)
_EXTERNAL_MANAGED = Source(
    "https://cloud.google.com/compute/docs/reference/rest/v1/backendServices",
    "EXTERNAL_MANAGED: Signifies that this will be used for global external Application Load Balancers, regional "
    "external Application Load Balancers, or regional external proxy Network Load Balancers.",
    COMPUTE_MESSAGES,
)
_GLOBAL_RESOURCES = Source(
    "https://cloud.google.com/compute/docs/reference/rest/v1/targetHttpsProxies",
    "serverTlsPolicy only applies to a global TargetHttpsProxy attached to globalForwardingRules with the "
    "loadBalancingScheme set to INTERNAL_SELF_MANAGED or EXTERNAL or EXTERNAL_MANAGED or INTERNAL_MANAGED.",
    COMPUTE_MESSAGES,
    why=f"And its trust config: 'For global external Application Load Balancers, classic Application Load Balancers, "
    f"and cross-region internal Application Load Balancers, create a global trust config' ({MTLS_SETUP}).",
)
_REGIONAL_RESOURCES = Source(
    "https://cloud.google.com/compute/docs/reference/rest/v1/targetHttpsProxies",
    "It also applies to a regional TargetHttpsProxy attached to regional forwardingRules with the loadBalancingScheme "
    "set to EXTERNAL_MANAGED or INTERNAL_MANAGED.",
    COMPUTE_MESSAGES,
    why="serverTlsPolicy. The policy and its trust config live in the load balancer's region, as every resource of a "
    "regional load balancer does.",
)
_GLOBAL_TIER = Source(
    "https://cloud.google.com/compute/docs/reference/rest/v1/forwardingRules",
    "For GlobalForwardingRule, the valid value is PREMIUM.",
    COMPUTE_MESSAGES,
)
_REGIONAL_TIERS = Source(
    "https://cloud.google.com/compute/docs/reference/rest/v1/forwardingRules",
    "For regional ForwardingRule, the valid values are PREMIUM and STANDARD.",
    COMPUTE_MESSAGES,
)
_HEADERS_ON_BACKEND = Source(
    MTLS_SETUP,
    "For global external Application Load Balancers or classic Application Load Balancers",
    why="Under 'Add mTLS custom headers to backend services'. The backend service's headers overwrite a client's "
    "copy: 'Headers added by the load balancer overwrite any existing headers that have the same name' "
    "(https://cloud.google.com/load-balancing/docs/https/custom-headers). The URL map is not used for them: on the "
    "global external load balancer 'if the same header is set in both the backend service and the URL map, the URL "
    "map takes precedence and the backend service setting is ignored' (custom-headers-global), and no page "
    "documents the variables there.",
)
_HEADERS_IN_URL_MAP = Source(
    MTLS_SETUP,
    "For cross-region internal Application Load Balancer, regional external Application Load Balancer, or regional "
    "internal Application Load Balancer",
    why="The URL-map recipe of the same page. A variable in the value makes `replace` default to false (compute v1 "
    "HttpHeaderOption), so the edge sets replace: true and removes the client's copies.",
)
_NO_HEADER_ACTION = Source(
    "https://cloud.google.com/compute/docs/reference/rest/v1/urlMaps",
    "headerAction is not supported for load balancers that have their loadBalancingScheme set to EXTERNAL.",
    COMPUTE_MESSAGES,
)
_HEADER_ACTION = Source(
    "https://cloud.google.com/compute/docs/reference/rest/v1/urlMaps",
    "If true, headerValue is set for the header, discarding any values that were set for that header. The default "
    "value is true, unless a variable is present in headerValue, in which case the default value is false.",
    COMPUTE_MESSAGES,
)
_AUTHZ_SCHEMES = Source(
    "https://cloud.google.com/load-balancing/docs/auth-policy/auth-policy-overview",
    "Authorization policies can be configured on the forwarding rule of all Application Load Balancers with a load "
    "balancing scheme of EXTERNAL_MANAGED or INTERNAL_MANAGED.",
)
_NO_PRINCIPALS = Source(
    AUTHZ_POLICY_PROTO,
    "This field is not supported for global external Application Load Balancers.",
    AUTHZ_POLICY_TYPES,
    why="AuthzRule.From.RequestSource.principals. The authorization-policy overview lists the global external load "
    "balancer among those that take authorization policies, and the PrincipalSelector enum excludes only the classic "
    "load balancer from CLIENT_CERT_DNS_NAME_SAN; the field's own text is the most specific and the newest (the same "
    "sentence is in google-cloud-network-security 0.13.4 and the PHP, Rust and Dart references), so it wins.",
)
_SELECTORS = Source(
    AUTHZ_POLICY_PROTO,
    "This is only applicable for Application Load Balancers except for global external Application Load Balancer "
    "and classic Application Load Balancer.",
    AUTHZ_POLICY_TYPES,
    why="PrincipalSelector CLIENT_CERT_COMMON_NAME. CLIENT_CERT_URI_SAN is the default selector, and "
    "CLIENT_CERT_DNS_NAME_SAN is 'only applicable for Application Load Balancers except for classic Global External "
    "Application load balancer'.",
)
_MAX_PRINCIPALS = Source(
    AUTHZ_POLICY_PROTO,
    "Limited to 50 principals per Authorization Policy for regional internal Application Load Balancers, regional "
    "external Application Load Balancers, cross-region internal Application Load Balancers, and Cloud Service Mesh.",
    AUTHZ_POLICY_TYPES,
)
FRONT_END = "Google's front-end ranges"
PROXY_ONLY_SUBNET = "the region's proxy-only subnet"
_FRONT_ENDS = Source(
    FIREWALL_RULES,
    "In most cases, GFE proxies use the same source IP ranges as the health check probes and therefore don't "
    "require a separate firewall rule.",
    why="The same page gives the health-check ranges 35.191.0.0/16 and 130.211.0.0/22, and the GFE proxy ranges as "
    "the same for zonal NEG (GCE_VM_IP_PORT) backends.",
)
_PROXY_ONLY_SUBNET = Source(
    FIREWALL_RULES,
    "Load balancers based on the open source Envoy proxy require an ingress allow firewall rule that permits traffic "
    "from the proxy-only subnet to reach the backend instances.",
    why="https://cloud.google.com/load-balancing/docs/proxy-only-subnets: 'Packets sent from a proxy to a backend VM "
    "or endpoint have a source IP address from the proxy-only subnet.'",
)
_HEALTH_CHECKS = Source(
    FIREWALL_RULES,
    "Health check ranges: 35.191.0.0/16 130.211.0.0/22",
    why="The row of each of the three load balancers lists the same two ranges.",
)
_GLOBAL_CERTIFICATES = Source(
    "https://cloud.google.com/compute/docs/reference/rest/v1/targetHttpsProxies",
    "This field can only be set for Global external Application Load Balancer or Classic Application Load Balancer. "
    "For other products use Certificate Manager Certificates instead.",
    COMPUTE_MESSAGES,
    why="certificateMap; and of sslCertificates: 'Using Certificate Manager Certificates in this field is not "
    "supported by Global external Application Load Balancer or Classic Application Load Balancer, use "
    "certificate_map instead.'",
)
_GLOBAL_CERTIFICATE_KINDS = (Certificate.COMPUTE_MANAGED, Certificate.COMPUTE_SELF_MANAGED, Certificate.CERTIFICATE_MAP)
_REGIONAL_CERTIFICATES = Source(
    "https://cloud.google.com/compute/docs/reference/rest/v1/regionTargetHttpsProxies",
    "Currently, you may specify up to 15 Classic SSL Certificates or up to 100 Certificate Manager Certificates.",
    COMPUTE_MESSAGES,
    why="sslCertificates. Regional Compute certificates are self-managed only: gcloud refuses '--domains flag is not "
    "supported for regional certificates' (lib/surface/compute/ssl_certificates/create.py in the Cloud SDK).",
)

CAPABILITIES: dict[LoadBalancerType, Capabilities] = {
    LoadBalancerType.CLASSIC: Capabilities(
        name="classic Application Load Balancer",
        scheme=Fact("EXTERNAL", _EXTERNAL),
        regional=Fact(False, _GLOBAL_RESOURCES),
        network_tiers=Fact(("PREMIUM",), _GLOBAL_TIER),
        verdict_headers=Fact(HeaderPlace.BACKEND_SERVICE, _HEADERS_ON_BACKEND),
        url_map_header_action=Fact(False, _NO_HEADER_ACTION),
        authorization_policies=Fact(False, _AUTHZ_SCHEMES),
        principals=Fact((), _AUTHZ_SCHEMES),
        max_principals_per_policy=Fact(0, _AUTHZ_SCHEMES),
        backend_sources=Fact(FRONT_END, _FRONT_ENDS),
        health_check_ranges=Fact(FRONT_END_RANGES, _HEALTH_CHECKS),
        certificates=Fact(_GLOBAL_CERTIFICATE_KINDS, _GLOBAL_CERTIFICATES),
    ),
    LoadBalancerType.GLOBAL_EXTERNAL: Capabilities(
        name="global external Application Load Balancer",
        scheme=Fact("EXTERNAL_MANAGED", _EXTERNAL_MANAGED),
        regional=Fact(False, _GLOBAL_RESOURCES),
        network_tiers=Fact(("PREMIUM",), _GLOBAL_TIER),
        verdict_headers=Fact(HeaderPlace.BACKEND_SERVICE, _HEADERS_ON_BACKEND),
        url_map_header_action=Fact(True, _HEADER_ACTION),
        authorization_policies=Fact(True, _AUTHZ_SCHEMES),
        principals=Fact((), _NO_PRINCIPALS),
        max_principals_per_policy=Fact(0, _NO_PRINCIPALS),
        backend_sources=Fact(FRONT_END, _FRONT_ENDS),
        health_check_ranges=Fact(FRONT_END_RANGES, _HEALTH_CHECKS),
        certificates=Fact(_GLOBAL_CERTIFICATE_KINDS, _GLOBAL_CERTIFICATES),
    ),
    LoadBalancerType.REGIONAL_EXTERNAL: Capabilities(
        name="regional external Application Load Balancer",
        scheme=Fact("EXTERNAL_MANAGED", _EXTERNAL_MANAGED),
        regional=Fact(True, _REGIONAL_RESOURCES),
        network_tiers=Fact(("PREMIUM", "STANDARD"), _REGIONAL_TIERS),
        verdict_headers=Fact(HeaderPlace.URL_MAP, _HEADERS_IN_URL_MAP),
        url_map_header_action=Fact(True, _HEADER_ACTION),
        authorization_policies=Fact(True, _AUTHZ_SCHEMES),
        principals=Fact(("CLIENT_CERT_URI_SAN", "CLIENT_CERT_DNS_NAME_SAN", "CLIENT_CERT_COMMON_NAME"), _SELECTORS),
        max_principals_per_policy=Fact(50, _MAX_PRINCIPALS),
        backend_sources=Fact(PROXY_ONLY_SUBNET, _PROXY_ONLY_SUBNET),
        health_check_ranges=Fact(FRONT_END_RANGES, _HEALTH_CHECKS),
        certificates=Fact((Certificate.COMPUTE_SELF_MANAGED, Certificate.CERTIFICATE_MANAGER), _REGIONAL_CERTIFICATES),
    ),
}
