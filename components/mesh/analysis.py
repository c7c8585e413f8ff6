"""The mesh analysis: one engine over Istio objects, from the stack's settings or from a cluster's YAML, and the
callers whose requests must get through. Every finding names the settings key or the file the user must change.

Facts: ../shared/reference/istio-mesh-mtls.md; Istio's security concept page; Kiali's mTLS checks.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import combinations
from typing import Any

from components.core.batch import cycle_collection_paused
from components.core.findings import Finding, error, note, warning
from components.core.load_balancer import FRONT_END_RANGES
from components.mesh.authorization import AuthorizationPolicies, Decision, Request, action_of, decide
from components.mesh.callers import HEALTH_CHECKS, LOAD_BALANCER, Caller
from components.mesh.istio_api import MTLS_CONDITIONS, MTLS_NEGATIVE_FIELDS, MTLS_SOURCE_FIELDS
from components.mesh.istio_objects import IstioObject, listed
from components.mesh.modes import ANY_PORT, PeerAuthentications, mode_of

ADVISORY = "ISTIO-SECURITY-2021-004"
MESH_WIDE_HOSTS = ("*", "*.local", "*.cluster.local", "*.svc.cluster.local")
# Beyond this many labels, a selector's subsets are too many to look up; such selectors are compared pairwise.
MAX_SUBSET_LABELS = 8


def analyze(objects: Sequence[IstioObject], callers: Sequence[Caller], root_namespace: str) -> list[Finding]:
    with cycle_collection_paused():
        return _analyze(objects, callers, root_namespace)


def _analyze(objects: Sequence[IstioObject], callers: Sequence[Caller], root_namespace: str) -> list[Finding]:
    peers = PeerAuthentications(objects, root_namespace)
    policies = AuthorizationPolicies.of(objects, root_namespace)
    exposure = _Exposure(peers)
    rivals = _rival_peer_authentications(peers)
    return [
        *rivals,
        *_name_collisions(objects, {f.key for f in rivals}),
        *_overlapping_selectors(peers),
        *_strict_under_disable(peers),
        *_plaintext_exposure(objects, exposure, callers),
        *_caller_findings(callers, peers, policies),
        *_observed_callers(callers, peers, AuthorizationPolicies.of(objects, root_namespace, dry_run=True)),
        *_mesh_wide_istio_mutual(objects, exposure),
    ]


def describe(obj: IstioObject) -> str:
    return obj.origin.key if obj.origin.from_settings else f"{obj.title} ({obj.origin.key})"


def _labels(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in labels.items()) + "}"


# --- names and rivals ---------------------------------------------------------------------------------------------


def _name_collisions(objects: Iterable[IstioObject], reported: set[str]) -> list[Finding]:
    seen: dict[tuple[str, str, str], IstioObject] = {}
    found = []
    for obj in objects:
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
    """Auto mTLS picks plaintext or mTLS from the namespace and mesh policies only, so under a DISABLE namespace
    meshed clients send plaintext to a workload or port that is STRICT, which refuses it (istio/istio#56084)."""
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
                    f"{where} is STRICT, but mTLS in {pa.namespace} is DISABLE: meshed clients choose plaintext from "
                    "the namespace's mode (auto mTLS reads no workload policy) and are refused. Use PERMISSIVE here, "
                    "or make the namespace PERMISSIVE, or add a DestinationRule with ISTIO_MUTUAL for its Service.",
                )
            )
    return found


# --- identity without mTLS (ISTIO-SECURITY-2021-004) -------------------------------------------------------------


def _mtls_fields(rule: dict[str, Any], action: str) -> tuple[list[str], list[str]]:
    """(attributes plaintext gets through or past, attributes that shut it out) of one rule. Plaintext carries no
    identity, so it never matches a positive identity value and always matches a negative one. `from` entries are
    ORed and everything else ANDed, so in ALLOW a negative match lets plaintext through only from an entry without a
    positive one (`namespaces: ["*"]` beside `notNamespaces` is the advisory's fix), and only if no `when` needs an
    identity."""
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
            return [], positive
        return [f for neg in open_entries for f in neg] + when_negative, positive
    if action == "DENY":
        return positive, [f for neg, _ in entries for f in neg] + when_negative
    return [], []


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


class _Exposure:
    """Where plaintext gets in: the workloads and ports a policy covers whose effective mode is not STRICT."""

    def __init__(self, peers: PeerAuthentications):
        self.peers = peers
        self.by_namespace: dict[str, list[IstioObject]] = {}
        for pa in peers.workload:
            self.by_namespace.setdefault(pa.namespace, []).append(pa)

    @functools.cache  # noqa: B019 - one analysis, then dropped
    def places(self, namespace: str) -> list[tuple[str, dict[str, str]]]:
        """Every (place, modes by port) of a namespace: its workloads without a policy, and each workload policy."""
        rest = namespace == self.peers.root_namespace  # the mesh-wide mode: every namespace without its own
        found = [
            (
                "namespaces without a policy of their own" if rest else f"namespace {namespace}",
                {ANY_PORT: self.peers.base(namespace)},
            )
        ]
        for pa in self.by_namespace.get(namespace, ()):
            modes = self.peers.at(namespace, pa.selector)
            if modes.policy is pa:
                found.append((f"{namespace}/{_labels(pa.selector)}", modes.all()))
        return found

    def of(self, policy: IstioObject, ports: set[str] | None) -> list[str]:
        if policy.selector:
            namespaces = (
                sorted(self.peers.namespaces() | {policy.namespace})
                if policy.namespace == self.peers.root_namespace
                else [policy.namespace]
            )
            places = [
                (f"{ns}/{_labels(policy.selector)}", self.peers.at(ns, policy.selector).all()) for ns in namespaces
            ]
        elif policy.namespace == self.peers.root_namespace:
            everywhere = self.peers.namespaces() | {self.peers.root_namespace}
            places = [p for ns in sorted(everywhere) for p in self.places(ns)]
        else:
            places = self.places(policy.namespace)
        exposed = []
        for place, modes in places:
            at = modes if ports is None else {p: modes.get(p, modes[ANY_PORT]) for p in sorted(ports)}
            for port, mode in at.items():
                if mode != "STRICT":
                    exposed.append(f"{place}{'' if port == ANY_PORT else ':' + port} is {mode}")
        return exposed


def _plaintext_exposure(
    objects: Iterable[IstioObject], exposure: _Exposure, callers: Sequence[Caller]
) -> list[Finding]:
    plaintext_targets = {(c.namespace, r.port) for c in callers if c.plaintext for r in c.requests}
    found = []
    for policy in objects:
        action = action_of(policy)
        if policy.kind != "AuthorizationPolicy" or policy.dry_run or policy.targets_gateways:
            continue
        fail_closed: list[str] = []
        fail_closed_ports: set[str] | None = set()
        for i, rule in enumerate(policy.spec.get("rules") or ()):
            if not isinstance(rule, dict):
                continue
            bypass, closed = _mtls_fields(rule, action)
            if not bypass and not closed:
                continue
            ports = _rule_ports(rule)
            if bypass:
                exposed = exposure.of(policy, ports)
                if exposed:
                    found.append(_bypass(policy, i, action, bypass, exposed))
            if closed:
                fail_closed += closed
                fail_closed_ports = None if ports is None or fail_closed_ports is None else fail_closed_ports | ports
        if fail_closed:
            exposed = exposure.of(policy, fail_closed_ports)
            # Known plaintext callers there are checked one by one (mesh.caller-denied) instead.
            known = {port for ns, port in plaintext_targets if ns == policy.namespace}
            checked = bool(known) if fail_closed_ports is None else fail_closed_ports <= known
            if exposed and not checked:
                found.append(_fail_closed(policy, sorted(set(fail_closed)), exposed))
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


def _fail_closed(policy: IstioObject, fields: list[str], exposed: list[str]) -> Finding:
    return note(
        "mesh.plaintext-denied",
        policy.origin.key,
        f"plaintext is accepted where it applies ({'; '.join(exposed)}), but such requests carry no identity, so "
        f"{', '.join(fields)} never match them: this policy denies them unless another rule allows them (it fails "
        "closed; no bypass). If something without a sidecar calls there, declare it in gke-mtls:mesh.callers to "
        "have it checked.",
    )


# --- callers ------------------------------------------------------------------------------------------------------


def caller_outcomes(
    caller: Caller, peers: PeerAuthentications, policies: AuthorizationPolicies
) -> Iterator[tuple[Request, Decision | None]]:
    """For each of a caller's requests: None when mTLS refuses it (plaintext to a STRICT port) before any policy
    sees it, else the policies' decision."""
    modes = peers.at(caller.namespace, caller.selector)
    applying = policies.applying_to(caller.namespace, caller.selector)
    for request in caller.requests:
        refused = caller.plaintext and modes.at(request.port) == "STRICT"
        yield request, None if refused else decide(applying, request)


def _caller_findings(
    callers: Sequence[Caller], peers: PeerAuthentications, policies: AuthorizationPolicies
) -> list[Finding]:
    found = []
    for caller in callers:
        for request, decision in caller_outcomes(caller, peers, policies):
            if decision is None:
                deciding = peers.deciding(caller.namespace, caller.selector, request.port)
                found.append(_refused(caller, request.port, deciding))
            elif decision.allowed is False:
                carry = "carry no principal" if caller.plaintext else f"carry the principal {request.principal}"
                found.append(
                    error(
                        "mesh.caller-denied",
                        caller.key,
                        f"{caller.name}'s requests to {caller.where(request.port)} {carry}; {decision.because}. "
                        + _admit_hint(caller, request.port),
                    )
                )
    return found


def _observed_callers(
    callers: Sequence[Caller], peers: PeerAuthentications, dry_run: AuthorizationPolicies
) -> list[Finding]:
    """Istio records a dry-run DENY match without enforcing it: a caller that matches one is refused once the
    policy, or the STRICT mode it stands for, is enforced (Istio's dry-run task)."""
    found = []
    for caller in callers:
        denying = [p for p in dry_run.applying_to(caller.namespace, caller.selector) if action_of(p) == "DENY"]
        for request in caller.requests:
            decision = decide(denying, request)
            if decision.allowed is False:
                policy = decision.by[0]
                deciding = peers.deciding(caller.namespace, caller.selector, request.port)
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


def _refused(caller: Caller, port: str, deciding: IstioObject | None) -> Finding:
    exception = f'add `ports: {{"{port}": PERMISSIVE}}` to the gke-mtls:mesh.workloads entry of that workload'
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
    source = f" ({describe(deciding)})" if deciding is not None else ""
    return error(
        "mesh.caller-refused",
        caller.key,
        f"{caller.name} {send} plaintext to {caller.where(port)}, but mTLS there is STRICT{source}, so every "
        f"{what} is "
        f"refused. Give the caller a sidecar (and declare its `principal`), or {exception}.",
    )


def _admit_hint(caller: Caller, port: str) -> str:
    if caller.name in (LOAD_BALANCER, HEALTH_CHECKS):
        return (
            "gke-mtls lets them in with its `edge-load-balancer` policy when its own ALLOW policies cover the "
            f"backend; for a policy from elsewhere, add a rule with `ipBlocks: [{', '.join(FRONT_END_RANGES)}]` "
            f'on port "{port}" to it.'
        )
    return "Add a rule that matches it, or remove it from gke-mtls:mesh.callers if it is meant to be refused."


# --- the `*.local` DestinationRule -------------------------------------------------------------------------------


def _tls_mode(spec: Mapping[str, Any]) -> str | None:
    policy = spec.get("trafficPolicy")
    tls = policy.get("tls") if isinstance(policy, dict) else None
    return str(tls.get("mode")) if isinstance(tls, dict) and tls.get("mode") else None


def _mesh_wide_istio_mutual(objects: Sequence[IstioObject], exposure: _Exposure) -> list[Finding]:
    """With auto mTLS (on by default since Istio 1.5) the classic `*.local` ISTIO_MUTUAL rule adds nothing for
    servers with a sidecar; it forces mTLS where auto mTLS would send plaintext, and that is a conflict wherever
    servers take plaintext only (reference section 2.3 and 2.4)."""
    peers = exposure.peers
    found = []
    exempt = {dr.spec.get("host") for dr in objects if dr.kind == "DestinationRule" and _tls_mode(dr.spec) == "DISABLE"}
    for dr in objects:
        if dr.kind != "DestinationRule" or dr.spec.get("host") not in MESH_WIDE_HOSTS:
            continue
        if _tls_mode(dr.spec) != "ISTIO_MUTUAL":
            continue
        disabled = [
            "the mesh" if ns == peers.root_namespace else f"namespace {ns}"
            for ns, pa in sorted(peers.namespace_wide.items())
            if mode_of(pa) == "DISABLE" and f"*.{ns}.svc.cluster.local" not in exempt
        ]
        if disabled:
            found.append(
                error(
                    "mesh.istio-mutual-meets-disable",
                    dr.origin.key,
                    f"it makes every client send Istio mTLS to every {dr.spec.get('host')} host, but mTLS in "
                    f"{', '.join(disabled)} is DISABLE: those servers take plaintext only, so every call to them "
                    "fails. Remove this rule (auto mTLS already picks mTLS or plaintext per server), or add a "
                    "DestinationRule with `tls: {mode: DISABLE}` for those hosts.",
                )
            )
        else:
            permissive = [
                f"{place}{'' if port == ANY_PORT else ':' + port}"
                for ns in sorted(peers.namespaces() | {peers.root_namespace})
                for place, modes in exposure.places(ns)
                for port, mode in modes.items()
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
                    dr.origin.key,
                    "auto mTLS (on by default since Istio 1.5) already sends mTLS to every server with a sidecar, "
                    f"so this rule changes nothing for them.{enforces} What it does change: calls to "
                    f"{dr.spec.get('host')} "
                    "servers without a sidecar (non-injected namespaces, the Kubernetes API service) get mTLS and "
                    "fail, and any more specific DestinationRule replaces it whole. Remove it unless auto mTLS is off "
                    "in your mesh.",
                )
            )
    return found
