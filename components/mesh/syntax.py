"""What Istio accepts in the fields the settings pass through: labels, ports, and AuthorizationPolicy rules written
with Istio's own field names. Each problem names the key of the value and the fix."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from components.core.findings import Finding, closest, error
from components.core.names import MAX_PORT, MIN_PORT
from components.mesh.istio_api import (
    CONDITION_FIELDS,
    CONDITION_KEY_PREFIXES,
    CONDITION_KEYS,
    OPERATION_FIELDS,
    PRINCIPAL,
    RULE_FIELDS,
    SOURCE_FIELDS,
)


def did_you_mean(name: str, known: Iterable[str]) -> str:
    hint = closest(name, known)
    return f" (did you mean {hint!r}?)" if hint else ""


def label_findings(labels: Mapping[str, str], key: str) -> list[Finding]:
    found = []
    for k, v in labels.items():
        if not k:
            found.append(
                error(
                    "mesh.label", f"{key}.selector", "a label key is empty; Istio rejects it (key must not be empty)."
                )
            )
        elif "*" in k:
            found.append(
                error("mesh.label", f"{key}.selector.{k}", "wildcards are not allowed in label keys; name the label.")
            )
        if "*" in v:
            found.append(
                error(
                    "mesh.label",
                    f"{key}.selector.{k}",
                    f"{v!r}: wildcards are not allowed in label values; list the exact value.",
                )
            )
        elif len(v) > 63:
            found.append(
                error(
                    "mesh.label",
                    f"{key}.selector.{k}",
                    f"the value is {len(v)} characters; label values are at most 63.",
                )
            )
    return found


def port_problem(port: Any) -> str | None:
    text = str(port)
    # ASCII digits only: str.isdigit() also takes superscript and fullwidth digits, which int() or Istio refuse.
    if not (text.isascii() and text.isdigit()) or not MIN_PORT <= int(text) <= MAX_PORT:
        return f"{port!r} is not a port; use a number from {MIN_PORT} to {MAX_PORT}, written as a string."
    return None


def _check_values(values: Any, key: str, field: str) -> list[Finding]:
    if not isinstance(values, list):
        return [error("mesh.rule", key, f"{field} must be a list of strings.")]
    found = []
    for i, value in enumerate(values):
        where = f"{key}[{i}]"
        if not isinstance(value, str):
            hint = ' (quote ports: "8080")' if field in ("ports", "notPorts") else ""
            found.append(error("mesh.rule", where, f"{value!r} must be a string{hint}."))
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
                    f"{value!r}: Istio treats '*' only at the start or the end; in "
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
                        f"{value!r} is not a principal: write "
                        "<trust-domain>/ns/<namespace>/sa/<service-account>, e.g. "
                        "cluster.local/ns/default/sa/sleep (no spiffe:// prefix).",
                    )
                )
            elif value.startswith("spiffe://"):
                found.append(
                    error(
                        "mesh.principal",
                        where,
                        f"{value!r}: drop the spiffe:// prefix; Istio principals are "
                        "<trust-domain>/ns/<namespace>/sa/<service-account>.",
                    )
                )
        if field in ("methods", "notMethods") and value != value.upper():
            found.append(
                error(
                    "mesh.method",
                    where,
                    f"{value!r}: HTTP methods are matched case-sensitively; write {value.upper()!r}.",
                )
            )
        if field in ("ports", "notPorts") and port_problem(value):
            found.append(error("mesh.port", where, port_problem(value) or ""))
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
                    f"{name!r} is not a condition key Istio accepts{did_you_mean(str(name), CONDITION_KEYS)}.",
                )
            )
        elif name.startswith(CONDITION_KEY_PREFIXES[:2]) and not (
            name.endswith("]") and len(name.split("[", 1)[1]) > 1
        ):
            found.append(
                error(
                    "mesh.rule",
                    f"{where}.key",
                    f"{name!r}: write the header or claim name between the brackets, e.g. request.headers[x-id].",
                )
            )
        if "values" not in condition and "notValues" not in condition:
            found.append(error("mesh.rule", where, "set `values` or `notValues`."))
        for field in ("values", "notValues"):
            if field in condition:
                found += _check_values(condition[field], f"{where}.{field}", field)
    return found
