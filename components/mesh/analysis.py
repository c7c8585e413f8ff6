"""The mesh analysis: one engine over Istio objects, from the stack's settings or from a cluster's YAML, and the
callers whose requests must get through. Every finding names the settings key or the file the user must change.

Facts: ../shared/reference/istio-mesh-mtls.md; Istio's security concept page; Kiali's mTLS checks.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from components.core.batch import cycle_collection_paused
from components.core.findings import Finding, error, note, warning
from components.core.load_balancer import FRONT_END_RANGES
from components.mesh.authorization import Decision, action_of, decide
from components.mesh.callers import HEALTH_CHECKS, LOAD_BALANCER, Caller
from components.mesh.istio_api import MTLS_CONDITIONS, MTLS_NEGATIVE_FIELDS, MTLS_SOURCE_FIELDS
from components.mesh.istio_objects import KINDS, IstioObject, listed
from components.mesh.modes import ANY_PORT, PeerAuthentications
from components.mesh.transport import MTLS, PLAINTEXT, Arrival, MeshView, describe, host_of, tls_mode_at

ADVISORY = "ISTIO-SECURITY-2021-004"
MESH_WIDE_HOSTS = ("*", "*.local", "*.cluster.local", "*.svc.cluster.local")
# Beyond this many labels, a selector's subsets are too many to look up; such selectors are compared pairwise.
MAX_SUBSET_LABELS = 8


def analyze(objects: Sequence[IstioObject], callers: Sequence[Caller], root_namespace: str) -> list[Finding]:
    with cycle_collection_paused():
        return _analyze(objects, callers, root_namespace)


def _analyze(objects: Sequence[IstioObject], callers: Sequence[Caller], root_namespace: str) -> list[Finding]:
    view = MeshView(objects, root_namespace)
    peers = view.peers
    exposure = _Exposure(view)
    arrivals = view.arrivals(callers)
    rivals = _rival_peer_authentications(peers)
    return [
        *rivals,
        *_name_collisions(objects, {f.key for f in rivals}),
        *_overlapping_selectors(peers),
        *_gateway_peer_authentications(view),
        *_strict_under_disable(peers),
        *_plaintext_exposure(objects, exposure, arrivals),
        *_caller_findings(arrivals, view),
        *_observed_callers(arrivals, view),
        *_client_server_conflicts(view, exposure),
    ]


def _labels(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in labels.items()) + "}"


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
        f"every pod labelled {_labels(narrow.selector)} is also selected by {describe(broad)} "
        f"({_labels(broad.selector)}); Istio applies only the oldest of the two to those pods and ignores the other. "
        "Make the selectors disjoint, or merge the two.",
    )


def _strict_under_disable(peers: PeerAuthentications) -> list[Finding]:
    """Under a DISABLE namespace auto mTLS is off for the namespace's services: the cluster-level guess
    (`BestEffortInferServiceMTLSMode`, pilot/pkg/model/push_context.go) reads only namespace and mesh policies, so
    meshed clients send plaintext even to a workload or port that is STRICT, which refuses it (istio/istio#56084)."""
    found = []
    for pa in peers.workload:
        if peers.base(pa.namespace) != "DISABLE" or peers.at(pa.namespace, pa.selector).policy is not pa:
            continue
        strict = [p for p, m in peers.at(pa.namespace, pa.selector).all().items() if m == "STRICT"]
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


# --- identity without mTLS (ISTIO-SECURITY-2021-004, Kiali's KIA0105) -------------------------------------------


@dataclass(frozen=True)
class _IdentityUse:
    """How one rule treats plaintext, which carries no identity."""

    bypass: list[str]  # fields plaintext gets through (ALLOW) or past (DENY)
    closed: list[str]  # fields that shut plaintext out (ALLOW) or refuse it (DENY)
    needs_identity: bool  # ALLOW: the rule can match only a request with an identity


def _mtls_fields(rule: dict[str, Any], action: str) -> _IdentityUse:
    """Plaintext carries no identity, so it never matches a positive identity value and always matches a negative
    one. `from` entries are ORed and everything else ANDed, so in ALLOW a negative match lets plaintext through only
    from an entry without a positive one (`namespaces: ["*"]` beside `notNamespaces` is the advisory's fix), and only
    if no `when` needs an identity."""
    entries = []  # (negative, positive) identity fields of each `from` entry
    for entry in listed(rule.get("from")):
        source = entry.get("source") if isinstance(entry, dict) else None
        fields = list(source.items()) if isinstance(source, dict) else []
        # `notPrincipals: ["*"]` means "no identity": plaintext on purpose, never a bypass.
        negative = [n for n, values in fields if n in MTLS_NEGATIVE_FIELDS and values != ["*"]]
        entries.append((negative, [n for n, _ in fields if n in MTLS_SOURCE_FIELDS]))
    when = listed(rule.get("when"))
    conditions = [c for c in when if isinstance(c, dict) and c.get("key") in MTLS_CONDITIONS]
    when_negative = [f"when {c['key']} notValues" for c in conditions if c.get("notValues") not in (None, [], ["*"])]
    when_positive = [f"when {c['key']} values" for c in conditions if c.get("values")]
    positive = [f for _, pos in entries for f in pos] + when_positive
    if action == "ALLOW":
        open_entries = [neg for neg, pos in entries if not pos]
        if when_positive or (entries and not open_entries):
            return _IdentityUse([], positive, True)
        return _IdentityUse([f for neg in open_entries for f in neg] + when_negative, positive, False)
    if action == "DENY":
        return _IdentityUse(positive, [f for neg, _ in entries for f in neg] + when_negative, False)
    return _IdentityUse([], [], False)


def _rule_ports(rule: Mapping[str, Any]) -> set[str] | None:
    """The ports a rule is limited to, or None when it may match any port."""
    operations = rule.get("to")
    if not isinstance(operations, list) or not operations:
        return None
    ports: set[str] = set()
    for entry in operations:
        operation = entry.get("operation") if isinstance(entry, dict) else None
        limited = operation.get("ports") if isinstance(operation, dict) else None
        if not isinstance(limited, list) or not limited:
            return None
        ports |= {str(p) for p in limited}
    return ports


@dataclass(frozen=True)
class _Place:
    """Pods of one namespace with one set of modes: a workload policy's, or the namespace's own."""

    title: str
    namespace: str
    labels: Mapping[str, str] | None  # None: the namespace's pods without a workload policy
    modes: Mapping[str, str]  # by port, ANY_PORT for every other one


@dataclass(frozen=True)
class _Point:
    """A port of a place that takes plaintext."""

    text: str  # "shop/{app: web}:9090 is PERMISSIVE"
    port: str  # a port, or ANY_PORT
    plaintext_only: str  # why every request arrives there as plaintext; "" when some may carry an identity


# Stands for the namespaces the objects never name: they have the mesh's mode and only mesh-wide hosts.
_OTHER_NAMESPACE = "*other*"


class _Exposure:
    """Where plaintext gets in: the workloads and ports a policy covers whose effective mode is not STRICT, or that
    are gateways' (no PeerAuthentication applies there)."""

    def __init__(self, view: MeshView):
        self.view = view
        self.peers = view.peers
        self.by_namespace: dict[str, list[IstioObject]] = {}
        for pa in self.peers.workload:
            self.by_namespace.setdefault(pa.namespace, []).append(pa)

    @functools.cache  # noqa: B019 - one analysis, then dropped
    def places(self, namespace: str) -> list[_Place]:
        """Every place of a namespace: its workloads without a policy, and each workload policy."""
        rest = namespace in (self.peers.root_namespace, _OTHER_NAMESPACE)  # the mesh-wide mode
        found = [
            _Place(
                "namespaces without a policy of their own" if rest else f"namespace {namespace}",
                _OTHER_NAMESPACE if rest else namespace,
                None,
                {ANY_PORT: self.peers.base(namespace)},
            )
        ]
        for pa in self.by_namespace.get(namespace, ()):
            modes = self.peers.at(namespace, pa.selector)
            if modes.policy is pa:
                found.append(_Place(f"{namespace}/{_labels(pa.selector)}", namespace, pa.selector, modes.all()))
        return found

    def every_place(self) -> list[_Place]:
        """The places of every namespace the objects name, policies, DestinationRule hosts and Services alike."""
        named = self.peers.namespaces() | {s.namespace for s in self.view.topology.services}
        for rule in self.view.rules.rules:
            host = host_of(rule).split(".")
            named |= {rule.namespace} | ({host[1]} if len(host) > 2 and host[2] == "svc" else set())
        found = list(self.places(self.peers.root_namespace))
        for namespace in sorted(named - {self.peers.root_namespace, "*"}):
            found += self.places(namespace)
        for service in self.view.topology.services:
            if self.peers.at(service.namespace, service.selector).policy is None:
                title = f"{service.namespace}/{_labels(service.selector)}"
                found.append(
                    _Place(title, service.namespace, service.selector, {ANY_PORT: self.peers.base(service.namespace)})
                )
        return found

    def of(self, policy: IstioObject, ports: set[str] | None) -> list[_Point]:
        if policy.selector:
            namespaces = (
                sorted(self.peers.namespaces() | {policy.namespace})
                if policy.namespace == self.peers.root_namespace
                else [policy.namespace]
            )
            places = [
                _Place(
                    f"{ns}/{_labels(policy.selector)}", ns, policy.selector, self.peers.at(ns, policy.selector).all()
                )
                for ns in namespaces
            ]
        elif policy.namespace == self.peers.root_namespace:
            everywhere = self.peers.namespaces() | {self.peers.root_namespace}
            places = [p for ns in sorted(everywhere) for p in self.places(ns)]
        else:
            places = self.places(policy.namespace)
        exposed = []
        for place in places:
            at = place.modes if ports is None else {p: place.modes.get(p, place.modes[ANY_PORT]) for p in sorted(ports)}
            gateway = self.view.topology.gateway(place.namespace, place.labels) if place.labels else None
            for port, mode in at.items():
                where = f"{place.title}{'' if port == ANY_PORT else ':' + port}"
                if gateway is not None:
                    exposed.append(_Point(f"{where} is a gateway's (no PeerAuthentication applies)", port, ""))
                elif mode != "STRICT":
                    exposed.append(_Point(f"{where} is {mode}", port, self._plaintext_only(place, port, mode, where)))
        return exposed

    def _plaintext_only(self, place: _Place, port: str, mode: str, where: str) -> str:
        if mode == "DISABLE":
            return f"{where} is DISABLE"
        sent = self.view.sent_by_sidecar(None, place.namespace, place.labels, "" if port == ANY_PORT else port)
        return f"{where} is {mode}, but {sent.why}" if sent.form == PLAINTEXT else ""


def _applies(ports: set[str] | None, port: str) -> bool:
    return ports is None or port in ports


def _plaintext_exposure(
    objects: Iterable[IstioObject], exposure: _Exposure, arrivals: Sequence[Arrival]
) -> list[Finding]:
    """Where plaintext is only some of the requests (PERMISSIVE, a gateway), identity fields let it through or shut
    it out (ISTIO-SECURITY-2021-004); where every request is plaintext, they cannot work at all (Kiali's KIA0105)."""
    plaintext_targets = {(a.caller.namespace, a.request.port) for a in arrivals if a.plaintext}
    found = []
    for policy in objects:
        action = action_of(policy)
        if policy.kind != "AuthorizationPolicy" or policy.dry_run or policy.targets_gateways:
            continue
        fail_closed: list[str] = []
        fail_closed_ports: set[str] | None = set()
        needing: list[list[str]] = []  # ALLOW rules that match only a request with an identity
        open_rules: list[set[str] | None] = []  # ALLOW rules that may match plaintext: their ports
        for i, rule in enumerate(policy.spec.get("rules") or ()):
            if not isinstance(rule, dict):
                continue
            use = _mtls_fields(rule, action)
            ports = _rule_ports(rule)
            if use.bypass:
                exposed = exposure.of(policy, ports)
                some = [p.text for p in exposed if not p.plaintext_only]
                if some:
                    found.append(_bypass(policy, i, action, use.bypass, some))
                only = [p.plaintext_only for p in exposed if p.plaintext_only]
                if only:
                    found.append(_rule_without_identity(policy, i, action, use.bypass, only))
            if use.closed:
                fail_closed += use.closed
                fail_closed_ports = None if ports is None or fail_closed_ports is None else fail_closed_ports | ports
                if action == "DENY":
                    only = [p.plaintext_only for p in exposure.of(policy, ports) if p.plaintext_only]
                    if only:
                        found.append(_rule_without_identity(policy, i, action, use.closed, only))
            if action == "ALLOW":
                if use.needs_identity:
                    needing.append(use.closed)
                else:
                    open_rules.append(ports)
        if not fail_closed:
            continue
        exposed = exposure.of(policy, fail_closed_ports)
        if needing:
            dead = [
                p.plaintext_only
                for p in exposed
                if p.plaintext_only and not any(_applies(ports, p.port) for ports in open_rules)
            ]
            if dead:
                found.append(_allow_without_identity(policy, sorted({f for fs in needing for f in fs}), dead))
        some = [p.text for p in exposed if not p.plaintext_only]
        # Known plaintext callers there are checked one by one (mesh.caller-denied) instead.
        known = {port for ns, port in plaintext_targets if ns == policy.namespace}
        checked = bool(known) if fail_closed_ports is None else fail_closed_ports <= known
        if some and not checked:
            found.append(_fail_closed(policy, action, sorted(set(fail_closed)), some))
    return found


def _bypass(policy: IstioObject, index: int, action: str, fields: list[str], exposed: list[str]) -> Finding:
    where = "; ".join(exposed)
    if action == "ALLOW":
        how = (
            f"{', '.join(fields)} in an ALLOW rule also match plaintext requests, which carry no identity, so "
            "plaintext from anyone passes this rule"
        )
        fix = 'or require an identity in the same source (`namespaces: ["*"]`)'
    else:
        how = (
            f"{', '.join(fields)} in a DENY rule never match plaintext requests, which carry no identity, so plaintext "
            "from the very sources it names gets past it"
        )
        fix = 'or add a DENY rule with `notPrincipals: ["*"]` that refuses plaintext there'
    return error(
        "mesh.plaintext-bypass",
        policy.origin.at(f"rules[{index}]", f"rules[{index}]"),
        f"{how}, and plaintext is accepted where it applies ({where}) ({ADVISORY}). Make those ports STRICT, {fix}.",
    )


def _fail_closed(policy: IstioObject, action: str, fields: list[str], exposed: list[str]) -> Finding:
    if action == "DENY":
        effect = f"{', '.join(fields)} match every one of them: this policy denies them"
    else:
        effect = f"{', '.join(fields)} never match them: this policy denies them unless another rule allows them"
    return note(
        "mesh.plaintext-denied",
        policy.origin.key,
        f"plaintext is accepted where it applies ({'; '.join(exposed)}), but such requests carry no identity, so "
        f"{effect} (it fails closed; no bypass). If something without a sidecar calls there, declare it in "
        "gke-mtls:mesh.callers to have it checked.",
    )


WITHOUT_IDENTITY_FIX = (
    "Let Istio mTLS reach those ports (PERMISSIVE or STRICT, and no DestinationRule that turns TLS off), or match "
    "those callers by what plaintext carries (`ipBlocks`, headers)."
)


def _allow_without_identity(policy: IstioObject, fields: list[str], why: list[str]) -> Finding:
    """Kiali's KIA0105 ("This field requires mTLS to be enabled") where every request is plaintext: meshed clients
    send plaintext to a DISABLE port (auto mTLS decides per endpoint) or where a DestinationRule turns TLS off."""
    return error(
        "mesh.identity-unavailable",
        policy.origin.key,
        f"every request arrives as plaintext, without an identity, where this policy applies ({'; '.join(why)}), so "
        f"{', '.join(fields)} never match one, and no rule of this ALLOW policy matches one without them: it denies "
        f"every request there that no other ALLOW policy allows (Kiali's KIA0105). {WITHOUT_IDENTITY_FIX}",
    )


def _rule_without_identity(policy: IstioObject, index: int, action: str, fields: list[str], why: list[str]) -> Finding:
    """The same for one rule whose identity fields, against requests that all lack one, are always or never true."""
    negative = all(f.startswith("not") or f.endswith("notValues") for f in fields)
    effect = {
        ("ALLOW", True): "match every one of them: this rule lets them all through, whoever sends them",
        ("DENY", False): "never match one: this rule refuses none of them, from whichever sources it names",
        ("DENY", True): "match every one of them: this rule refuses every request there that its other conditions "
        "match, whoever sends it",
    }.get((action, negative), "decide nothing about them")
    return error(
        "mesh.identity-unavailable",
        policy.origin.at(f"rules[{index}]", f"rules[{index}]"),
        f"every request arrives as plaintext, without an identity, where this rule applies ({'; '.join(why)}), so "
        f"{', '.join(fields)} {effect} (Kiali's KIA0105). {WITHOUT_IDENTITY_FIX}",
    )


# --- callers ------------------------------------------------------------------------------------------------------


def _caller_findings(arrivals: Sequence[Arrival], view: MeshView) -> list[Finding]:
    found = []
    for arrival in arrivals:
        caller, request, decision = arrival.caller, arrival.request, arrival.decision
        if decision is None:
            deciding = view.peers.deciding(caller.namespace, caller.selector, request.port)
            found.append(_refused(arrival, deciding))
        elif decision.allowed is False:
            if arrival.plaintext:
                carry = "carry no principal"
                if caller.sidecar:
                    carry = f"arrive as plaintext ({arrival.sent.why}) and so {carry}"
            else:
                carry = f"carry the principal {request.principal}"
            found.append(
                error(
                    "mesh.caller-denied",
                    caller.key,
                    f"{caller.name}'s requests to {caller.where(request.port)} {carry}; {decision.because}. "
                    + _admit_hint(arrival, decision),
                )
            )
    return found


def _observed_callers(arrivals: Sequence[Arrival], view: MeshView) -> list[Finding]:
    """Istio records a dry-run DENY match without enforcing it: a caller that matches one is refused once the
    policy, or the STRICT mode it stands for, is enforced (Istio's dry-run task)."""
    found = []
    for arrival in arrivals:
        caller, request = arrival.caller, arrival.request
        if arrival.refused:
            continue
        applying = view.dry_run.applying_to(caller.namespace, caller.selector)
        decision = decide([p for p in applying if action_of(p) == "DENY"], request)
        if decision.allowed is False:
            policy = decision.by[0]
            deciding = view.peers.deciding(caller.namespace, caller.selector, request.port)
            if policy.origin.from_settings and deciding and not policy.origin.key.startswith(deciding.origin.key):
                continue  # a stage's policy, on a port whose mode an exception decides: enforce leaves it open
            found.append(
                warning(
                    "mesh.caller-observed",
                    caller.key,
                    f"{caller.name}'s requests to {caller.where(request.port)} match the dry-run policy "
                    f"{policy.namespace}/{policy.name} ({policy.origin.key}): Istio only records them now, and "
                    "refuses them once it is enforced (for a migration stage: at `enforce`). Give the caller a "
                    f'sidecar, or keep `ports: {{"{request.port}": PERMISSIVE}}` for that workload.',
                )
            )
    return found


def _refused(arrival: Arrival, deciding: IstioObject | None) -> Finding:
    caller, port, sent = arrival.caller, arrival.request.port, arrival.sent
    exception = f'add `ports: {{"{port}": PERMISSIVE}}` to the gke-mtls:mesh.workloads entry of that workload'
    source = f" ({describe(deciding)})" if deciding is not None else ""
    if arrival.mode == "DISABLE":  # Istio mTLS, which a DestinationRule sets, to a port that takes plaintext only
        return error(
            "mesh.caller-refused",
            caller.key,
            f"{caller.name}'s sidecar sends Istio mTLS to {caller.where(port)} ({sent.why}), but mTLS there is "
            f"DISABLE{source}: that port takes plaintext only, so every request fails. Give that DestinationRule "
            f"`tls: {{mode: DISABLE}}` for the port, or make the port PERMISSIVE.",
        )
    if caller.name == LOAD_BALANCER:
        labels = ", ".join(f"{k}: {v}" for k, v in caller.selector.items())
        return error(
            "mesh.edge-backend-strict",
            caller.key,
            f"the edge load balancer sends requests (and health checks) straight to port {port} of {{{labels}}} in "
            f"{caller.namespace} without an Istio client certificate, but mTLS there is STRICT, so every request would "
            "be refused. Either route the edge through the Istio ingress gateway (and set `istioIngressGateway: true` "
            "here), or add a port-level exception to gke-mtls:mesh.workloads for this workload: "
            f'`ports: {{"{port}": PERMISSIVE}}` (the edge\'s mTLS then guards that port).',
        )
    what, send = ("probe", "send") if caller.name == HEALTH_CHECKS else ("request", "sends")
    if caller.sidecar:
        fix = (
            "Remove that DestinationRule's `tls.mode: DISABLE` for this host (auto mTLS then sends mTLS), or make the "
            "port PERMISSIVE"
            if sent.by is not None and sent.by.kind == "DestinationRule"
            else f"Make the port PERMISSIVE, or the namespace's mode PERMISSIVE: {exception}"
        )
        return error(
            "mesh.caller-refused",
            caller.key,
            f"{caller.name}'s sidecar sends plaintext to {caller.where(port)} ({sent.why}), but mTLS there is "
            f"STRICT{source}, so every {what} is refused. {fix}.",
        )
    return error(
        "mesh.caller-refused",
        caller.key,
        f"{caller.name} {send} plaintext to {caller.where(port)}, but mTLS there is STRICT{source}, so every "
        f"{what} is "
        f"refused. Give the caller a sidecar (and declare its `principal`), or {exception}.",
    )


def _admit_hint(arrival: Arrival, decision: Decision) -> str:
    caller, request = arrival.caller, arrival.request
    edge = caller.name.startswith(LOAD_BALANCER) or caller.name == HEALTH_CHECKS
    if decision.by and action_of(decision.by[0]) == "DENY":  # a rule added to a DENY policy would refuse more
        if edge:
            leave_out = f"`notIpBlocks: [{', '.join(FRONT_END_RANGES)}]` in its `from` source"
        elif request.principal:
            leave_out = f'`notPrincipals: ["{request.principal}"]` in its `from` source'
        elif request.sources:
            leave_out = f"`notIpBlocks: [{', '.join(str(s) for s in request.sources)}]` in its `from` source"
        else:
            leave_out = f'`notPorts: ["{request.port}"]` in its operation'
        return (
            "A DENY policy refuses what its rules match, so a rule added to it would refuse more: narrow the rule "
            f"that matches them so that it leaves them out (for example {leave_out}), or remove it"
            + ("." if edge else ", or remove the caller from gke-mtls:mesh.callers if it is meant to be refused.")
        )
    port = request.port
    if edge:
        return (
            "gke-mtls lets them in with its `edge-load-balancer` policy when its own ALLOW policies cover the "
            f"backend; for a policy from elsewhere, add a rule with `ipBlocks: [{', '.join(FRONT_END_RANGES)}]` "
            f'on port "{port}" to it.'
        )
    return "Add a rule that matches it, or remove it from gke-mtls:mesh.callers if it is meant to be refused."


# --- what clients send meets what servers take -------------------------------------------------------------------


def _client_server_conflicts(view: MeshView, exposure: _Exposure) -> list[Finding]:
    """A DestinationRule sets what clients send for its hosts, whatever the servers take: Istio mTLS toward a port
    that takes plaintext only, or plaintext toward a STRICT one, fails every call from a meshed client (reference
    sections 2.3 and 2.4; Istio's reachability tests expect exactly these failures)."""
    clients: list[str | None] = [None, *sorted(view.rules.by_namespace)]
    meets: dict[IstioObject, dict[str, list[tuple[str, _Place]]]] = {}  # rule -> server mode -> places
    setting_tls = [r for r in view.rules.rules if _sets_tls(r)]
    for place in exposure.every_place() if setting_tls else ():
        if view.topology.gateway(place.namespace, place.labels or {}) is not None and place.labels:
            continue
        for port, mode in place.modes.items():
            if mode not in ("STRICT", "DISABLE"):
                continue
            where = f"{place.title}{'' if port == ANY_PORT else ':' + port}"
            for client in clients:
                sent = view.sent_by_sidecar(client, place.namespace, place.labels, "" if port == ANY_PORT else port)
                rule = sent.by
                if rule is None or rule.kind != "DestinationRule":
                    continue
                if (sent.form, mode) in ((MTLS, "DISABLE"), (PLAINTEXT, "STRICT")):
                    seen = meets.setdefault(rule, {}).setdefault(mode, [])
                    if where not in [w for w, _ in seen]:
                        seen.append((where, place))
    found = []
    for rule in view.rules.rules:
        for mode, places in meets.get(rule, {}).items():
            found.append(_meets(rule, mode, places, view))
    found += _mesh_wide_istio_mutual_notes(view, exposure, meets)
    return found


def _sets_tls(rule: IstioObject) -> bool:
    policy = rule.spec.get("trafficPolicy")
    policy = policy if isinstance(policy, dict) else {}
    levels = [p for p in listed(policy.get("portLevelSettings")) if isinstance(p, dict)]
    return any(isinstance(p.get("tls"), dict) for p in [policy, *levels])


def _place_name(where: str, place: _Place) -> str:
    return "the mesh" if place.labels is None and place.namespace == _OTHER_NAMESPACE else where


def _meets(rule: IstioObject, mode: str, places: list[tuple[str, _Place]], view: MeshView) -> Finding:
    host = str(rule.spec.get("host"))
    wide = host.startswith("*")
    names = ", ".join(_place_name(w, p) for w, p in places)
    if mode == "DISABLE":
        to = f"to every {host} host" if wide else f"to {host}"
        unnamed = [
            policy.origin.key
            for _, place in places
            if place.labels is not None
            and (policy := view.peers.at(place.namespace, place.labels).policy) is not None
            and policy.origin.from_settings
            and not view.topology.services_of(place.namespace, place.labels)
        ]
        settings = f" (for {', '.join(unnamed)}: set its `service`, and the stack makes that rule)" if unnamed else ""
        return error(
            "mesh.istio-mutual-meets-disable",
            rule.origin.key,
            f"it makes every client send Istio mTLS {to}, but mTLS in {names} is DISABLE: those servers take "
            "plaintext only, so every call to them fails. Remove this rule (auto mTLS already picks mTLS or plaintext "
            f"per server), or add a DestinationRule with `tls: {{mode: DISABLE}}` for those hosts{settings}.",
        )
    if rule.origin.from_settings:
        fix = (
            "Make the workload PERMISSIVE and list its DISABLE ports in `ports` (the rule then covers only those), "
            "or make the STRICT ports PERMISSIVE"
        )
    else:
        fix = "Remove this rule (auto mTLS already sends plaintext to DISABLE ports), or make those ports PERMISSIVE"
    return error(
        "mesh.disable-meets-strict",
        rule.origin.key,
        f"it makes clients send plaintext to {host}, but mTLS in {names} is STRICT: those servers refuse plaintext, "
        f"so every call from a meshed client fails. {fix}.",
    )


def _mesh_wide_istio_mutual_notes(
    view: MeshView, exposure: _Exposure, meets: Mapping[IstioObject, Mapping[str, Any]]
) -> list[Finding]:
    """With auto mTLS (on by default since Istio 1.5) the classic `*.local` ISTIO_MUTUAL rule adds nothing for
    servers with a sidecar; it forces mTLS where auto mTLS would send plaintext (reference sections 2.3 and 2.4)."""
    peers = view.peers
    found = []
    for rule in view.rules.rules:
        if rule.spec.get("host") not in MESH_WIDE_HOSTS or tls_mode_at(rule, None).mode != "ISTIO_MUTUAL":
            continue
        if rule in meets:
            continue
        permissive = [
            f"{place.title}{'' if port == ANY_PORT else ':' + port}"
            for ns in sorted(peers.namespaces() | {peers.root_namespace})
            for place in exposure.places(ns)
            for port, mode in place.modes.items()
            if mode == "PERMISSIVE"
        ]
        enforces = (
            f" It enforces nothing either: a DestinationRule only sets what clients send, so "
            f"{', '.join(permissive)} still take{'s' if len(permissive) == 1 else ''} plaintext from clients "
            "without a sidecar."
            if permissive
            else ""
        )
        found.append(
            note(
                "mesh.istio-mutual-dr",
                rule.origin.key,
                "auto mTLS (on by default since Istio 1.5) already sends mTLS to every server with a sidecar, "
                f"so this rule changes nothing for them.{enforces} What it does change: calls to "
                f"{rule.spec.get('host')} "
                "servers without a sidecar (non-injected namespaces, the Kubernetes API service) get mTLS and "
                "fail, and any more specific DestinationRule replaces it whole. Remove it unless auto mTLS is off "
                "in your mesh.",
            )
        )
    return found
