"""The GKE side's Pulumi part: the explicit provider of the cluster, and `GkeBackend` (BackendConfig, NEG-enabled
Service and the anchor Ingress that make GKE's Ingress controller create the backend service the edge fronts, and
keep it in step)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from components.gke import objects
from components.gke.settings import ClusterSettings, GkeBackendSettings


@dataclass(frozen=True)
class GkeBackendArgs:
    settings: GkeBackendSettings


class GkeBackend(pulumi.ComponentResource):
    backend_service_name: pulumi.Output[str]

    def __init__(self, name: str, args: GkeBackendArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-mtls:gke:GkeBackend", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        # Children inherit the cluster provider passed in `opts.providers`.
        backend_config = k8s.apiextensions.CustomResource(
            f"{name}-backend-config",
            api_version="cloud.google.com/v1",
            kind="BackendConfig",
            metadata={"name": s.backend_config_name, "namespace": s.namespace},
            spec=objects.backend_config_spec(s),
            opts=child,
        )
        # Plain dicts (checked against Kubernetes' schemas in the tests), not the SDK's TypedDicts.
        metadata: Any = {
            "name": s.service,
            "namespace": s.namespace,
            "annotations": objects.service_annotations(s),
        }
        service: k8s.core.v1.Service | k8s.core.v1.ServicePatch
        if s.create_service:
            service = k8s.core.v1.Service(
                f"{name}-service",
                metadata=metadata,
                spec=cast(Any, objects.service_spec(s)),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[backend_config]),
            )
        else:
            # Server-side apply patch: only our two annotations change on the application's own Service.
            service = k8s.core.v1.ServicePatch(
                f"{name}-service",
                metadata=metadata,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[backend_config]),
            )
        anchor_metadata: Any = {
            "name": s.anchor_name,
            "namespace": s.namespace,
            "annotations": objects.anchor_annotations(),
        }
        anchor = k8s.networking.v1.Ingress(
            f"{name}-anchor",
            metadata=anchor_metadata,
            spec=cast(Any, objects.anchor_spec(s)),
            # protect: without the anchor GKE stops syncing the backend service the edge routes to (its delete fails
            # as in use and ingress-gce ignores that), so its NEG endpoints go stale as pods move: an outage.
            opts=pulumi.ResourceOptions(parent=self, protect=True, depends_on=[service]),
        )
        self.backend_service_name = pulumi.Output.all(service.metadata, anchor.metadata).apply(
            lambda both: _name_or_pending(both[0], both[1], s)
        )
        self.register_outputs({"backendServiceName": self.backend_service_name})


def _name_or_pending(service_metadata: dict | None, anchor_metadata: dict | None, s: GkeBackendSettings) -> str:
    annotations = lambda metadata: (metadata or {}).get("annotations")  # noqa: E731
    name = objects.backend_service_name(annotations(service_metadata), annotations(anchor_metadata), s)
    if name is None:
        pulumi.log.warn(objects.pending_message(s))
        return objects.pending_message(s)
    return name


def cluster_provider(cluster: ClusterSettings) -> k8s.Provider:
    """Every in-cluster resource goes through this provider, never the ambient default one."""
    return k8s.Provider(
        "cluster",
        kubeconfig=cluster.kubeconfig,
        context=cluster.context,
    )
