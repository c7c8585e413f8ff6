"""What preflight reports: one finding per problem, each naming its config key (or file) and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"  # worth knowing, nothing to fix: never fails a run


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str  # stable, documented in the README; tests and users match on it
    key: str  # full config key, e.g. "gke-mtls:edge.trustAnchors[0]", or a file
    message: str  # what is wrong and what to do

    def __str__(self) -> str:
        return f"{self.key}: {self.message} [{self.code}]"


def error(code: str, key: str, message: str) -> Finding:
    return Finding(Severity.ERROR, code, key, message)


def warning(code: str, key: str, message: str) -> Finding:
    return Finding(Severity.WARNING, code, key, message)


def note(code: str, key: str, message: str) -> Finding:
    return Finding(Severity.NOTE, code, key, message)


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity is Severity.ERROR]


EXCERPT = 60  # characters of a bad value a message quotes


def quoted(value: object) -> str:
    """A bad value as a message quotes it: its repr, cut to a short excerpt when long, with its length said."""
    text = repr(value)
    if len(text) <= EXCERPT + 20:
        return text
    size = f"{len(value)} characters" if isinstance(value, str) else f"{len(text)} characters written out"
    return f"{text[:EXCERPT]}… ({size})"


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name a misspelt one most likely meant, for a "did you mean" hint."""
    if len(name) > 100:  # difflib's cost grows with the product of the lengths; nothing that long is a typo
        return None
    found = difflib.get_close_matches(name, list(known), n=1)
    return found[0] if found else None
