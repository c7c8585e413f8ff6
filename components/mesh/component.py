"""The mesh: Istio PeerAuthentications, AuthorizationPolicies and DestinationRules for the cluster; and the alert on
plaintext reaching what a migration has enforced."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.core.manifest import Manifest
from components.mesh.analysis import migration
from components.mesh.settings import PlaintextAlert


@dataclass(frozen=True)
class MeshArgs:
    manifests: list[Manifest]  # analysed and ready: the mesh's own and the GKE side's guard


class Mesh(pulumi.ComponentResource):
    resources: dict[str, k8s.apiextensions.CustomResource]

    def __init__(self, name: str, args: MeshArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-mtls:mesh:Mesh", name, None, opts)
        # Children inherit the cluster provider passed in `opts.providers`.
        self.resources = {
            m.logical_name: k8s.apiextensions.CustomResource(
                m.logical_name,
                api_version=m.api_version,
                kind=m.kind,
                metadata=m.metadata,
                spec=m.spec,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for m in args.manifests
        }
        self.register_outputs({"resources": sorted(self.resources)})


@dataclass(frozen=True)
class MeshMonitoringArgs:
    stack: str
    enforced: list[migration.Target]  # the namespaces and workloads at `enforce`
    alert: PlaintextAlert


class MeshMonitoring(pulumi.ComponentResource):
    def __init__(self, name: str, args: MeshMonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-mtls:mesh:MeshMonitoring", name, None, opts)
        watched = ", ".join(t.name for t in args.enforced)
        self.alert_policy = gcp.monitoring.AlertPolicy(
            f"{name}-plaintext-alert",
            display_name=f"gke-mtls {args.stack}: plaintext reaching STRICT workloads",
            combiner="OR",
            conditions=[
                {
                    "display_name": f"plaintext requests or connections to {watched}",
                    "condition_prometheus_query_language": {
                        "query": migration.alert_query(args.enforced),
                        "duration": "0s",
                        "evaluation_interval": "60s",
                        # Istio's metrics reach Managed Service for Prometheus only once scraped: without this, an
                        # alert created before the first scrape is refused as naming an unknown metric.
                        "disable_metric_validation": True,
                    },
                }
            ],
            notification_channels=list(args.alert.notification_channels),
            documentation={
                "content": "Plaintext reached a namespace or workload that gke-mtls moved to STRICT: a PERMISSIVE "
                "exception or a mode changed outside the stack. Run `python -m mtls migration` for the query by "
                "source.",
                "mime_type": "text/markdown",
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"alertPolicy": self.alert_policy.name})
