"""What preflight reports: one finding per problem, each naming its config key and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Iterable


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str  # stable, documented in the README; tests and users match on it
    key: str  # full config key, e.g. "gke-mtls:edge.trustAnchors[0]"
    message: str  # what is wrong and what to do

    def __str__(self) -> str:
        return f"{self.key}: {self.message} [{self.code}]"


def error(code: str, key: str, message: str) -> Finding:
    return Finding(Severity.ERROR, code, key, message)


def warning(code: str, key: str, message: str) -> Finding:
    return Finding(Severity.WARNING, code, key, message)


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity is Severity.ERROR]


def warnings(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity is Severity.WARNING]


class PreflightFailed(Exception):
    """Raised when any error stands; carries every finding of the run, errors and warnings."""

    def __init__(self, findings: list[Finding]):
        self.findings = findings
        lines = [f"{f.severity.value}: {f}" for f in findings]
        super().__init__(f"{len(errors(findings))} error(s) in the stack configuration:\n" + "\n".join(lines))
