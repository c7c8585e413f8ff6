"""What each committed stack registers under the mock engine, recorded once and compared on every run.

A change to any resource's type, name, URN, parent, inputs or options fails here. Refactors must leave this file's
snapshots untouched: an unchanged snapshot means no deployed resource changes. Regenerate only for an intended
change to the deployed resources: `pytest tests/program/test_snapshot.py --snapshot-update`, and review the diff.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from tests.conftest import committed_config

# The committed stacks, plus shapes they do not cover: a created Service, every kind of mesh resource, and the
# edge's and the GKE side's other options. All were recorded by the code before the move by concern; since then the
# `legacy` namespace is PERMISSIVE, as a DISABLE namespace beside the `*.local` ISTIO_MUTUAL rule is an error.
EVERY_MESH_SHAPE: dict[str, Any] = {
    "mode": "PERMISSIVE",
    "namespaces": {"legacy": "PERMISSIVE", "payments": "STRICT"},
    "workloads": [
        {
            "namespace": "shop",
            "selector": {"app": "web", "tier": "front"},
            "mode": "STRICT",
            "ports": {"8080": "PERMISSIVE", "9090": "DISABLE"},
            "service": "web",
            "servicePorts": {"9090": 90},
        },
        {"namespace": "batch", "selector": {"app": "old"}, "mode": "DISABLE", "service": "old", "name": "old-plain"},
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
    ],
    "denyByDefault": ["payments"],
    "meshWideIstioMutual": True,
}


def platform_creating_its_service() -> dict[str, Any]:
    config = committed_config("platform-dev")
    config["gke-mtls:gkeBackend"]["createService"] = True
    return config


def with_compute_certificate(stack: str) -> dict[str, Any]:
    """A committed stack as it was before Certificate Manager certificates: without `certificate`, it keeps the
    Compute managed one, and registers exactly what it did then."""
    config = committed_config(stack)
    del config["gke-mtls:edge"]["certificate"]
    return config


def dev_with_every_mesh_shape() -> dict[str, Any]:
    config = with_compute_certificate("dev")
    config["gke-mtls:mesh"] = copy.deepcopy(EVERY_MESH_SHAPE)
    return config


def edge_with_every_option() -> dict[str, Any]:
    config = with_compute_certificate("edge-dev")
    config["gke-mtls:backend"] = {"name": "k8s1-0123abcd-default-web-80-5104b449"}
    config["gke-mtls:edge"].update(
        sslPolicy={"profile": "CUSTOM", "customFeatures": ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]},
        clientValidation="ALLOW_INVALID_OR_MISSING_CLIENT_CERT",
        allowlistedCertificates=["certs/prod/intermediate-ca.pem"],
        httpsRedirect=True,
        expiryWarningDays=10,
    )
    return config


def platform_with_every_option() -> dict[str, Any]:
    config = committed_config("platform-dev")
    backend = config["gke-mtls:gkeBackend"]
    del backend["targetPort"]
    backend.update(
        logSampleRate=0.5,
        healthCheck={"requestPath": "/ready", "port": 8443, "type": "HTTPS", "checkIntervalSec": 30},
        headers={"X-Mtls-Verified": "{client_cert_chain_verified}", "X-Mtls-Sans": "{client_cert_uri_sans}"},
    )
    config["gke-mtls:mesh"]["workloads"][0]["ports"] = {"80": "PERMISSIVE"}
    config["gke-mtls:mesh"]["edgeBackend"]["port"] = 80
    return config


# snapshot id -> (stack name, config)
STACKS = {
    "dev": ("dev", lambda: committed_config("dev")),
    "prod": ("prod", lambda: committed_config("prod")),
    "edge-dev": ("edge-dev", lambda: committed_config("edge-dev")),
    # The snapshots recorded for dev, prod and edge-dev before they moved to Certificate Manager, unchanged.
    "dev-compute-certificate": ("dev", lambda: with_compute_certificate("dev")),
    "prod-compute-certificate": ("prod", lambda: with_compute_certificate("prod")),
    "edge-dev-compute-certificate": ("edge-dev", lambda: with_compute_certificate("edge-dev")),
    "platform-dev": ("platform-dev", lambda: committed_config("platform-dev")),
    "app-dev": ("app-dev", lambda: committed_config("app-dev")),
    "platform-dev-create-service": ("platform-dev", platform_creating_its_service),
    "dev-every-mesh-shape": ("dev", dev_with_every_mesh_shape),
    "edge-dev-every-option": ("edge-dev", edge_with_every_option),
    "platform-dev-every-option": ("platform-dev", platform_with_every_option),
    # The standalone-NEG path; the edge reads what the platform stack's file would export.
    "platform-neg-dev": ("platform-neg-dev", lambda: committed_config("platform-neg-dev")),
    "edge-neg-dev": ("edge-neg-dev", lambda: committed_config("edge-neg-dev")),
    # The regional external load balancer on the standalone NEG.
    "platform-regional-dev": ("platform-regional-dev", lambda: committed_config("platform-regional-dev")),
    "edge-regional-dev": ("edge-regional-dev", lambda: committed_config("edge-regional-dev")),
}


def registered(recording) -> dict[str, Any]:
    resources = [
        {
            "urn": r.urn,
            "type": r.type,
            "name": r.name,
            "parent": r.parent,
            "custom": r.custom,
            "read": r.read,
            "provider": r.provider,
            "options": {
                "protect": r.protect,
                "deleteBeforeReplace": r.delete_before_replace,
                "retainOnDelete": r.retain_on_delete,
                "dependsOn": r.dependencies,
                **r.options,
            },
            "propertyDependencies": {k: sorted(v) for k, v in r.property_dependencies.items()},
            "inputs": r.inputs,
        }
        for r in sorted(recording.resources, key=lambda r: r.urn)
    ]
    invokes = sorted(([i.token, i.args] for i in recording.invokes), key=json.dumps)
    # A JSON round trip with sorted keys: the engine's property order is not part of what is deployed.
    return json.loads(
        json.dumps({"resources": resources, "invokes": invokes, "outputs": recording.outputs}, sort_keys=True)
    )


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("case", STACKS)
def test_registered_resources_match_the_snapshot(run_stack, snapshot_json, case):
    stack, config = STACKS[case]
    recording = run_stack(config(), stack=stack)
    assert recording.error is None, recording.error
    assert registered(recording) == snapshot_json
