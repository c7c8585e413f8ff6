"""Everything checked before `pulumi up`: the settings, GCP's certificate rules, and the mesh analysis."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

from components.core.batch import cycle_collection_paused
from components.core.findings import Finding, errors
from components.edge import certificates, monitoring
from components.mesh import analysis as mesh
from components.mesh import istio_objects, policies
from components.stack import istio_resources, settings


def check_stack(
    config: Mapping[str, str], project_root: Path, stack: str, now: dt.datetime | None = None
) -> tuple[settings.StackSettings | None, list[Finding]]:
    """Settings (None when any error stands) and every finding of the run, errors and warnings."""
    stack_settings, findings = settings.parse_stack(config, project_root)
    if stack_settings is None:
        return None, findings
    if stack_settings.edge is not None:
        findings += monitoring.check_stack_name(stack)
    edge, trust = stack_settings.edge, stack_settings.trust
    if edge is not None and trust is not None:
        findings += certificates.check_trust_config(
            trust.anchors,
            trust.intermediates,
            trust.allowlisted,
            now or dt.datetime.now(dt.UTC),
            edge.expiry_warning_days,
        )
    findings += mesh_findings(stack_settings)
    return (None if errors(findings) else stack_settings), findings


def mesh_findings(stack_settings: settings.StackSettings) -> list[Finding]:
    """The mesh entries one by one, then the analysis of every Istio object the stack applies, with its callers."""
    if stack_settings.mesh is None:
        return []
    with cycle_collection_paused():
        entries = policies.settings_findings(stack_settings.mesh)
        # All problems at once: the analysis reads a malformed rule as matching nothing it cannot read.
        objects = istio_objects.from_manifests(istio_resources.for_stack(stack_settings))
        callers = istio_resources.callers(stack_settings)
        return entries + mesh.analyze(objects, callers, stack_settings.mesh.root_namespace)
