"""GKE side settings the tests share."""

from __future__ import annotations

from typing import Any

from components.core.findings import Finding
from components.core.settings import parse
from components.gke.settings import KEY, GkeBackendSettings, check

MINIMAL = {"namespace": "default", "service": "web", "port": 80}


def parsed(**raw: Any) -> tuple[GkeBackendSettings | None, list[Finding]]:
    """`gke-mtls:gkeBackend` as the stack parses it: the keys, then the rules that relate them."""
    settings, findings = parse(GkeBackendSettings, {**MINIMAL, **raw}, KEY)
    if settings is not None:
        findings += check(settings)
    return settings, findings


def settings(**raw: Any) -> GkeBackendSettings:
    result, findings = parsed(**raw)
    assert result is not None and findings == [], [str(f) for f in findings]
    return result
