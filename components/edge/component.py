"""The edge's Pulumi side: the backend lookups, the edge's own backend on a standalone NEG (`NegBackend`), the mTLS
load balancer (`Edge`) and its rejected-client metric and alert (`EdgeMonitoring`).

trust config -> server TLS policy -> target HTTPS proxy <- URL map -> GKE's backend service (classic path)
                                                                   -> NegBackend's backend service (standalone NEG)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import pulumi
import pulumi_gcp as gcp

from components.core.edge_backend import AllowedClient
from components.core.load_balancer import FRONT_END_RANGES
from components.core.names import GCE_NAME
from components.edge import authorization, standalone_neg
from components.edge import headers as edge_headers
from components.edge.backend_service import BackendService, scheme_problem
from components.edge.certificates import TrustConfig
from components.edge.monitoring import METRIC_LABEL, alert_filter, metric_name, rejected_clients_filter
from components.edge.settings import BACKEND_KEY, KEY, NEG_OUTPUTS, BackendSettings, EdgeSettings, RejectedClientsAlert


async def find_backend_service(backend: BackendSettings) -> BackendService:
    """Resolves the name (StackReference or explicit) and reads the service; raises RunError naming the key."""
    name = backend.name or await _name_from_stack(backend)
    # A failed lookup (no such service, no permission) ends the run with the provider's own message; the SDK
    # records RPC failures itself, so wrapping it here would not change what the user sees.
    found = gcp.compute.get_backend_service(name=name)
    service = BackendService(name=name, self_link=found.self_link, load_balancing_scheme=found.load_balancing_scheme)
    problem = scheme_problem(service)
    if problem is not None:
        raise pulumi.RunError(f"{BACKEND_KEY}: {problem}")
    return service


async def _name_from_stack(backend: BackendSettings) -> str:
    assert backend.stack is not None
    reference = pulumi.StackReference(backend.stack)
    # Not require_output: it fails with a bare KeyError naming neither the stack nor the key.
    details = await reference.get_output_details(backend.output)
    name = details.value if details.value is not None else details.secret_value
    if name is None:
        raise pulumi.RunError(
            f"{BACKEND_KEY}.output: stack {backend.stack!r} has no output {backend.output!r}. Export the backend "
            f"service name from that stack under this name, or set {BACKEND_KEY}.output to the output it does export."
        )
    if not isinstance(name, str) or not GCE_NAME.matches(name):
        raise pulumi.RunError(
            f"{BACKEND_KEY}.output: output {backend.output!r} of stack {backend.stack!r} is {name!r}, not a backend "
            "service name; export the name of the backend service GKE generated."
        )
    return name


async def find_standalone_neg(backend: BackendSettings) -> FoundNeg:
    """Reads the platform stack's NEG outputs, then the NEG in each zone; raises RunError naming the stack and output,
    or the key to change."""
    assert backend.stack is not None
    reference = pulumi.StackReference(backend.stack)
    outputs = {}
    for output in NEG_OUTPUTS:
        details = await reference.get_output_details(output)
        outputs[output] = details.value if details.value is not None else details.secret_value
    try:
        neg = standalone_neg.from_outputs(backend.stack, outputs)
    except standalone_neg.NegOutputsError as exc:
        raise pulumi.RunError(str(exc)) from None
    groups: list[str] = []
    for zone in neg.zones:
        try:
            found = gcp.compute.get_network_endpoint_group(name=neg.name, zone=zone)
        except Exception as exc:  # the provider's failure: no such NEG there, no permission
            # Logged as well: the SDK may end the run with the provider's own error, which names no key.
            message = standalone_neg.lookup_failed_message(backend, neg, zone, exc)
            pulumi.log.error(message)
            raise pulumi.RunError(message) from None
        answer = {"networkEndpointType": found.network_endpoint_type, "network": found.network}
        if problem := standalone_neg.found_problem(backend, neg, zone, answer):
            raise pulumi.RunError(problem)
        groups.append(str(found.self_link))
    return FoundNeg(neg, tuple(groups))


@dataclass(frozen=True)
class FoundNeg:
    neg: standalone_neg.StandaloneNeg
    groups: tuple[str, ...]  # the NEG's self link in each zone


@dataclass(frozen=True)
class NegBackendArgs:
    settings: BackendSettings
    found: FoundNeg


class NegBackend(pulumi.ComponentResource):
    """The edge's own backend service (EXTERNAL_MANAGED) on the platform stack's standalone NEG, with its health check
    and the firewall rule that lets Google's load balancer and health checks reach the pods."""

    self_link: pulumi.Output[str]

    def __init__(self, name: str, args: NegBackendArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-mtls:edge:NegBackend", name, None, opts)
        settings, neg = args.settings, args.found.neg
        exported, probe = neg.backend, neg.backend.health_check
        child = pulumi.ResourceOptions(parent=self)
        probe_target: dict[str, Any] = (
            {"port_specification": "USE_FIXED_PORT", "port": probe.port}
            if probe.port is not None
            else {"port_specification": "USE_SERVING_PORT"}
        )
        probe_arguments: Any = {**probe_target, "request_path": probe.request_path}
        health_check = gcp.compute.HealthCheck(
            f"{name}-health-check",
            description=f"Probes the pods of NEG {neg.name} (gke-mtls)",
            check_interval_sec=probe.check_interval_sec,
            timeout_sec=probe.timeout_sec,
            healthy_threshold=probe.healthy_threshold,
            unhealthy_threshold=probe.unhealthy_threshold,
            http_health_check=probe_arguments if probe.type == "HTTP" else None,
            https_health_check=probe_arguments if probe.type == "HTTPS" else None,
            http2_health_check=probe_arguments if probe.type == "HTTP2" else None,
            opts=child,
        )
        service = gcp.compute.BackendService(
            f"{name}-backend-service",
            description=f"The mTLS edge's backend: NEG {neg.name} (gke-mtls)",
            load_balancing_scheme=MANAGED_SCHEME,
            # The pods speak what their probe speaks: plain HTTP, or TLS (HTTPS, and HTTP/2 over TLS).
            protocol=probe.type,
            backends=[
                {"group": group, "balancing_mode": "RATE", "max_rate_per_endpoint": settings.max_rate_per_endpoint}
                for group in args.found.groups
            ],
            health_checks=health_check.id,
            log_config={"enable": True, "sample_rate": exported.log_sample_rate},
            # Sorted: a stack output's keys come back in any order, and a reordered list is a change to the service.
            custom_request_headers=[f"{header}:{value}" for header, value in sorted(exported.headers.items())],
            opts=child,
        )
        ports = sorted({exported.port, probe.port or exported.port})
        gcp.compute.Firewall(
            f"{name}-firewall",
            description=f"Google's load balancer and health checks to the pods of NEG {neg.name} (gke-mtls)",
            network=settings.network,
            direction="INGRESS",
            source_ranges=list(FRONT_END_RANGES),
            allows=[{"protocol": "tcp", "ports": [str(port) for port in ports]}],
            target_tags=list(settings.node_tags) or None,
            opts=child,
        )
        self.self_link = service.self_link
        self.register_outputs({"selfLink": self.self_link})


# Trust config and server TLS policy live in "global" for global external and classic load balancers.
LOCATION = "global"
MANAGED_SCHEME = "EXTERNAL_MANAGED"


@dataclass(frozen=True)
class EdgeArgs:
    settings: EdgeSettings
    trust: TrustConfig  # the certificates of edge.trustAnchors, intermediateCas and allowlistedCertificates
    backend_service: pulumi.Input[str]  # its self link
    scheme: str  # the backend service's: EXTERNAL (GKE Ingress path) or EXTERNAL_MANAGED (standalone-NEG path)
    # EXTERNAL_MANAGED only: the verdict headers the URL map sets (clients' copies removed), and the clients its
    # authorization policies let through, unless edge.loadBalancerAuthorization is false (none: every client the
    # trust config validates).
    verdict_headers: Mapping[str, str] = field(default_factory=dict)
    allowed_clients: tuple[AllowedClient, ...] = ()


class Edge(pulumi.ComponentResource):
    ip_address: pulumi.Output[str]
    https_urls: list[str]
    trust_config_id: pulumi.Output[str]
    server_tls_policy_id: pulumi.Output[str]
    https_forwarding_rule_name: pulumi.Output[str]

    def __init__(self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-mtls:edge:Edge", name, None, opts)
        edge, trust = args.settings, args.trust
        child = pulumi.ResourceOptions(parent=self)
        # No fixed `name` on any child: Pulumi's auto-names let a replacement be created before the old one is
        # deleted, so a proxy is never left pointing at a deleted policy (resourceInUseByAnotherResource).

        # protect: DNS records point at this IP; losing it breaks every client until DNS is changed.
        address = gcp.compute.GlobalAddress(
            f"{name}-address",
            address_type="EXTERNAL",
            ip_version="IPV4",
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        certificate = gcp.compute.ManagedSslCertificate(
            f"{name}-certificate",
            type="MANAGED",
            managed={"domains": list(edge.domains)},
            opts=child,
        )
        ssl_policy = gcp.compute.SSLPolicy(
            f"{name}-ssl-policy",
            profile=edge.ssl_policy.profile,
            min_tls_version=edge.ssl_policy.min_tls_version,
            custom_features=list(edge.ssl_policy.custom_features) or None,
            opts=child,
        )
        trust_stores: list[Any] | None = (
            [
                {
                    "trust_anchors": [{"pem_certificate": f.pem} for f in trust.anchors],
                    "intermediate_cas": [{"pem_certificate": f.pem} for f in trust.intermediates],
                }
            ]
            if trust.anchors
            else None
        )
        trust_config = gcp.certificatemanager.TrustConfig(
            f"{name}-trust-config",
            location=LOCATION,
            description="Client CAs for frontend mTLS (gke-mtls)",
            trust_stores=trust_stores,
            allowlisted_certificates=[{"pem_certificate": f.pem} for f in trust.allowlisted] or None,
            opts=child,
        )
        server_tls_policy = gcp.networksecurity.ServerTlsPolicy(
            f"{name}-server-tls-policy",
            location=LOCATION,
            description="Client certificate validation (gke-mtls)",
            mtls_policy={
                "client_validation_mode": edge.client_validation,
                "client_validation_trust_config": trust_config.id,
            },
            opts=child,
        )
        url_map = gcp.compute.URLMap(
            f"{name}-url-map",
            description="Routes the mTLS edge to the GKE backend (gke-mtls)",
            default_service=args.backend_service,
            # Replace semantics: a client's own copy of a verdict header never reaches the backend.
            header_action=cast(Any, edge_headers.header_action(args.verdict_headers)) if args.verdict_headers else None,
            opts=child,
        )
        https_proxy = gcp.compute.TargetHttpsProxy(
            f"{name}-https-proxy",
            url_map=url_map.id,
            ssl_certificates=[certificate.id],
            ssl_policy=ssl_policy.id,
            server_tls_policy=server_tls_policy.id,
            opts=child,
        )
        https_rule = gcp.compute.GlobalForwardingRule(
            f"{name}-https-rule",
            target=https_proxy.id,
            ip_address=address.id,
            ip_protocol="TCP",
            port_range="443",
            load_balancing_scheme=args.scheme,
            opts=child,
        )
        clients = args.allowed_clients if edge.load_balancer_authorization is not False else ()
        if clients:
            pulumi.log.warn(f"{KEY}.loadBalancerAuthorization: {authorization.UNCONFIRMED}")
        elif args.allowed_clients:
            pulumi.log.info(f"{KEY}.loadBalancerAuthorization: {authorization.MESH_ONLY}")
        for i, rules in enumerate(authorization.policies(clients)):
            gcp.networksecurity.AuthzPolicy(
                f"{name}-allowed-clients" + (f"-{i + 1}" if i else ""),
                location=LOCATION,
                description="The clients the mTLS edge lets through, by certificate identity (gke-mtls)",
                action="ALLOW",
                target={"load_balancing_scheme": args.scheme, "resources": [https_rule.self_link]},
                http_rules=cast(Any, rules),
                opts=child,
            )
        if edge.https_redirect:
            redirect_map = gcp.compute.URLMap(
                f"{name}-redirect-url-map",
                description="Redirects plain HTTP to HTTPS (gke-mtls)",
                default_url_redirect={
                    "https_redirect": True,
                    "strip_query": False,
                    "redirect_response_code": "MOVED_PERMANENTLY_DEFAULT",
                },
                opts=child,
            )
            http_proxy = gcp.compute.TargetHttpProxy(f"{name}-http-proxy", url_map=redirect_map.id, opts=child)
            gcp.compute.GlobalForwardingRule(
                f"{name}-http-rule",
                target=http_proxy.id,
                ip_address=address.id,
                ip_protocol="TCP",
                port_range="80",
                load_balancing_scheme=args.scheme,
                opts=child,
            )

        self.ip_address = address.address
        self.https_urls = [f"https://{domain}/" for domain in edge.domains]
        self.trust_config_id = trust_config.id
        self.server_tls_policy_id = server_tls_policy.id
        self.https_forwarding_rule_name = https_rule.name
        self.register_outputs(
            {
                "ipAddress": self.ip_address,
                "httpsUrls": self.https_urls,
                "trustConfigId": self.trust_config_id,
                "serverTlsPolicyId": self.server_tls_policy_id,
                "httpsForwardingRuleName": self.https_forwarding_rule_name,
            }
        )


@dataclass(frozen=True)
class EdgeMonitoringArgs:
    stack: str
    forwarding_rule_name: pulumi.Output[str]
    alert: RejectedClientsAlert | None


class EdgeMonitoring(pulumi.ComponentResource):
    log_query: pulumi.Output[str]

    def __init__(self, name: str, args: EdgeMonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-mtls:edge:EdgeMonitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.log_query = args.forwarding_rule_name.apply(rejected_clients_filter)
        metric = gcp.logging.Metric(
            f"{name}-rejected-clients",
            name=metric_name(args.stack),
            description="Client certificates the gke-mtls edge rejected, by statusDetails",
            filter=self.log_query,
            metric_descriptor={
                "metric_kind": "DELTA",
                "value_type": "INT64",
                "unit": "1",
                "display_name": "Rejected client certificates",
                "labels": [{"key": METRIC_LABEL, "value_type": "STRING", "description": "GCP's statusDetails"}],
            },
            label_extractors={METRIC_LABEL: "EXTRACT(jsonPayload.statusDetails)"},
            # delete_before_replace: the API needs a fixed metric name, so a replacement cannot coexist with the old.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        if args.alert is not None:
            gcp.monitoring.AlertPolicy(
                f"{name}-rejected-clients-alert",
                display_name=f"gke-mtls {args.stack}: clients rejected at the mTLS edge",
                combiner="OR",
                conditions=[
                    {
                        "display_name": f"more than {args.alert.threshold} rejected client certificates",
                        "condition_threshold": {
                            "filter": metric.name.apply(alert_filter),
                            "comparison": "COMPARISON_GT",
                            "threshold_value": args.alert.threshold,
                            "duration": "0s",
                            # Summed over every reason: the threshold is on all rejections, not on each reason.
                            "aggregations": [
                                {
                                    "alignment_period": f"{args.alert.window_seconds}s",
                                    "per_series_aligner": "ALIGN_SUM",
                                    "cross_series_reducer": "REDUCE_SUM",
                                }
                            ],
                        },
                    }
                ],
                notification_channels=list(args.alert.notification_channels),
                documentation={
                    "content": "Clients are failing the edge's certificate check. `statusDetails` says why (for "
                    "example client_cert_chain_invalid_eku); check a client with `python -m mtls client`.",
                    "mime_type": "text/markdown",
                },
                opts=child,
            )
        self.register_outputs({"logQuery": self.log_query})
