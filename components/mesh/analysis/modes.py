"""Effective mTLS modes, resolved the way istiod composes PeerAuthentications for sidecars
(`ComposePeerAuthentication`): port over workload over namespace over mesh, UNSET inheriting, PERMISSIVE where nothing
is set, and of rivals at one level the oldest winning. Facts: ../shared/reference/istio-mesh-mtls.md section 1.3.

For the pods of an ambient namespace istiod composes them differently, into DENY policies for ztunnel that refuse a
connection without a peer identity (`ztunnel_modes`, from pilot/pkg/serviceregistry/ambient/authorization.go of
istio/istio @86c9f01fd): a port is STRICT or PERMISSIVE there, never DISABLE, and some combinations come out unlike
the sidecars' (a DISABLE port under an inherited STRICT stays STRICT, for one)."""

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

    def _own(self, namespace: str) -> IstioObject | None:
        """The namespace-wide policy of a namespace other than the root."""
        return self.namespace_wide.get(namespace) if namespace != self.root_namespace else None

    def _workload(self, namespace: str, labels: Mapping[str, str]) -> IstioObject | None:
        candidates = self.index.matching(namespace, labels) if labels else []
        return candidates[0] if candidates else None  # the oldest wins; rivals are reported separately

    def base(self, namespace: str) -> str:
        """The mode of a namespace's workloads that no workload policy selects, as its data plane enforces it."""
        if namespace not in self._base:
            self._base[namespace] = (
                self.at(namespace, {}).other if namespace in self.ambient else self.sidecar_base(namespace)
            )
        return self._base[namespace]

    def sidecar_base(self, namespace: str) -> str:
        """`base` as sidecars compose it."""
        own = self._own(namespace)
        mode = mode_of(own) if own is not None else "UNSET"
        if mode == "UNSET":
            mode = self.mesh_mode
        return "PERMISSIVE" if mode == "UNSET" else mode

    def at(self, namespace: str, labels: Mapping[str, str]) -> WorkloadModes:
        """The modes of the pods labelled `labels`, as their data plane enforces them: the sidecars, or ztunnel."""
        key = (namespace, frozenset(labels.items()))
        if key not in self._at:
            if namespace in self.ambient:
                workload = self._workload(namespace, labels)
                mesh = self.namespace_wide.get(self.root_namespace)
                self._at[key] = ztunnel_modes(mesh, self._own(namespace), workload)
            else:
                self._at[key] = self.sidecar_at(namespace, labels)
        return self._at[key]

    def sidecar_at(self, namespace: str, labels: Mapping[str, str]) -> WorkloadModes:
        """`at` as sidecars compose it."""
        base = self.sidecar_base(namespace)
        pa = self._workload(namespace, labels)
        if pa is None:
            return WorkloadModes(base, {}, None)
        own = mode_of(pa)
        other = base if own == "UNSET" else own
        ports = {port: other if m == "UNSET" else m for port, m in port_modes(pa).items()}
        return WorkloadModes(other, ports, pa)

    def deciding(self, namespace: str, labels: Mapping[str, str], port: str) -> IstioObject | None:
        """The PeerAuthentication whose mode a port ends up with. For ztunnel, a workload policy whose mode for the
        port it does not enforce (a DISABLE port under an inherited STRICT) leaves it to the namespace or the mesh."""
        modes = self.at(namespace, labels)
        policy = modes.policy
        if policy is not None:
            mode = port_modes(policy).get(port, "UNSET")
            mode = mode_of(policy) if mode == "UNSET" else mode
            kept = namespace not in self.ambient or {"DISABLE": "PERMISSIVE"}.get(mode, mode) == modes.at(port)
            if mode != "UNSET" and kept:
                return policy
        own = self._own(namespace)
        if own is not None and mode_of(own) != "UNSET":
            return own
        return self.namespace_wide.get(self.root_namespace)

    def namespaces(self) -> set[str]:
        return set(self.namespace_wide) | {pa.namespace for pa in self.workload}


# --- ztunnel ------------------------------------------------------------------------------------------------------


def _strict(policy: IstioObject | None) -> bool:
    return policy is not None and mode_of(policy) == "STRICT"


def _unset(policy: IstioObject | None) -> bool:
    return policy is None or mode_of(policy) == "UNSET"


NOT_STRICT = ("PERMISSIVE", "DISABLE")


@dataclass(frozen=True)
class ConvertedPolicy:
    """A workload PeerAuthentication as `convertPeerAuthentication` hands it to ztunnel: a DENY policy whose groups
    refuse a connection without a peer identity on each of `strict_ports`, and, when `exempt` is not empty, on every
    port but those."""

    strict_ports: frozenset[str]
    exempt: frozenset[str]

    def denies_plaintext(self, port: str | None) -> bool:
        return port in self.strict_ports or (bool(self.exempt) and port not in self.exempt)


def converted_peer_authentication(
    workload: IstioObject, namespace: IstioObject | None, mesh: IstioObject | None
) -> ConvertedPolicy | None:
    """`convertPeerAuthentication`, pilot/pkg/serviceregistry/ambient/authorization.go:238-396 (None: istiod converts
    nothing of it)."""
    own, ports = mode_of(workload), port_modes(workload)
    if not ports:  # 245-248 (a root namespace's policy never gets here: it selects nothing, `PeerAuthentications`)
        return None
    strict_ports: set[str] = set()  # 290-306: a group per STRICT port
    exempt: set[str] = set()  # 327-334: left out of the rule that covers every other port
    for port, mode in ports.items():
        if mode == "STRICT":
            # 281-285 as Go groups them: `#1 || (unset && #2) || #3`, so #3 (the namespace unset, the mesh STRICT)
            # skips the port whatever the workload's own mode.
            if own == "STRICT" or (own == "UNSET" and _strict(namespace)) or (_unset(namespace) and _strict(mesh)):
                continue
            strict_ports.add(port)
        elif mode in NOT_STRICT:
            if own in NOT_STRICT:  # 309-314
                continue
            if own == "UNSET" and (  # 316-323: a namespace policy that is not STRICT, even one without a mode
                (namespace is not None and not _strict(namespace))
                or (namespace is None and mesh is not None and not _strict(mesh))
                or (namespace is None and mesh is None)
            ):
                continue
            exempt.add(port)
    if (own == "STRICT" and not exempt) or (not strict_ports and not exempt):  # 341-349
        return None
    # The rule for every other port refuses a connection without an identity: the workload's own STRICT (254-266) or
    # the namespace's or mesh's merged in (351-375), one of which holds wherever a port is exempt.
    return ConvertedPolicy(frozenset(strict_ports), frozenset(exempt))


def references_converted(
    workload: IstioObject | None, namespace: IstioObject | None, mesh: IstioObject | None
) -> tuple[bool, bool]:
    """`convertedSelectorPeerAuthentications`, authorization.go:81-220: whether a pod gets istiod's static STRICT
    policy (`istio_converted_static_strict`), and whether it references its workload policy as converted."""
    static = _strict(mesh)  # 114-116
    if namespace is not None and mode_of(namespace) != "UNSET":  # 118-122
        static = mode_of(namespace) == "STRICT"
    if workload is None:  # 124-126
        return static, False
    own, ports = mode_of(workload), port_modes(workload)
    if own == "STRICT":  # 130-132
        static = True
    if own in NOT_STRICT:  # 134-136
        static = False
    if not ports:
        return static, False
    if own == "STRICT":  # 140-157: a PERMISSIVE or DISABLE port needs the converted policy
        if any(m in NOT_STRICT for m in ports.values()):
            return False, True
        return static, False
    if own in NOT_STRICT:  # 158-174
        return static, "STRICT" in ports.values()
    if static:  # 175-195: under an inherited STRICT only a PERMISSIVE port is an exception, not a DISABLE one
        return (False, True) if "PERMISSIVE" in ports.values() else (True, False)
    return False, "STRICT" in ports.values()  # 196-215


def ztunnel_modes(
    mesh: IstioObject | None, namespace: IstioObject | None, workload: IstioObject | None
) -> WorkloadModes:
    """The modes ztunnel enforces for pods under these PeerAuthentications (the oldest of each level, as istiod picks
    them), from pilot/pkg/serviceregistry/ambient/authorization.go of istio/istio @86c9f01fd, ported line by line.

    A port refuses plaintext where the pod gets istiod's static STRICT policy, or where the converted workload policy
    it references denies a connection without an identity (ztunnel skips a reference to a policy istiod never
    converted: "skipping unknown policy", src/state.rs of istio/ztunnel). So a port is STRICT or PERMISSIVE, and
    where the two functions disagree the result is not the sidecars'."""
    static, referenced = references_converted(workload, namespace, mesh)
    converted = converted_peer_authentication(workload, namespace, mesh) if referenced and workload else None

    def mode_at(port: str | None) -> str:
        denied = static or (converted is not None and converted.denies_plaintext(port))
        return "STRICT" if denied else "PERMISSIVE"

    ports = port_modes(workload) if workload is not None else {}
    return WorkloadModes(mode_at(None), {port: mode_at(port) for port in ports}, workload)


# What the sidecars enforce and ztunnel does not, of the modes a PeerAuthentication sets.
TAKEN_AS_PERMISSIVE = "taken as PERMISSIVE"  # DISABLE: ztunnel takes plaintext and mTLS alike
DISABLE_IGNORED = "DISABLE ignored"  # a DISABLE port that stays STRICT
STRICT_LOST = "STRICT lost"  # a STRICT the sidecars enforce and ztunnel does not
_AUTHORIZATION_GO = "pilot/pkg/serviceregistry/ambient/authorization.go"
WHY = {
    TAKEN_AS_PERMISSIVE: (
        "istiod sends ztunnel policies that refuse connections without an identity only where a port is STRICT "
        f"(`convertedSelectorPeerAuthentications`, {_AUTHORIZATION_GO}:106-136), so callers in the mesh keep sending "
        "mTLS over HBONE, and plaintext from outside the mesh still gets in"
    ),
    DISABLE_IGNORED: (
        "under a STRICT it inherits, a workload policy without a mode of its own exempts a port from the STRICT "
        "istiod sends ztunnel only where the port is PERMISSIVE, not DISABLE (`convertedSelectorPeerAuthentications`, "
        f"{_AUTHORIZATION_GO}:175-195), so the port stays STRICT and ztunnel refuses plaintext to it"
    ),
    STRICT_LOST: (
        "with the mesh STRICT and no mode of the namespace's own, istiod's two conversions disagree: "
        "`convertedSelectorPeerAuthentications` leaves that STRICT to the converted workload policy, and "
        f"`convertPeerAuthentication` leaves it out of that policy ({_AUTHORIZATION_GO}:130-216, 281-289, 316-323), "
        "so ztunnel takes plaintext there, which the sidecars refused"
    ),
}


@dataclass(frozen=True)
class ModeChange:
    """A port (ANY_PORT: every other one) whose mode ztunnel enforces unlike the sidecars."""

    port: str
    sidecar: str
    ztunnel: str

    @property
    def kind(self) -> str:
        if self.sidecar == "DISABLE":
            return TAKEN_AS_PERMISSIVE if self.ztunnel == "PERMISSIVE" else DISABLE_IGNORED
        return STRICT_LOST


def ztunnel_changes(peers: PeerAuthentications, namespace: str, labels: Mapping[str, str]) -> list[ModeChange]:
    """Where ztunnel enforces another mode than the sidecars would for the pods labelled `labels` of an ambient
    namespace ({}: its pods without a workload policy). A DISABLE the workload policy only inherits is the namespace's
    or mesh's change, not the workload policy's, and is left out."""
    enforced = peers.at(namespace, labels)
    policy = enforced.policy
    found = []
    for port, mode in peers.sidecar_at(namespace, labels).all().items():
        if mode == enforced.at(port):
            continue
        if mode == "DISABLE" and enforced.at(port) == "PERMISSIVE" and policy is not None:
            own = port_modes(policy).get(port, "UNSET") if port != ANY_PORT else "UNSET"
            if (mode_of(policy) if own == "UNSET" else own) == "UNSET":
                continue
        found.append(ModeChange(port, mode, enforced.at(port)))
    return found
