"""The mesh analysis run before anything is applied: every rule over the mesh settings, each finding naming its key.

Facts: ../shared/reference/istio-mesh-mtls.md.
"""

from __future__ import annotations

from components.core.findings import Finding, warning
from components.mesh.duplicates import duplicate_findings
from components.mesh.edge_backend import edge_backend_findings
from components.mesh.identity import identity_findings
from components.mesh.modes import EffectiveModes
from components.mesh.policies import authorization_findings, workload_findings
from components.mesh.settings import KEY, MeshSettings, policy_key, workload_key


def analyze(mesh: MeshSettings) -> list[Finding]:
    findings: list[Finding] = []
    for i, w in enumerate(mesh.workloads):
        findings += workload_findings(workload_key(i), w, mesh.root_namespace)
    findings += duplicate_findings(mesh)
    modes = EffectiveModes(mesh)
    for i, p in enumerate(mesh.authorization):
        findings += authorization_findings(policy_key(i), p)
        findings += identity_findings(policy_key(i), p, mesh, modes)
    if mesh.edge_backend is not None:
        findings += edge_backend_findings(mesh.edge_backend, modes)
    if mesh.mesh_wide_istio_mutual:
        findings.append(
            warning(
                "mesh.istio-mutual-dr",
                f"{KEY}.meshWideIstioMutual",
                "the `*.local` ISTIO_MUTUAL DestinationRule forces mTLS to every *.local endpoint, "
                "including pods without a sidecar (non-injected namespaces, the Kubernetes API service), "
                "whose calls then fail; and any more specific DestinationRule silently replaces it. Auto "
                "mTLS (on by default since Istio 1.5) already sends mTLS to every sidecar. Remove it "
                "unless auto mTLS is turned off in your mesh.",
            )
        )
    return findings
