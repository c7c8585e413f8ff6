"""gke-mtls: mutual TLS for a GKE application, at the Google Cloud edge and in the Istio mesh.

    stack config -> typed settings -> preflight -> components -> stack outputs

Nothing is registered until the settings pass preflight and the backend service has been found.
"""

from pathlib import Path

import pulumi

from components.core.load_balancer import LoadBalancerType
from components.edge.component import (
    MANAGED_SCHEME,
    Edge,
    EdgeArgs,
    EdgeMonitoring,
    EdgeMonitoringArgs,
    NegBackend,
    NegBackendArgs,
    check_certificate_switch,
    find_backend_service,
    find_standalone_neg,
)
from components.gke.component import GkeBackend, GkeBackendArgs, StandaloneNeg, check_service_port, cluster_provider
from components.mesh.analysis import migration
from components.mesh.component import Mesh, MeshArgs, MeshMonitoring, MeshMonitoringArgs
from components.stack import engine as stack
from components.stack import istio_resources

PROJECT_ROOT = Path(__file__).resolve().parent


async def main() -> dict:
    settings = stack.load_settings(PROJECT_ROOT)  # every finding at once; errors stop here
    outputs: dict = {}
    if settings.edge is not None and settings.trust is not None and settings.backend is not None:
        await check_certificate_switch(settings.edge, pulumi.get_stack())  # the new certificate is ACTIVE first
        if settings.backend.source == "standaloneNeg":  # our own EXTERNAL_MANAGED backend service on the NEG
            found = await find_standalone_neg(settings.backend, settings.edge)
            subnet = found.proxy_only_subnet  # a regional external load balancer's
            region = settings.edge.region if subnet is not None else None
            neg_backend = NegBackend("edge-backend", NegBackendArgs(settings.backend, found, region))
            exported = found.neg.backend
            edge_args = EdgeArgs(
                settings.edge,
                settings.trust,
                neg_backend.self_link,
                MANAGED_SCHEME,
                load_balancer=found.load_balancer,
                network=subnet.network if subnet is not None else None,
                stack=pulumi.get_stack(),
                self_managed=settings.server_certificate,
                verdict_headers=exported.headers,
                allowed_clients=exported.allowed_clients,
            )
            outputs["backendServiceSelfLink"] = neg_backend.self_link
        else:  # the classic backend service GKE's Ingress controller made
            backend = await find_backend_service(settings.backend)
            edge_args = EdgeArgs(
                settings.edge,
                settings.trust,
                backend.self_link,
                backend.load_balancing_scheme,
                stack=pulumi.get_stack(),
                self_managed=settings.server_certificate,
            )
            outputs["backendServiceSelfLink"] = backend.self_link
        edge = Edge("edge", edge_args)
        monitoring = EdgeMonitoring(
            "edge-monitoring",
            EdgeMonitoringArgs(
                pulumi.get_stack(),
                edge.https_forwarding_rule_name,
                settings.edge.rejected_clients_alert,
                regional=edge_args.load_balancer is LoadBalancerType.REGIONAL_EXTERNAL,
            ),
        )
        outputs |= {
            "ipAddress": edge.ip_address,
            "httpsUrls": edge.https_urls,
            "trustConfigId": edge.trust_config_id,
            "serverTlsPolicyId": edge.server_tls_policy_id,
            "httpsForwardingRuleName": edge.https_forwarding_rule_name,
            "rejectedClientsLogQuery": monitoring.log_query,
        }
        if edge.dns_records is not None:  # the records to create for a Google-managed Certificate Manager certificate
            outputs["dnsAuthorizationRecords"] = edge.dns_records
    if settings.cluster is not None:
        in_cluster = pulumi.ResourceOptions(providers=[cluster_provider(settings.cluster)])
        if settings.gke_backend is not None and settings.gke_backend.standalone_neg is not None:
            await check_service_port(settings.gke_backend, in_cluster, stack.resolved)
            neg = StandaloneNeg("gke-backend", GkeBackendArgs(settings.gke_backend), in_cluster)
            # what an edge stack with backend.source standaloneNeg reads
            outputs |= {"negName": neg.neg_name, "negZones": neg.neg_zones, "negBackend": neg.neg_backend}
        elif settings.gke_backend is not None:
            anchor = GkeBackend("gke-backend", GkeBackendArgs(settings.gke_backend), in_cluster)
            outputs["backendServiceName"] = anchor.backend_service_name  # what an edge stack's backend.stack reads
        if settings.mesh is not None:
            istio = Mesh("mesh", MeshArgs(istio_resources.for_stack(settings)), in_cluster)
            outputs["meshResources"] = sorted(istio.resources)
            if migrating := migration.targets(settings.mesh):  # who still sends plaintext there
                project = pulumi.Config("gcp").get("project") or "PROJECT_ID"
                outputs["plaintextQuery"] = migration.promql(migrating)
                outputs["plaintextLogFilter"] = migration.log_filter(migrating, project)
            if settings.mesh.plaintext_alert is not None:
                enforced = [t for t in migrating if t.stage == "enforce"]
                MeshMonitoring(
                    "mesh-monitoring", MeshMonitoringArgs(pulumi.get_stack(), enforced, settings.mesh.plaintext_alert)
                )
    return outputs


pulumi.run(main)
