"""What Istio accepts in the fields the settings pass through: labels, ports, and AuthorizationPolicy rules written
with Istio's own field names. Each problem names the key of the value and the fix."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from components.core.findings import Finding, closest, error, quoted
from components.core.names import MAX_LABELS, MAX_PORT, MIN_PORT, label_key_problem, label_value_problem
from components.mesh.istio_api import (
    CONDITION_FIELDS,
    CONDITION_KEY_PREFIXES,
    CONDITION_KEYS,
    OPERATION_FIELDS,
    PRINCIPAL,
    RULE_FIELDS,
    SOURCE_FIELDS,
)
from components.mesh.validation import webhook


def did_you_mean(name: str, known: Iterable[str]) -> str:
    hint = closest(name, known)
    return f" (did you mean {hint!r}?)" if hint else ""


def label_findings(labels: Mapping[str, str], key: str) -> list[Finding]:
    """Istio's selector rules (no empty key, no wildcard) and Kubernetes' label syntax, which pods' labels follow."""
    found = []
    if len(labels) > MAX_LABELS:
        found.append(error("mesh.label", f"{key}.selector", f"{len(labels)} labels; Istio takes at most {MAX_LABELS}."))
    for k, v in labels.items():
        where = f"{key}.selector.{k}" if len(k) <= 100 else f"{key}.selector"
        if not k:
            found.append(
                error(
                    "mesh.label", f"{key}.selector", "a label key is empty; Istio rejects it (key must not be empty)."
                )
            )
        elif "*" in k:
            found.append(error("mesh.label", where, "wildcards are not allowed in label keys; name the label."))
        elif problem := label_key_problem(k):
            found.append(error("mesh.label", where, f"{quoted(k)} is not a Kubernetes label key: {problem}."))
        if "*" in v:
            found.append(
                error(
                    "mesh.label",
                    where,
                    f"{quoted(v)}: wildcards are not allowed in label values; list the exact value.",
                )
            )
        elif problem := label_value_problem(v):
            found.append(error("mesh.label", where, f"{quoted(v)} is not a Kubernetes label value: {problem}."))
    return found


def port_problem(port: Any) -> str | None:
    text = str(port)
    # ASCII digits only: str.isdigit() also takes superscript and fullwidth digits, which int() or Istio refuse.
    # ASCII digits without a leading zero: "080" would be a second key for port 80.
    if not (text.isascii() and text.isdigit()) or text != str(int(text)) or not MIN_PORT <= int(text) <= MAX_PORT:
        return f"{quoted(port)} is not a port; use a number from {MIN_PORT} to {MAX_PORT}, written as a string."
    return None


def _check_values(values: Any, key: str, field: str) -> list[Finding]:
    if not isinstance(values, list):
        return [error("mesh.rule", key, f"{field} must be a list of strings.")]
    if not values and field not in ("values", "notValues"):
        return [error("mesh.rule", key, f"an empty {field} list is no {field} to Istio; list values or remove it.")]
    found = []
    for i, value in enumerate(values):
        where = f"{key}[{i}]"
        if not isinstance(value, str):
            hint = ' (quote ports: "8080")' if field in ("ports", "notPorts") else ""
            found.append(error("mesh.rule", where, f"{quoted(value)} must be a string{hint}."))
            continue
        if not value:
            found.append(error("mesh.rule", where, "empty values are not allowed."))
            continue
        inner = value[1:] if value.startswith("*") else value
        inner = inner[:-1] if inner.endswith("*") else inner
        templated = field in ("paths", "notPaths") and ("{*}" in value or "{**}" in value)
        if "*" in inner and not templated and value != "*":
            found.append(
                error(
                    "mesh.wildcard",
                    where,
                    f"{quoted(value)}: Istio treats '*' only at the start or the end; in "
                    "the middle it is a literal character and this matches nothing you expect. Use a prefix "
                    "(`cluster.local/ns/default/*`) or suffix form.",
                )
            )
            continue
        if field in ("principals", "notPrincipals") and value != "*" and not value.startswith("*"):
            exact = not value.endswith("*")
            if exact and not PRINCIPAL.fullmatch(value):
                found.append(
                    error(
                        "mesh.principal",
                        where,
                        f"{quoted(value)} is not a principal: write "
                        "<trust-domain>/ns/<namespace>/sa/<service-account>, e.g. "
                        "cluster.local/ns/default/sa/sleep (no spiffe:// prefix).",
                    )
                )
            elif value.startswith("spiffe://"):
                found.append(
                    error(
                        "mesh.principal",
                        where,
                        f"{quoted(value)}: drop the spiffe:// prefix; Istio principals are "
                        "<trust-domain>/ns/<namespace>/sa/<service-account>.",
                    )
                )
        if field in ("methods", "notMethods") and value != value.upper():
            found.append(
                error(
                    "mesh.method",
                    where,
                    f"{quoted(value)}: HTTP methods are matched case-sensitively; write {value.upper()!r}.",
                )
            )
        if field in ("ports", "notPorts") and port_problem(value):
            found.append(error("mesh.port", where, port_problem(value) or ""))
        found += _istiod_value_findings(field, value, where)
    return found


IP_FIELDS = ("ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks")


def _istiod_value_findings(field: str, value: str, where: str) -> list[Finding]:
    """What istiod's webhook refuses in one value of a source or operation field."""
    if field in IP_FIELDS:
        return [
            error("mesh.rule", where, f"{p}: write an IP address (10.1.2.3) or a CIDR range (10.0.0.0/16).")
            for p in map(webhook.excerpted, webhook.ip_problems([value]))
        ]
    if field in ("paths", "notPaths"):
        problem = webhook.path_template_problem(field, [value])
        problem = problem and webhook.excerpted(problem)
        if problem:
            return [
                error(
                    "mesh.rule",
                    where,
                    f"{problem}: istiod accepts only whole segments {{*}} (one segment) and a final {{**}} (the rest), "
                    "and no other braces.",
                )
            ]
    if field in ("serviceAccounts", "notServiceAccounts"):
        problem = webhook.service_account_problem(field, [value])
        problem = problem and webhook.excerpted(problem)
        if problem:
            return [error("mesh.rule", where, f"{problem}: write <service-account> or <namespace>/<service-account>.")]
    if field in ("trustDomains", "notTrustDomains") and "/" in value:
        return [
            error(
                "mesh.rule",
                where,
                f"{quoted(value)}: a trust domain has no '/' (it is the first part of a SPIFFE identity); write the "
                "domain alone (cluster.local), and match whole identities with `principals`.",
            )
        ]
    return []


def _source_findings(source: Mapping[str, Any], key: str) -> list[Finding]:
    """Rules on a source as a whole: Istio's CRD and webhook refuse both of these."""
    found = []
    # Istio's CEL rule tests presence (has()), so an empty list counts too.
    accounts = [f for f in ("serviceAccounts", "notServiceAccounts") if f in source]
    others = [f for f in ("principals", "notPrincipals", "namespaces", "notNamespaces") if f in source]
    if accounts and others:
        found.append(
            error(
                "mesh.rule",
                key,
                f"{' and '.join(accounts)} cannot be set with {' and '.join(others)} (Istio refuses it): put them in "
                "separate `from` entries, which are ORed.",
            )
        )
    for field in accounts:
        if isinstance(source[field], list) and len(source[field]) > 16:
            found.append(
                error(
                    "mesh.rule", f"{key}.{field}", f"{len(source[field])} values; Istio allows at most 16 per source."
                )
            )
    return found


def _check_object(obj: Any, key: str, known: tuple[str, ...], what: str) -> list[Finding]:
    if not isinstance(obj, dict) or not obj:
        return [
            error("mesh.rule", key, f"{what} must be a non-empty object with Istio's field names: {', '.join(known)}.")
        ]
    return [
        error(
            "mesh.rule",
            f"{key}.{name}",
            f"is not a field of {what}{did_you_mean(name, known)}; fields are {', '.join(known)}.",
        )
        for name in obj
        if name not in known
    ]


def rule_findings(rule: Any, key: str) -> list[Finding]:
    if not isinstance(rule, dict):
        return [error("mesh.rule", key, "a rule must be an object with `from`, `to` and/or `when`.")]
    found = [
        error(
            "mesh.rule",
            f"{key}.{name}",
            f"is not a rule field{did_you_mean(name, RULE_FIELDS)}; fields are from, to, when.",
        )
        for name in rule
        if name not in RULE_FIELDS
    ]
    for part, inner, fields in (("from", "source", SOURCE_FIELDS), ("to", "operation", OPERATION_FIELDS)):
        if part not in rule:
            continue
        entries = rule[part]
        if not isinstance(entries, list) or not entries:
            found.append(error("mesh.rule", f"{key}.{part}", f"`{part}` must be a non-empty list of {{{inner}: ...}}."))
            continue
        for i, entry in enumerate(entries):
            entry_key = f"{key}.{part}[{i}]"
            found += _check_object(entry, entry_key, (inner,), f"a `{part}` entry")
            body = entry.get(inner) if isinstance(entry, dict) else None
            if body is None:
                continue
            found += _check_object(body, f"{entry_key}.{inner}", fields, inner)
            if isinstance(body, dict):
                for field, values in body.items():
                    if field in fields:
                        found += _check_values(values, f"{entry_key}.{inner}.{field}", field)
                if inner == "source":
                    found += _source_findings(body, f"{entry_key}.{inner}")
    for i, condition in enumerate(rule.get("when", []) if isinstance(rule.get("when", []), list) else [None]):
        where = f"{key}.when[{i}]"
        found += _check_object(condition, where, CONDITION_FIELDS, "a `when` condition")
        if not isinstance(condition, dict):
            continue
        name = condition.get("key")
        if not isinstance(name, str) or not (name in CONDITION_KEYS or name.startswith(CONDITION_KEY_PREFIXES)):
            found.append(
                error(
                    "mesh.rule",
                    f"{where}.key",
                    f"{quoted(name)} is not a condition key Istio accepts{did_you_mean(str(name), CONDITION_KEYS)}.",
                )
            )
        elif name.startswith(CONDITION_KEY_PREFIXES) and webhook.map_key_problem(name):
            found.append(
                error(
                    "mesh.rule",
                    f"{where}.key",
                    f"{quoted(name)}: write the header or claim name between the brackets, e.g. request.headers[x-id].",
                )
            )
        if not condition.get("values") and not condition.get("notValues"):
            found.append(error("mesh.rule", where, "set `values` or `notValues` to a non-empty list."))
        for field in ("values", "notValues"):
            if field in condition:
                values_found = _check_values(condition[field], f"{where}.{field}", field)
                found += values_found
                if not values_found and isinstance(name, str) and name in CONDITION_KEYS:
                    found += _condition_value_findings(name, condition[field], f"{where}.{field}")
    return found


def _condition_value_findings(name: str, values: list[str], key: str) -> list[Finding]:
    """The value rules istiod has per condition key: IPs, ports, service accounts."""
    if name in ("source.ip", "remote.ip", "destination.ip"):
        return [
            error("mesh.rule", key, f"{p}: {name} takes IP addresses or CIDR ranges (10.0.0.0/16).")
            for p in map(webhook.excerpted, webhook.ip_problems(values))
        ]
    if name == "destination.port":
        return [
            error("mesh.port", key, f"{p}: destination.port takes port numbers (0 to 65535), as strings.")
            for p in map(webhook.excerpted, webhook.port_problems(values))
        ]
    if name == "source.serviceAccount":
        problem = webhook.service_account_problem(name, values)
        problem = problem and webhook.excerpted(problem)
        return (
            [error("mesh.rule", key, f"{problem}: write <service-account> or <namespace>/<service-account>.")]
            if problem
            else []
        )
    return []
