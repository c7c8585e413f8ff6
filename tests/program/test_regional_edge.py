"""The regional external Application Load Balancer under Pulumi's mock engine, with the committed pair of stacks: the
platform stack exports its NEG with the proxy-only subnet's range, and the edge stack builds every resource in its
region, the verdict headers in its URL map, a DNS-authorized Certificate Manager certificate, and the authorization
policy whose principals are the allowed clients. Every input is exact; the failure paths stop before anything is
registered."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.conftest import committed_config

REGION = "europe-west1"
PROJECT = "placeholder-project"  # the fixture does not read gcp:project
COMPUTE = f"https://www.googleapis.com/compute/v1/projects/{PROJECT}"
RANGE = "10.129.0.0/23"
SUBNET = "proxy-only-europe-west1"
NEG = "web-mtls-regional"
ZONES = [f"{REGION}-b", f"{REGION}-c"]
NEG_STATUS = json.dumps({"network_endpoint_groups": {"80": NEG}, "zones": ZONES})
HEADERS = {
    "X-Client-Cert-Chain-Verified": "{client_cert_chain_verified}",
    "X-Client-Cert-Dnsname-Sans": "{client_cert_dnsname_sans}",
    "X-Client-Cert-Error": "{client_cert_error}",
    "X-Client-Cert-Hash": "{client_cert_sha256_fingerprint}",
    "X-Client-Cert-Present": "{client_cert_present}",
    "X-Client-Cert-Spiffe-Id": "{client_cert_spiffe_id}",
}
ADDRESS = "gcp:compute/address:Address"
SSL_POLICY = "gcp:compute/regionSslPolicy:RegionSslPolicy"
URL_MAP = "gcp:compute/regionUrlMap:RegionUrlMap"
HTTPS_PROXY = "gcp:compute/regionTargetHttpsProxy:RegionTargetHttpsProxy"
HTTP_PROXY = "gcp:compute/regionTargetHttpProxy:RegionTargetHttpProxy"
FORWARDING_RULE = "gcp:compute/forwardingRule:ForwardingRule"
BACKEND_SERVICE = "gcp:compute/regionBackendService:RegionBackendService"
HEALTH_CHECK = "gcp:compute/regionHealthCheck:RegionHealthCheck"
FIREWALL = "gcp:compute/firewall:Firewall"
TRUST_CONFIG = "gcp:certificatemanager/trustConfig:TrustConfig"
SERVER_TLS_POLICY = "gcp:networksecurity/serverTlsPolicy:ServerTlsPolicy"
AUTHZ_POLICY = "gcp:networksecurity/authzPolicy:AuthzPolicy"
CERTIFICATE = "gcp:certificatemanager/certificate:Certificate"
DNS_AUTHORIZATION = "gcp:certificatemanager/dnsAuthorization:DnsAuthorization"
SUBNETWORKS = "gcp:compute/getSubnetworks:getSubnetworks"
NEG_LOOKUP = "gcp:compute/getNetworkEndpointGroup:getNetworkEndpointGroup"
GLOBAL_TYPES = (
    "gcp:compute/globalAddress:GlobalAddress",
    "gcp:compute/globalForwardingRule:GlobalForwardingRule",
    "gcp:compute/uRLMap:URLMap",
    "gcp:compute/targetHttpsProxy:TargetHttpsProxy",
    "gcp:compute/backendService:BackendService",
    "gcp:compute/healthCheck:HealthCheck",
    "gcp:compute/sSLPolicy:SSLPolicy",
    "gcp:compute/managedSslCertificate:ManagedSslCertificate",
)


def located(collection: str, name: str) -> str:
    return f"projects/{PROJECT}/locations/{REGION}/{collection}/{name}"


def regional(collection: str, name: str) -> str:
    return f"projects/{PROJECT}/regions/{REGION}/{collection}/{name}"


@pytest.fixture
def platform() -> dict[str, Any]:
    return committed_config("platform-regional-dev")


@pytest.fixture
def edge() -> dict[str, Any]:
    return committed_config("edge-regional-dev")


@pytest.fixture
def platform_outputs(run_stack, platform) -> dict[str, Any]:
    recording = run_stack(platform, stack="platform-regional-dev", neg_status=NEG_STATUS)
    assert recording.error is None
    return recording.outputs


@pytest.fixture
def edge_run(run_stack, edge, platform_outputs):
    def run(config: dict[str, Any] | None = None, outputs: dict[str, Any] | None = None, **placeholders: Any):
        return run_stack(
            config or edge,
            stack="edge-regional-dev",
            stack_outputs=platform_outputs if outputs is None else outputs,
            **placeholders,
        )

    return run


# --- the platform stack ----------------------------------------------------------------------------------------


def test_the_platform_exports_where_the_mesh_lets_the_regional_load_balancer_in(platform_outputs):
    assert platform_outputs["negName"] == NEG
    assert platform_outputs["negZones"] == ZONES
    assert platform_outputs["negBackend"]["proxyOnlySubnetRange"] == RANGE


def test_the_mesh_lets_the_load_balancer_in_from_the_proxy_only_subnet_and_the_probes_from_googles_ranges(
    run_stack, platform
):
    recording = run_stack(platform, stack="platform-regional-dev", neg_status=NEG_STATUS)
    policies = {p.inputs["metadata"]["name"]: p.inputs["spec"] for p in recording.of_type(ISTIO_POLICY)}
    admission = policies["edge-load-balancer"]["rules"]
    assert [r["from"][0]["source"]["ipBlocks"] for r in admission] == [[RANGE], [RANGE], FRONT_ENDS]
    guard = policies["web-edge-guard"]["rules"][1]["from"][0]["source"]
    assert guard == {"notPrincipals": ["*"], "notIpBlocks": [RANGE, *FRONT_ENDS]}


ISTIO_POLICY = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
FRONT_ENDS = ["130.211.0.0/22", "35.191.0.0/16"]


# --- the edge stack --------------------------------------------------------------------------------------------


def test_the_regional_edge_makes_only_regional_load_balancer_resources(edge_run):
    recording = edge_run()
    assert recording.error is None
    assert [r.type for r in recording.resources if r.type in GLOBAL_TYPES] == []
    assert [(i.token, i.args) for i in recording.invokes] == [
        *[(NEG_LOOKUP, {"name": NEG, "zone": zone}) for zone in ZONES],
        (SUBNETWORKS, {"filter": '(purpose = "REGIONAL_MANAGED_PROXY") (role = "ACTIVE")', "region": REGION}),
    ]


def test_every_frontend_input_is_exact(edge_run):
    recording = edge_run()
    names = {r.type: r.name for r in recording.resources}
    assert recording.one(ADDRESS).inputs == {"region": REGION, "addressType": "EXTERNAL", "networkTier": "PREMIUM"}
    assert recording.one(ADDRESS).protect
    assert recording.one(SSL_POLICY).inputs == {"region": REGION, "profile": "MODERN", "minTlsVersion": "TLS_1_2"}
    assert recording.one(TRUST_CONFIG).inputs["location"] == REGION
    assert recording.one(SERVER_TLS_POLICY).inputs == {
        "location": REGION,
        "description": "Client certificate validation (gke-mtls)",
        "mtlsPolicy": {
            "clientValidationMode": "REJECT_INVALID",
            "clientValidationTrustConfig": located("trustConfigs", names[TRUST_CONFIG]),
        },
    }
    assert recording.one(DNS_AUTHORIZATION).inputs == {
        "location": REGION,
        "domain": "regional.dev.example.com",
        "description": "Authorizes the mTLS edge's certificate for regional.dev.example.com (gke-mtls)",
    }
    assert recording.one(CERTIFICATE).inputs == {
        "location": REGION,
        "description": "The mTLS edge's server certificate (gke-mtls)",
        "labels": {"gke-mtls-stack": "edge-regional-dev"},
        "managed": {
            "domains": ["regional.dev.example.com"],
            "dnsAuthorizations": [located("dnsAuthorizations", names[DNS_AUTHORIZATION])],
        },
    }
    assert recording.one(HTTPS_PROXY).inputs == {
        "region": REGION,
        "urlMap": regional("urlMaps", names[URL_MAP]),
        "certificateManagerCertificates": [located("certificates", names[CERTIFICATE])],
        "sslPolicy": regional("sslPolicies", names[SSL_POLICY]),
        "serverTlsPolicy": located("serverTlsPolicies", names[SERVER_TLS_POLICY]),
    }
    assert recording.one(FORWARDING_RULE).inputs == {
        "region": REGION,
        "target": regional("targetHttpsProxies", names[HTTPS_PROXY]),
        "ipAddress": "203.0.113.10",
        "ipProtocol": "TCP",
        "portRange": "443",
        "loadBalancingScheme": "EXTERNAL_MANAGED",
        "network": f"{COMPUTE}/global/networks/platform-vpc",
        "networkTier": "PREMIUM",
    }


def test_the_url_map_drops_client_copies_of_the_verdict_headers_and_sets_its_own(edge_run):
    """Google documents the {client_cert_*} variables in the URL map for the regional external load balancer. A
    variable in the value makes `replace` default to false (compute v1 HttpHeaderOption), so it is set explicitly."""
    recording = edge_run()
    assert recording.one(URL_MAP).inputs == {
        "region": REGION,
        "description": "Routes the mTLS edge to the GKE backend (gke-mtls)",
        "defaultService": recording.outputs["backendServiceSelfLink"],
        "headerAction": {
            "requestHeadersToRemoves": list(HEADERS),
            "requestHeadersToAdds": [
                {"headerName": name, "headerValue": value, "replace": True} for name, value in HEADERS.items()
            ],
        },
    }


def test_the_backend_is_regional_on_the_negs_with_its_probe_and_the_proxy_only_subnet_in_the_firewall(edge_run):
    recording = edge_run()
    health_check = recording.one(HEALTH_CHECK)
    assert health_check.inputs == {
        "region": REGION,
        "description": f"Probes the pods of NEG {NEG} (gke-mtls)",
        "checkIntervalSec": 15,
        "timeoutSec": 5,
        "healthyThreshold": 1,
        "unhealthyThreshold": 2,
        "httpHealthCheck": {"portSpecification": "USE_SERVING_PORT", "requestPath": "/healthz"},
    }
    service = recording.one(BACKEND_SERVICE)
    assert service.inputs == {
        "region": REGION,
        "description": f"The mTLS edge's backend: NEG {NEG} (gke-mtls)",
        "loadBalancingScheme": "EXTERNAL_MANAGED",
        "protocol": "HTTP",
        "backends": [
            {
                "group": f"{COMPUTE}/zones/{zone}/networkEndpointGroups/{NEG}",
                "balancingMode": "RATE",
                "maxRatePerEndpoint": 100.0,
                "capacityScaler": 1.0,
            }
            for zone in ZONES
        ],
        "healthChecks": regional("healthChecks", health_check.name),
        "logConfig": {"enable": True, "sampleRate": 1.0},
    }
    assert recording.one(FIREWALL).inputs == {
        "description": f"Google's load balancer and health checks to the pods of NEG {NEG} (gke-mtls)",
        "network": "platform-vpc",
        "direction": "INGRESS",
        "sourceRanges": [RANGE, *FRONT_ENDS],
        "allows": [{"protocol": "tcp", "ports": ["8080"]}],
        "targetTags": ["gke-platform-3f2a1b9c-node"],
    }


def test_the_allowed_clients_are_principals_of_an_authorization_policy_on_the_regional_rule(edge_run):
    recording = edge_run()
    rule = recording.one(FORWARDING_RULE)
    policy = recording.one(AUTHZ_POLICY)
    assert policy.inputs["location"] == REGION
    assert policy.inputs["target"] == {
        "loadBalancingScheme": "EXTERNAL_MANAGED",
        "resources": [f"{COMPUTE}/regions/{REGION}/forwardingRules/{rule.name}"],
    }
    assert policy.property_dependencies["target"] == [rule.urn]
    principals = [p for r in policy.inputs["httpRules"] for p in r["from"]["sources"][0]["principals"]]
    assert principals == [
        {"principalSelector": "CLIENT_CERT_URI_SAN", "principal": {"exact": "spiffe://acme.com/ns/shop/sa/checkout"}},
        {"principalSelector": "CLIENT_CERT_DNS_NAME_SAN", "principal": {"exact": "billing.acme.com"}},
    ]
    assert not any("only the mesh enforces" in m for m in recording.messages("info"))


def test_load_balancer_authorization_false_leaves_the_list_to_the_mesh(edge_run, edge):
    edge["gke-mtls:edge"]["loadBalancerAuthorization"] = False
    recording = edge_run(edge)
    assert recording.error is None
    assert recording.of_type(AUTHZ_POLICY) == []
    assert any("is false, so only the mesh enforces" in m for m in recording.messages("info"))


def test_no_allowed_clients_means_no_authorization_policy(edge_run, platform_outputs):
    outputs = copy.deepcopy(platform_outputs)
    outputs["negBackend"]["allowedClients"] = []
    recording = edge_run(outputs=outputs)
    assert recording.error is None
    assert recording.of_type(AUTHZ_POLICY) == []


def test_https_redirect_is_a_regional_redirect_map_proxy_and_rule(edge_run, edge):
    edge["gke-mtls:edge"]["httpsRedirect"] = True
    recording = edge_run(edge)
    http_proxy = recording.one(HTTP_PROXY)
    redirect = next(r for r in recording.of_type(URL_MAP) if r.name == "edge-redirect-url-map")
    assert redirect.inputs["region"] == REGION and redirect.inputs["defaultUrlRedirect"]["httpsRedirect"] is True
    assert http_proxy.inputs == {"region": REGION, "urlMap": regional("urlMaps", redirect.name)}
    rule = next(r for r in recording.of_type(FORWARDING_RULE) if r.inputs["portRange"] == "80")
    assert rule.inputs["target"] == regional("targetHttpProxies", http_proxy.name)


def test_a_standard_tier_edge_puts_its_address_and_rules_in_that_tier(edge_run, edge):
    edge["gke-mtls:edge"]["networkTier"] = "STANDARD"
    recording = edge_run(edge)
    assert recording.one(ADDRESS).inputs["networkTier"] == "STANDARD"
    assert recording.one(FORWARDING_RULE).inputs["networkTier"] == "STANDARD"


def test_the_rejected_clients_metric_reads_the_regional_load_balancers_logs(edge_run):
    """A regional external load balancer logs to external_regional_requests, of monitored resource
    http_external_regional_lb_rule (Cloud Logging's platform-logs index)."""
    recording = edge_run()
    assert recording.outputs["rejectedClientsLogQuery"] == (
        'resource.type="http_external_regional_lb_rule"\n'
        'resource.labels.forwarding_rule_name="edge-https-rule"\n'
        'jsonPayload.statusDetails=~"^client_cert_"'
    )
    alert = recording.one("gcp:monitoring/alertPolicy:AlertPolicy")
    condition = alert.inputs["conditions"][0]["conditionThreshold"]
    assert condition["filter"].startswith('resource.type="http_external_regional_lb_rule" AND metric.type=')


# --- checked against Google's generated API types --------------------------------------------------------------


def test_every_gcp_field_and_enum_of_the_regional_edge_is_one_the_api_accepts(edge_run, edge):
    """Against the Cloud SDK's generated compute v1, certificatemanager v1 and networksecurity v1 messages on this
    machine (google-cloud-cli 528.0.0). The SDK predates AuthzPolicy `principals`: that field alone is reported, and
    the next test checks it against Google's newer generated types."""
    from tests.cloud_sdk import unknown_inputs

    edge["gke-mtls:edge"]["httpsRedirect"] = True
    recording = edge_run(edge)
    renames = {
        "allows": "allowed",
        "Firewall.AllowedValueListEntry.protocol": "IPProtocol",
        "ipProtocol": "IPProtocol",
        "ipAddress": "IPAddress",
        "requestHeadersToAdds": "requestHeadersToAdd",
        "requestHeadersToRemoves": "requestHeadersToRemove",
        "from": "from_",
        # The provider sends these as the API's sslCertificates (magic-modules RegionTargetHttpsProxy.yaml, encoder
        # compute_region_target_https_proxy), which take Certificate Manager certificates on a regional proxy.
        "certificateManagerCertificates": "sslCertificates",
    }
    messages = {
        ADDRESS: ("compute", "Address"),
        SSL_POLICY: ("compute", "SslPolicy"),
        URL_MAP: ("compute", "UrlMap"),
        HTTPS_PROXY: ("compute", "TargetHttpsProxy"),
        HTTP_PROXY: ("compute", "TargetHttpProxy"),
        FORWARDING_RULE: ("compute", "ForwardingRule"),
        BACKEND_SERVICE: ("compute", "BackendService"),
        HEALTH_CHECK: ("compute", "HealthCheck"),
        FIREWALL: ("compute", "Firewall"),
        TRUST_CONFIG: ("certificatemanager", "TrustConfig"),
        DNS_AUTHORIZATION: ("certificatemanager", "DnsAuthorization"),
        CERTIFICATE: ("certificatemanager", "Certificate"),
        SERVER_TLS_POLICY: ("networksecurity", "ServerTlsPolicy"),
        AUTHZ_POLICY: ("networksecurity", "AuthzPolicy"),
    }
    problems = []
    for typ, (api, message) in messages.items():
        assert recording.of_type(typ), typ
        for resource in recording.of_type(typ):
            # labels: a map of our own keys (the API's LabelsValue takes any)
            ignored = ("location", "project", "region", "labels")
            inputs = {k: v for k, v in resource.inputs.items() if k not in ignored}
            problems += [f"{typ}: {p}" for p in unknown_inputs(api, "v1", message, inputs, renames)]
    lagging = "from.sources[0].principals: no field 'principals' in AuthzPolicyAuthzRuleFromRequestSource"
    assert problems == [f"{AUTHZ_POLICY}: httpRules[{i}].{lagging}" for i in range(2)]


def test_the_authorization_policy_is_one_googles_newer_generated_types_accept(edge_run):
    """What the Cloud SDK here cannot check (principals, their selector and match), against Google's generated
    networksecurity v1 types of google-cloud-network-security 0.13.4 (tests/edge/google_types/README.md)."""
    from tests.cloud_sdk import gapic_unknown_inputs

    policy = edge_run().one(AUTHZ_POLICY).inputs
    inputs = {k: v for k, v in policy.items() if k != "location"}
    assert gapic_unknown_inputs("AuthzPolicy", inputs) == []
    wrong = {"httpRules": [{"from": {"sources": [{"principals": [{"principalSelector": "CLIENT_CERT_SAN"}]}]}}]}
    assert gapic_unknown_inputs("AuthzPolicy", wrong) == [
        "httpRules[0].from.sources[0].principals[0].principalSelector: 'CLIENT_CERT_SAN' is not one of "
        "['CLIENT_CERT_COMMON_NAME', 'CLIENT_CERT_DNS_NAME_SAN', 'CLIENT_CERT_URI_SAN', "
        "'PRINCIPAL_SELECTOR_UNSPECIFIED']"
    ]


# --- what the edge stack refuses -------------------------------------------------------------------------------

STACK = "acme/gke-mtls/platform-regional-dev"


def gcp_resources(recording) -> list[str]:
    return [r.type for r in recording.resources if r.type.startswith("gcp:")]


def test_a_missing_proxy_only_subnet_is_named_by_key_with_the_regions_active_ones(edge_run):
    recording = edge_run(proxy_only_subnets=(("other-proxy-only", "platform-vpc", RANGE),))
    assert str(recording.error) == (
        f"gke-mtls:backend.proxyOnlySubnet: '{SUBNET}' is not an active proxy-only subnet (purpose "
        f"REGIONAL_MANAGED_PROXY, role ACTIVE) in {REGION}: it does not exist there (a proxy-only subnet serves its "
        f"own region only). Active proxy-only subnets in {REGION}: other-proxy-only (network platform-vpc). Name one "
        "of network 'platform-vpc', or create it: gcloud compute networks subnets create NAME "
        f"--purpose=REGIONAL_MANAGED_PROXY --role=ACTIVE --region={REGION} --network=platform-vpc --range=CIDR."
    )
    assert gcp_resources(recording) == []


def test_a_subnet_of_another_purpose_is_told_apart(edge_run):
    recording = edge_run(proxy_only_subnets=(), other_subnets=(SUBNET,))
    assert f"'{SUBNET}' is not an active proxy-only subnet" in str(recording.error)
    assert "it is a subnet of another purpose, or a BACKUP proxy-only subnet. Active proxy-only subnets in " in str(
        recording.error
    )
    assert f"{REGION}: none." in str(recording.error)


def test_a_proxy_only_subnet_of_another_network_is_refused(edge_run):
    recording = edge_run(proxy_only_subnets=((SUBNET, "other-vpc", RANGE),))
    assert str(recording.error) == (
        f"gke-mtls:backend.proxyOnlySubnet: '{SUBNET}' is in network 'other-vpc', not 'platform-vpc' where the NEG's "
        "pods are; the load balancer sends from the proxy-only subnet of the backends' own network. Name that one."
    )


def test_a_range_the_platform_stack_does_not_let_in_is_refused_before_anything_registers(edge_run):
    recording = edge_run(proxy_only_subnets=((SUBNET, "platform-vpc", "10.130.0.0/23"),))
    assert str(recording.error) == (
        f"gke-mtls:backend.proxyOnlySubnet: '{SUBNET}' has range 10.130.0.0/23, but stack '{STACK}' lets the load "
        f"balancer in from {RANGE} (gke-mtls:gkeBackend.proxyOnlySubnetRange); its mesh would refuse every request. "
        "Set that key to 10.130.0.0/23 and run `pulumi up` on that stack first."
    )
    assert gcp_resources(recording) == []


def test_a_platform_stack_that_expects_a_global_load_balancer_is_refused(edge_run, platform_outputs):
    outputs = copy.deepcopy(platform_outputs)
    del outputs["negBackend"]["proxyOnlySubnetRange"]
    recording = edge_run(outputs=outputs)
    assert str(recording.error) == (
        f"gke-mtls:backend.stack: output 'negBackend' of stack '{STACK}' has no proxyOnlySubnetRange, so that stack's "
        "mesh lets the load balancer in from Google's front-end ranges only, and a regional external load balancer "
        "sends from its proxy-only subnet. Set gke-mtls:gkeBackend.proxyOnlySubnetRange there to the range of "
        "gke-mtls:backend.proxyOnlySubnet and run `pulumi up` on it first."
    )
    assert recording.invokes == []


def test_a_global_edge_on_a_platform_stack_made_for_a_regional_one_is_refused(run_stack, platform_outputs):
    config = committed_config("edge-neg-dev")
    recording = run_stack(config, stack="edge-neg-dev", stack_outputs=platform_outputs)
    assert str(recording.error).startswith(
        "gke-mtls:backend.stack: output 'negBackend' of stack 'acme/gke-mtls/platform-neg-dev' has "
        f"proxyOnlySubnetRange {RANGE}: that stack's mesh expects a regional external load balancer and would refuse "
        "the global external Application Load Balancer's requests from Google's front-end ranges."
    )


def test_negs_outside_the_region_are_refused_by_edge_region(edge_run, platform_outputs):
    outputs = {**platform_outputs, "negZones": ["europe-west4-a", "europe-west4-b"]}
    recording = edge_run(outputs=outputs)
    assert str(recording.error) == (
        f"gke-mtls:edge.region: NEG '{NEG}' of stack '{STACK}' is in europe-west4-a, europe-west4-b, outside "
        f"{REGION}; a regional external load balancer reaches the NEGs of its own region only. Set edge.region to "
        "the cluster's region (europe-west4)."
    )
    assert recording.invokes == []
