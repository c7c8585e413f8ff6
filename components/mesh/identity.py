"""Identity without mTLS (ISTIO-SECURITY-2021-004): a policy that matches on the peer's identity, on a workload port
that also takes plaintext, where requests carry no identity at all."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from components.core.findings import Finding, error, warning
from components.mesh.istio_api import IDENTITY_CONDITIONS, IDENTITY_FIELDS
from components.mesh.modes import EffectiveModes
from components.mesh.settings import AuthorizationSettings, MeshSettings


def identity_findings(key: str, p: AuthorizationSettings, mesh: MeshSettings, modes: EffectiveModes) -> list[Finding]:
    identity = _uses_identity(p.rules or (), p.action)
    exposed = _not_strict(p, mesh, modes) if identity else {}
    if not exposed:
        return []
    where = ", ".join(f"{place} is {mode}" for place, mode in exposed.items())
    text = (
        f"relies on {', '.join(identity)}, which only mTLS carries, but {where}: plaintext requests there "
        "carry no identity, so this policy can be bypassed (ISTIO-SECURITY-2021-004). Make those STRICT, "
        "or match on something plaintext carries too."
    )
    make = error if mesh.mode == "STRICT" else warning
    return [make("mesh.identity-without-mtls", key, text)]


def _uses_identity(rules: Iterable[Any], action: str) -> list[str]:
    used = []
    for rule in rules:
        if not isinstance(rule, dict):
            continue
        for entry in rule.get("from", []) if isinstance(rule.get("from"), list) else []:
            source = entry.get("source", {}) if isinstance(entry, dict) else {}
            if not isinstance(source, dict):
                continue
            # DENY on `notPrincipals: ["*"]` matches exactly the requests without identity: the advisory's own fix.
            used += [
                f
                for f in IDENTITY_FIELDS
                if f in source and not (action == "DENY" and f.startswith("not") and source[f] == ["*"])
            ]
        for condition in rule.get("when", []) if isinstance(rule.get("when"), list) else []:
            if isinstance(condition, dict) and condition.get("key") in IDENTITY_CONDITIONS:
                used.append(condition["key"])
    return sorted(set(used))


def _identity_ports(rules: Iterable[Any]) -> set[str] | None:
    """The ports the identity-bearing rules are limited to (`to.operation.ports`), or None if any may match any port."""
    ports: set[str] = set()
    for rule in rules:
        if not isinstance(rule, dict) or not _uses_identity([rule], "ALLOW"):
            continue
        targets = rule.get("to")
        if not isinstance(targets, list) or not targets:
            return None
        for target in targets:
            operation = target.get("operation") if isinstance(target, dict) else None
            limited = operation.get("ports") if isinstance(operation, dict) else None
            if not isinstance(limited, list) or not limited:
                return None
            ports |= {str(port) for port in limited}
    return ports


def _not_strict(p: AuthorizationSettings, mesh: MeshSettings, modes: EffectiveModes) -> dict[str, str]:
    if p.namespace == mesh.root_namespace:  # applies in every namespace
        namespaces = sorted(set(mesh.namespaces) | {w.namespace for w in mesh.workloads})
        candidates: dict[str, str] = {"namespaces without their own policy": modes.base("")}
        for ns in namespaces:
            candidates.update(modes.in_namespace(ns))
    elif p.selector:
        ports = _identity_ports(p.rules or ())
        if ports is None:  # the identity rules may match on any port
            per_port = modes.at(p.namespace, p.selector, None)
        else:
            per_port = {port: modes.at(p.namespace, p.selector, port)[port] for port in sorted(ports)}
        candidates = {
            f"{p.namespace} {p.selector}" + ("" if port == "*" else f" port {port}"): mode
            for port, mode in per_port.items()
        }
    else:
        candidates = modes.in_namespace(p.namespace)
    return {place: mode for place, mode in candidates.items() if mode != "STRICT"}
