"""What AuthorizationPolicies decide for a caller's requests, as Istio documents it: the authorization section of
https://istio.io/latest/docs/concepts/security/ and the AuthorizationPolicy reference
https://istio.io/latest/docs/reference/config/security/authorization-policy/."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from components.mesh.analysis.authorization import Request, decide, value_matches
from components.mesh.interchange.istio_objects import IstioObject, Origin

FRONT_ENDS = (ipaddress.ip_network("35.191.0.0/16"), ipaddress.ip_network("130.211.0.0/22"))
PLAINTEXT_LB = Request("8080", principal="", sources=FRONT_ENDS)
CHECKOUT = Request("8080", principal="cluster.local/ns/shop/sa/checkout")


def policy(action: str = "ALLOW", rules: Any = None, name: str = "p") -> IstioObject:
    spec: dict[str, Any] = {"action": action}
    if rules is not None:
        spec["rules"] = rules
    return IstioObject("AuthorizationPolicy", "default", name, spec, Origin(f"test[{name}]", False))


def source(**fields: Any) -> list[dict[str, Any]]:
    return [{"from": [{"source": fields}]}]


@pytest.mark.parametrize(
    "pattern, value, expected",
    [
        ("abc", "abc", True),
        ("abc", "abcd", False),
        ("/info*", "/infoX", True),  # a prefix, not a path segment
        ("*.local", "svc.cluster.local", True),
        ("*", "", False),  # presence: plaintext has no principal
        ("*", "x", True),
    ],
)
def test_values_match_exactly_by_prefix_by_suffix_or_by_presence(pattern, value, expected):
    """The reference: "exact match", "prefix match", "suffix match", "presence match" (`*` is non-empty)."""
    assert value_matches(pattern, value) is expected


def test_no_allow_policy_allows():
    """Concept page: "If there are no ALLOW policies for the workload, allow the request"."""
    assert decide([], PLAINTEXT_LB).allowed is True


def test_an_allow_policy_by_principal_denies_plaintext_callers_and_allows_its_principal():
    """Plaintext requests carry no principal, so a positive `principals` match fails closed for them."""
    allow = policy(rules=source(principals=["cluster.local/ns/shop/sa/checkout"]), name="web-callers")
    denied = decide([allow], PLAINTEXT_LB)
    assert denied.allowed is False
    assert denied.because == (
        "ALLOW policy default/web-callers (test[web-callers]) denies them (no rule of it matches them)"
    )
    assert decide([allow], CHECKOUT).allowed is True


def test_allow_nothing_denies_everyone():
    """`spec: {}` is an ALLOW policy without rules: it matches nothing, so everything in its scope is denied."""
    assert decide([policy(rules=None)], CHECKOUT).allowed is False


def test_a_matching_deny_wins_over_a_matching_allow():
    """Concept page: DENY policies are evaluated before ALLOW policies."""
    deny = policy("DENY", source(notPrincipals=["*"]), name="no-plaintext")
    allow = policy(rules=[{}])
    decision = decide([allow, deny], PLAINTEXT_LB)
    assert decision.allowed is False and decision.because.startswith("DENY policy default/no-plaintext")
    assert decide([allow, deny], CHECKOUT).allowed is True


def test_ip_blocks_match_when_every_source_range_falls_inside():
    allow = policy(rules=source(ipBlocks=["130.211.0.0/22", "35.191.0.0/16"]))
    assert decide([allow], PLAINTEXT_LB).allowed is True
    narrower = policy(rules=source(ipBlocks=["35.191.0.0/17"]))
    assert decide([narrower], PLAINTEXT_LB).allowed is None  # part of the ranges only: it depends on the address
    elsewhere = policy(rules=source(ipBlocks=["10.0.0.0/8"]))
    assert decide([elsewhere], PLAINTEXT_LB).allowed is False


def test_what_is_not_known_leaves_the_decision_open():
    """A path the caller's requests may or may not take: the analysis cannot say, so it says nothing."""
    allow = policy(rules=[{"to": [{"operation": {"paths": ["/charge"]}}]}])
    assert decide([allow], CHECKOUT).allowed is None


def test_ports_are_known_for_every_request():
    allow = policy(rules=[{"to": [{"operation": {"ports": ["9090"]}}]}])
    assert decide([allow], CHECKOUT).allowed is False


def test_an_absent_header_fails_values_and_passes_not_values():
    """Envoy's header matchers do not match a missing header; Istio's `notValues` negates the match."""
    probe = Request(
        "8080", principal="", sources=FRONT_ENDS, headers={"user-agent": "GoogleHC/1.0"}, headers_complete=True
    )
    wants = policy(rules=[{"when": [{"key": "request.headers[x-verified]", "values": ["true"]}]}])
    assert decide([wants], probe).allowed is False
    refuses = policy("DENY", [{"when": [{"key": "request.headers[x-verified]", "notValues": ["true"]}]}])
    assert decide([refuses], probe).allowed is False
    verified = Request("8080", principal="", headers={"x-verified": "true"})
    assert decide([wants], verified).allowed is True


def test_service_accounts_may_omit_the_namespace_of_the_policy():
    """The reference: `serviceAccounts` entries are `<ns>/<sa>`, or `<sa>` for the policy's own namespace."""
    local = Request("8080", principal="cluster.local/ns/default/sa/sleep")
    assert decide([policy(rules=source(serviceAccounts=["sleep"]))], local).allowed is True
    assert decide([policy(rules=source(serviceAccounts=["default/sleep"]))], local).allowed is True
    assert decide([policy(rules=source(serviceAccounts=["sleep"]))], CHECKOUT).allowed is False


def test_custom_policies_ask_an_external_service_so_the_outcome_is_open():
    custom = policy("CUSTOM", [{}])
    assert decide([custom], CHECKOUT).allowed is None


@pytest.mark.parametrize("field", ["values", "notValues"])
@pytest.mark.parametrize("written", [5, 5.5, True, "10.0.0.0/8", {"a": 1}])
@pytest.mark.parametrize("key", ["source.ip", "destination.port", "source.principal", "connection.sni"])
def test_a_condition_whose_values_are_not_a_list_matches_nothing_it_can_tell(key, field, written):
    """A malformed rule is the settings checks' to refuse by its key; the analysis reads it without failing."""
    for action in ("ALLOW", "DENY"):
        malformed = policy(action, [{"when": [{"key": key, field: written}]}])
        assert decide([malformed], PLAINTEXT_LB).allowed is None
