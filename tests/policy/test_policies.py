"""The CrossGuard policy pack: each policy passes the committed stacks' real resources and fails a bad one."""

from __future__ import annotations

import copy
import json
import sys
from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)

from tests.conftest import PROJECT_ROOT, committed_config

sys.path.insert(0, str(PROJECT_ROOT / "policy"))
import gke_mtls_policies as policies

OPTIONS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
BY_NAME = {p.name: p for p in policies.POLICIES}


def violations(policy_name: str, resource_type: str, props: dict[str, Any], config: dict | None = None) -> list[str]:
    found: list[str] = []
    args = ResourceValidationArgs(resource_type, props, "urn:test", "test", OPTIONS, None, config)
    BY_NAME[policy_name].validate(args, lambda message, urn=None: found.append(message))
    return found


def stack_resources(recording) -> list[PolicyResource]:
    """The recording as CrossGuard sees a stack: resources with their property dependencies resolved."""
    by_urn: dict[str, PolicyResource] = {}
    for r in recording.resources:
        by_urn[r.urn] = PolicyResource(r.type, r.inputs, r.urn, r.name, OPTIONS, None, None, [], {})
    for r in recording.resources:
        by_urn[r.urn].property_dependencies = {
            prop: [by_urn[u] for u in urns if u in by_urn] for prop, urns in r.property_dependencies.items()
        }
    return list(by_urn.values())


def stack_violations(resources: list[PolicyResource]) -> list[str]:
    found: list[str] = []
    BY_NAME["forwarding-rules-443-or-redirect"].validate(
        StackValidationArgs(resources), lambda message, urn=None: found.append(message)
    )
    return found


@pytest.fixture(scope="module")
def prod_recording():
    from mtls import offline
    from tests.conftest import engine_config

    return offline.run_program("prod", engine_config(committed_config("prod")))


@pytest.mark.parametrize("stack", ["platform-neg-dev", "edge-neg-dev", "platform-regional-dev", "edge-regional-dev"])
def test_the_standalone_neg_pairs_pass_every_policy(stack):
    from mtls import offline
    from tests.conftest import engine_config

    recording = offline.run_program(stack, engine_config(committed_config(stack)))
    assert recording.error is None
    for resource in recording.resources:
        for name in BY_NAME:
            if name != "forwarding-rules-443-or-redirect":
                assert violations(name, resource.type, resource.inputs) == [], (name, resource.name)
    assert stack_violations(stack_resources(recording)) == []


def props_of(recording, typ: str) -> dict[str, Any]:
    return copy.deepcopy(recording.one(typ).inputs)


def test_every_resource_of_the_committed_prod_stack_passes_every_policy(prod_recording):
    for resource in prod_recording.resources:
        for name in BY_NAME:
            if name != "forwarding-rules-443-or-redirect":
                assert violations(name, resource.type, resource.inputs) == [], (name, resource.name)
    assert stack_violations(stack_resources(prod_recording)) == []


@pytest.mark.parametrize("proxy", policies.HTTPS_PROXIES)
def test_https_proxy_without_server_tls_policy_fails(prod_recording, proxy):
    props = props_of(prod_recording, policies.HTTPS_PROXIES[0])
    props.pop("serverTlsPolicy")
    assert violations("https-proxy-has-server-tls-policy", proxy, props) == [
        "This target HTTPS proxy has no server TLS policy, so it never asks for a client certificate: set "
        "serverTlsPolicy."
    ]


def test_server_tls_policy_that_allows_invalid_certificates_fails(prod_recording):
    props = props_of(prod_recording, policies.SERVER_TLS_POLICY)
    props["mtlsPolicy"]["clientValidationMode"] = "ALLOW_INVALID_OR_MISSING_CLIENT_CERT"
    assert violations("server-tls-policy-rejects-invalid", policies.SERVER_TLS_POLICY, props) == [
        "clientValidationMode is ALLOW_INVALID_OR_MISSING_CLIENT_CERT; use REJECT_INVALID so that requests without a "
        "valid client certificate never reach the backend."
    ]


@pytest.mark.parametrize("ssl_policy", policies.SSL_POLICIES)
def test_ssl_policy_below_tls_1_2_or_compatible_fails_and_unset_fields_mean_the_weak_defaults(ssl_policy):
    assert violations("ssl-policy-tls-1-2-modern", ssl_policy, {"profile": "MODERN", "minTlsVersion": "TLS_1_1"}) == [
        "minTlsVersion is TLS_1_1; use TLS_1_2 or newer."
    ]
    assert violations("ssl-policy-tls-1-2-modern", ssl_policy, {}) == [
        "minTlsVersion is TLS_1_0; use TLS_1_2 or newer.",
        "profile is COMPATIBLE, which allows weak cipher suites; use MODERN or RESTRICTED.",
    ]
    assert (
        violations("ssl-policy-tls-1-2-modern", ssl_policy, {"profile": "RESTRICTED", "minTlsVersion": "TLS_1_3"}) == []
    )


def test_empty_trust_config_fails_and_an_allowlist_alone_passes():
    empty = {"location": "global", "trustStores": [{"trustAnchors": [], "intermediateCas": []}]}
    assert violations("trust-config-not-empty", policies.TRUST_CONFIG, empty) == [
        "This trust config has no trust anchor and no allowlisted certificate, so no client can ever be validated."
    ]
    allowlist = {"location": "global", "allowlistedCertificates": [{"pemCertificate": "-----BEGIN CERTIFICATE-----"}]}
    assert violations("trust-config-not-empty", policies.TRUST_CONFIG, allowlist) == []


def test_port_80_towards_a_serving_url_map_fails_and_other_ports_fail(prod_recording):
    resources = stack_resources(prod_recording)
    redirect = next(r for r in resources if r.name == "edge-redirect-url-map")
    redirect.props = {**redirect.props, "defaultService": "https://backend"}
    assert stack_violations(resources) == [
        "Forwarding rule edge-http-rule listens on port 80 towards a URL map that does more than redirect to HTTPS; "
        "only 443, or 80 towards a redirect-only URL map, keeps every request behind mTLS."
    ]
    rule = next(r for r in stack_resources(prod_recording) if r.name == "edge-https-rule")
    rule.props = {**rule.props, "portRange": "8443"}
    assert stack_violations([rule]) == [
        "Forwarding rule edge-https-rule listens on port 8443; only 443, or 80 towards a redirect-only URL map, "
        "keeps every request behind mTLS."
    ]


def test_mesh_wide_peer_authentication_must_be_strict(prod_recording):
    props = prod_recording.named("pa-istio-system-default").inputs
    permissive = {**props, "spec": {"mtls": {"mode": "PERMISSIVE"}}}
    typ = "kubernetes:security.istio.io/v1:PeerAuthentication"
    assert violations("mesh-wide-peer-authentication-strict", typ, permissive) == [
        "The mesh-wide PeerAuthentication in istio-system is PERMISSIVE; make it STRICT and keep exceptions at "
        "namespace or workload level."
    ]
    elsewhere = {**permissive, "metadata": {"name": "default", "namespace": "legacy"}}
    assert violations("mesh-wide-peer-authentication-strict", typ, elsewhere) == []
    assert violations("mesh-wide-peer-authentication-strict", typ, permissive, {"rootNamespace": "mesh-root"}) == []


def test_allow_all_authorization_policy_needs_a_waiver_label():
    typ = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
    allow_all = {"metadata": {"name": "open", "namespace": "default"}, "spec": {"rules": [{}]}}
    assert violations("no-unwaived-allow-all", typ, allow_all) == [
        "AuthorizationPolicy open allows every request (rules: [{}]). List who may call, or label it "
        "gke-mtls.io/allow-all-waiver=<ticket> if that is intended."
    ]
    waived = {**allow_all, "metadata": {**allow_all["metadata"], "labels": {policies.ALLOW_ALL_WAIVER: "SEC-123"}}}
    assert violations("no-unwaived-allow-all", typ, waived) == []
    deny_all = {"metadata": {"name": "closed"}, "spec": {"action": "DENY", "rules": [{}]}}
    assert violations("no-unwaived-allow-all", typ, deny_all) == []


def test_a_forwarding_rule_without_its_scheme_fails(prod_recording):
    """pulumi/pulumi-gcp#4037: v10 defaults an unset scheme to EXTERNAL_MANAGED."""
    rule = next(r for r in prod_recording.resources if r.name == "edge-https-rule")
    props = copy.deepcopy(rule.inputs)
    assert props["loadBalancingScheme"] == "EXTERNAL"
    assert violations("load-balancing-scheme-explicit", policies.FORWARDING_RULES[0], props) == []
    del props["loadBalancingScheme"]
    assert violations("load-balancing-scheme-explicit", policies.FORWARDING_RULES[0], props) == [
        "loadBalancingScheme is unset, and pulumi-gcp v10 then picks EXTERNAL_MANAGED, which cannot meet a classic "
        "(EXTERNAL) part such as GKE Ingress's backend service: set it to the backend's scheme."
    ]


def test_mesh_wide_istio_mutual_destination_rule_fails():
    typ = "kubernetes:networking.istio.io/v1:DestinationRule"
    classic = {"spec": {"host": "*.local", "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}}}
    assert violations("no-mesh-wide-istio-mutual", typ, classic) == [
        "A *.local ISTIO_MUTUAL DestinationRule forces mTLS to pods without a sidecar and breaks their callers; auto "
        "mTLS already covers the mesh. Remove it."
    ]
    exception = {"spec": {"host": "old.batch.svc.cluster.local", "trafficPolicy": {"tls": {"mode": "DISABLE"}}}}
    assert violations("no-mesh-wide-istio-mutual", typ, exception) == []


def test_enforcement_is_advisory_in_dev_and_mandatory_in_prod():
    assert json.loads((PROJECT_ROOT / "policy/config/dev.json").read_text()) == {"all": EnforcementLevel.ADVISORY.value}
    assert json.loads((PROJECT_ROOT / "policy/config/prod.json").read_text()) == {
        "all": EnforcementLevel.MANDATORY.value
    }


def test_the_pack_lists_every_policy_once():
    assert len(BY_NAME) == len(policies.POLICIES) == 9
    source = (PROJECT_ROOT / "policy/__main__.py").read_text()
    assert "policies=POLICIES" in source
