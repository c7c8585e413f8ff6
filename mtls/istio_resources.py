"""Every Istio resource a stack applies: the mesh's own, plus the edge guard of the GKE backend when asked for."""

from __future__ import annotations

from mtls import gke_backend, mesh
from mtls.settings import StackSettings


def for_stack(settings: StackSettings) -> list[mesh.Manifest]:
    if settings.mesh is None:
        return []
    found = mesh.manifests(settings.mesh)
    if settings.gke_backend is not None and settings.gke_backend.mesh_guard:
        found.append(gke_backend.mesh_guard(settings.gke_backend))
    return found
