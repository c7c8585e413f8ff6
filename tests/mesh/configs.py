"""Mesh configurations the tests share: the seed scenario and one configuration per generated shape.

Every configuration here is rendered and validated against Istio's CRDs in tests/mesh/validation/test_schema.py.
"""

from __future__ import annotations

from typing import Any

from components.core.findings import Finding
from components.core.settings import parse
from components.mesh.settings import MeshSettings, check
from components.stack.preflight import mesh_findings
from components.stack.settings import StackSettings

KEY = "gke-mtls:mesh"

SEED: dict[str, Any] = {
    "rootNamespace": "istio-system",
    "mode": "STRICT",
    "workloads": [{"namespace": "my-namespace", "selector": {"app": "my-special-app"}, "mode": "PERMISSIVE"}],
    "authorization": [
        {
            "name": "httpbin-policy",
            "namespace": "default",
            "selector": {"app": "httpbin"},
            "action": "ALLOW",
            "rules": [
                {
                    "from": [{"source": {"principals": ["cluster.local/ns/default/sa/sleep"]}}],
                    "to": [{"operation": {"methods": ["GET"], "paths": ["/info*"]}}],
                }
            ],
        }
    ],
}

EVERY_SHAPE: dict[str, Any] = {
    "mode": "PERMISSIVE",
    "namespaces": {"legacy": "DISABLE", "payments": "STRICT"},
    "workloads": [
        {
            "namespace": "shop",
            "selector": {"app": "web", "tier": "front"},
            "mode": "STRICT",
            "ports": {"8080": "PERMISSIVE", "9090": "DISABLE"},
            "service": "web",
            "servicePorts": {"9090": 90},
        },
        {
            "namespace": "batch",
            "selector": {"app": "old"},
            "mode": "DISABLE",
            "service": "old",
            "name": "old-plaintext",
        },
        {"namespace": "ops"},
    ],
    "authorization": [
        {
            "name": "deny-admin",
            "namespace": "shop",
            "action": "DENY",
            "rules": [{"to": [{"operation": {"paths": ["/admin*"], "ports": ["8080"]}}]}],
        },
        {"name": "audit-all", "namespace": "shop", "action": "AUDIT", "rules": [{}]},
        {
            "name": "ext-authz",
            "namespace": "shop",
            "selector": {"app": "web"},
            "action": "CUSTOM",
            "provider": "oauth2-proxy",
            "rules": [{"to": [{"operation": {"hosts": ["shop.example.com"]}}]}],
        },
        {
            "name": "by-header",
            "namespace": "payments",
            "selector": {"app": "api"},
            "rules": [
                {
                    "from": [{"source": {"namespaces": ["shop"]}}],
                    "when": [{"key": "request.headers[x-tenant]", "values": ["acme"]}],
                }
            ],
        },
    ],
    "denyByDefault": ["payments"],
    "meshWideIstioMutual": True,
}

# The shape most apps have: the edge's backend pods also take in-mesh calls, allowed by principal.
EDGE_BACKEND_WITH_CALLERS: dict[str, Any] = {
    "mode": "STRICT",
    "workloads": [
        {"namespace": "default", "selector": {"app": "web"}, "name": "web-edge-port", "ports": {"8080": "PERMISSIVE"}}
    ],
    "authorization": [
        {
            "name": "web-callers",
            "namespace": "default",
            "selector": {"app": "web"},
            "rules": [
                {
                    "from": [{"source": {"principals": ["cluster.local/ns/shop/sa/checkout"]}}],
                    "to": [{"operation": {"methods": ["POST"], "paths": ["/charge"]}}],
                }
            ],
        }
    ],
    "edgeBackend": {"namespace": "default", "selector": {"app": "web"}, "port": 8080},
}


def settings_of(raw: dict[str, Any]) -> MeshSettings:
    mesh, findings = parse(MeshSettings, raw, KEY)
    assert mesh is not None and findings == [], [str(f) for f in findings]
    assert check(mesh) == []
    return mesh


def stack_of(raw: dict[str, Any]) -> StackSettings:
    return StackSettings(None, None, None, None, settings_of(raw), None)


def analysis_of(raw: dict[str, Any]) -> list[Finding]:
    """Everything the preflight says about a stack with this mesh and nothing else."""
    return mesh_findings(stack_of(raw))


def findings_of(raw: dict[str, Any]) -> list[str]:
    return [f"{f.severity.value} {f}" for f in analysis_of(raw)]


def codes_of(raw: dict[str, Any]) -> list[str]:
    """Codes of errors and warnings; notes are informational and have tests of their own."""
    return [f.code for f in analysis_of(raw) if f.severity.value != "note"]
