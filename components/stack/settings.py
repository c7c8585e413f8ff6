"""A stack's settings: the sections of the concerns, parsed from the stack's config with every problem reported at
once, and the rules that relate sections.

Reads a config map (`{"gke-mtls:edge": "<json>", ...}`, the form the Pulumi engine hands a program) and files under
the project root. Knows nothing of Pulumi resources.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from components.core.findings import Finding, error, errors
from components.core.settings import CONFIG_NAMESPACE, Omittable, SettingsModel, config_key, parse
from components.edge import settings as edge_settings
from components.gke import settings as gke_settings
from components.mesh import settings as mesh_settings

if TYPE_CHECKING:
    from components.edge.certificates import TrustConfig
    from components.edge.server_certificate import SelfManagedCertificate


class StackConfig(SettingsModel):
    """The project's stack configuration: one key per section; each section's model describes it."""

    backend: Omittable[edge_settings.BackendSettings] = Field(None, examples=[{"stack": "acme/gke-platform/dev"}])
    edge: Omittable[edge_settings.EdgeSettings] = Field(
        None, examples=[{"domains": ["dev.example.com"], "trustAnchors": ["certs/dev/root-ca.pem"]}]
    )
    cluster: Omittable[gke_settings.ClusterSettings] = Field(
        None, examples=[{"context": "gke_acme-dev_europe-west1_platform"}]
    )
    mesh: Omittable[mesh_settings.MeshSettings] = Field(
        None, examples=[{"mode": "STRICT", "namespaces": {"legacy": "PERMISSIVE"}}]
    )
    gke_backend: Omittable[gke_settings.GkeBackendSettings] = Field(
        None, examples=[{"namespace": "default", "service": "web", "port": 80}]
    )


@dataclass(frozen=True)
class StackSettings:
    """Every section that passed, and the edge's certificates read from their files."""

    backend: edge_settings.BackendSettings | None
    edge: edge_settings.EdgeSettings | None
    trust_phases: Mapping[str, TrustConfig] | None  # the trust config of each rotation phase still to deploy
    cluster: gke_settings.ClusterSettings | None
    mesh: mesh_settings.MeshSettings | None
    gke_backend: gke_settings.GkeBackendSettings | None
    server_certificate: SelfManagedCertificate | None = None  # edge.certificate.source selfManaged

    @property
    def trust(self) -> TrustConfig | None:
        """The trust config this stack deploys: that of the rotation phase its file sets."""
        if self.edge is None or not self.trust_phases:
            return None
        from components.edge.certificates import deployed_phase

        return self.trust_phases[deployed_phase(self.edge)]


MAX_NESTING = 32  # the deepest setting is a handful of levels; deeper input is a mistake, and recursion has limits


def namespace_values(config: Mapping[str, str]) -> tuple[dict[str, Any], list[Finding]]:
    """The project's keys, decoded the way `pulumi.Config.get_object` decodes them; a value nested deeper than any
    setting is refused here, before anything recursive reads it."""
    values: dict[str, Any] = {}
    found = []
    prefix = CONFIG_NAMESPACE + ":"
    for full_key, raw in config.items():
        if not full_key.startswith(prefix):
            continue
        key = full_key[len(prefix) :]
        try:
            value = json.loads(raw) if isinstance(raw, str) else raw
            too_deep = _deeper_than(value, MAX_NESTING)
        except json.JSONDecodeError:
            value, too_deep = raw, False
        except RecursionError:  # json's decoder recurses: past about 1000 levels
            value, too_deep = None, True
        if too_deep:
            found.append(
                error(
                    "config.nesting",
                    full_key,
                    f"is nested more than {MAX_NESTING} levels deep; no setting is. Check the YAML's indentation "
                    "and brackets.",
                )
            )
            continue
        values[key] = value
    return values, found


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether anything sits more than `limit` levels deep. Only containers are visited: a non-empty one at `limit`
    holds something deeper."""
    todo = [(value, 0)] if isinstance(value, (dict, list)) else []
    while todo:
        node, depth = todo.pop()
        if depth >= limit and node:
            return True
        children = node.values() if isinstance(node, dict) else node
        todo += [(child, depth + 1) for child in children if isinstance(child, (dict, list))]
    return False


def parse_stack(config: Mapping[str, str], project_root: Path) -> tuple[StackSettings | None, list[Finding]]:
    """Settings, or None when any error stands; and every finding of the run."""
    values, findings = namespace_values(config)
    sections, found = _parse_sections(values, project_root)
    findings += found
    findings += _between_sections(set(values), sections.get("gkeBackend"), findings)
    backend, edge = sections.get("backend"), sections.get("edge")
    cluster, mesh, gke_backend = sections.get("cluster"), sections.get("mesh"), sections.get("gkeBackend")
    # The rules that relate keys of one section run once that section has parsed.
    trust_phases = server_certificate = None
    if backend is not None:
        findings += edge_settings.check_backend(backend)
    if edge is not None:
        findings += edge_settings.check(edge)
        # cryptography, only where a stack's files are read: not for `docs`
        from components.edge.certificates import load_rotation
        from components.edge.server_certificate import load_self_managed

        phases, found = load_rotation(edge, project_root)
        trust_phases = None if found else phases
        findings += found
        server_certificate, found = load_self_managed(edge, project_root)
        findings += found
    if cluster is not None:
        findings += gke_settings.check_cluster(cluster)
    if mesh is not None:
        findings += mesh_settings.check(mesh)
    if edge is not None and backend is not None:
        findings += edge_settings.check_with_backend(edge, backend)
    if gke_backend is not None:
        findings += gke_settings.check(gke_backend)
        findings += _allowed_clients_in_the_mesh(gke_backend, mesh, "mesh" in values)
    if errors(findings):
        return None, findings
    return StackSettings(backend, edge, trust_phases, cluster, mesh, gke_backend, server_certificate), findings


def _parse_sections(values: dict[str, Any], project_root: Path) -> tuple[dict[str, Any], list[Finding]]:
    """Each section on its own, so that one bad section hides nothing in the others; unknown top-level keys first."""
    aliases = {field.alias or name: field for name, field in StackConfig.model_fields.items()}
    _, findings = parse(StackConfig, {k: None for k in values if k not in aliases}, CONFIG_NAMESPACE)
    sections: dict[str, Any] = {}
    for alias, field in aliases.items():
        if alias in values:
            model = _section_model(field.annotation)
            sections[alias], found = parse(model, values[alias], config_key(alias), {"project_root": project_root})
            findings += found
    return sections, findings


def _section_model(annotation: Any) -> type[SettingsModel]:
    """`EdgeSettings` from `EdgeSettings | None`."""
    return next(t for t in typing.get_args(annotation) if isinstance(t, type) and issubclass(t, SettingsModel))


def _between_sections(
    present: set[str], gke_backend: gke_settings.GkeBackendSettings | None, findings: list[Finding]
) -> list[Finding]:
    found = _require_together(present, "edge", "backend", "the edge needs to know which backend service to front")
    if gke_backend is not None and gke_backend.mesh_guard and "mesh" not in present:
        found.append(
            error(
                "config.gke-backend",
                f"{gke_settings.KEY}.meshGuard",
                "is an Istio policy, so it needs gke-mtls:mesh; add the mesh or turn meshGuard off.",
            )
        )
    if "cluster" not in present:
        found += [
            error(
                "config.required",
                config_key("cluster"),
                f"is required with {config_key(part)}: it needs to know which cluster to write to.",
            )
            for part in ("mesh", "gkeBackend")
            if part in present
        ]
    elif "mesh" not in present and "gkeBackend" not in present:
        found.append(
            error(
                "config.unused",
                config_key("cluster"),
                f"applies only with {config_key('mesh')} or {config_key('gkeBackend')}; add one of them or remove "
                "this key.",
            )
        )
    if not {"edge", "mesh", "gkeBackend"} & present and not errors(findings + found):
        found.append(
            error(
                "config.required",
                CONFIG_NAMESPACE,
                "configure at least one of gke-mtls:edge, gke-mtls:mesh and "
                "gke-mtls:gkeBackend; see Pulumi.dev.yaml for an example.",
            )
        )
    return found


def _require_together(present: set[str], part: str, needs: str, why: str) -> list[Finding]:
    if part in present and needs not in present:
        return [error("config.required", config_key(needs), f"is required with {config_key(part)}: {why}.")]
    if needs in present and part not in present:
        return [
            error(
                "config.unused",
                config_key(needs),
                f"applies only with {config_key(part)}; add {config_key(part)} or remove this key.",
            )
        ]
    return []


def _allowed_clients_in_the_mesh(
    gke: gke_settings.GkeBackendSettings, mesh: mesh_settings.MeshSettings | None, has_mesh: bool
) -> list[Finding]:
    """The mesh enforces the allowed clients on the edge backend's port, so it must know that port: the GKE side's."""
    key = f"{gke_settings.KEY}.allowedClients"
    if not gke.allowed_clients or (has_mesh and mesh is None):  # a mesh that did not parse has its own findings
        return []
    backend = mesh.edge_backend if mesh is not None else None
    if backend is None or backend.istio_ingress_gateway:
        return [
            error(
                "config.gke-backend",
                key,
                f"is enforced in the mesh too, on the backend's port; add gke-mtls:mesh with edgeBackend: "
                f"{{namespace: {gke.namespace}, selector: {{...}}, port: {gke.container_port}}}.",
            )
        ]
    if (backend.namespace, backend.port) != (gke.namespace, gke.container_port):
        return [
            error(
                "config.gke-backend",
                mesh_settings.EDGE_BACKEND_KEY,
                f"is {backend.namespace}:{backend.port}, but {gke_settings.KEY} serves {gke.namespace}:"
                f"{gke.container_port}; the allowed clients' mesh policy must be on the port the load balancer "
                "sends to. Make them the same.",
            )
        ]
    return []
