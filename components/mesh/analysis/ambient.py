"""Ambient readiness: what each PeerAuthentication and AuthorizationPolicy does for the pods of an ambient namespace,
next to what sidecars make of it. One verdict per policy: unchanged, stops matching, drops all traffic, denies more,
ignored, taken as PERMISSIVE, or needs a waypoint. What ztunnel makes of the modes is `modes.py`'s; what it reads of a
policy, `ztunnel.py`'s; which namespaces are ambient and which waypoint is in the path, `dataplane.py`'s; what each
caller meets, `transport.py`'s.

Sources: istio.io "Use Layer 4 security policy" (content/en/docs/ambient/usage/l4-policy/index.md of istio/istio.io)
and "Migrate policies" (content/en/docs/ambient/migrate/migrate-policies/index.md); istio/istio @86c9f01fd
pilot/pkg/serviceregistry/ambient/authorization.go; istio/ztunnel @62d826530 src/rbac.rs. Where istio.io's page says
ztunnel drops the traffic of an L7 policy "if no waypoint proxies are configured", istiod's code converts a
selector-bound policy the same way with or without a waypoint: a waypoint enforces only what `targetRefs` binds to
it (the page's own attachment table, and the integration test TestAuthorizationL7 of tests/integration/ambient), so
the verdict holds in both cases.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from components.core.findings import Finding, Severity, closest
from components.mesh.analysis import modes, ztunnel
from components.mesh.analysis.authorization import Request, action_of, rule_matches
from components.mesh.analysis.dataplane import WAYPOINT_CLASSES, DataPlanes, Waypoint
from components.mesh.analysis.modes import ANY_PORT, mode_of, port_modes
from components.mesh.analysis.transport import MeshView, target_refs
from components.mesh.interchange.istio_objects import IstioObject, labels_text, listed
from components.mesh.istio_api import (
    AGENTGATEWAY_WAYPOINT_CLASS,
    DEFAULT_TRUST_DOMAIN,
    INGRESS_USE_WAYPOINT,
    TARGET_GROUPS,
    USE_WAYPOINT,
    WAYPOINT_CLASS,
    identity_of,
)
from components.mesh.settings import AMBIENT_KEY

UNCHANGED = "unchanged"
STOPS_MATCHING = "stops matching"
DROPS_ALL = "drops all traffic"
DENIES_MORE = "denies more"
IGNORED = "ignored"
TAKEN_AS_PERMISSIVE = modes.TAKEN_AS_PERMISSIVE
NEEDS_WAYPOINT = "needs a waypoint"
CODES = {
    UNCHANGED: "ambient.unchanged",
    STOPS_MATCHING: "ambient.stops-matching",
    DROPS_ALL: "ambient.drops-all-traffic",
    DENIES_MORE: "ambient.denies-more",
    IGNORED: "ambient.ignored",
    TAKEN_AS_PERMISSIVE: "ambient.permissive",
    NEEDS_WAYPOINT: "ambient.needs-waypoint",
}
RANK = (DROPS_ALL, DENIES_MORE, NEEDS_WAYPOINT, STOPS_MATCHING, IGNORED, TAKEN_AS_PERMISSIVE, UNCHANGED)
L4_POLICY = "istio.io, Use Layer 4 security policy"
IDENTITY_FIELDS = ("principals", "namespaces", "serviceAccounts")
IDENTITY_CONDITIONS = ("source.principal", "source.namespace")


@dataclass(frozen=True)
class Effect:
    """One thing ambient changes about a policy, and what to do about it."""

    verdict: str
    severity: Severity
    key: str
    text: str
    fix: str = ""


def verdicts(objects: Sequence[IstioObject], view: MeshView, every: bool = False) -> list[Finding]:
    """A verdict for each policy that applies to pods of an ambient namespace; the `unchanged` ones (notes) only
    with `every`, as the what-if prints them."""
    if not view.planes.ambient:
        return []
    found = []
    for obj in objects:
        if obj.kind == "PeerAuthentication":
            effects = _peer_authentication(obj, view)
        elif obj.kind == "AuthorizationPolicy":
            effects = _authorization_policy(obj, view)
        else:
            continue
        if effects is None or (not every and all(e.verdict == UNCHANGED for e in effects)):
            continue
        found.append(_finding(obj, effects))
    return found


def _finding(obj: IstioObject, effects: list[Effect]) -> Finding:
    effects = sorted(effects, key=lambda e: RANK.index(e.verdict))
    top = effects[0]
    severity = min((e.severity for e in effects if e.verdict == top.verdict), key=list(Severity).index)
    text = " ".join(e.text for e in effects)
    fixes = " ".join(dict.fromkeys(e.fix for e in effects if e.fix))
    return Finding(severity, CODES[top.verdict], top.key, f"{top.verdict}: {text}{' ' + fixes if fixes else ''}")


def _ambient_namespaces(view: MeshView, namespace: str) -> list[str]:
    """The ambient namespaces where a policy of `namespace` applies: its own, or every one for the root namespace."""
    if namespace == view.root_namespace:
        return sorted(view.planes.ambient - {namespace})
    return [namespace] if namespace in view.planes.ambient else []


def _in(namespaces: Iterable[str]) -> str:
    names = list(namespaces)
    return f"ambient namespace {names[0]}" if len(names) == 1 else f"ambient namespaces {', '.join(names)}"


# --- PeerAuthentication -------------------------------------------------------------------------------------------


def _peer_authentication(pa: IstioObject, view: MeshView) -> list[Effect] | None:
    peers, root = view.peers, view.root_namespace
    if pa.namespace == root and pa.selector:
        if not view.planes.ambient:
            return None
        return [
            Effect(
                IGNORED,
                Severity.WARNING,
                pa.origin.key,
                "ztunnel, like the sidecars, never applies a PeerAuthentication with a selector in the root namespace "
                f"{root} (`convertedSelectorPeerAuthentications`; istio/istio#61023, open).",
                "Put it in the workload's own namespace.",
            )
        ]
    if pa.namespace == root:  # the mesh's: it reaches the ambient namespaces without a mode of their own
        namespaces = [
            ns
            for ns in sorted(view.planes.ambient)
            if (own := peers.namespace_wide.get(ns)) is None or mode_of(own) == "UNSET"
        ]
    else:
        namespaces = [pa.namespace] if pa.namespace in view.planes.ambient else []
    if not namespaces:
        return None
    changed: dict[str, dict[str, list[str]]] = {}  # kind: {port: namespaces}
    for ns in namespaces:
        for change in modes.ztunnel_changes(peers, ns, pa.selector):
            changed.setdefault(change.kind, {}).setdefault(change.port, []).append(ns)
    if changed:
        return [_mode_effect(pa, kind, ports) for kind, ports in changed.items()]
    enforced = ", ".join(f"{port}: {mode}" for port, mode in peers.at(pa.namespace, pa.selector).all().items())
    what = f"its modes ({enforced})" if pa.selector else f"its mode ({mode_of(pa)})"
    return [
        Effect(
            UNCHANGED,
            Severity.NOTE,
            pa.origin.key,
            f"ztunnel enforces {what} in {_in(namespaces)} as the sidecars do: STRICT refuses plaintext, "
            "PERMISSIVE takes both.",
        )
    ]


def _mode_effect(pa: IstioObject, kind: str, ports: dict[str, list[str]]) -> Effect:
    """One kind of mode change (modes.py) of a PeerAuthentication's ports, with why and what to do."""
    where = ", ".join(_port_text(pa, port) for port in ports)
    namespaces = list(dict.fromkeys(ns for found in ports.values() for ns in found))
    if kind == modes.TAKEN_AS_PERMISSIVE:
        return Effect(
            TAKEN_AS_PERMISSIVE,
            Severity.WARNING,
            pa.origin.key,
            f"ztunnel takes its DISABLE ({where}) in {_in(namespaces)} as PERMISSIVE: {modes.WHY[kind]}. istio.io says "
            f'such a policy is ignored ("it is not possible to use the DISABLE mode in a policy. Such policies will '
            f"be ignored\", {L4_POLICY}); istiod's code takes it as PERMISSIVE.",
            "To take pods out of mTLS, take their namespace out of ambient (remove istio.io/dataplane-mode); "
            "otherwise write PERMISSIVE, which says what ztunnel does.",
        )
    if kind == modes.DISABLE_IGNORED:
        return Effect(
            IGNORED,
            Severity.ERROR,
            pa.origin.key,
            f"its DISABLE ({where}) is ignored in {_in(namespaces)}: {modes.WHY[kind]}, such as a scrape from outside "
            f'the mesh ("Such policies will be ignored", {L4_POLICY}).',
            f"Write PERMISSIVE for {where}: ztunnel exempts a PERMISSIVE port, and lets plaintext in there again.",
        )
    return Effect(
        IGNORED,
        Severity.ERROR,
        pa.origin.key,
        f"ztunnel does not enforce the STRICT ({where}) that the sidecars did in {_in(namespaces)}: {modes.WHY[kind]}.",
        f"Give namespace {', '.join(namespaces)} `mtls.mode: STRICT` of its own (a namespace-wide "
        "PeerAuthentication): ztunnel then enforces it.",
    )


def _port_text(pa: IstioObject, port: str) -> str:
    if port != ANY_PORT:
        return f"port {port}"
    if mode_of(pa) != "UNSET":
        return "mtls.mode"
    return "every port without a mode of its own" if port_modes(pa) else "every port"


# --- AuthorizationPolicy -----------------------------------------------------------------------------------------


def _where(policy: IstioObject, namespace: str) -> str:
    if policy.selector:
        return f"the pods labelled {labels_text(policy.selector)} in {namespace}"
    return f"every pod of {namespace}"


def _rule_key(policy: IstioObject, index: int) -> str:
    return policy.origin.at(f"rules[{index}]", f"rules[{index}]")


def _authorization_policy(policy: IstioObject, view: MeshView) -> list[Effect] | None:
    if policy.targets_gateways:
        return _bound(policy, view)
    namespaces = _ambient_namespaces(view, policy.namespace)
    if not namespaces:
        return None
    where = "; ".join(_where(policy, ns) for ns in namespaces)
    converted = ztunnel.at_ztunnel(policy)
    action = action_of(policy)
    if converted.enforced is None:
        return [_skipped(policy, converted, where, action)]
    effects = _rule_effects(policy, converted, where, action, view, namespaces)
    if not any(e.verdict != UNCHANGED for e in effects):
        waypoints = [w for ns in namespaces if (w := _waypoint_of(policy, ns, view)) is not None]
        through = (
            f" Requests through {', '.join(dict.fromkeys(w.title for w in waypoints))} reach it with the "
            "waypoint's identity."
            if waypoints
            else ""
        )
        return [
            Effect(
                UNCHANGED,
                Severity.NOTE,
                policy.origin.key,
                f"ztunnel reads every attribute of this {action} policy (L4 only) and enforces it for {where} as the "
                f"sidecars do.{through}",
            )
        ]
    return effects


def _skipped(policy: IstioObject, converted: ztunnel.PolicyAtZtunnel, where: str, action: str) -> Effect:
    if policy.dry_run:
        return Effect(
            IGNORED,
            Severity.WARNING,
            policy.origin.key,
            f"{converted.skipped}, so nothing records what it would deny for {where} "
            "(pilot/pkg/features/ambient.go; ztunnel 1.29 or newer).",
            f"Set {ztunnel.DRY_RUN_FLAG}=true on istiod. Istio's TCP metrics still show plaintext there: ztunnel "
            'reports it with connection_security_policy="unknown" (src/proxy/inbound_passthrough.rs of '
            "istio/ztunnel), which `python -m mtls migration` reads.",
        )
    return Effect(
        IGNORED,
        Severity.ERROR if action == "CUSTOM" else Severity.WARNING,
        policy.origin.key,
        f"{converted.skipped}, so istiod gives it no part of this policy and nothing applies it to {where}"
        + (": the external authorizer is no longer asked." if action == "CUSTOM" else "."),
        "A CUSTOM or AUDIT policy must target a waypoint: replace `selector` with `targetRefs` to the Service or the "
        "waypoint's Gateway (istio.io, Migrate policies).",
    )


def _rules_text(rules: Iterable[ztunnel.RuleAtZtunnel]) -> str:
    return ", ".join(f"rules[{r.index}] ({', '.join(r.unread)})" for r in rules)


def _rule_effects(
    policy: IstioObject,
    converted: ztunnel.PolicyAtZtunnel,
    where: str,
    action: str,
    view: MeshView,
    namespaces: list[str],
) -> list[Effect]:
    effects: list[Effect] = []
    rules = converted.rules
    lost = [r for r in rules if r.fate in (ztunnel.LEFT_OUT, ztunnel.NEVER)]
    wider = [r for r in rules if r.fate == ztunnel.WIDER]
    bind = (
        "Bind the policy to a waypoint with targetRefs (the Service, or the waypoint's Gateway) instead of a "
        "selector: a waypoint reads HTTP attributes, and enforces only what targetRefs binds to it (istio.io, "
        "Migrate policies); or keep the rules to L4 attributes (principals, namespaces, serviceAccounts, ipBlocks, "
        "ports)."
    )
    http = any(r.http for r in rules)
    if action == "ALLOW" and lost:
        how = (
            "istiod leaves out every ALLOW rule with an HTTP attribute, since ztunnel cannot read it, and a match on "
            "trustDomains alone is empty, which ztunnel skips"
            if any(r.unsent for r in lost) and http
            else "istiod leaves out every ALLOW rule with an HTTP attribute, since ztunnel cannot read it"
            if http
            else "istiod passes no trustDomains to ztunnel, and a match left empty is one ztunnel skips"
        )
        if len(lost) == len(rules):
            effects.append(
                Effect(
                    DROPS_ALL,
                    Severity.ERROR,
                    _rule_key(policy, lost[0].index),
                    f"ztunnel enforces this selector-bound ALLOW policy for {where}, and {how}: "
                    f"{_rules_text(lost)}. With no rule left it allows nothing, so ztunnel refuses every connection "
                    f'there that no other ALLOW policy allows ("ztunnel proxy will simply drop all traffic", '
                    f"{L4_POLICY}), a waypoint in the path or not.",
                    bind,
                )
            )
        else:
            effects.append(
                Effect(
                    STOPS_MATCHING,
                    Severity.ERROR,
                    _rule_key(policy, lost[0].index),
                    f"ztunnel enforces this ALLOW policy for {where}, and {how}: {_rules_text(lost)} no longer "
                    "match anything, so what only they allowed is refused.",
                    bind,
                )
            )
    if action == "DENY" and lost:
        verdict, what = (
            (IGNORED, "so the policy never matches and what it denied gets through")
            if len(lost) == len(rules)
            else (STOPS_MATCHING, "so those rules never match and what they denied gets through")
        )
        effects.append(
            Effect(
                verdict,
                Severity.ERROR,
                _rule_key(policy, lost[0].index),
                f"ztunnel enforces this DENY policy for {where} without the attributes it cannot read, and what is "
                f"left of {_rules_text(lost)} is an empty match, which ztunnel skips, {what}.",
                bind,
            )
        )
    if action == "DENY" and wider:
        left = "; ".join(f"rules[{r.index}]: {_l4_text(r.rule)}" for r in wider if r.rule is not None)
        effects.append(
            Effect(
                DENIES_MORE,
                Severity.ERROR,
                _rule_key(policy, wider[0].index),
                f"ztunnel enforces this DENY policy for {where} without the attributes it cannot read, so "
                f"{_rules_text(wider)} deny every connection that what is left of them matches ({left}), not only the "
                'requests they name ("DENY policy with HTTP attributes is enforced without the HTTP rules", '
                "authorization.go).",
                bind,
            )
        )
    if action == "ALLOW" and wider:
        effects.append(
            Effect(
                IGNORED,
                Severity.WARNING,
                _rule_key(policy, wider[0].index),
                f"istiod passes no trustDomains to ztunnel, so {_rules_text(wider)} allow callers of any trust domain "
                f"there ({where}).",
                "Name the trust domain in `principals` instead.",
            )
        )
    effects += _identity_effects(policy, converted, view, namespaces, action)
    return effects


def _l4_text(rule: Any) -> str:
    """What ztunnel matches of a rule, in Istio's field names: `from` entries or-ed, the rest and-ed."""
    parts = []
    for part, inner in (("from", "source"), ("to", "operation")):
        entries = [e[inner] for e in listed(rule.get(part)) if isinstance(e, dict) and isinstance(e.get(inner), dict)]
        described = [" and ".join(f"{f} {', '.join(map(str, v))}" for f, v in e.items()) for e in entries]
        if described:
            parts.append(" or ".join(described) if len(described) == 1 else f"({' or '.join(described)})")
    for condition in listed(rule.get("when")):
        values = condition.get("values") or condition.get("notValues") or []
        which = "in" if condition.get("values") else "not in"
        parts.append(f"{condition.get('key')} {which} {', '.join(map(str, values))}")
    return " and ".join(parts)


def _waypoint_of(policy: IstioObject, namespace: str, view: MeshView) -> Waypoint | None:
    if policy.selector:
        return view.planes.in_path(namespace, frozenset(policy.selector.items()))
    return view.planes.any_in_path(namespace)


def _ingress_waypoint_of(policy: IstioObject, namespace: str, view: MeshView) -> Waypoint | None:
    """The waypoint a gateway's calls to the policy's pods go through (`DataPlanes.ingress_in_path`), if any."""
    planes = view.planes
    if policy.selector:
        return planes.ingress_in_path(namespace, frozenset(policy.selector.items()))
    pods = [frozenset(s.selector.items()) for s in planes.services if s.namespace == namespace] + [frozenset()]
    return next((w for labels in pods if (w := planes.ingress_in_path(namespace, labels)) is not None), None)


def _captured_callers(rule: Any, view: MeshView, namespace: str, gateways: bool) -> list[str]:
    """The identities a rule names whose calls go through a waypoint in their way: exact principals, service accounts
    and namespaces of ambient namespaces whose pods ztunnel captures, and, with `gateways`, the gateways' own (a
    gateway goes straight to ztunnel otherwise). Wildcards say nothing certain and are left out."""
    planes = view.planes

    def through(account_namespace: str, account: str) -> bool:
        gateway = gateways and (account_namespace, account) in planes.gateway_accounts
        return planes.captured(account_namespace, account) or gateway

    values: list[tuple[str, str]] = []
    for entry in listed(rule.get("from")):
        source = entry.get("source") if isinstance(entry, dict) else None
        if isinstance(source, dict):
            values += [(field, str(v)) for field in IDENTITY_FIELDS for v in listed(source.get(field))]
    for condition in listed(rule.get("when")):
        if isinstance(condition, dict) and condition.get("key") in IDENTITY_CONDITIONS:
            field = "principals" if condition["key"] == "source.principal" else "namespaces"
            values += [(field, str(v)) for v in listed(condition.get("values"))]
    named: list[str] = []
    for field, value in values:
        if "*" in value:
            continue
        if field == "principals":
            identity = identity_of(value)
            if identity is not None and through(identity.namespace, identity.service_account):
                named.append(value)
        elif field == "serviceAccounts":
            account_namespace, _, account = value.rpartition("/")
            if through(account_namespace or namespace, account):
                named.append(value)
        elif value in planes.ambient:
            named.append(f"namespace {value}")
    return named


def _trust_domain(rule: Any) -> str:
    for entry in listed(rule.get("from")):
        source = entry.get("source") if isinstance(entry, dict) else None
        for principal in listed(source.get("principals")) if isinstance(source, dict) else []:
            identity = identity_of(str(principal))
            if identity is not None and "*" not in identity.trust_domain:
                return identity.trust_domain
    return DEFAULT_TRUST_DOMAIN


def _identity_effects(
    policy: IstioObject, converted: ztunnel.PolicyAtZtunnel, view: MeshView, namespaces: list[str], action: str
) -> list[Effect]:
    """A waypoint presents its own identity to ztunnel: a rule naming callers by identity no longer matches the
    requests of callers that come through it."""
    effects = []
    for namespace in namespaces:
        waypoint = _waypoint_of(policy, namespace, view)
        if waypoint is None:
            continue
        stale: list[int] = []
        callers: list[str] = []
        trust_domain = DEFAULT_TRUST_DOMAIN
        gateways = _ingress_waypoint_of(policy, namespace, view) is not None
        for fate in converted.rules:
            named = _captured_callers(fate.rule, view, policy.namespace, gateways) if fate.rule is not None else []
            if fate.rule is None or not named:
                continue
            # Only the identity part: the rest (ports, ipBlocks) is not what the waypoint changes.
            part = {
                "from": fate.rule.get("from"),
                "when": [c for c in listed(fate.rule.get("when")) if c.get("key") in IDENTITY_CONDITIONS],
            }
            seen = Request("", principal=waypoint.principal(_trust_domain(fate.rule)))
            if rule_matches({k: v for k, v in part.items() if v}, seen, policy.namespace) is False:
                trust_domain = _trust_domain(fate.rule) if not stale else trust_domain
                stale.append(fate.index)
                callers += named
        if not stale:
            continue
        rules = ", ".join(f"rules[{i}]" for i in stale)
        outcome = "they are refused unless a rule allows the waypoint" if action == "ALLOW" else "they get through"
        effects.append(
            Effect(
                STOPS_MATCHING,
                Severity.ERROR,
                _rule_key(policy, stale[0]),
                f"{', '.join(dict.fromkeys(callers))} reach {_where(policy, namespace)} through {waypoint.title}, "
                "and ztunnel sees "
                f"the waypoint's identity ({waypoint.principal(trust_domain)}) instead of theirs "
                f'("waypoint proxies do not impersonate src identity", {L4_POLICY}), so {rules} of this {action} '
                f"policy no longer match them: {outcome}. "
                + (
                    f"Gateways go through it too ({INGRESS_USE_WAYPOINT}); sidecars and clients outside the mesh "
                    if gateways
                    else f"Sidecars, gateways (unless {INGRESS_USE_WAYPOINT} says so) and clients outside the mesh "
                )
                + "still reach ztunnel directly, with their own identity.",
                f"Bind the rules that name callers to {waypoint.title} with targetRefs (it sees the callers' "
                "identities), and allow the waypoint's identity here"
                + (f" ({ztunnel.AUTO_ALLOW_WAYPOINT})." if action == "ALLOW" else "."),
            )
        )
    return effects


# istiod attaches AuthorizationPolicies to the Envoy waypoints of class istio-waypoint only: an agentgateway waypoint
# gets none ("Authz/Authn are not use for agentgateway", pilot/pkg/config/kube/agentgateway/agentgateway_controller.go).
AGENTGATEWAY = (
    f"an agentgateway waypoint (class {AGENTGATEWAY_WAYPOINT_CLASS}), which istiod gives no AuthorizationPolicy "
    "(pilot/pkg/config/kube/agentgateway/agentgateway_controller.go)"
)
NOT_ZTUNNELS = (
    'ztunnel never enforces a policy bound by targetRefs ("TargetRef is not intended for ztunnel", authorization.go)'
)


def _bound(policy: IstioObject, view: MeshView) -> list[Effect] | None:
    """A policy bound by targetRefs: only a waypoint enforces it in ambient; ztunnel never does. Which waypoint
    applies it is istiod's `ShouldAttachPolicy` (pilot/pkg/model/policyattachment.go); what it reports,
    `WaypointPolicyStatusCollection` (pilot/pkg/serviceregistry/ambient/policies.go)."""
    planes, namespace, root = view.planes, policy.namespace, view.root_namespace
    served: list[str] = []
    missing: list[tuple[str, str]] = []  # (what no waypoint serves, what to do)
    unbound: list[tuple[str, str]] = []  # (what istiod binds to nothing, what to do)
    declared = any(o.origin.from_settings for o in planes.namespace_objects.get(namespace, ()))
    for group, kind, name in target_refs(policy):
        if group not in TARGET_GROUPS.get(kind, ()):
            continue  # istiod's webhook refuses it
        if kind in ("Service", "ServiceEntry") and namespace in planes.ambient:
            binding = planes.service_named(namespace, name, kind)
            if binding.waypoint is None:
                why = binding.why or f"neither it nor namespace {namespace} has the label {USE_WAYPOINT}"
                fix = (
                    f"Set {AMBIENT_KEY}.{namespace}.waypoint."
                    if declared
                    else f"Deploy a waypoint (`istioctl waypoint apply -n {namespace} --enroll-namespace`), or label "
                    f"the {kind} with {USE_WAYPOINT}."
                )
                missing.append((f"{kind} {namespace}/{name}: {why}", fix))
            elif _gateway_class(binding.waypoint.gateway) != WAYPOINT_CLASS:
                unbound.append(
                    (
                        f"{kind} {name} uses {binding.waypoint.title}, {AGENTGATEWAY}",
                        f"Have the {kind} use a waypoint of class {WAYPOINT_CLASS}.",
                    )
                )
            else:
                served.append(f"{binding.waypoint.title} ({kind} {name})")
        elif kind == "Gateway" and namespace in planes.ambient:
            gateway = planes.gateways.get((namespace, name))
            if gateway is None:
                missing.append(_no_gateway(planes, namespace, name, declared))
            elif _gateway_class(gateway) == WAYPOINT_CLASS:
                served.append(f"waypoint {namespace}/{name}")
            elif _gateway_class(gateway) == AGENTGATEWAY_WAYPOINT_CLASS:
                unbound.append((f"Gateway {name} is {AGENTGATEWAY}", f"Use a waypoint of class {WAYPOINT_CLASS}."))
        elif kind == "GatewayClass" and namespace != root and namespace in planes.ambient:
            unbound.append(
                (
                    f"GatewayClass {name}: istiod binds a policy to a GatewayClass only from the root namespace "
                    f"{root}, and reports this one invalid (pilot/pkg/serviceregistry/ambient/policies.go)",
                    f"Move the policy to {root}, or bind it to the waypoint's Gateway.",
                )
            )
        elif kind == "GatewayClass" and namespace == root and name == AGENTGATEWAY_WAYPOINT_CLASS:
            unbound.append(
                (
                    f"GatewayClass {name}: a waypoint applies a policy bound by GatewayClass only for class "
                    f"{WAYPOINT_CLASS} (`ShouldAttachPolicy`), and {AGENTGATEWAY}",
                    f"Bind it to GatewayClass {WAYPOINT_CLASS}.",
                )
            )
        elif kind == "GatewayClass" and namespace == root and name == WAYPOINT_CLASS:
            waypoints = [f"{ns}/{n}" for (ns, n), g in sorted(planes.gateways.items()) if _gateway_class(g) == name]
            if waypoints:
                served.append(f"every waypoint of class {name} ({', '.join(waypoints)})")
            else:
                missing.append(
                    (
                        f"GatewayClass {name}: no Gateway of that class is known here, so no waypoint applies it",
                        "Deploy a waypoint (`istioctl waypoint apply -n NAMESPACE --enroll-namespace`).",
                    )
                )
    effects = []
    if missing:
        effects.append(
            Effect(
                NEEDS_WAYPOINT,
                Severity.ERROR,
                policy.origin.key,
                f"its targetRefs name what no waypoint serves ({'; '.join(what for what, _ in missing)}), and "
                f"{NOT_ZTUNNELS}: nothing enforces it there, so the requests it should refuse get through "
                "(istio/istio#57315).",
                " ".join(dict.fromkeys(fix for _, fix in missing)),
            )
        )
    if unbound:
        effects.append(
            Effect(
                IGNORED,
                Severity.ERROR,
                policy.origin.key,
                f"istiod binds it to no waypoint ({'; '.join(what for what, _ in unbound)}), and {NOT_ZTUNNELS}: "
                "nothing enforces it, so the requests it should refuse get through.",
                " ".join(dict.fromkeys(fix for _, fix in unbound)),
            )
        )
    if served:
        effects.append(
            Effect(
                UNCHANGED,
                Severity.NOTE,
                policy.origin.key,
                f"enforced by {', '.join(served)} with the callers' own identities and every attribute; sidecars, "
                f"clients outside the mesh and gateways (unless {INGRESS_USE_WAYPOINT} says so) do not go through a "
                "waypoint (istio/istio#51445) and are not checked by it.",
            )
        )
    return effects or None  # none: an ingress gateway's policy, not ambient's


def _gateway_class(gateway: IstioObject) -> str:
    return str(gateway.spec.get("gatewayClassName") or "")


def _no_gateway(planes: DataPlanes, namespace: str, name: str, declared: bool) -> tuple[str, str]:
    """A Gateway reference to nothing: the closest waypoint's name, and where to declare or create it."""
    known = [n for (ns, n), g in planes.gateways.items() if ns == namespace and _gateway_class(g) in WAYPOINT_CLASSES]
    hint = closest(name, known)
    fix = f"Did you mean {hint!r}? " if hint else ""
    if declared:
        fix += f"Name the waypoint in {AMBIENT_KEY}.{namespace}.waypoint, and bind the policy to it."
    else:
        fix += (
            f"Add the Gateway's YAML (`kubectl get gateways.gateway.networking.k8s.io -n {namespace} -o yaml`), or "
            f"create it (`istioctl waypoint apply -n {namespace} --name {name}`)."
        )
    return f"Gateway {namespace}/{name}: no Gateway of that name is known here", fix
