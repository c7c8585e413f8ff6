"""Every committed stack registers only what Google documents for its load balancer type: no global URL map sets or
removes a verdict header (Google documents the {client_cert_*} variables on the global types' backend services), and
no authorization policy with principals targets a global forwarding rule ("This field is not supported for global
external Application Load Balancers")."""

from __future__ import annotations

import pytest

from components.gke.headers import CLIENT_CERT_VARIABLES
from tests.conftest import COMMITTED_STACKS, committed_config

GLOBAL_URL_MAP = "gcp:compute/uRLMap:URLMap"
GLOBAL_RULE = "gcp:compute/globalForwardingRule:GlobalForwardingRule"
AUTHZ_POLICY = "gcp:networksecurity/authzPolicy:AuthzPolicy"


def _verdict_headers(url_map_inputs: dict) -> list[str]:
    action = url_map_inputs.get("headerAction") or {}
    added = [h for h in action.get("requestHeadersToAdds") or [] if "{client_cert_" in h.get("headerValue", "")]
    return [h["headerName"] for h in added] + list(action.get("requestHeadersToRemoves") or [])


@pytest.mark.parametrize("stack", COMMITTED_STACKS)
def test_no_global_url_map_sets_or_removes_a_verdict_header(run_stack, stack):
    recording = run_stack(committed_config(stack), stack=stack)
    assert recording.error is None
    assert [_verdict_headers(m.inputs) for m in recording.of_type(GLOBAL_URL_MAP) if _verdict_headers(m.inputs)] == []


def _principal_policies_on(recording, rule_type: str) -> list[str]:
    """The authorization policies with principals whose target is a forwarding rule of `rule_type`."""
    rules = {r.urn for r in recording.of_type(rule_type)}
    return [
        policy.name
        for policy in recording.of_type(AUTHZ_POLICY)
        if any(s.get("principals") for r in policy.inputs["httpRules"] for s in r["from"]["sources"])
        and set(policy.property_dependencies.get("target", [])) & rules
    ]


@pytest.mark.parametrize("stack", COMMITTED_STACKS)
def test_no_authorization_policy_with_principals_targets_a_global_forwarding_rule(run_stack, stack):
    recording = run_stack(committed_config(stack), stack=stack)
    assert _principal_policies_on(recording, GLOBAL_RULE) == []


def test_the_checks_above_see_verdict_headers_and_principal_policies_where_they_are(run_stack):
    """They could pass by reading nothing: on the regional stack both are there."""
    recording = run_stack(committed_config("edge-regional-dev"), stack="edge-regional-dev")
    [url_map] = recording.of_type("gcp:compute/regionUrlMap:RegionUrlMap")
    assert len(_verdict_headers(url_map.inputs)) == 12
    assert _principal_policies_on(recording, "gcp:compute/forwardingRule:ForwardingRule") == ["edge-allowed-clients"]
    assert {"{" + v + "}" for v in CLIENT_CERT_VARIABLES} >= {
        h["headerValue"] for h in url_map.inputs["headerAction"]["requestHeadersToAdds"]
    }
