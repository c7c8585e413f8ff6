"""Every Istio resource a stack applies: the mesh's own, plus the edge guard of the GKE backend when asked for."""

from __future__ import annotations

from components.core.manifest import Manifest
from components.gke import objects as gke_backend
from components.mesh.manifests import manifests
from components.stack.settings import StackSettings


def for_stack(settings: StackSettings) -> list[Manifest]:
    if settings.mesh is None:
        return []
    found = manifests(settings.mesh)
    if settings.gke_backend is not None and settings.gke_backend.mesh_guard:
        found.append(gke_backend.mesh_guard(settings.gke_backend))
    return found
