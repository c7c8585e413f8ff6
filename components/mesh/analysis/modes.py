"""Effective mTLS modes, resolved the way istiod composes PeerAuthentications (`ComposePeerAuthentication`): port over
workload over namespace over mesh, UNSET inheriting, PERMISSIVE where nothing is set, and of rivals at one level
the oldest winning. Facts: ../shared/reference/istio-mesh-mtls.md section 1.3. In an ambient namespace the same
composition holds, but ztunnel takes DISABLE as PERMISSIVE (`ztunnel.py`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from components.mesh.interchange.istio_objects import IstioObject, by_age

ANY_PORT = "*"


def mode_of(obj: IstioObject) -> str:
    mtls = obj.spec.get("mtls")
    return str(mtls.get("mode") or "UNSET") if isinstance(mtls, dict) else "UNSET"


def port_modes(obj: IstioObject) -> dict[str, str]:
    ports = obj.spec.get("portLevelMtls")
    if not isinstance(ports, dict):
        return {}
    return {str(p): str(m.get("mode") or "UNSET") if isinstance(m, dict) else "UNSET" for p, m in ports.items()}


class LabelIndex:
    """Objects with a selector, found by the labels of a workload without scanning their namespace: each object is
    filed under one of its label pairs, so a lookup reads only the objects that share a pair with the workload."""

    def __init__(self, objects: Iterable[IstioObject]):
        self._by_pair: dict[tuple[str, str, str], list[IstioObject]] = defaultdict(list)
        for obj in objects:
            key, value = min(obj.selector.items())
            self._by_pair[(obj.namespace, key, value)].append(obj)

    def matching(self, namespace: str, labels: Mapping[str, str]) -> list[IstioObject]:
        """Objects in `namespace` whose selector every one of `labels`' pods satisfies, oldest first."""
        found = [
            obj
            for pair in labels.items()
            for obj in self._by_pair.get((namespace, *pair), ())
            if all(labels.get(k) == v for k, v in obj.selector.items())
        ]
        return by_age(found) if len(found) > 1 else found


@dataclass(frozen=True)
class WorkloadModes:
    """One workload's modes: `ports` holds the port-level ones, `other` applies to every other port."""

    other: str
    ports: Mapping[str, str]
    policy: IstioObject | None  # the workload-level PeerAuthentication in force

    def at(self, port: str) -> str:
        return self.ports.get(port, self.other)

    def all(self) -> dict[str, str]:
        return {ANY_PORT: self.other, **self.ports}


class PeerAuthentications:
    """Istio's PeerAuthentications of one mesh, indexed by namespace and label."""

    def __init__(self, objects: Iterable[IstioObject], root_namespace: str, ambient: frozenset[str] = frozenset()):
        self.root_namespace = root_namespace
        self.ambient = ambient  # namespaces whose pods ztunnel serves
        ordered = by_age(o for o in objects if o.kind == "PeerAuthentication")
        self.namespace_wide: dict[str, IstioObject] = {}  # the root namespace's is the mesh's
        self.ignored: list[tuple[IstioObject, IstioObject]] = []  # (ignored, the one in force)
        self.root_selectors: list[IstioObject] = []  # ignored by Istio
        workload: list[IstioObject] = []
        for pa in ordered:
            if not pa.selector:
                earlier = self.namespace_wide.setdefault(pa.namespace, pa)
                if earlier is not pa:
                    self.ignored.append((pa, earlier))
            elif pa.namespace == root_namespace:
                self.root_selectors.append(pa)
            else:
                workload.append(pa)
        self.workload = workload
        self.index = LabelIndex(workload)
        self._base: dict[str, str] = {}
        self._at: dict[tuple[str, frozenset[tuple[str, str]]], WorkloadModes] = {}

    @property
    def mesh_mode(self) -> str:
        mesh = self.namespace_wide.get(self.root_namespace)
        return mode_of(mesh) if mesh is not None else "UNSET"

    def base(self, namespace: str) -> str:
        """The mode of a namespace's workloads that no workload policy selects."""
        if namespace not in self._base:
            self._base[namespace] = self._resolve_base(namespace)
        return self._base[namespace]

    def _resolve_base(self, namespace: str) -> str:
        own = self.namespace_wide.get(namespace)
        mode = mode_of(own) if own is not None and namespace != self.root_namespace else "UNSET"
        if mode == "UNSET":
            mode = self.mesh_mode
        return "PERMISSIVE" if mode == "UNSET" else self._enforced(namespace, mode)

    def _enforced(self, namespace: str, mode: str) -> str:
        """istiod gives ztunnel a policy only where a port is STRICT, so in an ambient namespace DISABLE is PERMISSIVE
        (`convertedSelectorPeerAuthentications`, pilot/pkg/serviceregistry/ambient/authorization.go)."""
        return "PERMISSIVE" if mode == "DISABLE" and namespace in self.ambient else mode

    def at(self, namespace: str, labels: Mapping[str, str]) -> WorkloadModes:
        key = (namespace, frozenset(labels.items()))
        if key not in self._at:
            self._at[key] = self._resolve_at(namespace, labels)
        return self._at[key]

    def _resolve_at(self, namespace: str, labels: Mapping[str, str]) -> WorkloadModes:
        base = self.base(namespace)
        candidates = self.index.matching(namespace, labels) if labels else []
        if not candidates:
            return WorkloadModes(base, {}, None)
        pa = candidates[0]  # the oldest wins; rivals are reported separately
        own = mode_of(pa)
        other = base if own == "UNSET" else self._enforced(namespace, own)
        ports = {port: other if m == "UNSET" else self._enforced(namespace, m) for port, m in port_modes(pa).items()}
        return WorkloadModes(other, ports, pa)

    def deciding(self, namespace: str, labels: Mapping[str, str], port: str) -> IstioObject | None:
        """The PeerAuthentication whose mode a port ends up with."""
        policy = self.at(namespace, labels).policy
        if policy is not None and (port_modes(policy).get(port, "UNSET") != "UNSET" or mode_of(policy) != "UNSET"):
            return policy
        own = self.namespace_wide.get(namespace)
        if own is not None and namespace != self.root_namespace and mode_of(own) != "UNSET":
            return own
        return self.namespace_wide.get(self.root_namespace)

    def namespaces(self) -> set[str]:
        return set(self.namespace_wide) | {pa.namespace for pa in self.workload}
