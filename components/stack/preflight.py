"""Everything checked before `pulumi up`: the settings, GCP's certificate rules, and the mesh analysis."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

from components.core.batch import cycle_collection_paused
from components.core.findings import Finding, error, errors, warning
from components.core.manifest import Manifest
from components.edge import certificates, monitoring, rotation, server_certificate
from components.mesh.analysis import engine as mesh
from components.mesh.interchange import istio_objects
from components.mesh.rendering.manifests import declared
from components.mesh.validation import policies, schema
from components.stack import istio_resources, settings


def check_stack(
    config: Mapping[str, str], project_root: Path, stack: str, now: dt.datetime | None = None
) -> tuple[settings.StackSettings | None, list[Finding]]:
    """Settings (None when any error stands) and every finding of the run, errors and warnings."""
    with cycle_collection_paused():
        return _check_stack(config, project_root, stack, now)


def _check_stack(
    config: Mapping[str, str], project_root: Path, stack: str, now: dt.datetime | None
) -> tuple[settings.StackSettings | None, list[Finding]]:
    stack_settings, findings = settings.parse_stack(config, project_root)
    if stack_settings is None:
        return None, findings
    if stack_settings.edge is not None:
        findings += monitoring.check_stack_name(stack)
    edge, trust = stack_settings.edge, stack_settings.trust
    now = now or dt.datetime.now(dt.UTC)
    if edge is not None and trust is not None:
        findings += certificates.check_trust_config(
            trust.anchors, trust.intermediates, trust.allowlisted, now, edge.expiry_warning_days
        )
    if edge is not None and edge.trust_rotation is not None and stack_settings.trust_phases:
        findings += rotation.preflight(edge, stack_settings.trust_phases, project_root, now)
    if edge is not None and stack_settings.server_certificate is not None:
        findings += server_certificate.check_self_managed(
            stack_settings.server_certificate, edge.domains, now, edge.expiry_warning_days
        )
    findings += mesh_findings(stack_settings)
    return (None if errors(findings) else stack_settings), findings


def mesh_findings(stack_settings: settings.StackSettings) -> list[Finding]:
    """The mesh entries one by one, then the analysis of every Istio object the stack applies, with its callers."""
    if stack_settings.mesh is None:
        return []
    with cycle_collection_paused():
        entries = policies.settings_findings(stack_settings.mesh)
        generated = istio_resources.for_stack(stack_settings)
        # The cluster's verdict would only repeat errors the settings already name.
        refused = [] if errors(entries) else admission_findings(generated) + registration_findings(generated)
        # All problems at once: the analysis reads a malformed rule as matching nothing it cannot read.
        objects = istio_objects.from_manifests(generated) + declared(stack_settings.mesh)
        callers = istio_resources.callers(stack_settings)
        clients = istio_resources.allowed_client_findings(stack_settings, objects)
        return entries + refused + mesh.analyze(objects, callers, stack_settings.mesh.root_namespace) + clients


def registration_findings(generated: list[Manifest]) -> list[Finding]:
    """Pulumi names each object `<kind>-<namespace>-<name>`, which two different objects can share (`a-b`/`c` and
    `a`/`b-c`); registering both would fail halfway through `pulumi up`, so it is refused here, with both keys."""
    seen: dict[str, Manifest] = {}
    found = []
    for manifest in generated:
        earlier = seen.setdefault(manifest.logical_name, manifest)
        if earlier is not manifest and (earlier.namespace, earlier.name) != (manifest.namespace, manifest.name):
            found.append(
                error(
                    "mesh.pulumi-name",
                    manifest.origin or "gke-mtls:mesh",
                    f"the {manifest.kind} {manifest.namespace}/{manifest.name} and {earlier.namespace}/{earlier.name} "
                    f"({earlier.origin}) would both be the Pulumi resource {manifest.logical_name!r}; rename one.",
                )
            )
    return found


def admission_findings(generated: list[Manifest]) -> list[Finding]:
    """What the cluster would answer to each generated resource: the CRD schema, CEL rules and istiod's webhook.
    The settings checks should have stopped anything refused here, so a refusal is reported as our own defect."""
    try:
        schemas = schema.IstioSchemas.load()
    except schema.CrdsMissingError as exc:
        return [error("mesh.crds", schema.CRDS_ENV, str(exc))]
    found = []
    for manifest in generated:
        verdict = schemas.admit(manifest.document)
        key = manifest.origin or "gke-mtls:mesh"
        what = f"{manifest.kind} {manifest.namespace}/{manifest.name}"
        found += [
            error(
                "mesh.internal",
                key,
                f"internal error: the generated {what} would be refused by the cluster ({problem}). The settings "
                f"checks missed this case: change {key} to avoid it, and please report it to gke-mtls.",
            )
            for problem in verdict.errors
        ]
        found += [
            warning("mesh.istiod-warning", key, f"istiod warns about the generated {what}: {w}")
            for w in verdict.warnings
        ]
    return found
