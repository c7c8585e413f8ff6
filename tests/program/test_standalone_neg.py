"""The standalone-NEG path under Pulumi's mock engine, with the committed pair of stacks: the platform stack's named
NEG and its outputs, read by the edge stack's own EXTERNAL_MANAGED backend service, URL map, firewall rule and
authorization policy. Every input is exact; the failure paths stop before anything is registered."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.conftest import committed_config

SERVICE = "kubernetes:core/v1:Service"
SERVICE_PATCH = "kubernetes:core/v1:ServicePatch"
BACKEND_CONFIG = "kubernetes:cloud.google.com/v1:BackendConfig"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
BACKEND_SERVICE = "gcp:compute/backendService:BackendService"
HEALTH_CHECK = "gcp:compute/healthCheck:HealthCheck"
FIREWALL = "gcp:compute/firewall:Firewall"
URL_MAP = "gcp:compute/uRLMap:URLMap"
FORWARDING_RULE = "gcp:compute/globalForwardingRule:GlobalForwardingRule"
AUTHZ_POLICY = "gcp:networksecurity/authzPolicy:AuthzPolicy"
NEG_LOOKUP = "gcp:compute/getNetworkEndpointGroup:getNetworkEndpointGroup"
AUTHORIZATION_POLICY = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
PROJECT = "placeholder-project"  # the fixture does not read gcp:project
ZONES = ["europe-west1-b", "europe-west1-c"]
NEG_STATUS = json.dumps({"network_endpoint_groups": {"80": "web-mtls"}, "zones": ["europe-west1-c", "europe-west1-b"]})
HEADERS = {
    "X-Client-Cert-Chain-Verified": "{client_cert_chain_verified}",
    "X-Client-Cert-Dnsname-Sans": "{client_cert_dnsname_sans}",
    "X-Client-Cert-Error": "{client_cert_error}",
    "X-Client-Cert-Hash": "{client_cert_sha256_fingerprint}",
    "X-Client-Cert-Present": "{client_cert_present}",
    "X-Client-Cert-Spiffe-Id": "{client_cert_spiffe_id}",
}


def neg_link(zone: str) -> str:
    return f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/zones/{zone}/networkEndpointGroups/web-mtls"


@pytest.fixture
def platform() -> dict[str, Any]:
    return committed_config("platform-neg-dev")


@pytest.fixture
def edge() -> dict[str, Any]:
    return committed_config("edge-neg-dev")


@pytest.fixture
def platform_outputs(run_stack, platform) -> dict[str, Any]:
    """What the platform stack exports once the NEG controller has reported the NEG: the edge stack's input."""
    recording = run_stack(platform, stack="platform-neg-dev", neg_status=NEG_STATUS)
    assert recording.error is None
    return recording.outputs


@pytest.fixture
def edge_run(run_stack, edge, platform_outputs):
    def run(config: dict[str, Any] | None = None, outputs: dict[str, Any] | None = None, **placeholders: Any):
        return run_stack(
            config or edge,
            stack="edge-neg-dev",
            stack_outputs=platform_outputs if outputs is None else outputs,
            **placeholders,
        )

    return run


# --- the platform stack ----------------------------------------------------------------------------------------


def test_platform_annotates_the_service_with_a_named_standalone_neg_only(run_stack, platform):
    recording = run_stack(platform, stack="platform-neg-dev", neg_status=NEG_STATUS)
    assert recording.error is None
    patch = recording.one(SERVICE_PATCH)
    assert patch.inputs["metadata"] == {
        "name": "web",
        "namespace": "default",
        "annotations": {"cloud.google.com/neg": '{"exposed_ports": {"80": {"name": "web-mtls"}}}'},
    }
    assert patch.parent == recording.one("gke-mtls:gke:StandaloneNeg").urn
    assert recording.of_type(BACKEND_CONFIG) == [] and recording.of_type(INGRESS) == []
    read = recording.one(SERVICE)
    assert read.read and read.inputs == {}  # the live Service, read to check its ports before anything registers


def test_platform_exports_the_neg_its_zones_and_what_the_edge_builds_from(platform_outputs):
    assert platform_outputs["negName"] == "web-mtls"
    assert platform_outputs["negZones"] == ZONES
    assert platform_outputs["negBackend"] == {
        "port": 8080,
        "healthCheck": {
            "requestPath": "/healthz",
            "type": "HTTP",
            "checkIntervalSec": 15,
            "timeoutSec": 5,
            "healthyThreshold": 1,
            "unhealthyThreshold": 2,
        },
        "logSampleRate": 1.0,
        "headers": HEADERS,
        "allowedClients": [
            {"uriSan": "spiffe://acme.com/ns/shop/sa/checkout", "paths": ["/api/*"], "methods": ["GET", "POST"]},
            {"dnsSan": "billing.acme.com", "paths": ["/invoices/*"], "methods": ["GET"]},
        ],
    }


def test_platform_zones_are_pending_until_the_neg_controller_reports(run_stack, platform):
    recording = run_stack(platform, stack="platform-neg-dev")
    assert recording.error is None
    assert recording.outputs["negZones"] == []
    assert any("has not reported NEG 'web-mtls' yet" in m for m in recording.messages("warning"))


def test_a_service_without_the_port_stops_the_platform_before_anything_registers(run_stack, platform):
    recording = run_stack(platform, stack="platform-neg-dev", service_ports={8080: 8080, 9090: 9090})
    assert str(recording.error).endswith(
        "gke-mtls:gkeBackend.port: Service default/web exposes no port 80 (its ports: 8080, 9090); set port to the "
        "Service port the NEG is for."
    )
    assert [r.type for r in recording.resources] == ["pulumi:providers:kubernetes", SERVICE]  # the read alone


def test_a_service_sending_the_port_elsewhere_is_refused_by_target_port(run_stack, platform):
    recording = run_stack(platform, stack="platform-neg-dev", service_ports={80: 8081})
    assert "gke-mtls:gkeBackend.targetPort: Service default/web sends port 80 to container port 8081, not 8080" in str(
        recording.error
    )
    assert recording.of_type(SERVICE_PATCH) == []


def test_a_service_that_cannot_be_read_is_named_by_key(run_stack, platform):
    """The engine ends the run with the provider's error; the program's own, naming the key, comes before it."""
    recording = run_stack(platform, stack="platform-neg-dev", live_service_error='services "web" not found')
    assert str(recording.error) == 'services "web" not found'
    assert recording.messages("error") == [
        'gke-mtls:gkeBackend.service: the live Service default/web cannot be read (services "web" not found). Check '
        "gke-mtls:gkeBackend.namespace and service, and this stack's cluster access; or set createService: true to "
        "create it."
    ]
    assert [r.type for r in recording.resources] == ["pulumi:providers:kubernetes"]  # the failed read is no resource


def test_a_named_target_port_cannot_be_checked_and_the_plan_says_so(run_stack, platform):
    recording = run_stack(platform, stack="platform-neg-dev", service_ports={80: "http"}, neg_status=NEG_STATUS)
    assert recording.error is None
    assert (
        "gke-mtls:gkeBackend.targetPort: Service default/web sends port 80 to the named container port 'http', which "
        "the program cannot resolve; the health check, the firewall rule and the mesh policies use 8080. Make sure "
        "that is the port 'http' names."
    ) in recording.messages("warning")


def test_a_created_service_is_not_read_first(run_stack, platform):
    platform["gke-mtls:gkeBackend"]["createService"] = True
    recording = run_stack(platform, stack="platform-neg-dev", service_ports={})
    assert recording.error is None
    service = recording.one(SERVICE)
    assert not service.read
    assert service.inputs["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]


# --- the edge stack --------------------------------------------------------------------------------------------


def test_edge_reads_the_neg_in_every_zone_and_backs_an_external_managed_service_with_it(edge_run):
    recording = edge_run()
    assert recording.error is None
    assert [(i.token, i.args) for i in recording.invokes] == [
        (NEG_LOOKUP, {"name": "web-mtls", "zone": zone}) for zone in ZONES
    ]
    service = recording.one(BACKEND_SERVICE)
    assert service.parent == recording.one("gke-mtls:edge:NegBackend").urn
    health_check = recording.one(HEALTH_CHECK)
    assert service.inputs == {
        "description": "The mTLS edge's backend: NEG web-mtls (gke-mtls)",
        "loadBalancingScheme": "EXTERNAL_MANAGED",
        "protocol": "HTTP",
        "backends": [{"group": neg_link(zone), "balancingMode": "RATE", "maxRatePerEndpoint": 100.0} for zone in ZONES],
        "healthChecks": f"projects/{PROJECT}/global/healthChecks/{health_check.name}",
        "logConfig": {"enable": True, "sampleRate": 1.0},
        "customRequestHeaders": [f"{name}:{value}" for name, value in HEADERS.items()],
    }
    assert health_check.inputs == {
        "description": "Probes the pods of NEG web-mtls (gke-mtls)",
        "checkIntervalSec": 15,
        "timeoutSec": 5,
        "healthyThreshold": 1,
        "unhealthyThreshold": 2,
        "httpHealthCheck": {"portSpecification": "USE_SERVING_PORT", "requestPath": "/healthz"},
    }
    assert recording.outputs["backendServiceSelfLink"] == (
        f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/global/backendServices/{service.name}"
    )


def test_edge_opens_the_serving_port_to_googles_ranges_on_the_nodes_only(edge_run):
    recording = edge_run()
    assert recording.one(FIREWALL).inputs == {
        "description": "Google's load balancer and health checks to the pods of NEG web-mtls (gke-mtls)",
        "network": "platform-vpc",
        "direction": "INGRESS",
        "sourceRanges": ["130.211.0.0/22", "35.191.0.0/16"],
        "allows": [{"protocol": "tcp", "ports": ["8080"]}],
        "targetTags": ["gke-platform-3f2a1b9c-node"],
    }


def test_a_health_check_on_another_port_is_probed_and_opened_there(edge_run, platform_outputs):
    outputs = copy.deepcopy(platform_outputs)
    outputs["negBackend"]["healthCheck"].update(port=9000, type="HTTP2")
    recording = edge_run(outputs=outputs)
    assert recording.one(HEALTH_CHECK).inputs["http2HealthCheck"] == {
        "portSpecification": "USE_FIXED_PORT",
        "port": 9000,
        "requestPath": "/healthz",
    }
    assert recording.one(FIREWALL).inputs["allows"] == [{"protocol": "tcp", "ports": ["8080", "9000"]}]
    assert recording.one(BACKEND_SERVICE).inputs["protocol"] == "HTTP2"  # what the pods speak, as their probe


def test_the_global_url_map_sets_no_verdict_header_the_backend_service_does(edge_run):
    """Google documents the {client_cert_*} variables on the backend service for the global external load balancer,
    whose headers overwrite a client's copy; a URL-map value would take precedence over it (custom-headers-global),
    so the URL map names none of them."""
    recording = edge_run()
    assert recording.one(URL_MAP).inputs == {
        "description": "Routes the mTLS edge to the GKE backend (gke-mtls)",
        "defaultService": recording.outputs["backendServiceSelfLink"],
    }
    assert recording.one(BACKEND_SERVICE).inputs["customRequestHeaders"] == [f"{n}:{v}" for n, v in HEADERS.items()]


def test_every_forwarding_rule_is_external_managed(edge_run, edge):
    edge["gke-mtls:edge"]["httpsRedirect"] = True
    recording = edge_run(edge)
    rules = recording.of_type(FORWARDING_RULE)
    assert sorted((r.inputs["portRange"], r.inputs["loadBalancingScheme"]) for r in rules) == [
        ("443", "EXTERNAL_MANAGED"),
        ("80", "EXTERNAL_MANAGED"),
    ]


def test_the_global_load_balancer_leaves_the_allowed_clients_to_the_mesh_and_says_so_once(edge_run):
    """Google: principals are "not supported for global external Application Load Balancers" (networksecurity v1
    AuthzPolicy), so no authorization policy with principals is made on a global forwarding rule."""
    recording = edge_run()
    assert recording.error is None
    assert recording.of_type(AUTHZ_POLICY) == []
    assert recording.messages("info") == [
        "gke-mtls:edge.loadBalancerAuthorization: is off by default: the global external Application Load Balancer "
        'takes no principals (Google: "This field is not supported for global external Application Load Balancers."), '
        "so only the mesh enforces the platform stack's allowedClients; the load balancer lets every validated client "
        "through."
    ]
    assert not any("principals" in m for m in recording.messages("warning"))


def test_load_balancer_authorization_turned_off_says_so(edge_run, edge):
    edge["gke-mtls:edge"]["loadBalancerAuthorization"] = False
    recording = edge_run(edge)
    assert recording.error is None
    assert recording.of_type(AUTHZ_POLICY) == []
    assert [m for m in recording.messages("info") if "only the mesh enforces" in m] == [
        "gke-mtls:edge.loadBalancerAuthorization: is false, so only the mesh enforces the platform stack's "
        "allowedClients; the load balancer lets every validated client through."
    ]


def test_every_gcp_field_and_enum_of_the_new_path_is_one_the_api_accepts(edge_run, edge):
    """Against the Cloud SDK's generated compute v1 messages on this machine."""
    from tests.cloud_sdk import unknown_inputs

    edge["gke-mtls:edge"]["httpsRedirect"] = True
    recording = edge_run(edge)
    renames = {
        "allows": "allowed",
        "Firewall.AllowedValueListEntry.protocol": "IPProtocol",
        "ipProtocol": "IPProtocol",
        "ipAddress": "IPAddress",
    }
    messages = {
        BACKEND_SERVICE: ("compute", "BackendService"),
        HEALTH_CHECK: ("compute", "HealthCheck"),
        FIREWALL: ("compute", "Firewall"),
        URL_MAP: ("compute", "UrlMap"),
        FORWARDING_RULE: ("compute", "ForwardingRule"),
    }
    problems = []
    for typ, (api, message) in messages.items():
        assert recording.of_type(typ), typ
        for resource in recording.of_type(typ):
            inputs = {k: v for k, v in resource.inputs.items() if k not in ("location", "project")}
            problems += [f"{typ}: {p}" for p in unknown_inputs(api, "v1", message, inputs, renames)]
    assert problems == []


# --- what the edge stack refuses -------------------------------------------------------------------------------


def test_a_platform_stack_without_the_neg_outputs_is_named_with_each_missing_output(edge_run):
    recording = edge_run(outputs={"backendServiceName": "k8s1-0123abcd-default-web-80-5104b449"})
    assert str(recording.error) == (
        "gke-mtls:backend.stack: stack 'acme/gke-mtls/platform-neg-dev' has no output 'negName', 'negZones', "
        "'negBackend'. Run `pulumi up` on that stack with gke-mtls:gkeBackend.standaloneNeg set, or point "
        "backend.stack at the stack that has it."
    )
    assert [r.type for r in recording.resources] == ["pulumi:pulumi:StackReference"]


def test_a_platform_stack_whose_neg_has_no_zones_yet_says_to_refresh_it(edge_run, platform_outputs):
    recording = edge_run(outputs={**platform_outputs, "negZones": []})
    assert "output 'negZones' of stack 'acme/gke-mtls/platform-neg-dev' is empty" in str(recording.error)
    assert "Run `pulumi up --refresh` on 'acme/gke-mtls/platform-neg-dev'" in str(recording.error)
    assert recording.invokes == []


def test_a_neg_in_another_network_is_refused_by_backend_network(edge_run):
    recording = edge_run(neg_network="other-vpc")
    assert str(recording.error).startswith(
        "gke-mtls:backend.network: NEG 'web-mtls' in europe-west1-b is in network 'other-vpc', not 'platform-vpc'"
    )
    assert [r for r in recording.resources if r.type.startswith("gcp:")] == []


def test_a_neg_that_cannot_be_read_in_a_zone_says_to_refresh_the_platform_stack(edge_run):
    recording = edge_run(neg_lookup_error="The resource 'web-mtls' was not found")
    expected = (
        "gke-mtls:backend.stack: NEG 'web-mtls' of stack 'acme/gke-mtls/platform-neg-dev' cannot be read in zone "
        "europe-west1-b (The resource 'web-mtls' was not found). If the cluster has left that zone, run `pulumi up "
        "--refresh` on 'acme/gke-mtls/platform-neg-dev' so that its negZones are current, then this stack again."
    )
    assert recording.messages("error") == [expected]  # before the provider's own error, which ends the run
    assert [r for r in recording.resources if r.type.startswith("gcp:")] == []


def test_a_name_held_by_another_kind_of_neg_is_refused(edge_run):
    recording = edge_run(neg_endpoint_type="SERVERLESS")
    assert str(recording.error).startswith(
        "gke-mtls:backend.stack: NEG 'web-mtls' in europe-west1-b has endpoint type 'SERVERLESS', not GCE_VM_IP_PORT"
    )
    assert [r for r in recording.resources if r.type.startswith("gcp:")] == []


def test_an_export_from_another_version_is_refused_with_its_field(edge_run, platform_outputs):
    outputs = copy.deepcopy(platform_outputs)
    outputs["negBackend"]["port"] = "http"
    recording = edge_run(outputs=outputs)
    assert str(recording.error).startswith(
        "gke-mtls:backend.stack: output 'negBackend' of stack 'acme/gke-mtls/platform-neg-dev'.port:"
    )


@pytest.mark.parametrize(
    "health_check, problem",
    [
        (
            {"checkIntervalSec": 5, "timeoutSec": 10},
            "healthCheck.timeoutSec: is 10, longer than checkIntervalSec (5), which Compute refuses for a health "
            "check. Make timeoutSec at most checkIntervalSec.",
        ),
        (
            {"requestPath": "/a|b"},
            "healthCheck.requestPath: '/a|b' is not valid: a path starts with / and holds only what RFC 3986 allows "
            "in a path: ASCII letters, digits, -._~!$&'()+,;=:@ and /, or a %XX escape of two hex digits; no spaces, "
            "braces, '*' or query ('?').",
        ),
    ],
    ids=["timeout-over-interval", "path-not-rfc-3986"],
)
def test_an_exported_health_check_compute_would_refuse_stops_the_edge_by_key(
    edge_run, platform_outputs, health_check, problem
):
    """The edge builds its own health check from the export: the same rule holds there, whoever wrote the export."""
    outputs = copy.deepcopy(platform_outputs)
    outputs["negBackend"]["healthCheck"].update(health_check)
    recording = edge_run(outputs=outputs)
    assert str(recording.error) == (
        f"gke-mtls:backend.stack: output 'negBackend' of stack 'acme/gke-mtls/platform-neg-dev'.{problem} Update that "
        "stack's gke-mtls to this version and run `pulumi up` on it."
    )
    assert recording.cloud_resources() == []


# --- one list, both paths --------------------------------------------------------------------------------------


def test_the_same_allowed_clients_give_the_same_mesh_policy_on_both_paths(run_stack, platform):
    classic = copy.deepcopy(platform)
    del classic["gke-mtls:gkeBackend"]["standaloneNeg"]
    runs = [
        run_stack(platform, stack="platform-neg-dev", neg_status=NEG_STATUS),
        run_stack(classic, stack="platform-neg-dev"),
    ]
    assert [r.error for r in runs] == [None, None]
    policies = [
        next(p.inputs for p in r.of_type(AUTHORIZATION_POLICY) if p.inputs["metadata"]["name"] == "edge-load-balancer")
        for r in runs
    ]
    assert policies[0] == policies[1]
    assert [rule["when"][1] for rule in policies[0]["spec"]["rules"][:2]] == [
        {"key": "request.headers[x-client-cert-spiffe-id]", "values": ["spiffe://acme.com/ns/shop/sa/checkout"]},
        {
            "key": "request.headers[x-client-cert-dnsname-sans]",
            "values": ["YmlsbGluZy5hY21lLmNvbQ==", "YmlsbGluZy5hY21lLmNvbQ==,*", "*,YmlsbGluZy5hY21lLmNvbQ=="],
        },
    ]
    assert any("only the mesh enforces this list" in m for m in runs[1].messages("info"))


def test_the_sdk_check_sees_a_wrong_enum_and_a_wrong_field():
    """The check above could pass by reading nothing; here it must find both mistakes."""
    from tests.cloud_sdk import unknown_inputs

    wrong = {"loadBalancingScheme": "EXTERNAL_MANGED", "backends": [{"group": "g", "balancingMode": "RATE"}], "x": 1}
    assert unknown_inputs("compute", "v1", "BackendService", wrong) == [
        "loadBalancingScheme: 'EXTERNAL_MANGED' is not one of ['EXTERNAL', 'EXTERNAL_MANAGED', 'INTERNAL', "
        "'INTERNAL_MANAGED', 'INTERNAL_SELF_MANAGED', 'INVALID_LOAD_BALANCING_SCHEME']",
        "x: no field 'x' in BackendService",
    ]
    nested = {"httpHealthCheck": {"portSpecification": "USE_NAMED_PORTS"}}
    assert unknown_inputs("compute", "v1", "HealthCheck", nested) == [
        "httpHealthCheck.portSpecification: 'USE_NAMED_PORTS' is not one of ['USE_FIXED_PORT', 'USE_NAMED_PORT', "
        "'USE_SERVING_PORT']"
    ]
