"""The two-stack setup under Pulumi's mock engine: the platform stack's GKE backend anchor and its exported name,
and the edge stack's rejected-client metric and alert."""

from __future__ import annotations

import json

import pytest

from tests.conftest import committed_config

BACKEND_CONFIG = "kubernetes:cloud.google.com/v1:BackendConfig"
SERVICE = "kubernetes:core/v1:Service"
SERVICE_PATCH = "kubernetes:core/v1:ServicePatch"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
LOG_METRIC = "gcp:logging/metric:Metric"
ALERT_POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
NEG_STATUS = json.dumps(
    {"network_endpoint_groups": {"80": "k8s1-01234567-default-web-80-5104b449"}, "zones": ["europe-west1-b"]}
)


@pytest.fixture
def platform():
    return committed_config("platform-dev")


def test_platform_stack_patches_the_existing_service_with_neg_and_backend_config(run_stack, platform):
    recording = run_stack(platform, stack="platform-dev")
    assert recording.error is None
    assert recording.of_type(SERVICE) == []
    assert recording.one(SERVICE_PATCH).inputs == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "annotations": {
                "cloud.google.com/neg": '{"ingress": true}',
                "cloud.google.com/backend-config": '{"default": "web-mtls"}',
            },
        },
    }


def test_platform_stack_can_create_the_service_instead(run_stack, platform):
    platform["gke-mtls:gkeBackend"]["createService"] = True
    recording = run_stack(platform, stack="platform-dev")
    assert recording.of_type(SERVICE_PATCH) == []
    assert recording.one(SERVICE).inputs["spec"] == {
        "type": "ClusterIP",
        "selector": {"app": "web"},
        "ports": [{"name": "http", "port": 80.0, "targetPort": 8080.0, "protocol": "TCP"}],
    }


def test_backend_config_spec_is_exact(run_stack, platform):
    recording = run_stack(platform, stack="platform-dev")
    assert recording.one(BACKEND_CONFIG).inputs == {
        "apiVersion": "cloud.google.com/v1",
        "kind": "BackendConfig",
        "metadata": {"name": "web-mtls", "namespace": "default"},
        "spec": {
            "healthCheck": {
                "type": "HTTP",
                "requestPath": "/healthz",
                "checkIntervalSec": 15.0,
                "timeoutSec": 5.0,
                "healthyThreshold": 1.0,
                "unhealthyThreshold": 2.0,
                "port": 8080.0,
            },
            "logging": {"enable": True, "sampleRate": 1.0},
            "customRequestHeaders": {
                "headers": [
                    "X-Client-Cert-Present:{client_cert_present}",
                    "X-Client-Cert-Chain-Verified:{client_cert_chain_verified}",
                    "X-Client-Cert-Error:{client_cert_error}",
                    "X-Client-Cert-Hash:{client_cert_sha256_fingerprint}",
                    "X-Client-Cert-Spiffe-Id:{client_cert_spiffe_id}",
                ]
            },
        },
    }


def test_anchor_ingress_is_protected_closed_and_says_why(run_stack, platform):
    recording = run_stack(platform, stack="platform-dev")
    anchor = recording.one(INGRESS)
    assert anchor.protect is True
    assert anchor.inputs["metadata"]["name"] == "web-backend-anchor"
    annotations = anchor.inputs["metadata"]["annotations"]
    assert annotations["kubernetes.io/ingress.class"] == "gce"
    assert annotations["kubernetes.io/ingress.allow-http"] == "false"
    assert annotations["pulumi.com/skipAwait"] == "true"
    assert "both HTTP and HTTPS are disabled" in annotations["gke-mtls/purpose"]
    assert (
        "Deleting it stops that sync: the backend service, still used by the edge, is left orphaned"
        in annotations["gke-mtls/purpose"]
    )
    assert anchor.inputs["spec"] == {"defaultBackend": {"service": {"name": "web", "port": {"number": 80.0}}}}
    assert [r.type for r in recording.cloud_resources() if r.protect] == [INGRESS]


def test_gke_objects_use_the_cluster_provider(run_stack, platform):
    recording = run_stack(platform, stack="platform-dev")
    provider = recording.one("pulumi:providers:kubernetes")
    for typ in (BACKEND_CONFIG, SERVICE_PATCH, INGRESS):
        assert recording.one(typ).provider.startswith(provider.urn + "::")


def test_exported_name_is_pending_until_the_neg_controller_has_run(run_stack, platform):
    recording = run_stack(platform, stack="platform-dev")
    assert recording.outputs["backendServiceName"].startswith("pending: GKE has not named the backend service yet")
    assert any(m.startswith("pending: GKE has not named") for m in recording.messages("warning"))


def test_exported_name_is_read_from_neg_status_after_a_refresh(run_stack, platform):
    recording = run_stack(platform, stack="platform-dev", neg_status=NEG_STATUS)
    assert recording.outputs["backendServiceName"] == "k8s1-01234567-default-web-80-5104b449"


def test_mesh_guard_goes_into_the_mesh(run_stack, platform):
    recording = run_stack(platform, stack="platform-dev")
    guard = recording.named("ap-default-web-edge-guard")
    assert guard.inputs["spec"]["action"] == "DENY"
    assert guard.inputs["spec"]["rules"][0]["when"] == [
        {"key": "request.headers[x-client-cert-chain-verified]", "notValues": ["true"]}
    ]


def test_edge_stack_reads_a_pending_name_as_an_error_naming_the_value(run_stack):
    recording = run_stack(
        committed_config("edge-dev"),
        stack="edge-dev",
        stack_outputs={"backendServiceName": "pending: GKE has not named the backend service yet"},
    )
    assert str(recording.error).startswith(
        "gke-mtls:backend.output: output 'backendServiceName' of stack "
        "'acme/gke-mtls/platform-dev' is 'pending: GKE has not named"
    )
    assert recording.cloud_resources() == []


def test_edge_stack_counts_rejected_client_certificates_by_status(run_stack):
    recording = run_stack(committed_config("edge-dev"), stack="edge-dev")
    assert recording.error is None
    assert recording.one(LOG_METRIC).inputs == {
        "name": "gke-mtls-edge-dev-rejected-client-certificates",
        "description": "Client certificates the gke-mtls edge rejected, by statusDetails",
        "filter": 'resource.type="http_load_balancer"\nresource.labels.forwarding_rule_name="edge-https-rule"\n'
        'jsonPayload.statusDetails=~"^client_cert_"',
        "metricDescriptor": {
            "metricKind": "DELTA",
            "valueType": "INT64",
            "unit": "1",
            "displayName": "Rejected client certificates",
            "labels": [{"key": "status_details", "valueType": "STRING", "description": "GCP's statusDetails"}],
        },
        "labelExtractors": {"status_details": "EXTRACT(jsonPayload.statusDetails)"},
    }
    assert recording.outputs["rejectedClientsLogQuery"] == recording.one(LOG_METRIC).inputs["filter"]


def test_edge_stack_alerts_on_rejections_to_the_configured_channels(run_stack):
    """Monitoring v3 refuses a threshold filter without `resource.type` (terraform-provider-google#4165); series of
    log-based metrics on the load balancer's request logs are `l7_lb_rule`. No grouping: the threshold is on the
    total of every reason. Field names are the Cloud SDK's."""
    from tests.cloud_sdk import message_fields

    recording = run_stack(committed_config("edge-dev"), stack="edge-dev")
    alert = recording.one(ALERT_POLICY).inputs
    assert alert["displayName"] == "gke-mtls edge-dev: clients rejected at the mTLS edge"
    assert alert["notificationChannels"] == ["projects/acme-dev/notificationChannels/1234567890"]
    assert alert["combiner"] == "OR"
    assert alert["conditions"] == [
        {
            "displayName": "more than 10 rejected client certificates",
            "conditionThreshold": {
                "filter": 'resource.type="l7_lb_rule" AND '
                'metric.type="logging.googleapis.com/user/gke-mtls-edge-dev-rejected-client-certificates"',
                "comparison": "COMPARISON_GT",
                "thresholdValue": 10.0,
                "duration": "0s",
                "aggregations": [
                    {
                        "alignmentPeriod": "300s",
                        "perSeriesAligner": "ALIGN_SUM",
                        "crossSeriesReducer": "REDUCE_SUM",
                    }
                ],
            },
        }
    ]
    threshold = alert["conditions"][0]["conditionThreshold"]
    assert set(threshold) <= message_fields("monitoring", "v3", "MetricThreshold")
    assert set(threshold["aggregations"][0]) <= message_fields("monitoring", "v3", "Aggregation")


def test_no_alert_policy_unless_configured(run_stack, dev_config):
    for key in ("gke-mtls:mesh", "gke-mtls:cluster"):
        dev_config.pop(key)
    recording = run_stack(dev_config)
    assert recording.of_type(ALERT_POLICY) == []
    assert len(recording.of_type(LOG_METRIC)) == 1
