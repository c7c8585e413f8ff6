"""The GKE side's settings: keys and the rules that relate them, each with its exact message."""

from __future__ import annotations

import pytest

from tests.gke.configs import parsed

KEY = "gke-mtls:gkeBackend"


def test_mesh_guard_needs_a_selector_and_the_verified_header():
    settings, findings = parsed(meshGuard=True, headers={"X-Client-Cert-Present": "{client_cert_present}"})
    assert settings is not None  # the keys parse; the rules between them refuse the combination
    assert [str(f) for f in findings] == [
        f"{KEY}.selector: meshGuard needs the pod labels of the application; add `selector`. [config.gke-backend]",
        f"{KEY}.headers: meshGuard checks the header that carries {{client_cert_chain_verified}}; add one, such as "
        "X-Client-Cert-Chain-Verified. [config.gke-backend]",
    ]


def test_log_sample_rate_must_be_a_number_from_0_to_1():
    for value, message in [
        (1.5, f"{KEY}.logSampleRate: 1.5 is out of range; use a number from 0.0 to 1.0. [config.range]"),
        ("all", f"{KEY}.logSampleRate: must be a number, got a string 'all'. [config.type]"),
    ]:
        settings, findings = parsed(logSampleRate=value)
        assert settings is None
        assert [str(f) for f in findings] == [message]


def test_creating_the_service_needs_its_selector():
    _, findings = parsed(createService=True)
    assert [str(f) for f in findings] == [
        f"{KEY}.selector: createService needs the pod labels the Service selects; add `selector`. [config.gke-backend]"
    ]


def test_selector_labels_follow_kubernetes_syntax():
    _, findings = parsed(selector={"app": "we b", "-x": "web"})
    assert [str(f) for f in findings] == [
        f"{KEY}.selector.app: 'we b' is not a Kubernetes label value: it must be empty or letters, digits, '-', '_' "
        "or '.', starting and ending with a letter or digit. [config.label]",
        f"{KEY}.selector.-x: '-x' is not a Kubernetes label key: its name part must be letters, digits, '-', '_' or "
        "'.', starting and ending with a letter or digit. [config.label]",
    ]


# --- the standalone NEG and the allowed clients ----------------------------------------------------------------

CHECKOUT = {"uriSan": "spiffe://acme.com/ns/shop/sa/checkout"}
PROXY_ONLY_RANGE = "10.129.0.0/23"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Web_NEG", "a NEG name is a GCE resource name of at most 56 characters"),
        ("web-", "a NEG name is a GCE resource name of at most 56 characters"),
        ("n" * 57, "is 57 characters; at most 56 are allowed."),
    ],
)
def test_a_standalone_neg_name_follows_gce_syntax_within_ingress_gces_56_characters(name, message):
    _, findings = parsed(standaloneNeg=name)
    assert [f.key for f in findings] == [f"{KEY}.standaloneNeg"]
    assert message in findings[0].message


def test_each_allowed_identity_needs_the_header_that_carries_it_to_the_mesh():
    _, findings = parsed(
        selector={"app": "web"},
        standaloneNeg="web-mtls",
        proxyOnlySubnetRange=PROXY_ONLY_RANGE,
        allowedClients=[CHECKOUT, {"uriSan": "https://acme.com/billing"}, {"dnsSan": "billing.acme.com"}],
    )
    assert [str(f) for f in findings] == [
        f"{KEY}.allowedClients[1].uriSan: reaches the mesh in the load balancer's {{client_cert_uri_sans}} variable, "
        f"which no header of {KEY}.headers carries; add one, such as X-Client-Cert-Uri-Sans: "
        "'{client_cert_uri_sans}'. [config.gke-backend]",
        f"{KEY}.allowedClients[2].dnsSan: reaches the mesh in the load balancer's {{client_cert_dnsname_sans}} "
        f"variable, which no header of {KEY}.headers carries; add one, such as X-Client-Cert-Dnsname-Sans: "
        "'{client_cert_dnsname_sans}'. [config.gke-backend]",
    ]


def test_allowed_clients_need_the_verified_header_the_pod_labels_and_plain_http_pods():
    _, findings = parsed(
        standaloneNeg="web-mtls",
        proxyOnlySubnetRange=PROXY_ONLY_RANGE,
        headers={"X-Client-Cert-Spiffe-Id": "{client_cert_spiffe_id}"},
        healthCheck={"type": "HTTPS"},
        allowedClients=[CHECKOUT],
    )
    assert [(f.key, f.code) for f in findings] == [
        (f"{KEY}.headers", "config.gke-backend"),
        (f"{KEY}.selector", "config.gke-backend"),
        (f"{KEY}.healthCheck.type", "config.gke-backend"),
    ]
    assert "an identity counts only in a verified chain" in findings[0].message


def test_a_client_listed_twice_is_refused():
    _, findings = parsed(
        selector={"app": "web"},
        standaloneNeg="web-mtls",
        proxyOnlySubnetRange=PROXY_ONLY_RANGE,
        allowedClients=[CHECKOUT, CHECKOUT],
    )
    assert [str(f) for f in findings] == [
        f"{KEY}.allowedClients[1]: repeats {KEY}.allowedClients[0]; list each client once. [config.duplicate]"
    ]


def test_on_the_global_external_path_the_plan_says_only_the_mesh_enforces_the_list():
    """Google documents no client-certificate principals for the global external load balancer."""
    _, findings = parsed(selector={"app": "web"}, standaloneNeg="web-mtls", allowedClients=[CHECKOUT])
    assert [str(f) for f in findings] == [
        f"{KEY}.allowedClients: the global external Application Load Balancer takes no client-certificate principals "
        '(Google: "This field is not supported for global external Application Load Balancers."), so only the mesh '
        "enforces this list. Set proxyOnlySubnetRange (with a regionalExternal edge stack) to have the load balancer "
        "enforce it too. [edge.global-authorization]"
    ]


def test_a_proxy_only_subnet_range_needs_the_standalone_neg():
    _, findings = parsed(proxyOnlySubnetRange=PROXY_ONLY_RANGE)
    assert [str(f) for f in findings] == [
        f"{KEY}.proxyOnlySubnetRange: applies only with standaloneNeg: a regional external load balancer runs on a "
        "standalone NEG. Set standaloneNeg, or remove this key. [config.gke-backend]"
    ]


@pytest.mark.parametrize(
    "value, message",
    [
        ("10.129.0.1/23", "'10.129.0.1/23' is not an IPv4 range"),
        ("2600:2d00::/64", "'2600:2d00::/64' is not an IPv4 range"),
        ("10.129.0.0", "'10.129.0.0' is not an IPv4 range"),
        ("10.129.0.0/28", "'10.129.0.0/28' is smaller than a proxy-only subnet can be (/26 at most)"),
    ],
)
def test_a_proxy_only_subnet_range_is_an_ipv4_cidr_of_at_least_64_addresses(value, message):
    _, findings = parsed(standaloneNeg="web-mtls", proxyOnlySubnetRange=value)
    assert [(f.key, f.code) for f in findings] == [(f"{KEY}.proxyOnlySubnetRange", "config.syntax")]
    assert findings[0].message.startswith(message)


def test_on_the_gke_ingress_path_the_plan_says_only_the_mesh_enforces_the_list():
    _, findings = parsed(selector={"app": "web"}, allowedClients=[CHECKOUT])
    assert [(f.severity.value, f.key, f.code) for f in findings] == [
        ("note", f"{KEY}.allowedClients", "edge.classic-authorization")
    ]
    assert "the classic load balancer that GKE Ingress makes takes no authorization policy" in findings[0].message


def test_for_a_regional_load_balancer_the_url_map_rules_for_headers_apply_too():
    """The regional external load balancer sets the verdict headers in its URL map (components/core/load_balancer.py),
    whose header action takes no Host and no empty value."""
    headers = {
        "Host": "{client_cert_present}",
        "X-Empty": " ",
        "X-Client-Cert-Chain-Verified": "{client_cert_chain_verified}",
    }
    _, findings = parsed(standaloneNeg="web-mtls", proxyOnlySubnetRange=PROXY_ONLY_RANGE, headers=headers)
    assert [str(f) for f in findings] == [
        f"{KEY}.headers.Host: Host is reserved on the EXTERNAL_MANAGED load balancer's URL map; pick another name. "
        "[header.reserved]",
        f"{KEY}.headers.X-Empty: is empty; the EXTERNAL_MANAGED load balancer's URL map refuses an empty header "
        "value. [header.value]",
    ]
    assert parsed(standaloneNeg="web-mtls", headers=headers)[1] == []  # the global one's backend service takes them
    assert parsed(headers=headers)[1] == []  # the classic path's backend service takes them


# --- what Compute takes for a health check (compute v1 HealthCheck) ------------------------------------------------


def test_a_health_check_timeout_longer_than_its_interval_is_refused():
    """compute v1 HealthCheck: "It is invalid for timeoutSec to have greater value than checkIntervalSec"."""
    settings, findings = parsed(healthCheck={"checkIntervalSec": 5, "timeoutSec": 6})
    assert settings is None
    assert [str(f) for f in findings] == [
        f"{KEY}.healthCheck.timeoutSec: is 6, longer than checkIntervalSec (5), which Compute refuses for a health "
        "check. Make timeoutSec at most checkIntervalSec. [config.range]"
    ]
    assert parsed(healthCheck={"checkIntervalSec": 5, "timeoutSec": 5})[0] is not None


@pytest.mark.parametrize("path", ["/a^b", "/a|b", "/é", "/a%zz", "/a%4", "/a b", "/a\\b", "/a`b", "/a#b", "/a[b]"])
def test_a_health_check_path_must_comply_with_rfc_3986(path):
    """compute v1 HTTP(S)/HTTP2 health checks: the request path "Must comply with RFC3986"."""
    _, findings = parsed(healthCheck={"requestPath": path})
    assert [str(f) for f in findings] == [
        f"{KEY}.healthCheck.requestPath: {path!r} is not valid: a path starts with / and holds only what RFC 3986 "
        "allows in a path: ASCII letters, digits, -._~!$&'()+,;=:@ and /, or a %XX escape of two hex digits; no "
        "spaces, braces, '*' or query ('?'). [config.syntax]"
    ]


@pytest.mark.parametrize("path", ["/", "/healthz", "/a%2Fb/c-d_e.f~g", "/api/v1:check@x;y=1,z+w!$&'()", "//x"])
def test_rfc_3986_paths_are_taken(path):
    assert parsed(healthCheck={"requestPath": path})[0] is not None


def test_an_allowed_clients_repeated_methods_count_once():
    """A method list is a set to the load balancer and to Istio; repeats would only count against Google's 10 methods
    per authorization policy (7 distinct methods are the most a client can list)."""
    settings, findings = parsed(
        selector={"app": "web"}, allowedClients=[{**CHECKOUT, "methods": ["GET", "POST", "GET", "GET", "POST"]}]
    )
    assert settings is not None, findings
    assert settings.allowed_clients[0].methods == ("GET", "POST")
