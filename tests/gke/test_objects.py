"""The GKE side, without the engine: the generated objects against Kubernetes and GKE schemas, and the backend
service name read from realistic controller annotations."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from components.gke import objects as gke_backend
from components.gke.objects import backend_service_name
from tests.conftest import PROJECT_ROOT
from tests.gke.configs import settings

KEY = "gke-mtls:gkeBackend"
K8S_VERSION = kubernetes_validate.latest_version()


# --- the objects, against Kubernetes' schemas (kubernetes-validate) and the hand-checked BackendConfig schema ---


def manifest(api_version: str, kind: str, s, spec: dict, annotations: dict | None = None, name: str | None = None):
    metadata: dict[str, Any] = {"name": name or s.service, "namespace": s.namespace}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec}


def test_created_service_validates_against_the_kubernetes_schema():
    s = settings(createService=True, selector={"app": "web"}, targetPort=8080)
    service = manifest("v1", "Service", s, gke_backend.service_spec(s), gke_backend.service_annotations(s))
    kubernetes_validate.validate(service, K8S_VERSION, strict=True)
    assert service["metadata"]["annotations"] == {
        "cloud.google.com/neg": '{"ingress": true}',
        "cloud.google.com/backend-config": '{"default": "web-mtls"}',
    }
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]


def test_anchor_ingress_validates_and_can_serve_nobody():
    s = settings()
    ingress = manifest(
        "networking.k8s.io/v1",
        "Ingress",
        s,
        gke_backend.anchor_spec(s),
        gke_backend.anchor_annotations(),
        name=s.anchor_name,
    )
    kubernetes_validate.validate(ingress, K8S_VERSION, strict=True)
    annotations = ingress["metadata"]["annotations"]
    assert annotations["kubernetes.io/ingress.class"] == "gce"
    assert annotations["kubernetes.io/ingress.allow-http"] == "false"
    assert annotations["pulumi.com/skipAwait"] == "true"
    assert "tls" not in ingress["spec"]
    assert ingress["spec"] == {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}


def test_a_misspelt_field_fails_the_kubernetes_schema_so_the_check_can_fail():
    s = settings()
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(
            manifest("networking.k8s.io/v1", "Ingress", s, {"defaultBackends": {}}), K8S_VERSION, strict=True
        )


BACKEND_CONFIG_SCHEMA = json.loads((PROJECT_ROOT / "tests/gke/fixtures/backendconfig-v1.schema.json").read_text())


def test_backend_config_has_health_check_logging_and_headers_and_validates():
    s = settings(healthCheck={"requestPath": "/healthz", "port": 8080}, logSampleRate=0.5)
    spec = gke_backend.backend_config_spec(s)
    assert spec == {
        "healthCheck": {
            "type": "HTTP",
            "requestPath": "/healthz",
            "checkIntervalSec": 15,
            "timeoutSec": 5,
            "healthyThreshold": 1,
            "unhealthyThreshold": 2,
            "port": 8080,
        },
        "logging": {"enable": True, "sampleRate": 0.5},
        "customRequestHeaders": {
            "headers": [
                "X-Client-Cert-Present:{client_cert_present}",
                "X-Client-Cert-Chain-Verified:{client_cert_chain_verified}",
                "X-Client-Cert-Error:{client_cert_error}",
                "X-Client-Cert-Hash:{client_cert_sha256_fingerprint}",
                "X-Client-Cert-Spiffe-Id:{client_cert_spiffe_id}",
            ]
        },
    }
    jsonschema.validate(
        manifest("cloud.google.com/v1", "BackendConfig", s, spec, name="web-mtls"), BACKEND_CONFIG_SCHEMA
    )
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            manifest("cloud.google.com/v1", "BackendConfig", s, {"logging": {"enabled": True}}, name="web-mtls"),
            BACKEND_CONFIG_SCHEMA,
        )


def test_mesh_guard_is_valid_istio_and_checks_the_configured_header():
    from components.mesh.validation.schema import IstioSchemas

    s = settings(selector={"app": "web"}, targetPort=8080, meshGuard=True, healthCheck={"requestPath": "/healthz"})
    guard = gke_backend.mesh_guard(s)
    assert IstioSchemas.load().validate(guard.document) == []
    assert guard.spec == {
        "selector": {"matchLabels": {"app": "web"}},
        "action": "DENY",
        "rules": [
            {
                "from": [{"source": {"notPrincipals": ["*"]}}],
                "to": [{"operation": {"ports": ["8080"], "notPaths": ["/healthz"]}}],
                "when": [{"key": "request.headers[x-client-cert-chain-verified]", "notValues": ["true"]}],
            },
            {
                "from": [{"source": {"notPrincipals": ["*"], "notIpBlocks": ["130.211.0.0/22", "35.191.0.0/16"]}}],
                "to": [{"operation": {"ports": ["8080"]}}],
            },
        ],
    }


# --- the generated name ---

NEG_STATUS = json.dumps(
    {
        "network_endpoint_groups": {
            "80": "k8s1-01234567-default-web-80-5104b449",
            "443": "k8s1-01234567-default-web-443-9a8b7c6d",
        },
        "zones": ["europe-west1-b", "europe-west1-c"],
    }
)
BACKENDS = json.dumps(
    {
        "k8s1-01234567-default-web-80-5104b449": "HEALTHY",
        "k8s1-01234567-kube-system-default-http-backend-80-e6b21a5c": "HEALTHY",
    }
)


def test_name_comes_from_the_services_neg_status_for_the_served_port():
    assert (
        backend_service_name({gke_backend.NEG_STATUS_ANNOTATION: NEG_STATUS}, None, settings())
        == "k8s1-01234567-default-web-80-5104b449"
    )
    assert (
        backend_service_name({gke_backend.NEG_STATUS_ANNOTATION: NEG_STATUS}, None, settings(port=443))
        == "k8s1-01234567-default-web-443-9a8b7c6d"
    )


def test_name_falls_back_to_the_ingress_backends_annotation():
    assert (
        backend_service_name({}, {gke_backend.BACKENDS_ANNOTATION: BACKENDS}, settings())
        == "k8s1-01234567-default-web-80-5104b449"
    )
    single = json.dumps({"k8s-be-31234--0123456789abcdef": "HEALTHY"})
    assert (
        backend_service_name(None, {gke_backend.BACKENDS_ANNOTATION: single}, settings())
        == "k8s-be-31234--0123456789abcdef"
    )


def test_no_name_until_the_controller_has_run_and_the_message_says_what_to_do():
    assert backend_service_name(None, None, settings()) is None
    assert (
        backend_service_name({gke_backend.NEG_STATUS_ANNOTATION: '{"network_endpoint_groups": {}}'}, {}, settings())
        is None
    )
    assert backend_service_name({gke_backend.NEG_STATUS_ANNOTATION: "not json"}, None, settings()) is None
    assert gke_backend.pending_message(settings()) == (
        "pending: GKE has not named the backend service yet (cloud.google.com/neg-status on Service default/web has no "
        "entry for port 80). Wait a minute for the NEG controller, then run `pulumi up --refresh` on "
        "this stack once more."
    )
