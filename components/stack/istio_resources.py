"""Every Istio resource a stack applies, and the callers the analysis checks them against: the mesh's own, the
rule that lets the edge's load balancer in, and the edge guard of the GKE backend when asked for."""

from __future__ import annotations

from components.core.edge_backend import CHAIN_VERIFIED
from components.core.findings import Finding
from components.core.manifest import Manifest
from components.gke import objects as gke_backend
from components.gke import settings as gke_settings
from components.mesh.analysis import callers as mesh_callers
from components.mesh.analysis.transport import Arrival, MeshView
from components.mesh.interchange.istio_objects import IstioObject, from_manifests
from components.mesh.rendering.manifests import declared, manifests
from components.stack.settings import StackSettings


def load_balancer_facts(settings: StackSettings) -> mesh_callers.LoadBalancerFacts:
    gke = settings.gke_backend
    if gke is None:
        return mesh_callers.LoadBalancerFacts()
    probe = gke.health_check
    clients = tuple(
        mesh_callers.EdgeClient(client, header, f"{gke_settings.KEY}.allowedClients[{i}]")
        for i, client in enumerate(gke.allowed_clients)
        if (header := gke.header_for(client.variable)) is not None
    )
    return mesh_callers.LoadBalancerFacts(
        verified_header=gke.header_for(CHAIN_VERIFIED),
        health_check_port=probe.port or gke.container_port,
        health_check_path=probe.request_path if probe.type == "HTTP" else None,  # HTTPS and HTTP/2 are TLS
        clients=clients,
        clients_key=f"{gke_settings.KEY}.allowedClients",
        request_ranges=gke.load_balancer_ranges,
    )


def for_stack(settings: StackSettings) -> list[Manifest]:
    mesh = settings.mesh
    if mesh is None:
        return []
    found = manifests(mesh)
    if settings.gke_backend is not None and settings.gke_backend.mesh_guard:
        found.append(gke_backend.mesh_guard(settings.gke_backend))
    facts = load_balancer_facts(settings)
    covering = from_manifests(m for m in found if mesh_callers.may_cover_backend(mesh, m))
    if facts.clients or mesh_callers.needs_admission(mesh, covering):  # a list of clients is an ALLOW policy itself
        found.append(mesh_callers.admission(mesh, facts))
    return found


def objects(settings: StackSettings) -> list[IstioObject]:
    """What the analysis reads of a stack: the objects it applies, then what its settings only declare."""
    if settings.mesh is None:
        return []
    return from_manifests(for_stack(settings)) + declared(settings.mesh)


def callers(settings: StackSettings) -> list[mesh_callers.Caller]:
    if settings.mesh is None:
        return []
    return [
        *mesh_callers.load_balancer(settings.mesh, load_balancer_facts(settings)),
        *mesh_callers.declared(settings.mesh),
    ]


def arrivals(settings: StackSettings) -> list[Arrival]:
    """What reaches each port the stack's callers call, as Istio decides it."""
    if settings.mesh is None:
        return []
    return MeshView(objects(settings), settings.mesh.root_namespace).arrivals(callers(settings))


def allowed_client_findings(settings: StackSettings, objects: list[IstioObject]) -> list[Finding]:
    """The allowed clients against every policy the stack applies; `objects` are those policies."""
    mesh = settings.mesh
    if mesh is None:
        return []
    admission = ("AuthorizationPolicy", mesh_callers.ADMISSION_NAME, mesh.edge_backend and mesh.edge_backend.namespace)
    others = [o for o in objects if (o.kind, o.name, o.namespace) != admission]
    covered_before = mesh_callers.needs_admission(mesh, others)
    return mesh_callers.allowed_client_findings(mesh, load_balancer_facts(settings), objects, covered_before)
