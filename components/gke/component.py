"""The GKE side's Pulumi part: the explicit provider of the cluster, and `GkeBackend` (BackendConfig, NEG-enabled
Service and the anchor Ingress that make GKE's Ingress controller create the backend service the edge fronts, and
keep it in step)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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
    """The GKE Ingress path: GKE's controller makes the backend service, for a classic (EXTERNAL) edge."""

    backend_service_name: pulumi.Output[str]

    def __init__(self, name: str, args: GkeBackendArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-mtls:gke:GkeBackend", name, None, opts)
        s = args.settings
        # Children inherit the cluster provider passed in `opts.providers`.
        backend_config = k8s.apiextensions.CustomResource(
            f"{name}-backend-config",
            api_version="cloud.google.com/v1",
            kind="BackendConfig",
            metadata={"name": s.backend_config_name, "namespace": s.namespace},
            spec=objects.backend_config_spec(s),
            opts=pulumi.ResourceOptions(parent=self),
        )
        service = _service(self, name, s, after=[backend_config])
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


class StandaloneNeg(pulumi.ComponentResource):
    """The standalone-NEG path: the Service gets a named NEG, which the edge stack puts behind a backend service of
    its own (EXTERNAL_MANAGED). Exports the NEG, its zones, and what that backend service is built from."""

    neg_zones: pulumi.Output[list[str]]

    def __init__(self, name: str, args: GkeBackendArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-mtls:gke:StandaloneNeg", name, None, opts)
        s = args.settings
        assert s.standalone_neg is not None
        service = _service(self, name, s, after=[])
        self.neg_name = s.standalone_neg
        self.neg_zones = service.metadata.apply(lambda metadata: _zones_or_pending(metadata, s))
        self.neg_backend = objects.neg_backend(s)
        self.register_outputs({"negName": self.neg_name, "negZones": self.neg_zones, "negBackend": self.neg_backend})


def _service(
    parent: pulumi.Resource, name: str, s: GkeBackendSettings, after: list[pulumi.Resource]
) -> k8s.core.v1.Service | k8s.core.v1.ServicePatch:
    # Plain dicts (checked against Kubernetes' schemas in the tests), not the SDK's TypedDicts.
    metadata: Any = {
        "name": s.service,
        "namespace": s.namespace,
        "annotations": objects.service_annotations(s),
    }
    opts = pulumi.ResourceOptions(parent=parent, depends_on=after)
    if s.create_service:
        return k8s.core.v1.Service(
            f"{name}-service", metadata=metadata, spec=cast(Any, objects.service_spec(s)), opts=opts
        )
    # Server-side apply patch: only our annotations change on the application's own Service.
    return k8s.core.v1.ServicePatch(f"{name}-service", metadata=metadata, opts=opts)


def _zones_or_pending(metadata: dict | None, s: GkeBackendSettings) -> list[str]:
    zones = objects.neg_zones((metadata or {}).get("annotations"), s)
    if not zones:
        pulumi.log.warn(objects.neg_pending_message(s))
    return zones


def _name_or_pending(service_metadata: dict | None, anchor_metadata: dict | None, s: GkeBackendSettings) -> str:
    annotations = lambda metadata: (metadata or {}).get("annotations")  # noqa: E731
    name = objects.backend_service_name(annotations(service_metadata), annotations(anchor_metadata), s)
    if name is None:
        pulumi.log.warn(objects.pending_message(s))
        return objects.pending_message(s)
    return name


async def check_service_port(
    s: GkeBackendSettings, opts: pulumi.ResourceOptions, resolve: Callable[[pulumi.Output[Any]], Awaitable[Any]]
) -> None:
    """An existing Service must expose the port its standalone NEG is for: the NEG of a port it lacks never gets an
    endpoint. Read (and `resolve`d) before anything registers, so a wrong port stops the run with nothing half made."""
    if s.create_service:
        return
    existing = k8s.core.v1.Service.get(f"{s.namespace}-{s.service}-existing", f"{s.namespace}/{s.service}", opts=opts)
    try:
        spec = await resolve(existing.spec)
    except Exception as exc:  # the provider's own failure: no such Service, no permission, no cluster
        # Logged as well: the SDK ends the run with the provider's own error, which names no key.
        message = objects.service_unreadable_message(s, exc)
        pulumi.log.error(message)
        raise pulumi.RunError(message) from None
    ports = [{"port": p.port, "targetPort": p.target_port} for p in (getattr(spec, "ports", None) or [])]
    problem = objects.service_port_problem({"ports": ports}, s)
    if problem is not None:
        raise pulumi.RunError(problem)
    if unchecked := objects.named_target_port(ports, s):
        pulumi.log.warn(unchecked)


def cluster_provider(cluster: ClusterSettings) -> k8s.Provider:
    """Every in-cluster resource goes through this provider, never the ambient default one."""
    return k8s.Provider(
        "cluster",
        kubeconfig=cluster.kubeconfig,
        context=cluster.context,
    )
