"""The GKE side, without the engine: header rules, the generated objects against Kubernetes and GKE schemas, and
the backend service name read from realistic controller annotations."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from components.core.config import INVALID
from components.core.findings import Finding
from components.gke import objects as gke_backend
from components.gke.objects import GKE_BACKEND, backend_service_name, build, header_findings
from tests.conftest import PROJECT_ROOT

KEY = "gke-mtls:gkeBackend"
K8S_VERSION = kubernetes_validate.latest_version()


def settings(**raw: Any) -> gke_backend.GkeBackendSettings:
    findings: list[Finding] = []
    parsed = GKE_BACKEND.read({"namespace": "default", "service": "web", "port": 80, **raw}, KEY, findings)
    assert parsed is not INVALID
    result = build(parsed, KEY, findings)
    assert findings == [] and result is not None, [str(f) for f in findings]
    return result


def header_messages(headers: dict[str, str]) -> list[str]:
    return [str(f) for f in header_findings(headers, f"{KEY}.headers")]


# --- header rules: each fails on one side and passes on the other ---


def test_default_headers_carry_the_mtls_verdict_and_pass_every_rule():
    assert header_messages(gke_backend.DEFAULT_HEADERS) == []
    assert settings().header_for("client_cert_chain_verified") == "X-Client-Cert-Chain-Verified"


def test_at_most_16_headers():
    sixteen = {f"X-H{i}": "v" for i in range(16)}
    assert header_messages(sixteen) == []
    assert header_messages({**sixteen, "X-H16": "v"}) == [
        f"{KEY}.headers: 17 headers; a backend service takes at most 16. [header.count]"
    ]


def test_at_most_8_kb_of_headers():
    assert header_messages({"X-Big": "v" * (8192 - 5)}) == []
    assert header_messages({"X-Big": "v" * 8192}) == [
        f"{KEY}.headers: the headers take 8197 bytes; a backend service takes at most 8192 (names and values, before "
        "variables expand). [header.size]"
    ]


@pytest.mark.parametrize(
    "name, code",
    [
        ("X Client", "header.name"),
        ("X-Client:Cert", "header.name"),
        ("X-User-IP", "header.reserved"),
        ("CDN-Loop", "header.reserved"),
        ("Connection", "header.hop-by-hop"),
        ("Keep-Alive", "header.hop-by-hop"),
        ("TE", "header.hop-by-hop"),
        ("Upgrade", "header.hop-by-hop"),
        ("X-Google-Cert", "header.prefix"),
        ("x-goog-cert", "header.prefix"),
        ("X-GFE-Cert", "header.prefix"),
        ("X-Amz-Cert", "header.prefix"),
    ],
)
def test_rejects_names_gcp_refuses(name, code):
    (finding,) = header_findings({name: "{client_cert_present}"}, f"{KEY}.headers")
    assert (finding.code, finding.key) == (code, f"{KEY}.headers.{name}")


@pytest.mark.parametrize("name", ["X-Client-Cert", "Client-Verified", "x_cert.hash~1"])
def test_accepts_token_names(name):
    assert header_messages({name: "{client_cert_present}"}) == []


def test_rejects_duplicate_names_case_insensitively():
    assert header_messages({"X-Cert": "a", "x-cert": "b"}) == [
        f"{KEY}.headers.x-cert: x-cert repeats X-Cert (header names are case-insensitive). [header.duplicate]"
    ]


def test_rejects_unknown_client_cert_variables_and_accepts_every_known_one_and_escapes():
    (finding,) = header_findings({"X-Cert": "{client_cert_fingerprint}"}, f"{KEY}.headers")
    assert finding.code == "header.variable"
    assert finding.message.startswith("{client_cert_fingerprint} is not a variable the load balancer knows")
    every = {f"X-V{i}": "{" + v + "}" for i, v in enumerate(gke_backend.CLIENT_CERT_VARIABLES)}
    assert header_messages(every) == []
    assert header_messages({"X-Literal": "{{client_cert_anything}}"}) == []


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
    from components.mesh.schema import IstioSchemas

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


def test_mesh_guard_needs_a_selector_and_the_verified_header():
    findings: list[Finding] = []
    raw = GKE_BACKEND.read(
        {
            "namespace": "default",
            "service": "web",
            "port": 80,
            "meshGuard": True,
            "headers": {"X-Client-Cert-Present": "{client_cert_present}"},
        },
        KEY,
        findings,
    )
    assert build(raw, KEY, findings) is None
    assert [str(f) for f in findings] == [
        f"{KEY}.selector: meshGuard needs the pod labels of the application; add `selector`. [config.gke-backend]",
        f"{KEY}.headers: meshGuard checks the header that carries {{client_cert_chain_verified}}; add one, such as "
        "X-Client-Cert-Chain-Verified. [config.gke-backend]",
    ]


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


def test_log_sample_rate_must_be_a_number_from_0_to_1():
    for value, message in [
        (1.5, f"{KEY}.logSampleRate: 1.5 is out of range; use a number from 0.0 to 1.0. [config.range]"),
        ("all", f"{KEY}.logSampleRate: must be a number, got a string 'all'. [config.type]"),
    ]:
        findings: list[Finding] = []
        assert (
            GKE_BACKEND.read(
                {"namespace": "default", "service": "web", "port": 80, "logSampleRate": value}, KEY, findings
            )["logSampleRate"]
            is INVALID
        )
        assert [str(f) for f in findings] == [message]


def test_creating_the_service_needs_its_selector():
    findings: list[Finding] = []
    raw = GKE_BACKEND.read({"namespace": "default", "service": "web", "port": 80, "createService": True}, KEY, findings)
    assert build(raw, KEY, findings) is None
    assert [str(f) for f in findings] == [
        f"{KEY}.selector: createService needs the pod labels the Service selects; add `selector`. [config.gke-backend]"
    ]
