"""Identity without mTLS: where plaintext is only some of the requests (PERMISSIVE, a gateway's pods), identity
fields let it through or shut it out (ISTIO-SECURITY-2021-004); where every request is plaintext (a DISABLE port,
a DestinationRule that turns TLS off), they cannot work at all (Kiali's KIA0105)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from components.core.findings import Finding, error, note
from components.mesh.analysis import ztunnel
from components.mesh.analysis.authorization import action_of
from components.mesh.analysis.modes import ANY_PORT
from components.mesh.analysis.transport import PLAINTEXT, Arrival, MeshView, host_of
from components.mesh.interchange.istio_objects import IstioObject, labels_text, listed
from components.mesh.istio_api import MTLS_CONDITIONS, MTLS_NEGATIVE_FIELDS, MTLS_SOURCE_FIELDS

ADVISORY = "ISTIO-SECURITY-2021-004"


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
class Place:
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
OTHER_NAMESPACE = "*other*"


class Exposure:
    """Where plaintext gets in: the workloads and ports a policy covers whose effective mode is not STRICT, or that
    are gateways' (no PeerAuthentication applies there)."""

    def __init__(self, view: MeshView):
        self.view = view
        self.peers = view.peers
        self.by_namespace: dict[str, list[IstioObject]] = {}
        for pa in self.peers.workload:
            self.by_namespace.setdefault(pa.namespace, []).append(pa)

    @functools.cache  # noqa: B019 - one analysis, then dropped
    def places(self, namespace: str) -> list[Place]:
        """Every place of a namespace: its workloads without a policy, and each workload policy."""
        rest = namespace in (self.peers.root_namespace, OTHER_NAMESPACE)  # the mesh-wide mode
        found = [
            Place(
                "namespaces without a policy of their own" if rest else f"namespace {namespace}",
                OTHER_NAMESPACE if rest else namespace,
                None,
                {ANY_PORT: self.peers.base(namespace)},
            )
        ]
        for pa in self.by_namespace.get(namespace, ()):
            modes = self.peers.at(namespace, pa.selector)
            if modes.policy is pa:
                found.append(Place(f"{namespace}/{labels_text(pa.selector)}", namespace, pa.selector, modes.all()))
        return found

    def every_place(self) -> list[Place]:
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
                title = f"{service.namespace}/{labels_text(service.selector)}"
                found.append(
                    Place(title, service.namespace, service.selector, {ANY_PORT: self.peers.base(service.namespace)})
                )
        return found

    def of(self, policy: IstioObject, ports: set[str] | None, ambient: bool | None = None) -> list[_Point]:
        """The points of the places `policy` covers that take plaintext; with `ambient`, only those whose pods
        ztunnel serves (True) or those it does not (False)."""
        if policy.selector:
            namespaces = (
                sorted(self.peers.namespaces() | {policy.namespace})
                if policy.namespace == self.peers.root_namespace
                else [policy.namespace]
            )
            places = [
                Place(
                    f"{ns}/{labels_text(policy.selector)}",
                    ns,
                    policy.selector,
                    self.peers.at(ns, policy.selector).all(),
                )
                for ns in namespaces
            ]
        elif policy.namespace == self.peers.root_namespace:
            everywhere = self.peers.namespaces() | {self.peers.root_namespace}
            places = [p for ns in sorted(everywhere) for p in self.places(ns)]
        else:
            places = self.places(policy.namespace)
        if ambient is not None:
            places = [p for p in places if self.view.ambient_pods(p.namespace, p.labels) == ambient]
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

    def _plaintext_only(self, place: Place, port: str, mode: str, where: str) -> str:
        if mode == "DISABLE":
            return f"{where} is DISABLE"
        sent = self.view.sent_by_sidecar(None, place.namespace, place.labels, "" if port == ANY_PORT else port)
        return f"{where} is {mode}, but {sent.why}" if sent.form == PLAINTEXT else ""


def _applies(ports: set[str] | None, port: str) -> bool:
    return ports is None or port in ports


def plaintext_exposure(
    objects: Iterable[IstioObject], exposure: Exposure, arrivals: Sequence[Arrival]
) -> list[Finding]:
    """Where plaintext is only some of the requests (PERMISSIVE, a gateway), identity fields let it through or shut
    it out (ISTIO-SECURITY-2021-004); where every request is plaintext, they cannot work at all (Kiali's KIA0105).
    For the pods ztunnel serves, the rules are what ztunnel enforces of them (ztunnel.py): a rule it never matches
    says nothing there, and one it reads without its HTTP part is judged as it reads it."""
    plaintext_targets = {(a.caller.namespace, a.request.port) for a in arrivals if a.plaintext}
    view = exposure.view
    found = []
    for policy in objects:
        if policy.kind != "AuthorizationPolicy" or policy.dry_run or policy.targets_gateways:
            continue
        written = [(i, rule) for i, rule in enumerate(policy.spec.get("rules") or ()) if isinstance(rule, dict)]
        reaches_ambient = bool(view.planes.ambient) and (
            policy.namespace == view.root_namespace or policy.namespace in view.planes.ambient
        )
        if not reaches_ambient:
            found += _policy_exposure(policy, written, exposure, None, plaintext_targets)
            continue
        found += _policy_exposure(policy, written, exposure, False, plaintext_targets)
        converted = ztunnel.at_ztunnel(policy)
        if converted.enforced is not None:
            kept = [(r.index, dict(r.rule)) for r in converted.rules if r.rule is not None]
            found += _policy_exposure(policy, kept, exposure, True, plaintext_targets)
    return found


def _policy_exposure(
    policy: IstioObject,
    rules: Sequence[tuple[int, dict[str, Any]]],
    exposure: Exposure,
    ambient: bool | None,
    plaintext_targets: set[tuple[str, str]],
) -> list[Finding]:
    """The findings of one policy's rules over the places `ambient` picks (`Exposure.of`)."""
    action = action_of(policy)
    found = []
    fail_closed: list[str] = []
    fail_closed_ports: set[str] | None = set()
    needing: list[list[str]] = []  # ALLOW rules that match only a request with an identity
    open_rules: list[set[str] | None] = []  # ALLOW rules that may match plaintext: their ports
    for i, rule in rules:
        use = _mtls_fields(rule, action)
        ports = _rule_ports(rule)
        if use.bypass:
            exposed = exposure.of(policy, ports, ambient)
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
                only = [p.plaintext_only for p in exposure.of(policy, ports, ambient) if p.plaintext_only]
                if only:
                    found.append(_rule_without_identity(policy, i, action, use.closed, only))
        if action == "ALLOW":
            if use.needs_identity:
                needing.append(use.closed)
            else:
                open_rules.append(ports)
    if not fail_closed:
        return found
    exposed = exposure.of(policy, fail_closed_ports, ambient)
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
