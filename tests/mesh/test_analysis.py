"""Mesh preflight: each rule has a configuration that triggers it and one that stays quiet."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.mesh.configs import SEED, codes_of, findings_of


def seed(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(SEED)
    raw.update(changes)
    return raw


def with_workload(**workload: Any) -> dict[str, Any]:
    raw = seed()
    raw["workloads"].append(workload)
    return raw


def with_policy(**policy: Any) -> dict[str, Any]:
    raw = seed()
    raw["authorization"].append({"name": "extra", "namespace": "default", **policy})
    return raw


def source_rule(**source: Any) -> list[dict[str, Any]]:
    return [{"from": [{"source": source}]}]


def operation_rule(**operation: Any) -> list[dict[str, Any]]:
    return [{"to": [{"operation": operation}]}]


def test_seed_scenario_is_clean():
    assert findings_of(SEED) == []


# Configurations that must stay quiet; test_istio_schema also validates what they generate.
QUIET_CONFIGS = [
    SEED,
    with_workload(namespace="shop", selector={"app": "web", "version": "v" * 63}, ports={"8080": "PERMISSIVE"}),
    with_workload(namespace="shop", selector={"app": "old"}, mode="DISABLE", service="old"),
    with_policy(action="DENY", rules=operation_rule(methods=["DELETE"], ports=["8080"])),
    with_policy(action="CUSTOM", provider="ext-authz", rules=operation_rule(paths=["/api/{*}/users", "*/health"])),
    with_policy(rules=source_rule(principals=["cluster.local/ns/default/*", "*", "cluster.local/ns/a/sa/b"])),
    seed(edgeBackend={"istioIngressGateway": True}),
    seed(
        workloads=[{"namespace": "default", "selector": {"app": "web"}, "ports": {"8080": "PERMISSIVE"}}],
        edgeBackend={"namespace": "default", "selector": {"app": "web"}, "port": 8080},
    ),
]


@pytest.mark.parametrize("raw", QUIET_CONFIGS, ids=[f"quiet-{i}" for i in range(len(QUIET_CONFIGS))])
def test_valid_configurations_stay_quiet(raw):
    assert findings_of(raw) == []


# --- labels, ports, selectors ---


@pytest.mark.parametrize(
    "selector, message",
    [
        (
            {"": "x"},
            "error gke-mtls:mesh.workloads[1].selector: a label key is empty; Istio rejects it (key must not be "
            "empty). [mesh.label]",
        ),
        (
            {"app*": "x"},
            "error gke-mtls:mesh.workloads[1].selector.app*: wildcards are not allowed in label keys; name "
            "the label. [mesh.label]",
        ),
        (
            {"app": "web-*"},
            "error gke-mtls:mesh.workloads[1].selector.app: 'web-*': wildcards are not allowed in label "
            "values; list the exact value. [mesh.label]",
        ),
        (
            {"app": "v" * 64},
            "error gke-mtls:mesh.workloads[1].selector.app: the value is 64 characters; label values "
            "are at most 63. [mesh.label]",
        ),
    ],
    ids=["empty-key", "wildcard-key", "wildcard-value", "long-value"],
)
def test_rejects_labels_istio_refuses(selector, message):
    assert findings_of(with_workload(namespace="shop", selector=selector)) == [message]


@pytest.mark.parametrize("port", ["0", "65536", "http", "\u00b2", "\uff18\uff10\uff18\uff10"])
def test_rejects_ports_outside_1_to_65535(port):
    raw = with_workload(namespace="shop", selector={"app": "web"}, ports={port: "PERMISSIVE"})
    assert findings_of(raw) == [
        f"error gke-mtls:mesh.workloads[1].ports.{port}: {port!r} is not a port; use a number from 1 to 65535, "
        "written as a string. [mesh.port]"
    ]


def test_rejects_port_level_mtls_without_selector():
    assert findings_of(with_workload(namespace="shop", ports={"8080": "PERMISSIVE"})) == [
        "error gke-mtls:mesh.workloads[1].ports: port-level mTLS needs a selector: Istio rejects portLevelMtls on a "
        "namespace-wide policy. Add the workload's labels. [mesh.port-without-selector]"
    ]


def test_rejects_a_second_mesh_wide_policy():
    assert findings_of(seed(namespaces={"istio-system": "PERMISSIVE"})) == [
        "error gke-mtls:mesh.namespaces.istio-system: istio-system is the root namespace, so this is a second "
        "mesh-wide policy beside gke-mtls:mesh.mode; Istio keeps only the oldest and silently ignores the other. Set "
        "the mesh-wide mode in `mode` only. [mesh.duplicate-policy]"
    ]
    assert codes_of(with_workload(namespace="istio-system")) == ["mesh.duplicate-policy"]


def test_rejects_a_second_namespace_wide_policy():
    raw = seed(namespaces={"legacy": "PERMISSIVE"})
    raw["workloads"].append({"namespace": "legacy", "mode": "STRICT"})
    assert findings_of(raw) == [
        "error gke-mtls:mesh.workloads[1]: a second namespace-wide policy for legacy (the first is "
        "gke-mtls:mesh.namespaces.legacy); Istio keeps only the oldest and silently ignores the other. Keep one. "
        "[mesh.duplicate-policy]"
    ]


def test_rejects_two_policies_for_the_same_workload():
    raw = with_workload(namespace="my-namespace", selector={"app": "my-special-app"}, mode="STRICT", name="again")
    assert findings_of(raw) == [
        "error gke-mtls:mesh.workloads[1]: selects the same workload as gke-mtls:mesh.workloads[0]; Istio applies only "
        "the oldest. Merge the two. [mesh.duplicate-policy]"
    ]


def test_rejects_a_selector_policy_in_the_root_namespace():
    assert findings_of(with_workload(namespace="istio-system", selector={"app": "x"})) == [
        "error gke-mtls:mesh.workloads[1]: a PeerAuthentication with a selector in the root namespace istio-system is "
        "ignored by Istio; put it in the workload's own namespace. [mesh.root-selector]"
    ]


def test_rejects_two_resources_with_the_same_name():
    assert codes_of(
        with_workload(namespace="my-namespace", selector={"app": "my-special-app", "v": "2"}, name="my-special-app")
    ) == ["mesh.duplicate-name"]
    assert codes_of(with_policy(name="httpbin-policy", rules=operation_rule(methods=["GET"]))) == [
        "mesh.duplicate-name"
    ]


def test_disable_needs_the_service_for_its_client_side_destination_rule():
    assert findings_of(with_workload(namespace="shop", selector={"app": "old"}, ports={"5432": "DISABLE"})) == [
        "error gke-mtls:mesh.workloads[1]: DISABLE on a workload or port also needs a client side DestinationRule "
        "(auto mTLS only reads mesh and namespace policies, so meshed clients would keep sending mTLS and fail); set "
        "`service` to the Service in front of the workload, or use PERMISSIVE. [mesh.disable-needs-service]"
    ]


# --- authorization policies ---


def test_rejects_deny_without_rules():
    assert findings_of(with_policy(action="DENY")) == [
        "error gke-mtls:mesh.authorization[1].rules: DENY without rules never matches anything (Istio rejects it); add "
        "the rules it should apply to, or `[{}]` for every request. [mesh.deny-without-rules]"
    ]


def test_custom_needs_a_provider_and_only_custom_takes_one():
    assert codes_of(with_policy(action="CUSTOM", rules=operation_rule(methods=["GET"]))) == ["mesh.custom-provider"]
    assert findings_of(with_policy(provider="ext-authz", rules=operation_rule(methods=["GET"]))) == [
        "error gke-mtls:mesh.authorization[1].provider: applies only to action CUSTOM, not ALLOW; remove it. "
        "[mesh.custom-provider]"
    ]


@pytest.mark.parametrize(
    "principal, message",
    [
        (
            "sleep",
            "'sleep' is not a principal: write <trust-domain>/ns/<namespace>/sa/<service-account>, e.g. "
            "cluster.local/ns/default/sa/sleep (no spiffe:// prefix). [mesh.principal]",
        ),
        (
            "spiffe://cluster.local/ns/default/sa/sleep",
            "'spiffe://cluster.local/ns/default/sa/sleep' is not a principal: "
            "write <trust-domain>/ns/<namespace>/sa/<service-account>, e.g. cluster.local/ns/default/sa/sleep (no "
            "spiffe:// prefix). [mesh.principal]",
        ),
        (
            "cluster.local/ns/*/sa/sleep",
            "'cluster.local/ns/*/sa/sleep': Istio treats '*' only at the start or the end; "
            "in the middle it is a literal character and this matches nothing you expect. Use a prefix "
            "(`cluster.local/ns/default/*`) or suffix form. [mesh.wildcard]",
        ),
    ],
    ids=["bare-name", "spiffe-uri", "middle-wildcard"],
)
def test_rejects_principals_not_of_istios_form(principal, message):
    raw = with_policy(rules=source_rule(principals=[principal]))
    assert findings_of(raw) == [
        f"error gke-mtls:mesh.authorization[1].rules[0].from[0].source.principals[0]: {message}"
    ]


def test_rejects_paths_with_a_wildcard_in_the_middle():
    raw = with_policy(rules=operation_rule(paths=["/api/*/users"]))
    assert codes_of(raw) == ["mesh.wildcard"]


def test_rejects_lowercase_methods():
    assert findings_of(with_policy(rules=operation_rule(methods=["get"]))) == [
        "error gke-mtls:mesh.authorization[1].rules[0].to[0].operation.methods[0]: 'get': HTTP methods are matched "
        "case-sensitively; write 'GET'. [mesh.method]"
    ]


def test_rejects_misspelt_rule_fields_with_the_closest_name():
    assert findings_of(with_policy(rules=source_rule(principal=["cluster.local/ns/default/sa/sleep"]))) == [
        "error gke-mtls:mesh.authorization[1].rules[0].from[0].source.principal: is not a field of "
        "source (did you mean "
        "'principals'?); fields are principals, notPrincipals, requestPrincipals, notRequestPrincipals, namespaces, "
        "notNamespaces, serviceAccounts, notServiceAccounts, ipBlocks, notIpBlocks, remoteIpBlocks, notRemoteIpBlocks, "
        "trustDomains, notTrustDomains. [mesh.rule]"
    ]
    assert codes_of(with_policy(rules=[{"form": [{"source": {"namespaces": ["x"]}}]}])) == ["mesh.rule"]


def test_rejects_integer_ports_in_rules():
    assert findings_of(with_policy(rules=operation_rule(ports=[8080]))) == [
        "error gke-mtls:mesh.authorization[1].rules[0].to[0].operation.ports[0]: 8080 must be a string (quote ports: "
        '"8080"). [mesh.rule]'
    ]


def test_rejects_unknown_condition_keys_and_conditions_without_values():
    raw = with_policy(rules=[{"when": [{"key": "destination.namespace", "values": ["x"]}, {"key": "source.ip"}]}])
    assert findings_of(raw) == [
        "error gke-mtls:mesh.authorization[1].rules[0].when[0].key: 'destination.namespace' is not a condition key "
        "Istio accepts (did you mean 'destination.ip'?). [mesh.rule]",
        "error gke-mtls:mesh.authorization[1].rules[0].when[1]: set `values` or `notValues`. [mesh.rule]",
    ]


def test_warns_on_an_allow_policy_that_allows_everything():
    assert findings_of(with_policy(rules=[{}])) == [
        "warning gke-mtls:mesh.authorization[1].rules: an empty rule `{}` in an ALLOW policy allows every "
        "request; list who may call, or drop the policy. [mesh.allow-all]"
    ]


# --- identity needs mTLS (ISTIO-SECURITY-2021-004) ---


def test_identity_policy_on_a_permissive_workload_is_an_error_in_a_strict_mesh():
    raw = with_policy(
        namespace="my-namespace", selector={"app": "my-special-app"}, rules=source_rule(namespaces=["default"])
    )
    assert findings_of(raw) == [
        "error gke-mtls:mesh.authorization[1]: relies on namespaces, which only mTLS carries, but my-namespace "
        "{'app': 'my-special-app'} is PERMISSIVE: plaintext requests there carry no identity, so this policy can be "
        "bypassed (ISTIO-SECURITY-2021-004). Make those STRICT, or match on something plaintext carries too. "
        "[mesh.identity-without-mtls]"
    ]


def test_identity_policy_in_a_permissive_mesh_is_a_warning():
    findings = findings_of(seed(mode="PERMISSIVE"))
    assert len(findings) == 1
    assert findings[0].startswith(
        "warning gke-mtls:mesh.authorization[0]: relies on principals, which only mTLS "
        "carries, but default {'app': 'httpbin'} is PERMISSIVE"
    )


def test_identity_policy_sees_a_port_level_exception():
    raw = seed()
    raw["workloads"].append({"namespace": "default", "selector": {"app": "httpbin"}, "ports": {"8000": "PERMISSIVE"}})
    findings = findings_of(raw)
    assert len(findings) == 1 and "default {'app': 'httpbin'} port 8000 is PERMISSIVE" in findings[0]


def test_identity_policy_limited_to_strict_ports_ignores_a_permissive_metrics_port():
    raw = seed()
    raw["workloads"].append({"namespace": "default", "selector": {"app": "httpbin"}, "ports": {"9090": "PERMISSIVE"}})
    raw["authorization"][0]["rules"][0]["to"][0]["operation"]["ports"] = ["8000"]
    assert findings_of(raw) == []
    raw["authorization"][0]["rules"][0]["to"][0]["operation"]["ports"] = ["8000", "9090"]
    findings = findings_of(raw)
    assert len(findings) == 1 and "default {'app': 'httpbin'} port 9090 is PERMISSIVE" in findings[0]


def test_identity_conditions_count_too_and_namespace_wide_policies_see_every_workload():
    raw = with_policy(
        namespace="my-namespace", rules=[{"when": [{"key": "source.principal", "values": ["cluster.local/ns/a/sa/b"]}]}]
    )
    findings = findings_of(raw)
    assert len(findings) == 1
    assert "relies on source.principal" in findings[0]
    assert "gke-mtls:mesh.workloads[0] is PERMISSIVE" in findings[0]


def test_root_namespace_policy_sees_permissive_namespaces():
    raw = with_policy(namespace="istio-system", selector={"app": "anything"}, rules=source_rule(notNamespaces=["evil"]))
    raw["namespaces"] = {"legacy": "PERMISSIVE"}
    findings = findings_of(raw)
    assert len(findings) == 1 and "namespace legacy is PERMISSIVE" in findings[0]


# --- the edge and the mesh ---


def test_edge_backend_under_strict_is_an_error_with_both_ways_out():
    assert findings_of(seed(edgeBackend={"namespace": "default", "selector": {"app": "web"}, "port": 8080})) == [
        "error gke-mtls:mesh.edgeBackend: the edge load balancer sends requests (and health checks) straight to port "
        "8080 of {app: web} in default without an Istio client certificate, but mTLS there is STRICT, so every request "
        "would be refused. Either route the edge through the Istio ingress gateway (and set `istioIngressGateway: "
        'true` here), or add a port-level exception to gke-mtls:mesh.workloads for this workload: `ports: {"8080": '
        "PERMISSIVE}` (the edge's mTLS then guards that port). [mesh.edge-backend-strict]"
    ]


def test_mesh_wide_istio_mutual_destination_rule_only_on_request_and_with_a_warning():
    findings = findings_of(seed(meshWideIstioMutual=True))
    assert len(findings) == 1
    assert findings[0].startswith(
        "warning gke-mtls:mesh.meshWideIstioMutual: the `*.local` ISTIO_MUTUAL "
        "DestinationRule forces mTLS to every *.local endpoint, including pods without a sidecar"
    )
