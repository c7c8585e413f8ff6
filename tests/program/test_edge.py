"""The whole program under Pulumi's mock engine: exact inputs, wiring, outputs and failure paths."""

from __future__ import annotations

import pytest

from tests.conftest import PROJECT_ROOT

ADDRESS = "gcp:compute/globalAddress:GlobalAddress"
CERTIFICATE = "gcp:compute/managedSslCertificate:ManagedSslCertificate"
SSL_POLICY = "gcp:compute/sSLPolicy:SSLPolicy"
TRUST_CONFIG = "gcp:certificatemanager/trustConfig:TrustConfig"
SERVER_TLS_POLICY = "gcp:networksecurity/serverTlsPolicy:ServerTlsPolicy"
URL_MAP = "gcp:compute/uRLMap:URLMap"
HTTPS_PROXY = "gcp:compute/targetHttpsProxy:TargetHttpsProxy"
HTTP_PROXY = "gcp:compute/targetHttpProxy:TargetHttpProxy"
FORWARDING_RULE = "gcp:compute/globalForwardingRule:GlobalForwardingRule"
LOG_METRIC = "gcp:logging/metric:Metric"
ALERT_POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
STACK_REFERENCE = "pulumi:pulumi:StackReference"
BACKEND_LOOKUP = "gcp:compute/getBackendService:getBackendService"

PROJECT = "placeholder-project"
BACKEND = "k8s1-0123abcd-default-web-80-5104b449"
BACKEND_SELF_LINK = f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/global/backendServices/{BACKEND}"


def gcp_resources(recording):
    return [r for r in recording.cloud_resources() if r.type.startswith("gcp:")]


@pytest.fixture
def dev_config(dev_config):
    """The committed dev stack without its mesh: these tests are about the edge, with the Compute managed
    certificate that a stack without `certificate` keeps (Certificate Manager's: test_certificate_manager.py)."""
    dev_config.pop("gke-mtls:mesh")
    dev_config.pop("gke-mtls:cluster")
    dev_config["gke-mtls:edge"].pop("certificate")
    return dev_config


def pem(path: str) -> str:
    return (PROJECT_ROOT / path).read_text()


def test_dev_stack_registers_the_edge_with_exact_inputs(run_stack, dev_config):
    recording = run_stack(dev_config)

    assert recording.error is None
    assert sorted(r.type for r in gcp_resources(recording)) == sorted(
        [
            ADDRESS,
            CERTIFICATE,
            SSL_POLICY,
            TRUST_CONFIG,
            SERVER_TLS_POLICY,
            URL_MAP,
            HTTPS_PROXY,
            FORWARDING_RULE,
            LOG_METRIC,
        ]
    )
    assert recording.one(ADDRESS).inputs == {"addressType": "EXTERNAL", "ipVersion": "IPV4"}
    assert recording.one(CERTIFICATE).inputs == {"type": "MANAGED", "managed": {"domains": ["dev.example.com"]}}
    assert recording.one(SSL_POLICY).inputs == {"profile": "MODERN", "minTlsVersion": "TLS_1_2"}
    assert recording.one(TRUST_CONFIG).inputs == {
        "location": "global",
        "description": "Client CAs for frontend mTLS (gke-mtls)",
        "trustStores": [
            {
                "trustAnchors": [{"pemCertificate": pem("certs/dev/root-ca.pem")}],
                "intermediateCas": [{"pemCertificate": pem("certs/dev/intermediate-ca.pem")}],
            }
        ],
    }
    assert recording.one(SERVER_TLS_POLICY).inputs == {
        "location": "global",
        "description": "Client certificate validation (gke-mtls)",
        "mtlsPolicy": {
            "clientValidationMode": "REJECT_INVALID",
            "clientValidationTrustConfig": f"projects/{PROJECT}/locations/global/trustConfigs/edge-trust-config",
        },
    }
    assert recording.one(URL_MAP).inputs == {
        "description": "Routes the mTLS edge to the GKE backend (gke-mtls)",
        "defaultService": BACKEND_SELF_LINK,
    }
    assert recording.one(HTTPS_PROXY).inputs == {
        "urlMap": f"projects/{PROJECT}/global/urlMaps/edge-url-map",
        "sslCertificates": [f"projects/{PROJECT}/global/sslCertificates/edge-certificate"],
        "sslPolicy": f"projects/{PROJECT}/global/sslPolicies/edge-ssl-policy",
        "serverTlsPolicy": f"projects/{PROJECT}/locations/global/serverTlsPolicies/edge-server-tls-policy",
    }
    assert recording.one(FORWARDING_RULE).inputs == {
        "target": f"projects/{PROJECT}/global/targetHttpsProxies/edge-https-proxy",
        "ipAddress": f"projects/{PROJECT}/global/addresses/edge-address",
        "ipProtocol": "TCP",
        "portRange": "443",
        "loadBalancingScheme": "EXTERNAL",
    }


def test_every_edge_resource_is_a_child_of_the_edge_component(run_stack, dev_config):
    recording = run_stack(dev_config)
    edge = recording.one("gke-mtls:edge:Edge")
    monitoring = recording.one("gke-mtls:edge:EdgeMonitoring")
    assert edge.name == "edge"
    assert all(r.parent == (monitoring.urn if r.type == LOG_METRIC else edge.urn) for r in gcp_resources(recording))


def test_only_the_address_is_protected_and_no_child_has_a_fixed_name(run_stack, dev_config):
    recording = run_stack(dev_config)
    assert [r.type for r in gcp_resources(recording) if r.protect] == [ADDRESS]
    # Fixed names would force delete-before-replace and hit resourceInUseByAnotherResource on the proxy. Only the
    # log-based metric has one (the API requires it), and it is the only one replaced delete-first.
    assert [r.type for r in gcp_resources(recording) if "name" in r.inputs] == [LOG_METRIC]
    assert [r.type for r in gcp_resources(recording) if r.delete_before_replace] == [LOG_METRIC]


def test_stack_outputs_name_the_address_urls_backend_and_policies(run_stack, dev_config):
    recording = run_stack(dev_config)
    assert recording.outputs == {
        "ipAddress": "203.0.113.10",
        "httpsUrls": ["https://dev.example.com/"],
        "backendServiceSelfLink": BACKEND_SELF_LINK,
        "trustConfigId": f"projects/{PROJECT}/locations/global/trustConfigs/edge-trust-config",
        "serverTlsPolicyId": f"projects/{PROJECT}/locations/global/serverTlsPolicies/edge-server-tls-policy",
        "httpsForwardingRuleName": "edge-https-rule",
        "rejectedClientsLogQuery": 'resource.type="http_load_balancer"\n'
        'resource.labels.forwarding_rule_name="edge-https-rule"\njsonPayload.statusDetails=~"^client_cert_"',
    }


def test_backend_name_comes_from_the_referenced_stack_output(run_stack, dev_config):
    dev_config["gke-mtls:backend"] = {"stack": "acme/gke-platform/dev", "output": "webBackend"}
    recording = run_stack(dev_config, stack_outputs={"webBackend": "k8s1-aaaabbbb-shop-web-8080-12345678"})

    reference = recording.one(STACK_REFERENCE)
    assert reference.read and reference.inputs == {"name": "acme/gke-platform/dev"}
    assert [(i.token, i.args) for i in recording.invokes] == [
        (BACKEND_LOOKUP, {"name": "k8s1-aaaabbbb-shop-web-8080-12345678"})
    ]
    assert (
        recording.one(URL_MAP)
        .inputs["defaultService"]
        .endswith("/backendServices/k8s1-aaaabbbb-shop-web-8080-12345678")
    )


def test_explicit_backend_name_needs_no_stack_reference(run_stack, dev_config):
    dev_config["gke-mtls:backend"] = {"name": "k8s1-0123abcd-default-web-80-5104b449"}
    recording = run_stack(dev_config)

    assert recording.error is None
    assert recording.of_type(STACK_REFERENCE) == []
    assert [i.args for i in recording.invokes] == [{"name": "k8s1-0123abcd-default-web-80-5104b449"}]
    assert recording.one(URL_MAP).inputs["defaultService"] == BACKEND_SELF_LINK


def test_forwarding_rule_follows_an_external_managed_backend(run_stack, dev_config):
    dev_config["gke-mtls:edge"]["httpsRedirect"] = True
    recording = run_stack(dev_config, backend_scheme="EXTERNAL_MANAGED")
    assert {r.inputs["loadBalancingScheme"] for r in recording.of_type(FORWARDING_RULE)} == {"EXTERNAL_MANAGED"}


@pytest.mark.parametrize("scheme", ["INTERNAL_MANAGED", "INTERNAL_SELF_MANAGED", "INTERNAL"])
def test_backend_whose_scheme_cannot_serve_a_global_external_proxy_stops_the_program(run_stack, dev_config, scheme):
    recording = run_stack(dev_config, backend_scheme=scheme)
    assert str(recording.error) == (
        f"gke-mtls:backend: backend service '{BACKEND}' has load-balancing scheme '{scheme}', which a global "
        "external HTTPS proxy cannot serve (it needs EXTERNAL or EXTERNAL_MANAGED). Point gke-mtls:backend at a "
        "backend made by a 'gce' class Ingress (scheme EXTERNAL), not 'gce-internal' or 'gce-regional-external'."
    )
    assert gcp_resources(recording) == []


def test_missing_stack_output_names_the_stack_and_the_output(run_stack, dev_config):
    recording = run_stack(dev_config, stack_outputs={"somethingElse": "x"})
    assert str(recording.error) == (
        "gke-mtls:backend.output: stack 'acme/gke-platform/dev' has no output 'backendServiceName'. Export the "
        "backend service name from that stack under this name, or set gke-mtls:backend.output to the output it "
        "does export."
    )
    assert gcp_resources(recording) == []


def test_stack_output_that_is_not_a_backend_name_is_refused(run_stack, dev_config):
    recording = run_stack(dev_config, stack_outputs={"backendServiceName": "Not A Name"})
    assert str(recording.error) == (
        "gke-mtls:backend.output: output 'backendServiceName' of stack 'acme/gke-platform/dev' is 'Not A Name', not "
        "a backend service name; export the name of the backend service GKE generated."
    )
    assert gcp_resources(recording) == []


def test_backend_that_cannot_be_read_fails_with_the_providers_message_before_anything_is_registered(
    run_stack, dev_config
):
    recording = run_stack(dev_config, backend_lookup_error="googleapi: Error 404: backend service not found")
    assert str(recording.error) == "googleapi: Error 404: backend service not found"
    assert gcp_resources(recording) == []


def test_https_redirect_adds_a_redirect_only_listener_on_port_80_of_the_same_address(run_stack, dev_config):
    dev_config["gke-mtls:edge"]["httpsRedirect"] = True
    recording = run_stack(dev_config)

    redirect_map = recording.named("edge-redirect-url-map")
    assert redirect_map.inputs == {
        "description": "Redirects plain HTTP to HTTPS (gke-mtls)",
        "defaultUrlRedirect": {
            "httpsRedirect": True,
            "stripQuery": False,
            "redirectResponseCode": "MOVED_PERMANENTLY_DEFAULT",
        },
    }
    assert "defaultService" not in redirect_map.inputs
    assert recording.one(HTTP_PROXY).inputs == {"urlMap": f"projects/{PROJECT}/global/urlMaps/edge-redirect-url-map"}
    assert recording.named("edge-http-rule").inputs == {
        "target": f"projects/{PROJECT}/global/targetHttpProxies/edge-http-proxy",
        "ipAddress": f"projects/{PROJECT}/global/addresses/edge-address",
        "ipProtocol": "TCP",
        "portRange": "80",
        "loadBalancingScheme": "EXTERNAL",
    }


def test_without_https_redirect_nothing_listens_on_port_80(run_stack, dev_config):
    recording = run_stack(dev_config)
    assert [r.inputs["portRange"] for r in recording.of_type(FORWARDING_RULE)] == ["443"]
    assert recording.of_type(HTTP_PROXY) == []


def test_prod_stack_as_committed(run_stack):
    from tests.conftest import committed_config

    recording = run_stack(committed_config("prod"), stack="prod")
    assert recording.error is None
    assert len(gcp_resources(recording)) == 17
    assert recording.one(SERVER_TLS_POLICY).inputs["mtlsPolicy"]["clientValidationMode"] == "REJECT_INVALID"
    assert recording.one(SSL_POLICY).inputs == {"profile": "RESTRICTED", "minTlsVersion": "TLS_1_2"}
    managed = recording.one("gcp:certificatemanager/certificate:Certificate").inputs["managed"]
    assert managed["domains"] == ["api.example.com", "www.example.com"]
    assert recording.of_type(CERTIFICATE) == []  # no Compute certificate
    assert recording.one(TRUST_CONFIG).inputs["trustStores"][0]["trustAnchors"] == [
        {"pemCertificate": pem("certs/prod/root-ca.pem")}
    ]
    assert sorted(r.inputs["portRange"] for r in recording.of_type(FORWARDING_RULE)) == ["443", "80"]
    assert recording.one(STACK_REFERENCE).inputs == {"name": "acme/gke-platform/prod"}
    assert recording.messages("warning") == []


def test_allowlist_only_trust_config_has_no_trust_store(run_stack, dev_config):
    edge = dev_config["gke-mtls:edge"]
    edge.update(trustAnchors=[], intermediateCas=[], allowlistedCertificates=["certs/dev/root-ca.pem"])
    recording = run_stack(dev_config)
    assert recording.one(TRUST_CONFIG).inputs == {
        "location": "global",
        "description": "Client CAs for frontend mTLS (gke-mtls)",
        "allowlistedCertificates": [{"pemCertificate": pem("certs/dev/root-ca.pem")}],
    }


def test_custom_ssl_profile_passes_its_cipher_suites(run_stack, dev_config):
    dev_config["gke-mtls:edge"]["sslPolicy"] = {
        "profile": "CUSTOM",
        "customFeatures": ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
    }
    recording = run_stack(dev_config)
    assert recording.one(SSL_POLICY).inputs == {
        "profile": "CUSTOM",
        "minTlsVersion": "TLS_1_2",
        "customFeatures": ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
    }


def test_tls_below_1_2_is_registered_with_a_warning(run_stack, dev_config):
    dev_config["gke-mtls:edge"]["sslPolicy"] = {"minTlsVersion": "TLS_1_1"}
    recording = run_stack(dev_config)
    assert recording.error is None
    assert recording.one(SSL_POLICY).inputs["minTlsVersion"] == "TLS_1_1"
    assert recording.messages("warning") == [
        "gke-mtls:edge.sslPolicy.minTlsVersion: TLS_1_1 admits clients on TLS versions with known weaknesses; use "
        "TLS_1_2 unless a client you must serve cannot. [config.weak-tls]"
    ]


def test_preview_of_a_stack_with_a_bad_anchor_fails_with_the_message_and_registers_nothing(
    run_stack, dev_config, tmp_path
):
    from tests import pki

    weak = tmp_path / "weak-root.pem"
    weak.write_bytes(pki.issue("weak-root", key_kind="rsa1024").pem)
    dev_config["gke-mtls:edge"]["trustAnchors"] = [str(weak)]
    dev_config["gke-mtls:edge"]["intermediateCas"] = []
    recording = run_stack(dev_config, preview=True)

    assert recording.messages("error") == [
        f"gke-mtls:edge.trustAnchors[0]: {weak} (CN=weak-root,O=gke-mtls tests): has an RSA 1024-bit key; GCP accepts "
        "RSA keys of 2048 to 4096 bits. Re-issue it with a 2048, 3072 or 4096-bit key. [cert.rsa-key-size]"
    ]
    assert str(recording.error).startswith(
        "1 error(s) in the stack configuration (listed above); nothing was registered."
    )
    assert recording.resources == []


def test_certificate_warnings_reach_the_engine_and_the_edge_is_still_built(run_stack, dev_config, tmp_path):
    from tests import pki

    no_eku = tmp_path / "root-no-eku.pem"
    no_eku.write_bytes(pki.issue("root-no-eku", eku=None).pem)
    dev_config["gke-mtls:edge"].update(trustAnchors=[str(no_eku)], intermediateCas=[])
    recording = run_stack(dev_config)

    assert recording.error is None
    assert recording.messages("warning") == [
        f"gke-mtls:edge.trustAnchors[0]: {no_eku} (CN=root-no-eku,O=gke-mtls tests): has no extendedKeyUsage. GCP "
        "requires clientAuth in the EKU of the CA that issues client certificates (client_cert_chain_invalid_eku); if "
        "this CA issues them, re-issue it with extendedKeyUsage = clientAuth. [cert.eku-missing]"
    ]
    assert len(gcp_resources(recording)) == 9
