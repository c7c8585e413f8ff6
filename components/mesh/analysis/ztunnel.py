"""What ztunnel enforces of Istio's policies for the pods of an ambient namespace: what istiod hands it
(pilot/pkg/serviceregistry/ambient/authorization.go of istio/istio @86c9f01fd, `convertAuthorizationPolicy`,
`handleRule`, `convertedSelectorPeerAuthentications`) and how it matches (src/rbac.rs and src/state.rs of istio/ztunnel
@62d826530).

- An AuthorizationPolicy bound by `targetRefs` is a waypoint's, never ztunnel's ("TargetRef is not intended for
  ztunnel"); CUSTOM and AUDIT are not supported: istiod leaves the whole policy out, with a status condition; a dry-run
  policy is left out too unless istiod runs with AMBIENT_ENABLE_DRY_RUN_AUTHORIZATION_POLICY (off by default,
  pilot/pkg/features/ambient.go).
- Of a rule, ztunnel reads the L4 attributes only (`L4_SOURCE_FIELDS`, `L4_OPERATION_FIELDS`, `L4_CONDITIONS`).
  An HTTP attribute makes istiod leave an ALLOW rule out whole ("rules matching HTTP attributes are omitted"); in a
  DENY rule only the field goes. Either way an entry left without a field is an empty match, which ztunnel skips
  (`if mg.is_empty() { continue }`), so a `from` or `to` of only such entries, or a `when` on an HTTP key, never
  matches and neither does its rule. `trustDomains` and `notTrustDomains` are not passed on at all, in either action,
  and without a status condition.
- A PeerAuthentication counts only where it makes a port STRICT: istiod sends ztunnel a DENY of requests without an
  identity there (`istio_converted_static_strict`, or the workload's converted port-level policy), composed its own
  way: `ztunnel_modes` of modes.py. A root-namespace policy with a selector is ignored, as by the sidecars
  (istio/istio#61023 asks to change that).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from components.mesh.analysis.authorization import action_of
from components.mesh.interchange.istio_objects import IstioObject, listed
from components.mesh.istio_api import OPERATION_FIELDS, SOURCE_FIELDS

L4_CONDITIONS = ("source.ip", "source.namespace", "source.principal", "destination.ip", "destination.port")
# `httpSources` and `httpOperations` of authorization.go: what istiod reports as HTTP attributes.
HTTP_SOURCE_FIELDS = ("remoteIpBlocks", "notRemoteIpBlocks", "requestPrincipals", "notRequestPrincipals")
HTTP_OPERATION_FIELDS = ("hosts", "notHosts", "methods", "notMethods", "paths", "notPaths")
UNSENT_SOURCE_FIELDS = ("trustDomains", "notTrustDomains")  # `handleRule` copies no trust domain into a match
# What ztunnel matches of a source: every field Istio's API has but the HTTP ones and those never sent.
L4_SOURCE_FIELDS = tuple(f for f in SOURCE_FIELDS if f not in HTTP_SOURCE_FIELDS + UNSENT_SOURCE_FIELDS)
L4_OPERATION_FIELDS = tuple(f for f in OPERATION_FIELDS if f not in HTTP_OPERATION_FIELDS)
SUPPORTED_ACTIONS = ("ALLOW", "DENY")
DRY_RUN_FLAG = "AMBIENT_ENABLE_DRY_RUN_AUTHORIZATION_POLICY"
# With it, istiod gives ztunnel an ALLOW of each waypoint's identity for the workloads behind it
# (`implicitWaypointPolicy`, pilot/pkg/serviceregistry/ambient/policies.go); off by default (features/ambient.go).
AUTO_ALLOW_WAYPOINT = (
    "istiod adds that ALLOW itself for every workload behind a waypoint when it runs with "
    "PILOT_AUTO_ALLOW_WAYPOINT_POLICY=true, off by default"
)

KEPT = "kept"  # ztunnel matches the rule as a sidecar would
LEFT_OUT = "left out"  # an ALLOW rule with an HTTP attribute: it matches nothing
NEVER = "never matches"  # a clause holds only entries left empty, or a `when` on an HTTP key
WIDER = "wider"  # fields were dropped and the rest still matches: more requests than written


@dataclass(frozen=True)
class RuleAtZtunnel:
    """One rule of a policy as ztunnel gets it."""

    index: int
    fate: str  # KEPT, LEFT_OUT, NEVER or WIDER
    http: tuple[str, ...]  # the HTTP attributes istiod found in it ("methods", "request.headers[x-id]")
    unsent: tuple[str, ...]  # the fields istiod does not pass on without a word (trustDomains)
    rule: Mapping[str, Any] | None  # what ztunnel matches; None when it matches nothing

    @property
    def unread(self) -> tuple[str, ...]:
        return self.http + self.unsent


@dataclass(frozen=True)
class PolicyAtZtunnel:
    """An AuthorizationPolicy as ztunnel enforces it: `enforced` is the policy with its rules rewritten to what
    ztunnel matches (None when istiod gives ztunnel nothing of it, for the reason in `skipped`)."""

    policy: IstioObject
    enforced: IstioObject | None
    skipped: str
    rules: tuple[RuleAtZtunnel, ...]


def _entries(rule: Mapping[str, Any], part: str, inner: str) -> list[Mapping[str, Any]] | None:
    """The `from` sources or `to` operations of a rule, None when the rule has no such clause."""
    entries = rule.get(part)
    if not isinstance(entries, list) or not entries:
        return None
    found: list[Mapping[str, Any]] = []
    for entry in entries:
        inside = entry.get(inner) if isinstance(entry, dict) else None
        found.append(inside if isinstance(inside, dict) else {})
    return found


def rule_at_ztunnel(index: int, rule: Any, action: str) -> RuleAtZtunnel:
    """One rule of an ALLOW or DENY policy as istiod hands it to ztunnel."""
    if not isinstance(rule, dict):
        return RuleAtZtunnel(index, NEVER, (), (), None)
    http: list[str] = []
    unsent: list[str] = []
    clauses: dict[str, list[dict[str, Any]]] = {}
    never = False
    for part, inner, l4, http_fields in (
        ("from", "source", L4_SOURCE_FIELDS, HTTP_SOURCE_FIELDS),
        ("to", "operation", L4_OPERATION_FIELDS, HTTP_OPERATION_FIELDS),
    ):
        entries = _entries(rule, part, inner)
        if entries is None:
            continue
        kept = []
        for entry in entries:
            http += [f for f in http_fields if entry.get(f)]
            unsent += [f for f in UNSENT_SOURCE_FIELDS if entry.get(f)]
            read = {f: v for f, v in entry.items() if f in l4 and v}
            if read:
                kept.append(read)
        if kept:
            clauses[part] = [{inner: e} for e in kept]
        else:
            never = True  # only empty matches: ztunnel skips each, so the clause matches nothing
    conditions = []
    for condition in listed(rule.get("when")):
        key = condition.get("key") if isinstance(condition, dict) else None
        if key in L4_CONDITIONS:
            conditions.append(condition)
        else:
            http.append(str(key))
            never = True  # its match is empty
    http, unsent = list(dict.fromkeys(http)), list(dict.fromkeys(unsent))
    if action == "ALLOW" and http:
        return RuleAtZtunnel(index, LEFT_OUT, tuple(http), tuple(unsent), None)
    if never:
        return RuleAtZtunnel(index, NEVER, tuple(http), tuple(unsent), None)
    enforced: dict[str, Any] = dict(clauses)
    if conditions:
        enforced["when"] = conditions
    fate = WIDER if http or unsent else KEPT
    return RuleAtZtunnel(index, fate, tuple(http), tuple(unsent), enforced)


@functools.lru_cache(maxsize=4096)
def at_ztunnel(policy: IstioObject) -> PolicyAtZtunnel:
    """What ztunnel enforces of an AuthorizationPolicy that applies to pods of an ambient namespace."""
    if policy.targets_gateways:
        return PolicyAtZtunnel(policy, None, "it is bound by targetRefs, which only a waypoint enforces", ())
    action = action_of(policy)
    if action not in SUPPORTED_ACTIONS:
        return PolicyAtZtunnel(policy, None, f"ztunnel does not support the {action} action", ())
    if policy.dry_run:
        return PolicyAtZtunnel(
            policy,
            None,
            f"istiod gives ztunnel no dry-run policy unless it runs with {DRY_RUN_FLAG}=true (off by default)",
            (),
        )
    rules = policy.spec.get("rules")
    if not isinstance(rules, list):
        return PolicyAtZtunnel(policy, policy, "", ())  # no rules: an ALLOW matches nothing, as with sidecars
    fates = tuple(rule_at_ztunnel(i, rule, action) for i, rule in enumerate(rules))
    if all(f.fate == KEPT for f in fates):
        return PolicyAtZtunnel(policy, policy, "", fates)
    spec = {**policy.spec, "rules": [f.rule for f in fates if f.rule is not None]}
    return PolicyAtZtunnel(policy, dataclasses.replace(policy, spec=spec), "", fates)


def as_enforced(policies: Sequence[IstioObject]) -> list[IstioObject]:
    """The policies that apply to a pod of an ambient namespace, as ztunnel enforces them."""
    found = []
    for policy in policies:
        converted = at_ztunnel(policy).enforced
        if converted is not None:
            found.append(converted)
    return found
