"""What Istio's AuthorizationPolicies decide for a request of which only some attributes are known.

Each match is three-valued: True, False, or None when it depends on what is not known (a path, a JWT). Semantics
from Istio's authorization concept page and the AuthorizationPolicy reference
(https://istio.io/latest/docs/concepts/security/#authorization-policies,
https://istio.io/latest/docs/reference/config/security/authorization-policy/): CUSTOM, then DENY, then ALLOW; no
ALLOW policy on a workload allows; otherwise a request no ALLOW rule matches is denied. Inside a rule, `from`
entries and `to` entries are ORed, everything else is ANDed. Values match exactly, by prefix (`abc*`), by suffix
(`*abc`), or by presence (`*`). Plaintext requests carry no peer identity: those attributes compare as empty.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from components.mesh.analysis.modes import LabelIndex
from components.mesh.interchange.istio_objects import IstioObject, listed

Truth = bool | None  # None: it depends on what is not known
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def all_of(values: Iterable[Truth]) -> Truth:
    result: Truth = True
    for value in values:
        if value is False:
            return False
        if value is None:
            result = None
    return result


def any_of(values: Iterable[Truth]) -> Truth:
    result: Truth = False
    for value in values:
        if value is True:
            return True
        if value is None:
            result = None
    return result


def negate(value: Truth) -> Truth:
    return None if value is None else not value


@dataclass(frozen=True)
class Request:
    """What a caller's requests are known to carry. `principal` is "" for plaintext and None when unknown."""

    port: str
    principal: str | None = None
    sources: tuple[Network, ...] | None = None  # the packet's source IP falls in one of these
    headers: Mapping[str, str] | None = None  # known headers (lowercase names)
    headers_complete: bool = False  # True: no other header is sent
    path: str | None = None
    method: str | None = None
    sni: str | None = None

    @property
    def peer(self) -> dict[str, str] | None:
        """The identity attributes, empty for plaintext."""
        if self.principal is None:
            return None
        parts = self.principal.split("/")
        if len(parts) == 5 and parts[1] == "ns" and parts[3] == "sa":
            return {"trust_domain": parts[0], "namespace": parts[2], "service_account": parts[4]}
        return {"trust_domain": "", "namespace": "", "service_account": ""}


def value_matches(pattern: str, value: str) -> bool:
    if pattern == "*":
        return value != ""
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    return value == pattern


def _one_of(patterns: Any, value: str | None) -> Truth:
    """Whether `value` matches one of the patterns; None when unknown, or when `patterns` is no list (a malformed
    rule, which the settings checks refuse by its key: the analysis reads it as matching nothing it can tell)."""
    if value is None or not isinstance(patterns, list):
        return None
    return any(value_matches(str(p), value) for p in patterns if isinstance(p, str))


def _in_blocks(blocks: Any, sources: tuple[Network, ...] | None) -> Truth:
    if sources is None or not isinstance(blocks, list):  # a malformed rule, as in _one_of
        return None
    networks = []
    for block in blocks:
        try:
            networks.append(ipaddress.ip_network(str(block), strict=False))
        except ValueError:
            return None
    inside = [any(s.version == n.version and s.subnet_of(n) for n in networks) for s in sources]  # type: ignore[arg-type]
    if all(inside):
        return True
    if not any(s.overlaps(n) for s in sources for n in networks):
        return False
    return None


def _service_accounts(patterns: Any, peer: dict[str, str] | None, namespace: str) -> Truth:
    if peer is None:
        return None
    if not peer["service_account"]:
        return False
    names = {f"{peer['namespace']}/{peer['service_account']}"}
    if peer["namespace"] == namespace:
        names.add(peer["service_account"])  # a bare name means the policy's own namespace
    return any(str(p) in names for p in patterns)


def source_field(name: str, values: Any, request: Request, namespace: str) -> Truth:
    if not isinstance(values, list):
        return None
    negative = name.startswith("not")
    base = name[3].lower() + name[4:] if negative else name
    peer = request.peer
    match: Truth
    if base == "principals":
        match = _one_of(values, request.principal)
    elif base == "namespaces":
        match = _one_of(values, None if peer is None else peer["namespace"])
    elif base == "trustDomains":
        match = _one_of(values, None if peer is None else peer["trust_domain"])
    elif base == "serviceAccounts":
        match = _service_accounts(values, peer, namespace)
    elif base == "ipBlocks":
        match = _in_blocks(values, request.sources)
    else:  # requestPrincipals (a JWT) and remoteIpBlocks (X-Forwarded-For) are never known here
        match = None
    return negate(match) if negative else match


def operation_field(name: str, values: Any, request: Request) -> Truth:
    if not isinstance(values, list):
        return None
    negative = name.startswith("not")
    base = name[3].lower() + name[4:] if negative else name
    known = {"ports": request.port, "paths": request.path, "methods": request.method}.get(base)
    if known is None:
        match: Truth = None
    elif base == "paths":
        match = any(value_matches(str(v), known) for v in values)
    else:
        match = any(str(v) == known for v in values)
    return negate(match) if negative else match


def _header(request: Request, name: str) -> str | None:
    """The header's value, "" when it is known to be absent, None when unknown."""
    known = (request.headers or {}).get(name.lower())
    if known is not None:
        return known
    return "" if request.headers_complete else None


def condition(cond: Mapping[str, Any], request: Request, namespace: str) -> Truth:
    key = str(cond.get("key", ""))
    peer = request.peer
    value: str | None
    if key.startswith("request.headers[") and key.endswith("]"):
        value = _header(request, key[len("request.headers[") : -1])
        if value == "":  # an absent header matches no value, so only `notValues` can hold
            return not cond.get("values")
    elif key in ("source.ip",):
        blocks = [cond.get("values") or [], cond.get("notValues") or []]
        return all_of(
            [
                _in_blocks(blocks[0], request.sources) if blocks[0] else True,
                negate(_in_blocks(blocks[1], request.sources)) if blocks[1] else True,
            ]
        )
    elif key == "destination.port":
        value = request.port
    elif key == "source.principal":
        value = request.principal
    elif key == "connection.sni":
        value = request.sni if request.principal != "" else ""
    elif key in ("source.namespace", "source.serviceAccount", "source.trustDomain") and peer is not None:
        value = {
            "source.namespace": peer["namespace"],
            "source.serviceAccount": f"{peer['namespace']}/{peer['service_account']}" if peer["namespace"] else "",
            "source.trustDomain": peer["trust_domain"],
        }[key]
    else:
        return None
    values, not_values = cond.get("values") or [], cond.get("notValues") or []
    return all_of(
        [
            _one_of(values, value) if values else True,
            negate(_one_of(not_values, value)) if not_values else True,
        ]
    )


def rule_matches(rule: Any, request: Request, namespace: str) -> Truth:
    if not isinstance(rule, dict):
        return None
    parts: list[Truth] = []
    sources = rule.get("from")
    if isinstance(sources, list) and sources:
        parts.append(
            any_of(
                all_of(source_field(n, v, request, namespace) for n, v in source.items())
                if isinstance(source := entry.get("source") if isinstance(entry, dict) else None, dict)
                else None
                for entry in sources
            )
        )
    operations = rule.get("to")
    if isinstance(operations, list) and operations:
        parts.append(
            any_of(
                all_of(operation_field(n, v, request) for n, v in operation.items())
                if isinstance(operation := entry.get("operation") if isinstance(entry, dict) else None, dict)
                else None
                for entry in operations
            )
        )
    for cond in listed(rule.get("when")):
        parts.append(condition(cond, request, namespace) if isinstance(cond, dict) else None)
    return all_of(parts)


def policy_matches(policy: IstioObject, request: Request) -> Truth:
    rules = policy.spec.get("rules")
    if not isinstance(rules, list):
        return False  # no rules: an ALLOW matches nothing (allow-nothing)
    return any_of(rule_matches(rule, request, policy.namespace) for rule in rules)


def action_of(policy: IstioObject) -> str:
    return str(policy.spec.get("action") or "ALLOW")


@dataclass(frozen=True)
class Decision:
    allowed: Truth
    by: tuple[IstioObject, ...] = ()  # the DENY policy that matches, or the ALLOW policies none of which does

    @property
    def because(self) -> str:
        if not self.by:
            return ""
        if action_of(self.by[0]) == "DENY":
            return f"DENY policy {_short(self.by[0])} matches them"
        names = ", ".join(_short(p) for p in self.by)
        if len(self.by) == 1:
            return f"ALLOW policy {names} denies them (no rule of it matches them)"
        return f"ALLOW policies {names} deny them (no rule of theirs matches them)"


def _short(policy: IstioObject) -> str:
    return f"{policy.namespace}/{policy.name} ({policy.origin.key})"


def decide(policies: Sequence[IstioObject], request: Request) -> Decision:
    """Istio's decision for `request` under the policies that apply to its workload."""
    maybe_denied = False
    for policy in policies:
        if action_of(policy) in ("DENY", "CUSTOM"):
            match = policy_matches(policy, request)
            if match is True and action_of(policy) == "DENY":
                return Decision(False, (policy,))
            maybe_denied |= match is not False  # CUSTOM asks an external service: never known here
    allows = [p for p in policies if action_of(p) == "ALLOW"]
    if not allows:
        return Decision(None if maybe_denied else True)
    verdict = any_of(policy_matches(p, request) for p in allows)
    if verdict is False:
        return Decision(False, tuple(allows))
    return Decision(None if maybe_denied or verdict is None else True)


@dataclass
class AuthorizationPolicies:
    """Enforced AuthorizationPolicies (dry-run and gateway-bound ones left out), indexed like PeerAuthentications."""

    root_namespace: str
    namespace_wide: dict[str, list[IstioObject]] = field(default_factory=dict)
    index: LabelIndex = field(default_factory=lambda: LabelIndex(()))

    @classmethod
    def of(cls, objects: Iterable[IstioObject], root_namespace: str, dry_run: bool = False) -> AuthorizationPolicies:
        """The enforced policies, or with `dry_run` those Istio only records."""
        enforced = [
            o for o in objects if o.kind == "AuthorizationPolicy" and o.dry_run == dry_run and not o.targets_gateways
        ]
        namespace_wide: dict[str, list[IstioObject]] = {}
        for policy in enforced:
            if not policy.selector:
                namespace_wide.setdefault(policy.namespace, []).append(policy)
        return cls(root_namespace, namespace_wide, LabelIndex(p for p in enforced if p.selector))

    def applying_to(self, namespace: str, labels: Mapping[str, str]) -> list[IstioObject]:
        """A root-namespace policy applies in every namespace, with its selector if it has one."""
        found = [*self.namespace_wide.get(namespace, ()), *self.index.matching(namespace, labels)]
        if namespace != self.root_namespace:
            root = self.root_namespace
            found += [*self.namespace_wide.get(root, ()), *self.index.matching(root, labels)]
        return found
