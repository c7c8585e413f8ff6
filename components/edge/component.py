"""The edge's Pulumi side: the backend lookups, the edge's own backend on a standalone NEG (`NegBackend`), the mTLS
load balancer (`Edge`) and its rejected-client metric and alert (`EdgeMonitoring`). Each is global, or regional on a
regional external load balancer, as the capability table says (components/core/load_balancer.py).

trust config -> server TLS policy -> target HTTPS proxy <- URL map -> GKE's backend service (classic path)
certificate (map, or directly)    ->                               -> NegBackend's backend service (standalone NEG)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import pulumi
import pulumi_gcp as gcp

from components.core.edge_backend import AllowedClient
from components.core.load_balancer import CAPABILITIES, FRONT_END_RANGES, Capabilities, HeaderPlace, LoadBalancerType
from components.core.names import GCE_NAME
from components.edge import authorization, server_certificate, standalone_neg
from components.edge import headers as edge_headers
from components.edge.backend_service import BackendService, scheme_problem
from components.edge.certificates import TrustConfig
from components.edge.monitoring import METRIC_LABEL, alert_filter, metric_name, rejected_clients_filter
from components.edge.settings import (
    BACKEND_KEY,
    KEY,
    NEG_OUTPUTS,
    BackendSettings,
    EdgeSettings,
    RejectedClientsAlert,
    authorizes_clients,
    certificate_source,
    load_balancer_type,
    serves_compute_certificate,
)


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


async def check_certificate_switch(edge: EdgeSettings, stack: str) -> None:
    """Before a step of the switch from a Compute certificate makes the proxy serve the Certificate Manager
    certificate, that certificate must be ACTIVE: it is found by the stack's label, as created in step prepare."""
    step = edge.certificate.switch_from_compute if edge.certificate is not None else None
    if step is None or step == "prepare":
        return
    label = f'labels.{server_certificate.STACK_LABEL}="{server_certificate.stack_label(stack)}"'
    found = gcp.certificatemanager.get_certificates(filter=label)
    # A self-managed certificate has no managed state: it serves as uploaded.
    states = {
        str(c.name): str(c.manageds[0].state) if c.manageds else server_certificate.ACTIVE for c in found.certificates
    }
    if problem := server_certificate.switch_problem(step, states):
        raise pulumi.RunError(problem)


async def find_standalone_neg(backend: BackendSettings, edge: EdgeSettings) -> FoundNeg:
    """Reads the platform stack's NEG outputs, then the NEG in each zone and, for a regional load balancer, the
    proxy-only subnet; raises RunError naming the stack and output, or the key to change."""
    assert backend.stack is not None
    reference = pulumi.StackReference(backend.stack)
    outputs = {}
    for output in NEG_OUTPUTS:
        details = await reference.get_output_details(output)
        outputs[output] = details.value if details.value is not None else details.secret_value
    kind = load_balancer_type(edge, backend)
    try:
        neg = standalone_neg.from_outputs(backend.stack, outputs)
    except standalone_neg.NegOutputsError as exc:
        raise pulumi.RunError(str(exc)) from None
    if problem := standalone_neg.placement_problem(backend, edge, kind, neg):
        raise pulumi.RunError(problem)
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
    subnet = _proxy_only_subnet(backend, edge, neg) if kind is LoadBalancerType.REGIONAL_EXTERNAL else None
    return FoundNeg(neg, tuple(groups), kind, subnet)


def _proxy_only_subnet(
    backend: BackendSettings, edge: EdgeSettings, neg: standalone_neg.StandaloneNeg
) -> standalone_neg.ProxyOnlySubnet:
    """The active proxy-only subnet the settings name, found in edge.region (list calls fail on nothing: a subnet
    that is missing, of another purpose or in another region is told apart from the answers)."""
    assert edge.region is not None and backend.proxy_only_subnet is not None
    active = gcp.compute.get_subnetworks(region=edge.region, filter=standalone_neg.ACTIVE_PROXY_ONLY_FILTER)
    subnets = [
        standalone_neg.ProxyOnlySubnet(s.name, s.network, s.ip_cidr_range, s.self_link) for s in active.subnetworks
    ]
    same_name = []
    if not any(s.name == backend.proxy_only_subnet for s in subnets):
        named = gcp.compute.get_subnetworks(region=edge.region, filter=f'(name = "{backend.proxy_only_subnet}")')
        same_name = [s.name for s in named.subnetworks]
    found, problem = standalone_neg.proxy_only_subnet(backend, edge, neg, subnets, bool(same_name))
    if found is None:
        raise pulumi.RunError(problem)
    return found


@dataclass(frozen=True)
class FoundNeg:
    neg: standalone_neg.StandaloneNeg
    groups: tuple[str, ...]  # the NEG's self link in each zone
    load_balancer: LoadBalancerType
    proxy_only_subnet: standalone_neg.ProxyOnlySubnet | None = None  # regionalExternal


@dataclass(frozen=True)
class NegBackendArgs:
    settings: BackendSettings
    found: FoundNeg
    region: str | None = None  # regionalExternal


class NegBackend(pulumi.ComponentResource):
    """The edge's own backend service (EXTERNAL_MANAGED) on the platform stack's standalone NEG, with its health check
    and the firewall rule that lets the load balancer and its health checks reach the pods: global, or in the region
    of a regional external load balancer."""

    self_link: pulumi.Output[str]

    def __init__(self, name: str, args: NegBackendArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-mtls:edge:NegBackend", name, None, opts)
        settings, neg, region = args.settings, args.found.neg, args.region
        lb = CAPABILITIES[args.found.load_balancer]
        exported, probe = neg.backend, neg.backend.health_check
        child = pulumi.ResourceOptions(parent=self)
        probe_target: dict[str, Any] = (
            {"port_specification": "USE_FIXED_PORT", "port": probe.port}
            if probe.port is not None
            else {"port_specification": "USE_SERVING_PORT"}
        )
        probe_arguments: Any = {**probe_target, "request_path": probe.request_path}
        health_check_args: dict[str, Any] = {
            "description": f"Probes the pods of NEG {neg.name} (gke-mtls)",
            "check_interval_sec": probe.check_interval_sec,
            "timeout_sec": probe.timeout_sec,
            "healthy_threshold": probe.healthy_threshold,
            "unhealthy_threshold": probe.unhealthy_threshold,
            "http_health_check": probe_arguments if probe.type == "HTTP" else None,
            "https_health_check": probe_arguments if probe.type == "HTTPS" else None,
            "http2_health_check": probe_arguments if probe.type == "HTTP2" else None,
            "opts": child,
        }
        health_check = (
            gcp.compute.HealthCheck(f"{name}-health-check", **health_check_args)
            if region is None
            else gcp.compute.RegionHealthCheck(f"{name}-health-check", region=region, **health_check_args)
        )
        backend: Any = {"balancing_mode": "RATE", "max_rate_per_endpoint": settings.max_rate_per_endpoint}
        service_args: dict[str, Any] = {
            "description": f"The mTLS edge's backend: NEG {neg.name} (gke-mtls)",
            "load_balancing_scheme": lb.scheme.value,
            # The pods speak what their probe speaks: plain HTTP, or TLS (HTTPS, and HTTP/2 over TLS).
            "protocol": probe.type,
            "health_checks": health_check.id,
            "log_config": {"enable": True, "sample_rate": exported.log_sample_rate},
            "opts": child,
        }
        service: gcp.compute.BackendService | gcp.compute.RegionBackendService
        if region is None:
            service = gcp.compute.BackendService(
                f"{name}-backend-service",
                backends=[{"group": group, **backend} for group in args.found.groups],
                # Where Google documents the verdict headers for the global types, and they overwrite a client's
                # copy. Sorted: a stack output's keys come back in any order, and a reordered list is a change.
                custom_request_headers=[f"{header}:{value}" for header, value in sorted(exported.headers.items())],
                **service_args,
            )
        else:
            # A regional backend service of scheme EXTERNAL_MANAGED needs capacityScaler, "required for
            # non-INTERNAL backend service" (pulumi-gcp RegionBackendService); its headers are the URL map's.
            service = gcp.compute.RegionBackendService(
                f"{name}-backend-service",
                region=region,
                backends=[{"group": group, **backend, "capacity_scaler": 1.0} for group in args.found.groups],
                **service_args,
            )
        subnet = args.found.proxy_only_subnet
        sources = [subnet.ip_cidr_range, *lb.health_check_ranges.value] if subnet else list(FRONT_END_RANGES)
        ports = sorted({exported.port, probe.port or exported.port})
        gcp.compute.Firewall(
            f"{name}-firewall",
            description=f"Google's load balancer and health checks to the pods of NEG {neg.name} (gke-mtls)",
            network=settings.network,
            direction="INGRESS",
            source_ranges=sources,
            allows=[{"protocol": "tcp", "ports": [str(port) for port in ports]}],
            target_tags=list(settings.node_tags) or None,
            opts=child,
        )
        self.self_link = service.self_link
        self.register_outputs({"selfLink": self.self_link})


MANAGED_SCHEME = "EXTERNAL_MANAGED"


@dataclass(frozen=True)
class EdgeArgs:
    settings: EdgeSettings
    trust: TrustConfig  # the certificates of edge.trustAnchors, intermediateCas and allowlistedCertificates
    backend_service: pulumi.Input[str]  # its self link
    scheme: str  # the backend service's: EXTERNAL (GKE Ingress path) or EXTERNAL_MANAGED (standalone-NEG path)
    load_balancer: LoadBalancerType = LoadBalancerType.CLASSIC
    network: str | None = None  # regionalExternal: the self link of the network its forwarding rules are in
    stack: str = ""  # the stack's name, in the label that finds its Certificate Manager certificate again
    self_managed: server_certificate.SelfManagedCertificate | None = None  # certificate.source selfManaged
    # Standalone-NEG path: the verdict headers, which a regional URL map sets (the global types set them on the
    # backend service), and the clients the load balancer lets through where Google documents principals for it and
    # edge.loadBalancerAuthorization is not false (none: every client the trust config validates).
    verdict_headers: Mapping[str, str] = field(default_factory=dict)
    allowed_clients: tuple[AllowedClient, ...] = ()


class Edge(pulumi.ComponentResource):
    """The mTLS frontend: address, certificate, SSL policy, trust config, server TLS policy, URL map, target HTTPS proxy
    and forwarding rules, global or in edge.region, as Google documents them for the edge's load balancer type
    (components/core/load_balancer.py)."""

    ip_address: pulumi.Output[str]
    https_urls: list[str]
    trust_config_id: pulumi.Output[str]
    server_tls_policy_id: pulumi.Output[str]
    https_forwarding_rule_name: pulumi.Output[str]
    dns_records: pulumi.Output[list[dict[str, str]]] | None

    def __init__(self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-mtls:edge:Edge", name, None, opts)
        edge, trust = args.settings, args.trust
        lb = CAPABILITIES[args.load_balancer]
        region = edge.region if lb.regional.value else None
        location = region or "global"
        child = pulumi.ResourceOptions(parent=self)
        # No fixed `name` on any child: Pulumi's auto-names let a replacement be created before the old one is
        # deleted, so a proxy is never left pointing at a deleted policy (resourceInUseByAnotherResource).

        # protect: DNS records point at this IP; losing it breaks every client until DNS is changed.
        protected = pulumi.ResourceOptions(parent=self, protect=True)
        address: gcp.compute.GlobalAddress | gcp.compute.Address
        if region is None:
            address = gcp.compute.GlobalAddress(
                f"{name}-address", address_type="EXTERNAL", ip_version="IPV4", opts=protected
            )
        else:
            address = gcp.compute.Address(
                f"{name}-address",
                region=region,
                address_type="EXTERNAL",
                network_tier=edge.network_tier,
                opts=protected,
            )
        certificates = _server_certificate(name, args, lb, region, child)
        ssl_policy_args: dict[str, Any] = {
            "profile": edge.ssl_policy.profile,
            "min_tls_version": edge.ssl_policy.min_tls_version,
            "custom_features": list(edge.ssl_policy.custom_features) or None,
            "opts": child,
        }
        ssl_policy = (
            gcp.compute.SSLPolicy(f"{name}-ssl-policy", **ssl_policy_args)
            if region is None
            else gcp.compute.RegionSslPolicy(f"{name}-ssl-policy", region=region, **ssl_policy_args)
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
            location=location,
            description="Client CAs for frontend mTLS (gke-mtls)",
            trust_stores=trust_stores,
            allowlisted_certificates=[{"pem_certificate": f.pem} for f in trust.allowlisted] or None,
            opts=child,
        )
        server_tls_policy = gcp.networksecurity.ServerTlsPolicy(
            f"{name}-server-tls-policy",
            location=location,
            description="Client certificate validation (gke-mtls)",
            mtls_policy={
                "client_validation_mode": edge.client_validation,
                "client_validation_trust_config": trust_config.id,
            },
            opts=child,
        )
        # Where Google documents the verdict headers in the URL map, a client's own copies are removed and ours set
        # with replace: true; elsewhere they are the backend service's, which overwrite a client's copy.
        in_url_map = lb.verdict_headers.value is HeaderPlace.URL_MAP and args.verdict_headers
        url_map_args: dict[str, Any] = {
            "description": "Routes the mTLS edge to the GKE backend (gke-mtls)",
            "default_service": args.backend_service,
            "header_action": cast(Any, edge_headers.header_action(args.verdict_headers)) if in_url_map else None,
            "opts": child,
        }
        url_map = (
            gcp.compute.URLMap(f"{name}-url-map", **url_map_args)
            if region is None
            else gcp.compute.RegionUrlMap(f"{name}-url-map", region=region, **url_map_args)
        )
        https_proxy_args: dict[str, Any] = {
            "url_map": url_map.id,
            **certificates.proxy_arguments,
            "ssl_policy": ssl_policy.id,
            "server_tls_policy": server_tls_policy.id,
            "opts": child,
        }
        https_proxy = (
            gcp.compute.TargetHttpsProxy(f"{name}-https-proxy", **https_proxy_args)
            if region is None
            else gcp.compute.RegionTargetHttpsProxy(f"{name}-https-proxy", region=region, **https_proxy_args)
        )
        https_rule = _forwarding_rule(f"{name}-https-rule", https_proxy.id, "443", address, args, region, child)
        clients = args.allowed_clients if authorizes_clients(edge, lb) else ()
        if args.allowed_clients and not clients:
            explicitly_off = edge.load_balancer_authorization is False
            pulumi.log.info(f"{KEY}.loadBalancerAuthorization: {authorization.mesh_only(lb, explicitly_off)}")
        for i, rules in enumerate(authorization.policies(clients)):
            gcp.networksecurity.AuthzPolicy(
                f"{name}-allowed-clients" + (f"-{i + 1}" if i else ""),
                location=location,
                description="The clients the mTLS edge lets through, by certificate identity (gke-mtls)",
                action="ALLOW",
                target={"load_balancing_scheme": args.scheme, "resources": [https_rule.self_link]},
                http_rules=cast(Any, rules),
                opts=child,
            )
        if edge.https_redirect:
            redirect_args: dict[str, Any] = {
                "description": "Redirects plain HTTP to HTTPS (gke-mtls)",
                "default_url_redirect": {
                    "https_redirect": True,
                    "strip_query": False,
                    "redirect_response_code": "MOVED_PERMANENTLY_DEFAULT",
                },
                "opts": child,
            }
            redirect_map = (
                gcp.compute.URLMap(f"{name}-redirect-url-map", **redirect_args)
                if region is None
                else gcp.compute.RegionUrlMap(f"{name}-redirect-url-map", region=region, **redirect_args)
            )
            http_proxy = (
                gcp.compute.TargetHttpProxy(f"{name}-http-proxy", url_map=redirect_map.id, opts=child)
                if region is None
                else gcp.compute.RegionTargetHttpProxy(
                    f"{name}-http-proxy", region=region, url_map=redirect_map.id, opts=child
                )
            )
            _forwarding_rule(f"{name}-http-rule", http_proxy.id, "80", address, args, region, child)

        self.ip_address = address.address
        self.https_urls = [f"https://{d}/" for d in edge.domains if not d.startswith(server_certificate.WILDCARD)]
        self.dns_records = certificates.dns_records
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
                "dnsAuthorizationRecords": self.dns_records,
            }
        )


def _forwarding_rule(
    name: str,
    target: pulumi.Input[str],
    port: str,
    address: gcp.compute.GlobalAddress | gcp.compute.Address,
    args: EdgeArgs,
    region: str | None,
    opts: pulumi.ResourceOptions,
) -> gcp.compute.GlobalForwardingRule | gcp.compute.ForwardingRule:
    if region is None:
        return gcp.compute.GlobalForwardingRule(
            name,
            target=target,
            ip_address=address.id,
            ip_protocol="TCP",
            port_range=port,
            load_balancing_scheme=args.scheme,
            opts=opts,
        )
    # A regional external load balancer's rule names the network of its proxy-only subnet, and takes the address's
    # tier (compute v1 ForwardingRule: "If IPAddress is specified, this value must be equal to the networkTier of the
    # Address").
    return gcp.compute.ForwardingRule(
        name,
        region=region,
        target=target,
        ip_address=address.address,
        ip_protocol="TCP",
        port_range=port,
        load_balancing_scheme=args.scheme,
        network=args.network,
        network_tier=args.settings.network_tier,
        opts=opts,
    )


@dataclass(frozen=True)
class _ServerCertificate:
    proxy_arguments: dict[str, Any]  # what the target HTTPS proxy takes
    dns_records: pulumi.Output[list[dict[str, str]]] | None  # what each DNS authorization asks to be created


def _server_certificate(
    name: str, args: EdgeArgs, lb: Capabilities, region: str | None, opts: pulumi.ResourceOptions
) -> _ServerCertificate:
    """The edge's certificate, as Google documents it for the load balancer: a Compute managed one, or Certificate
    Manager's, through a map on the global types and directly on the regional one; during the switch from the
    Compute one, both (a proxy with a map serves the map's certificates)."""
    edge = args.settings
    source = certificate_source(edge, lb)
    switch = edge.certificate.switch_from_compute if edge.certificate is not None else None
    proxy: dict[str, Any] = {}
    if serves_compute_certificate(edge, lb):
        compute_certificate = gcp.compute.ManagedSslCertificate(
            f"{name}-certificate",
            type="MANAGED",
            managed={"domains": list(edge.domains)},
            opts=opts,
        )
        proxy["ssl_certificates"] = [compute_certificate.id]
    if source == "computeManaged":
        return _ServerCertificate(proxy, None)
    location = region or "global"
    labels = {server_certificate.STACK_LABEL: server_certificate.stack_label(args.stack)}
    dns_records: pulumi.Output[list[dict[str, str]]] | None = None
    if source == "dnsAuthorization":
        kind = edge.certificate.dns_authorization_type if edge.certificate is not None else None
        domains = server_certificate.authorized_domains(edge.domains)
        authorizations = [
            gcp.certificatemanager.DnsAuthorization(
                f"{name}-dns-auth-{server_certificate.name_part(domain)}",
                location=location,
                domain=domain,
                type=kind,
                description=f"Authorizes the mTLS edge's certificate for {domain} (gke-mtls)",
                opts=opts,
            )
            for domain in domains
        ]
        managed: Any = {"domains": list(edge.domains), "dns_authorizations": [a.id for a in authorizations]}
        certificate = gcp.certificatemanager.Certificate(
            f"{name}-certificate",
            location=location,
            description="The mTLS edge's server certificate (gke-mtls)",
            labels=labels,
            managed=managed,
            opts=opts,
        )
        dns_records = pulumi.Output.all(*[a.dns_resource_records for a in authorizations]).apply(
            lambda records: [
                {"domain": domain, "name": r["name"], "type": r["type"], "data": r["data"]}
                for domain, rs in zip(domains, records, strict=True)
                for r in (rs or [])
            ]
        )
    else:
        files = args.self_managed
        assert files is not None  # the settings refuse selfManaged without its files
        certificate = gcp.certificatemanager.Certificate(
            f"{name}-certificate",
            location=location,
            description="The mTLS edge's server certificate (gke-mtls)",
            labels=labels,
            self_managed={
                "pem_certificate": files.chain_pem,
                "pem_private_key": pulumi.Output.secret(files.private_key_pem),
            },
            opts=opts,
        )
    if region is not None:
        proxy["certificate_manager_certificates"] = [certificate.id]
        return _ServerCertificate(proxy, dns_records)
    certificate_map = gcp.certificatemanager.CertificateMap(
        f"{name}-certificate-map",
        description="The mTLS edge's certificates by host name (gke-mtls)",
        labels=labels,
        opts=opts,
    )
    for domain in edge.domains:
        gcp.certificatemanager.CertificateMapEntry(
            f"{name}-map-entry-{server_certificate.name_part(domain)}",
            map=certificate_map.name,
            hostname=domain,
            certificates=[certificate.id],
            description=f"Serves the mTLS edge's certificate for {domain} (gke-mtls)",
            opts=opts,
        )
    if switch != "prepare":  # prepare makes the certificate and map, and leaves the proxy as it is
        proxy["certificate_map"] = certificate_map.id.apply(
            lambda map_id: f"//certificatemanager.googleapis.com/{map_id}"
        )
    return _ServerCertificate(proxy, dns_records)


@dataclass(frozen=True)
class EdgeMonitoringArgs:
    stack: str
    forwarding_rule_name: pulumi.Output[str]
    alert: RejectedClientsAlert | None
    regional: bool = False  # a regional external load balancer, which logs under a resource type of its own


class EdgeMonitoring(pulumi.ComponentResource):
    log_query: pulumi.Output[str]

    def __init__(self, name: str, args: EdgeMonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-mtls:edge:EdgeMonitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.log_query = args.forwarding_rule_name.apply(lambda rule: rejected_clients_filter(rule, args.regional))
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
                            "filter": metric.name.apply(lambda metric: alert_filter(metric, args.regional)),
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
