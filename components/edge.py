"""The edge: an external Application Load Balancer that validates client certificates (frontend mTLS).

trust config -> server TLS policy -> target HTTPS proxy <- URL map -> GKE backend service
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp

from mtls.backend_service import BackendService
from mtls.settings import EdgeSettings

# Trust config and server TLS policy live in "global" for global external and classic load balancers.
LOCATION = "global"


@dataclass(frozen=True)
class EdgeArgs:
    settings: EdgeSettings
    backend: BackendService


class Edge(pulumi.ComponentResource):
    ip_address: pulumi.Output[str]
    https_urls: list[str]
    trust_config_id: pulumi.Output[str]
    server_tls_policy_id: pulumi.Output[str]
    https_forwarding_rule_name: pulumi.Output[str]

    def __init__(self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-mtls:edge:Edge", name, None, opts)
        edge, backend = args.settings, args.backend
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
                    "trust_anchors": [{"pem_certificate": f.pem} for f in edge.trust_anchors],
                    "intermediate_cas": [{"pem_certificate": f.pem} for f in edge.intermediate_cas],
                }
            ]
            if edge.trust_anchors
            else None
        )
        trust_config = gcp.certificatemanager.TrustConfig(
            f"{name}-trust-config",
            location=LOCATION,
            description="Client CAs for frontend mTLS (gke-mtls)",
            trust_stores=trust_stores,
            allowlisted_certificates=[{"pem_certificate": f.pem} for f in edge.allowlisted_certificates] or None,
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
            default_service=backend.self_link,
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
            load_balancing_scheme=backend.load_balancing_scheme,
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
                load_balancing_scheme=backend.load_balancing_scheme,
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
