"""The mesh analysis: one engine over Istio objects, from the stack's settings or from a cluster's YAML, and the
callers whose requests must get through. Every finding names the settings key or the file the user must change.
This module runs every rule; the rules on rivals and selectors live here, those on identities without mTLS in
`exposure.py`, those on callers in `caller_verdicts.py`, those on client and server TLS that cannot meet in
`conflicts.py`, those on ambient namespaces in `ambient.py` (and `dataplane.py` for their labels).

Facts: ../shared/reference/istio-mesh-mtls.md; Istio's security concept page; Kiali's mTLS checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations

from components.core.batch import cycle_collection_paused
from components.core.findings import Finding, error, warning
from components.mesh.analysis import ambient
from components.mesh.analysis.caller_verdicts import caller_findings, observed_callers
from components.mesh.analysis.callers import Caller
from components.mesh.analysis.conflicts import client_server_conflicts
from components.mesh.analysis.exposure import Exposure, plaintext_exposure
from components.mesh.analysis.modes import ANY_PORT, PeerAuthentications
from components.mesh.analysis.transport import MTLS, PLAINTEXT, MeshView, describe
from components.mesh.interchange.istio_objects import KINDS, IstioObject, labels_text

# Beyond this many labels, a selector's subsets are too many to look up; such selectors are compared pairwise.
MAX_SUBSET_LABELS = 8


def analyze(
    objects: Sequence[IstioObject], callers: Sequence[Caller], root_namespace: str, every_verdict: bool = False
) -> list[Finding]:
    """Every finding; with `every_verdict`, also the policies ambient leaves unchanged (the what-if lists them)."""
    with cycle_collection_paused():
        return _analyze(objects, callers, root_namespace, every_verdict)


def _analyze(
    objects: Sequence[IstioObject], callers: Sequence[Caller], root_namespace: str, every_verdict: bool
) -> list[Finding]:
    view = MeshView(objects, root_namespace)
    peers = view.peers
    exposure = Exposure(view)
    arrivals = view.arrivals(callers)
    rivals = _rival_peer_authentications(peers)
    return [
        *view.planes.problems(),
        *rivals,
        *_name_collisions(objects, {f.key for f in rivals}),
        *_overlapping_selectors(peers),
        *_gateway_peer_authentications(view),
        *_strict_under_disable(view),
        *_disable_behind_headless(view),
        *plaintext_exposure(objects, exposure, arrivals),
        *caller_findings(arrivals, view),
        *observed_callers(arrivals, view),
        *client_server_conflicts(view, exposure),
        *ambient.verdicts(objects, view, every_verdict),
    ]


# --- names and rivals ---------------------------------------------------------------------------------------------


def _name_collisions(objects: Iterable[IstioObject], reported: set[str]) -> list[Finding]:
    seen: dict[tuple[str, str, str], IstioObject] = {}
    found = []
    for obj in objects:
        if obj.kind not in KINDS:  # a Service or Gateway the settings declare is read, not created
            continue
        earlier = seen.setdefault((obj.kind, obj.namespace, obj.name), obj)
        if earlier is not obj and obj.origin.key not in reported:
            found.append(
                error(
                    "mesh.duplicate-name",
                    obj.origin.key,
                    f"would be the {obj.kind} {obj.name!r} in {obj.namespace}, like {describe(earlier)}; one would "
                    "overwrite the other. Give it a distinct name.",
                )
            )
    return found


def _rival_peer_authentications(peers: PeerAuthentications) -> list[Finding]:
    found = []
    for ignored, kept in peers.ignored:
        root = ignored.namespace == peers.root_namespace
        what = "mesh-wide PeerAuthentication" if root else f"namespace-wide PeerAuthentication in {ignored.namespace}"
        found.append(
            error(
                "mesh.duplicate-policy",
                ignored.origin.key,
                f"a second {what} beside {describe(kept)}; Istio keeps only the oldest and "
                "silently ignores the other. Keep one.",
            )
        )
    found += [
        error(
            "mesh.root-selector",
            pa.origin.key,
            f"a PeerAuthentication with a selector in the root namespace {peers.root_namespace} is ignored by Istio; "
            "put it in the workload's own namespace.",
        )
        for pa in peers.root_selectors
    ]
    return found


def _overlapping_selectors(peers: PeerAuthentications) -> list[Finding]:
    """Two workload policies whose selectors pick the same pods; Istio applies only the oldest to those pods.
    Without the pods, an overlap is certain when one selector holds all of the other's labels (Kiali's KIA0003
    reports the same from the live pods)."""
    by_selector: dict[tuple[str, frozenset[tuple[str, str]]], IstioObject] = {}
    found = []
    wide: list[IstioObject] = []
    for pa in peers.workload:
        selector = frozenset(pa.selector.items())
        earlier = by_selector.setdefault((pa.namespace, selector), pa)
        if earlier is not pa:
            found.append(
                error(
                    "mesh.duplicate-policy",
                    pa.origin.key,
                    f"selects the same workload as {describe(earlier)}; Istio applies only the oldest. Merge the two.",
                )
            )
        elif len(selector) > MAX_SUBSET_LABELS:
            wide.append(pa)
    for (namespace, selector), pa in by_selector.items():
        if len(selector) > MAX_SUBSET_LABELS:
            continue
        for size in range(1, len(selector)):
            for subset in combinations(sorted(selector), size):
                broader = by_selector.get((namespace, frozenset(subset)))
                if broader is not None:
                    found.append(_overlap(pa, broader))
    for pa in wide:  # rare: compared with every policy of the namespace
        found += [
            _overlap(pa, other)
            for other in peers.workload
            if other.namespace == pa.namespace and other is not pa and other.selector.items() < pa.selector.items()
        ]
    return found


def _overlap(narrow: IstioObject, broad: IstioObject) -> Finding:
    return error(
        "mesh.overlapping-policies",
        narrow.origin.key,
        f"every pod labelled {labels_text(narrow.selector)} is also selected by {describe(broad)} "
        f"({labels_text(broad.selector)}); Istio applies only the oldest of the two to those pods and ignores the "
        "other. Make the selectors disjoint, or merge the two.",
    )


def _strict_under_disable(view: MeshView) -> list[Finding]:
    """Under a DISABLE namespace auto mTLS is off for the namespace's services: the cluster-level guess
    (`BestEffortInferServiceMTLSMode`, pilot/pkg/model/push_context.go) reads only namespace and mesh policies, so
    meshed clients send plaintext even to a workload or port that is STRICT, which refuses it (istio/istio#56084),
    unless a DestinationRule sets mTLS for them: what they send is the transport's call, as everywhere."""
    peers = view.peers
    found = []
    for pa in peers.workload:
        if peers.base(pa.namespace) != "DISABLE" or peers.at(pa.namespace, pa.selector).policy is not pa:
            continue
        strict = [
            port
            for port, mode in peers.at(pa.namespace, pa.selector).all().items()
            if mode == "STRICT" and view.sent_by_sidecar(None, pa.namespace, pa.selector, port).form == PLAINTEXT
        ]
        if strict:
            where = "the workload" if ANY_PORT in strict else "port " + ", ".join(strict)
            found.append(
                error(
                    "mesh.strict-under-disable",
                    pa.origin.key,
                    f"{where} is STRICT, but mTLS in {pa.namespace} is DISABLE: meshed clients send plaintext to the "
                    "namespace's services (a DISABLE namespace turns auto mTLS off for them, whatever the workload "
                    "policy says) and are refused. Use PERMISSIVE here, or make the namespace PERMISSIVE, or add a "
                    "DestinationRule with ISTIO_MUTUAL for its Service.",
                )
            )
    return found


def _disable_behind_headless(view: MeshView) -> list[Finding]:
    """A headless Service's clients pick TLS once for all its pods (an ORIGINAL_DST cluster, no per-endpoint auto
    mTLS: pilot/pkg/networking/core/cluster_tls.go), so a DISABLE workload or port behind one gets Istio mTLS, which
    it cannot read. Istio's own "mtls port override" reachability test leaves headless targets out for this reason
    (tests/integration/security/reachability_test.go, istio/istio#39439)."""
    found = []
    for pa in view.peers.workload:
        if view.peers.at(pa.namespace, pa.selector).policy is not pa:
            continue
        for port, mode in view.peers.at(pa.namespace, pa.selector).all().items():
            if mode != "DISABLE":
                continue
            sent = view.sent_by_sidecar(None, pa.namespace, pa.selector, port)
            if sent.form == MTLS and sent.by is not None and sent.by.kind == "Service":
                where = "the workload" if port == ANY_PORT else f"port {port}"
                found.append(
                    error(
                        "mesh.disable-behind-headless",
                        pa.origin.key,
                        f"{where} is DISABLE, but {sent.why}: meshed clients send it Istio mTLS, which it cannot "
                        "read, so every call fails. Add a DestinationRule with `tls: {mode: DISABLE}` for that "
                        "Service's host, or use PERMISSIVE here.",
                    )
                )
    return found


def _gateway_peer_authentications(view: MeshView) -> list[Finding]:
    """istiod builds a gateway's listeners from its Gateway's servers, without PeerAuthentication
    (pilot/pkg/networking/core/gateway.go): one that selects only gateway pods changes nothing."""
    found = []
    for pa in view.peers.workload:
        gateway = view.topology.gateway(pa.namespace, pa.selector)
        if gateway is not None:
            found.append(
                warning(
                    "mesh.gateway-peer-authentication",
                    pa.origin.key,
                    f"it selects gateway pods ({describe(gateway)}), and no PeerAuthentication applies to a gateway: "
                    "istiod builds its listeners from the Gateway's servers. Remove it; to require mTLS there, set "
                    "`tls.mode: ISTIO_MUTUAL` (or MUTUAL) on the Gateway's servers.",
                )
            )
    return found
