"""Declarative config keys: one definition drives parsing, error messages and the config docs.

Readers never raise on bad input: they append a Finding naming the full key and return INVALID,
so one run reports every problem together.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from components.core.findings import Finding, error

NAMESPACE = "gke-mtls"


class _Invalid:
    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()
REQUIRED: Any = object()


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def child_key(key: str, name: str) -> str:
    return f"{key}:{name}" if key == NAMESPACE else f"{key}.{name}"


class Kind(Protocol):
    @property
    def type_name(self) -> str: ...

    def read(self, value: Any, key: str, findings: list[Finding]) -> Any: ...


@dataclass(frozen=True)
class Key:
    """One config key as users write it (camelCase, like Pulumi's own)."""

    name: str
    kind: Kind
    doc: str
    example: Any = None
    default: Any = REQUIRED

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class Text:
    pattern: str | None = None
    syntax: str = ""  # how the pattern reads to a person
    max_length: int | None = None
    type_name: str = "string"

    def read(self, value: Any, key: str, findings: list[Finding]) -> Any:
        if not isinstance(value, str):
            findings.append(error("config.type", key, f"must be a string, got {_json_type(value)}."))
            return INVALID
        if self.max_length is not None and len(value) > self.max_length:
            findings.append(
                error(
                    "config.syntax",
                    key,
                    f"{value!r} is {len(value)} characters; at most {self.max_length} are allowed.",
                )
            )
            return INVALID
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            findings.append(error("config.syntax", key, f"{value!r} is not valid: {self.syntax}."))
            return INVALID
        return value


@dataclass(frozen=True)
class Boolean:
    type_name: str = "boolean"

    def read(self, value: Any, key: str, findings: list[Finding]) -> Any:
        if not isinstance(value, bool):
            findings.append(
                error("config.type", key, f"must be true or false (a YAML boolean), got {_json_type(value)} {value!r}.")
            )
            return INVALID
        return value


@dataclass(frozen=True)
class Integer:
    minimum: int
    maximum: int
    type_name: str = "integer"

    def read(self, value: Any, key: str, findings: list[Finding]) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            findings.append(error("config.type", key, f"must be an integer, got {_json_type(value)} {value!r}."))
            return INVALID
        if not self.minimum <= value <= self.maximum:
            findings.append(
                error(
                    "config.range",
                    key,
                    f"{value} is out of range; use an integer from {self.minimum} to {self.maximum}.",
                )
            )
            return INVALID
        return value


@dataclass(frozen=True)
class Number:
    minimum: float
    maximum: float
    type_name: str = "number"

    def read(self, value: Any, key: str, findings: list[Finding]) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            findings.append(error("config.type", key, f"must be a number, got {_json_type(value)} {value!r}."))
            return INVALID
        if not self.minimum <= value <= self.maximum:
            findings.append(
                error(
                    "config.range", key, f"{value} is out of range; use a number from {self.minimum} to {self.maximum}."
                )
            )
            return INVALID
        return float(value)


@dataclass(frozen=True)
class Choice:
    values: tuple[str, ...]

    @property
    def type_name(self) -> str:
        return "one of " + ", ".join(self.values)

    def read(self, value: Any, key: str, findings: list[Finding]) -> Any:
        if value not in self.values:
            allowed = ", ".join(self.values)
            findings.append(error("config.enum", key, f"{value!r} is not allowed; use one of {allowed}."))
            return INVALID
        return value


@dataclass(frozen=True)
class ListOf:
    item: Kind
    max_items: int | None = None

    @property
    def type_name(self) -> str:
        return f"list of {self.item.type_name}"

    def read(self, value: Any, key: str, findings: list[Finding]) -> Any:
        if not isinstance(value, list):
            findings.append(error("config.type", key, f"must be a list, got {_json_type(value)}."))
            return INVALID
        if self.max_items is not None and len(value) > self.max_items:
            findings.append(
                error("config.range", key, f"has {len(value)} entries; at most {self.max_items} are allowed.")
            )
            return INVALID
        items = [self.item.read(v, f"{key}[{i}]", findings) for i, v in enumerate(value)]
        return INVALID if any(i is INVALID for i in items) else tuple(items)


@dataclass(frozen=True)
class Section:
    """An object with a fixed set of keys; anything else is a typo and is reported."""

    keys: tuple[Key, ...]
    doc: str = ""
    type_name: str = "object"
    by_name: dict[str, Key] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {k.name: k for k in self.keys})

    def read(self, value: Any, key: str, findings: list[Finding]) -> Any:
        if not isinstance(value, dict):
            findings.append(error("config.type", key, f"must be an object, got {_json_type(value)}."))
            return INVALID
        report_unknown_keys(value, self.by_name, key, findings)
        parsed: dict[str, Any] = {}
        for k in self.keys:
            sub = child_key(key, k.name)
            if k.name in value:
                parsed[k.name] = k.kind.read(value[k.name], sub, findings)
            elif k.required:
                findings.append(error("config.required", sub, f"is required: {k.doc}"))
                parsed[k.name] = INVALID
            elif isinstance(k.kind, Section) and isinstance(k.default, dict):
                parsed[k.name] = k.kind.read(k.default, sub, findings)  # fills the nested defaults
            else:
                parsed[k.name] = k.default
        return parsed


def report_unknown_keys(value: dict[str, Any], known: dict[str, Key], key: str, findings: list[Finding]) -> None:
    for name in value:
        if name in known:
            continue
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        findings.append(
            error(
                "config.unknown-key",
                child_key(key, name),
                f"is not a known key; {hint}known keys here are {', '.join(known)}.",
            )
        )


@dataclass(frozen=True)
class MapOf:
    """An object whose keys the user chooses (namespaces, labels, ports)."""

    key: Kind
    value: Kind

    @property
    def type_name(self) -> str:
        return f"map of {self.key.type_name} to {self.value.type_name}"

    def read(self, value: Any, key: str, findings: list[Finding]) -> Any:
        if not isinstance(value, dict):
            findings.append(error("config.type", key, f"must be an object, got {_json_type(value)}."))
            return INVALID
        parsed = {
            self.key.read(k, f"{key}.{k}", findings): self.value.read(v, f"{key}.{k}", findings)
            for k, v in value.items()
        }
        return INVALID if INVALID in parsed or INVALID in parsed.values() else parsed


@dataclass(frozen=True)
class Anything:
    """Passed through as written: Istio's own rule objects, checked by the mesh preflight."""

    type_name: str = "object (Istio's own field names)"

    def read(self, value: Any, key: str, findings: list[Finding]) -> Any:
        return value
