"""Where the edge meets the mesh: the load balancer reaches its backend's pods without a mesh certificate."""

from __future__ import annotations

from components.core.findings import Finding, error
from components.mesh.modes import EffectiveModes
from components.mesh.settings import EDGE_BACKEND_KEY, EdgeBackendSettings
from components.mesh.syntax import label_findings


def edge_backend_findings(backend: EdgeBackendSettings, modes: EffectiveModes) -> list[Finding]:
    if backend.istio_ingress_gateway or backend.namespace is None or backend.port is None:
        return []  # the gateway has its own identity; an incomplete workload form is a settings error
    found = label_findings(backend.selector, EDGE_BACKEND_KEY)
    port = str(backend.port)
    mode = modes.at(backend.namespace, backend.selector, port)[port]
    if mode == "STRICT":
        labels = ", ".join(f"{k}: {v}" for k, v in backend.selector.items())
        found.append(
            error(
                "mesh.edge-backend-strict",
                EDGE_BACKEND_KEY,
                f"the edge load balancer sends requests (and health checks) straight to port {port} of {{{labels}}} in "
                f"{backend.namespace} without an Istio client certificate, but mTLS there is STRICT, so every request "
                "would be refused. Either route the edge through the Istio ingress gateway (and set "
                "`istioIngressGateway: true` here), or add a port-level exception to gke-mtls:mesh.workloads for this "
                f'workload: `ports: {{"{port}": PERMISSIVE}}` (the edge\'s mTLS then guards that port).',
            )
        )
    return found
