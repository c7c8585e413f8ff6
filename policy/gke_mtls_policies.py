"""CrossGuard policies for gke-mtls stacks: each checks one property that mTLS depends on.

Props are the engine's raw properties (camelCase). Validators are plain functions so tests call them directly.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

# Each kind in its global and its regional form: the regional external load balancer has regional ones.
HTTPS_PROXIES = (
    "gcp:compute/targetHttpsProxy:TargetHttpsProxy",
    "gcp:compute/regionTargetHttpsProxy:RegionTargetHttpsProxy",
)
SERVER_TLS_POLICY = "gcp:networksecurity/serverTlsPolicy:ServerTlsPolicy"
SSL_POLICIES = ("gcp:compute/sSLPolicy:SSLPolicy", "gcp:compute/regionSslPolicy:RegionSslPolicy")
TRUST_CONFIG = "gcp:certificatemanager/trustConfig:TrustConfig"
FORWARDING_RULES = (
    "gcp:compute/globalForwardingRule:GlobalForwardingRule",
    "gcp:compute/forwardingRule:ForwardingRule",
)
# The load-balancing resources that carry a scheme. pulumi-gcp v10 defaults an unset one to EXTERNAL_MANAGED, which
# fails at `up` beside a classic (EXTERNAL) part such as GKE Ingress's backend service (pulumi/pulumi-gcp#4037).
SCHEMED = (
    *FORWARDING_RULES,
    "gcp:compute/backendService:BackendService",
    "gcp:compute/regionBackendService:RegionBackendService",
)
PEER_AUTHENTICATIONS = (
    "kubernetes:security.istio.io/v1:PeerAuthentication",
    "kubernetes:security.istio.io/v1beta1:PeerAuthentication",
)
AUTHORIZATION_POLICIES = (
    "kubernetes:security.istio.io/v1:AuthorizationPolicy",
    "kubernetes:security.istio.io/v1beta1:AuthorizationPolicy",
)
DESTINATION_RULES = tuple(f"kubernetes:networking.istio.io/{v}:DestinationRule" for v in ("v1", "v1beta1", "v1alpha3"))
ALLOW_ALL_WAIVER = "gke-mtls.io/allow-all-waiver"
STRONG_TLS = ("TLS_1_2", "TLS_1_3")


def load_balancing_scheme_is_explicit(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type in SCHEMED and not args.props.get("loadBalancingScheme"):
        report_violation(
            "loadBalancingScheme is unset, and pulumi-gcp v10 then picks EXTERNAL_MANAGED, which cannot meet a "
            "classic (EXTERNAL) part such as GKE Ingress's backend service: set it to the backend's scheme.",
            None,
        )


def proxy_has_server_tls_policy(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type in HTTPS_PROXIES and not args.props.get("serverTlsPolicy"):
        report_violation(
            "This target HTTPS proxy has no server TLS policy, so it never asks for a client "
            "certificate: set serverTlsPolicy.",
            None,
        )


def server_tls_policy_rejects_invalid(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != SERVER_TLS_POLICY:
        return
    mode = (args.props.get("mtlsPolicy") or {}).get("clientValidationMode")
    if mode != "REJECT_INVALID":
        report_violation(
            f"clientValidationMode is {mode}; use REJECT_INVALID so that requests without a valid "
            "client certificate never reach the backend.",
            None,
        )


def ssl_policy_is_modern(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in SSL_POLICIES:
        return
    # Unset fields take the API defaults: TLS_1_0 and COMPATIBLE.
    version = args.props.get("minTlsVersion") or "TLS_1_0"
    profile = args.props.get("profile") or "COMPATIBLE"
    if version not in STRONG_TLS:
        report_violation(f"minTlsVersion is {version}; use TLS_1_2 or newer.", None)
    if profile == "COMPATIBLE":
        report_violation("profile is COMPATIBLE, which allows weak cipher suites; use MODERN or RESTRICTED.", None)


def trust_config_is_not_empty(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != TRUST_CONFIG:
        return
    anchors = [a for store in args.props.get("trustStores") or [] for a in store.get("trustAnchors") or []]
    if not anchors and not args.props.get("allowlistedCertificates"):
        report_violation(
            "This trust config has no trust anchor and no allowlisted certificate, so no client can ever be validated.",
            None,
        )


def _url_map_of_rule(rule: PolicyResource) -> PolicyResource | None:
    proxies = rule.property_dependencies.get("target") or []
    for proxy in proxies:
        for url_map in proxy.property_dependencies.get("urlMap") or []:
            return url_map
    return None


def _is_redirect_only(url_map: PolicyResource) -> bool:
    props = url_map.props
    redirect = props.get("defaultUrlRedirect") or {}
    return bool(redirect.get("httpsRedirect")) and not any(
        props.get(k) for k in ("defaultService", "defaultRouteAction", "pathMatchers", "hostRules")
    )


def forwarding_rules_listen_safely(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for rule in args.resources:
        if rule.resource_type not in FORWARDING_RULES:
            continue
        port = str(rule.props.get("portRange") or "")
        if port in ("443", "443-443"):
            continue
        url_map = _url_map_of_rule(rule)
        if port in ("80", "80-80") and url_map is not None and _is_redirect_only(url_map):
            continue
        where = "towards a URL map that does more than redirect to HTTPS" if port in ("80", "80-80") else ""
        report_violation(
            f"Forwarding rule {rule.name} listens on port {port or '(unset)'} {where}".rstrip()
            + "; only 443, or 80 towards a redirect-only URL map, keeps every request behind mTLS.",
            rule.urn,
        )


def mesh_wide_peer_authentication_is_strict(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in PEER_AUTHENTICATIONS:
        return
    root = args.get_config().get("rootNamespace", "istio-system")
    metadata, spec = args.props.get("metadata") or {}, args.props.get("spec") or {}
    selector = (spec.get("selector") or {}).get("matchLabels")
    if metadata.get("namespace") == root and not selector:
        mode = (spec.get("mtls") or {}).get("mode", "UNSET")
        if mode != "STRICT":
            report_violation(
                f"The mesh-wide PeerAuthentication in {root} is {mode}; make it STRICT and keep "
                "exceptions at namespace or workload level.",
                None,
            )


def no_unwaived_allow_all(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in AUTHORIZATION_POLICIES:
        return
    metadata, spec = args.props.get("metadata") or {}, args.props.get("spec") or {}
    allow = spec.get("action", "ALLOW") == "ALLOW"
    allows_all = allow and any(rule == {} for rule in spec.get("rules") or [])
    if allows_all and not (metadata.get("labels") or {}).get(ALLOW_ALL_WAIVER):
        report_violation(
            f"AuthorizationPolicy {metadata.get('name')} allows every request (rules: [{{}}]). "
            f"List who may call, or label it {ALLOW_ALL_WAIVER}=<ticket> if that is intended.",
            None,
        )


def no_mesh_wide_istio_mutual(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in DESTINATION_RULES:
        return
    spec: dict[str, Any] = args.props.get("spec") or {}
    mode = ((spec.get("trafficPolicy") or {}).get("tls") or {}).get("mode")
    if spec.get("host") == "*.local" and mode == "ISTIO_MUTUAL":
        report_violation(
            "A *.local ISTIO_MUTUAL DestinationRule forces mTLS to pods without a sidecar and breaks "
            "their callers; auto mTLS already covers the mesh. Remove it.",
            None,
        )


POLICIES = [
    ResourceValidationPolicy(
        name="load-balancing-scheme-explicit",
        description="Forwarding rules and backend services name their load-balancing scheme.",
        validate=load_balancing_scheme_is_explicit,
    ),
    ResourceValidationPolicy(
        name="https-proxy-has-server-tls-policy",
        description="Every target HTTPS proxy validates client certificates.",
        validate=proxy_has_server_tls_policy,
    ),
    ResourceValidationPolicy(
        name="server-tls-policy-rejects-invalid",
        description="Server TLS policies use REJECT_INVALID.",
        validate=server_tls_policy_rejects_invalid,
    ),
    ResourceValidationPolicy(
        name="ssl-policy-tls-1-2-modern",
        description="SSL policies use TLS 1.2 or newer and not the COMPATIBLE profile.",
        validate=ssl_policy_is_modern,
    ),
    ResourceValidationPolicy(
        name="trust-config-not-empty",
        description="Trust configs hold a trust anchor or an allowlisted certificate.",
        validate=trust_config_is_not_empty,
    ),
    StackValidationPolicy(
        name="forwarding-rules-443-or-redirect",
        description="Forwarding rules listen only on 443, or on 80 towards a redirect-only URL map.",
        validate=forwarding_rules_listen_safely,
    ),
    ResourceValidationPolicy(
        name="mesh-wide-peer-authentication-strict",
        description="The mesh-wide PeerAuthentication is STRICT.",
        validate=mesh_wide_peer_authentication_is_strict,
        config_schema=PolicyConfigSchema({"rootNamespace": {"type": "string", "default": "istio-system"}}),
    ),
    ResourceValidationPolicy(
        name="no-unwaived-allow-all",
        description="No AuthorizationPolicy allows everything without a waiver label.",
        validate=no_unwaived_allow_all,
    ),
    ResourceValidationPolicy(
        name="no-mesh-wide-istio-mutual",
        description="No *.local ISTIO_MUTUAL DestinationRule.",
        validate=no_mesh_wide_istio_mutual,
    ),
]
