"""Effective mTLS modes, resolved the way istiod composes PeerAuthentications: port over workload over namespace
over mesh, UNSET inheriting, and PERMISSIVE where nothing is set."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from components.mesh.settings import MeshSettings, WorkloadPolicy, workload_key


class EffectiveModes:
    """Indexed by namespace, so resolving one workload does not scan the mesh."""

    def __init__(self, mesh: MeshSettings):
        self.mesh_mode = mesh.mode
        self.namespace_mode: dict[str, str] = {}
        self.workloads: dict[str, list[tuple[str, WorkloadPolicy]]] = defaultdict(list)
        for ns, mode in mesh.namespaces.items():
            self.namespace_mode.setdefault(ns, mode)
        for i, w in enumerate(mesh.workloads):
            if w.selector:
                self.workloads[w.namespace].append((workload_key(i), w))
            else:
                self.namespace_mode.setdefault(w.namespace, w.mode)

    def base(self, namespace: str) -> str:
        mode = self.namespace_mode.get(namespace, "UNSET")
        if mode == "UNSET":
            mode = self.mesh_mode
        return "PERMISSIVE" if mode == "UNSET" else mode

    def _workload(self, namespace: str, labels: Mapping[str, str]) -> WorkloadPolicy | None:
        for _, w in self.workloads.get(namespace, ()):
            if all(labels.get(k) == v for k, v in w.selector.items()):
                return w  # the oldest wins in Istio; duplicates are reported separately
        return None

    def at(self, namespace: str, labels: Mapping[str, str], port: str | None) -> dict[str, str]:
        """Effective mode per port ('*' for the workload's other ports)."""
        base = self.base(namespace)
        w = self._workload(namespace, labels)
        own = base if w is None or w.mode == "UNSET" else w.mode
        modes = {"*": own}
        for p, mode in w.ports.items() if w is not None else ():
            modes[p] = own if mode == "UNSET" else mode
        if port is not None:
            return {port: modes.get(port, own)}
        return modes

    def in_namespace(self, namespace: str) -> dict[str, str]:
        """Every mode some workload of the namespace may end up with, keyed by where it comes from."""
        modes = {f"namespace {namespace}": self.base(namespace)}
        for key, w in self.workloads.get(namespace, ()):
            for port, mode in self.at(namespace, w.selector, None).items():
                modes[key + ("" if port == "*" else f" port {port}")] = mode
        return modes
