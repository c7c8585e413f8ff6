"""Mesh preflight: each rule has a configuration that triggers it and one that stays quiet."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from components.mesh.analysis import engine
from components.mesh.interchange.istio_objects import from_document
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
            f"error gke-mtls:mesh.workloads[1].selector.app: '{'v' * 64}' is not a Kubernetes label value: it is 64 "
            "characters; at most 63 are allowed. [mesh.label]",
        ),
        (
            {"app": "we b"},
            "error gke-mtls:mesh.workloads[1].selector.app: 'we b' is not a Kubernetes label value: it must be empty "
            "or letters, digits, '-', '_' or '.', starting and ending with a letter or digit. [mesh.label]",
        ),
        (
            {"app!": "web"},
            "error gke-mtls:mesh.workloads[1].selector.app!: 'app!' is not a Kubernetes label key: its name part must "
            "be letters, digits, '-', '_' or '.', starting and ending with a letter or digit. [mesh.label]",
        ),
        (
            {"Example.com/app": "web"},
            "error gke-mtls:mesh.workloads[1].selector.Example.com/app: 'Example.com/app' is not a Kubernetes label "
            "key: its prefix (before '/') must be a lowercase DNS subdomain of at most 253 characters. [mesh.label]",
        ),
    ],
    ids=["empty-key", "wildcard-key", "wildcard-value", "long-value", "space", "key-char", "key-prefix"],
)
def test_rejects_labels_istio_or_kubernetes_refuse(selector, message):
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
    """Istio's concept page: only the oldest mesh-wide PeerAuthentication takes effect."""
    assert findings_of(seed(namespaces={"istio-system": "PERMISSIVE"})) == [
        "error gke-mtls:mesh.namespaces.istio-system: a second mesh-wide PeerAuthentication beside gke-mtls:mesh.mode; "
        "Istio keeps only the oldest and silently ignores the other. Keep one. [mesh.duplicate-policy]"
    ]
    assert codes_of(with_workload(namespace="istio-system")) == ["mesh.duplicate-policy"]


def test_rejects_a_second_namespace_wide_policy():
    raw = seed(namespaces={"legacy": "PERMISSIVE"})
    raw["workloads"].append({"namespace": "legacy", "mode": "STRICT", "name": "strict"})
    assert findings_of(raw) == [
        "error gke-mtls:mesh.workloads[1]: a second namespace-wide PeerAuthentication in legacy beside "
        "gke-mtls:mesh.namespaces.legacy; Istio keeps only the oldest and silently ignores the other. Keep one. "
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
    raw = with_workload(namespace="my-namespace", selector={"app": "my-special-app", "v": "2"}, name="my-special-app")
    assert findings_of(raw) == [
        "error gke-mtls:mesh.workloads[1]: would be the PeerAuthentication 'my-special-app' in my-namespace, like "
        "gke-mtls:mesh.workloads[0]; one would overwrite the other. Give it a distinct name. [mesh.duplicate-name]",
        "error gke-mtls:mesh.workloads[1]: every pod labelled {app: my-special-app, v: 2} is also selected by "
        "gke-mtls:mesh.workloads[0] ({app: my-special-app}); Istio applies only the oldest of the two to those pods "
        "and ignores the other. Make the selectors disjoint, or merge the two. [mesh.overlapping-policies]",
    ]
    assert codes_of(with_policy(name="httpbin-policy", rules=operation_rule(methods=["GET"]))) == [
        "mesh.duplicate-name"
    ]
    assert codes_of(seed(denyByDefault=["default", "default"])) == ["mesh.duplicate-name"]


def test_a_disable_workload_or_port_needs_no_service_nor_destination_rule():
    """Auto mTLS decides per endpoint and port: the PeerAuthentication that selects the pod, at that port
    (pilot/pkg/xds/endpoints/mtls_checker.go of istio/istio), so meshed clients send plaintext to a DISABLE port
    without any DestinationRule. Istio's tests/integration/security/reachability_test.go runs exactly that, "mtls port
    override" (workload STRICT, its ports DISABLE, no DestinationRule), and expects every call to succeed."""
    assert findings_of(with_workload(namespace="shop", selector={"app": "old"}, ports={"5432": "DISABLE"})) == []
    assert findings_of(with_workload(namespace="shop", selector={"app": "old"}, mode="DISABLE")) == []


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
        "error gke-mtls:mesh.authorization[1].rules[0].when[1]: set `values` or `notValues` to a non-empty list. "
        "[mesh.rule]",
    ]


def test_warns_on_an_allow_policy_that_allows_everything():
    assert findings_of(with_policy(rules=[{}])) == [
        "warning gke-mtls:mesh.authorization[1].rules: an empty rule `{}` in an ALLOW policy allows every "
        "request; list who may call, or drop the policy. [mesh.allow-all]"
    ]


# --- PeerAuthentications that meet (Kiali's KIA0003, and auto mTLS's limits) ---


def test_rejects_selectors_where_one_holds_all_labels_of_the_other():
    """Concept page: for workload-level policies on the same pods, Istio "picks the oldest one"."""
    raw = with_workload(namespace="my-namespace", selector={"app": "my-special-app", "track": "canary"}, name="canary")
    assert findings_of(raw) == [
        "error gke-mtls:mesh.workloads[1]: every pod labelled {app: my-special-app, track: canary} is also selected "
        "by gke-mtls:mesh.workloads[0] ({app: my-special-app}); Istio applies only the oldest of the two to those pods "
        "and ignores the other. Make the selectors disjoint, or merge the two. [mesh.overlapping-policies]"
    ]


@pytest.mark.parametrize(
    "selector",
    [{"app": "other-app"}, {"app": "other-app", "track": "canary"}, {"track": "canary"}],
    ids=["other-value", "other-value-more-labels", "other-key"],
)
def test_selectors_that_cannot_be_proven_to_overlap_are_quiet(selector):
    """Different values for one key never pick the same pod; different keys may, but only pods can tell."""
    assert findings_of(with_workload(namespace="my-namespace", selector=selector, name="other")) == []


def test_rejects_a_strict_workload_under_a_disable_namespace():
    """The cluster-level guess of auto mTLS, `BestEffortInferServiceMTLSMode` (pilot/pkg/model/push_context.go of
    istio/istio), reads namespace and mesh policies only, and a DISABLE one turns TLS off for the namespace's
    services (pilot/pkg/networking/core/cluster_tls.go): meshed clients send plaintext, which the STRICT workload
    refuses (reference section 2.3; istio/istio#56084)."""
    raw = seed(namespaces={"legacy": "DISABLE"})
    raw["workloads"] = [{"namespace": "legacy", "selector": {"app": "new"}, "ports": {"8443": "STRICT"}}]
    assert findings_of(raw) == [
        "error gke-mtls:mesh.workloads[0]: port 8443 is STRICT, but mTLS in legacy is DISABLE: meshed clients send "
        "plaintext to the namespace's services (a DISABLE namespace turns auto mTLS off for them, whatever the "
        "workload policy says) and are refused. Use PERMISSIVE here, or make the namespace PERMISSIVE, or add a "
        "DestinationRule with ISTIO_MUTUAL for its Service. [mesh.strict-under-disable]"
    ]
    raw["workloads"][0]["ports"] = {"8443": "PERMISSIVE"}
    assert findings_of(raw) == []


def test_rejects_a_strict_port_on_a_disable_workload_whose_service_gets_a_plaintext_destination_rule():
    """The workload's DestinationRule turns TLS off for the whole Service, so the STRICT port refuses every call."""
    raw = with_workload(
        namespace="shop", selector={"app": "old"}, mode="DISABLE", service="old", ports={"8443": "STRICT"}
    )
    assert findings_of(raw) == [
        "error gke-mtls:mesh.workloads[1].service: it makes clients send plaintext to old.shop.svc.cluster.local, but "
        "mTLS in shop/{app: old}:8443 is STRICT: those servers refuse plaintext, so every call from a meshed client "
        "fails. Make the workload PERMISSIVE and list its DISABLE ports in `ports` (the rule then covers only those), "
        "or make the STRICT ports PERMISSIVE. [mesh.disable-meets-strict]"
    ]
    raw["workloads"][1]["ports"] = {"8443": "PERMISSIVE"}
    assert findings_of(raw) == []


# --- the `*.local` ISTIO_MUTUAL DestinationRule ---


def test_the_local_istio_mutual_rule_meeting_a_disable_namespace_is_an_error():
    """The rule makes clients send mTLS to every *.local host; a DISABLE namespace takes plaintext only."""
    assert findings_of(seed(meshWideIstioMutual=True, namespaces={"legacy": "DISABLE"})) == [
        "error gke-mtls:mesh.meshWideIstioMutual: it makes every client send Istio mTLS to every *.local host, but "
        "mTLS in namespace legacy is DISABLE: those servers take plaintext only, so every call to them fails. Remove "
        "this rule (auto mTLS already picks mTLS or plaintext per server), or add a DestinationRule with "
        "`tls: {mode: DISABLE}` for those hosts. [mesh.istio-mutual-meets-disable]"
    ]


def test_the_local_istio_mutual_rule_alone_gets_a_note_on_what_it_really_does():
    """With auto mTLS on (the default since Istio 1.5) it changes nothing for servers with a sidecar."""
    assert findings_of(seed(meshWideIstioMutual=True, namespaces={"legacy": "PERMISSIVE"})) == [
        "note gke-mtls:mesh.meshWideIstioMutual: auto mTLS (on by default since Istio 1.5) already sends mTLS to "
        "every server with a sidecar, so this rule changes nothing for them. It enforces nothing either: a "
        "DestinationRule only sets what clients send, so namespace legacy, my-namespace/{app: my-special-app} still "
        "take plaintext from clients without a sidecar. What it does change: calls to *.local "
        "servers without a sidecar (non-injected namespaces, the Kubernetes API service) get mTLS and fail, and any "
        "more specific DestinationRule replaces it whole. Remove it unless auto mTLS is off in your mesh. "
        "[mesh.istio-mutual-dr]"
    ]


@pytest.mark.parametrize(
    "rules",
    [
        ["x"],
        [{"from": "x"}],
        [{"from": [{"source": {"principals": "cluster.local/ns/a/sa/b"}}]}],
        [{"from": [{"source": {"notNamespaces": [1, None]}}]}],
        [{"to": [{"operation": {"ports": [8080]}}]}],
        [{"when": {"key": "source.ip"}}],
        [{"when": [{"key": "source.ip", "values": "10.0.0.0/8"}]}],
        [{"when": [{"key": "request.headers[x", "notValues": [None]}]}],
    ],
    ids=lambda rules: str(rules)[:40],
)
def test_malformed_rules_are_reported_by_key_and_the_analysis_still_runs(rules):
    """All problems at once: the entry's own error, and the analysis of the rest (here, the edge port)."""
    raw = with_policy(namespace="default", selector={"app": "web"}, action="DENY", rules=rules)
    raw["edgeBackend"] = {"namespace": "default", "selector": {"app": "web"}, "port": 8080}
    codes = codes_of(raw)
    assert codes[-1] == "mesh.edge-backend-strict" and set(codes[:-1]) <= {"mesh.rule", "mesh.port"} and codes[:-1]


def test_rejects_a_selector_of_more_labels_than_istio_takes():
    selector = {f"k{i}": "v" for i in range(4097)}
    assert findings_of(with_workload(namespace="shop", selector=selector)) == [
        "error gke-mtls:mesh.workloads[1].selector: 4097 labels; Istio takes at most 4096. [mesh.label]"
    ]


def test_a_name_made_from_the_selector_never_ends_in_a_hyphen():
    from components.mesh.rendering.manifests import workload_name
    from components.mesh.settings import WorkloadPolicy

    workload = WorkloadPolicy(namespace="shop", selector={"app": "a" * 62, "tier": "web"})
    assert workload_name(workload) == "a" * 62


def test_rejects_an_observe_policy_name_longer_than_kubernetes_takes():
    raw = with_workload(namespace="shop", selector={"app": "web"}, name="n" * 240, stage="observe")
    assert findings_of(raw)[0] == (
        f"error gke-mtls:mesh.workloads[1].name: the observe policy would be named '{'n' * 59}… (258 characters); "
        "Kubernetes takes names of at most 253 characters. Shorten the name to 235 characters or fewer. [mesh.name]"
    )


# --- what clients send meets what servers take (item: client and server modes that cannot meet) ---------------

# tests/integration/security/testdata/reachability/global-peer-authn.yaml.tmpl and migration.yaml.tmpl of
# istio/istio, as reachability_test.go's "migration tls disabled" fills them (MTLSMode STRICT, TLSMode DISABLE, the
# `migration` echo app in echo1), with the Service the echo deployment gives it.
MIGRATION_TLS_DISABLED = """
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: "default"
  namespace: istio-system
spec:
  mtls:
    mode: STRICT
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: "migration"
  namespace: echo1
spec:
  host: "migration.echo1.svc.cluster.local"
  subsets:
  - name: "vistio"
    labels:
      version: "vistio"
    trafficPolicy:
      tls:
        mode: DISABLE
  - name: "vlegacy"
    labels:
      version: "vlegacy"
    trafficPolicy:
      tls:
        mode: DISABLE
  trafficPolicy:
    tls:
      mode: DISABLE
---
apiVersion: v1
kind: Service
metadata: {name: migration, namespace: echo1}
spec:
  selector: {app: migration}
  ports: [{name: http, port: 80, targetPort: 18080}]
"""


def test_a_strict_server_behind_a_disable_destination_rule_is_an_error():
    """ "migration tls disabled" expects only the sidecar-less subset to answer: the STRICT pods with a sidecar
    refuse the plaintext the rule makes every client send."""
    import yaml

    from components.mesh.analysis.engine import analyze
    from components.mesh.interchange.istio_objects import from_document

    documents = [d for d in yaml.safe_load_all(MIGRATION_TLS_DISABLED) if d]
    objects = [o for i, d in enumerate(documents) if (o := from_document(d, f"f.yaml[{i}]", i)) is not None]
    assert [str(f) for f in analyze(objects, [], "istio-system")] == [
        "f.yaml[1]: it makes clients send plaintext to migration.echo1.svc.cluster.local, but mTLS in echo1/{app: "
        "migration} is STRICT: those servers refuse plaintext, so every call from a meshed client fails. Remove this "
        "rule (auto mTLS already sends plaintext to DISABLE ports), or make those ports PERMISSIVE. "
        "[mesh.disable-meets-strict]"
    ]


def test_the_local_istio_mutual_rule_meeting_a_disable_workload_asks_for_its_service():
    """With the `*.local` ISTIO_MUTUAL rule, auto mTLS no longer decides: every client sends mTLS, and a DISABLE
    workload needs the rule that `service` makes (reference section 2.4). With it, the more specific rule wins."""
    raw = with_workload(namespace="shop", selector={"app": "old"}, mode="DISABLE")
    raw["meshWideIstioMutual"] = True
    assert findings_of(raw)[0] == (
        "error gke-mtls:mesh.meshWideIstioMutual: it makes every client send Istio mTLS to every *.local host, but "
        "mTLS in shop/{app: old} is DISABLE: those servers take plaintext only, so every call to them fails. Remove "
        "this rule (auto mTLS already picks mTLS or plaintext per server), or add a DestinationRule with `tls: {mode: "
        "DISABLE}` for those hosts (for gke-mtls:mesh.workloads[1]: set its `service`, and the stack makes that rule). "
        "[mesh.istio-mutual-meets-disable]"
    )
    raw["workloads"][1]["service"] = "old"
    assert [f for f in findings_of(raw) if not f.startswith("note")] == []


def test_a_strict_workload_under_a_disable_namespace_is_quiet_once_a_destination_rule_sets_mtls_for_it():
    """The fix the error itself gives: a DestinationRule with ISTIO_MUTUAL for the Service is read before auto mTLS
    (pilot/pkg/networking/core/cluster_tls.go), so clients send mTLS and the STRICT workload takes it."""
    text = """
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: legacy}
spec: {mtls: {mode: DISABLE}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: new, namespace: legacy}
spec:
  selector: {matchLabels: {app: new}}
  mtls: {mode: STRICT}
---
apiVersion: v1
kind: Service
metadata: {name: new, namespace: legacy}
spec:
  ports: [{port: 8443}]
  selector: {app: new}
"""
    rule = """---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: new, namespace: legacy}
spec: {host: new, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}
"""

    def codes(source: str) -> list[str]:
        documents = [d for d in yaml.safe_load_all(source) if d]
        objects = [o for i, d in enumerate(documents) if (o := from_document(d, f"f.yaml[{i}]", i)) is not None]
        return [f.code for f in engine.analyze(objects, [], "istio-system")]

    assert "mesh.strict-under-disable" in codes(text)
    assert "mesh.strict-under-disable" not in codes(text + rule)


HEADLESS = """
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: db, namespace: data}
spec:
  selector: {matchLabels: {app: db}}
  mtls: {mode: STRICT}
  portLevelMtls:
    5432: {mode: DISABLE}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: data}
spec:
  clusterIP: None
  ports: [{port: 5432}]
  selector: {app: db}
"""


def analysis_of(source: str) -> list[str]:
    documents = [d for d in yaml.safe_load_all(source) if d]
    objects = [o for i, d in enumerate(documents) if (o := from_document(d, f"f.yaml[{i}]", i)) is not None]
    return [str(f) for f in engine.analyze(objects, [], "istio-system")]


def test_a_disable_port_behind_a_headless_service_gets_mtls_and_fails():
    """A headless Service's clients pick TLS once for all its pods (ORIGINAL_DST cluster, no per-endpoint auto mTLS:
    pilot/pkg/networking/core/cluster_tls.go), so a DISABLE port gets Istio mTLS. Istio's "mtls port override" test
    leaves headless targets out for this reason (reachability_test.go, istio/istio#39439: "client gets 503s")."""
    assert analysis_of(HEADLESS) == [
        "f.yaml[0]: port 5432 is DISABLE, but Service data/db (f.yaml[1]) is headless, so its clients' sidecars pick "
        "TLS once for all its pods, not per port: Istio mTLS unless the namespace is DISABLE: meshed clients send it "
        "Istio mTLS, which it cannot read, so every call fails. Add a DestinationRule with `tls: {mode: DISABLE}` for "
        "that Service's host, or use PERMISSIVE here. [mesh.disable-behind-headless]"
    ]


def test_a_disable_port_behind_a_headless_service_is_quiet_with_a_disable_destination_rule_or_a_cluster_ip():
    rule = """---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db, namespace: data}
spec: {host: db, trafficPolicy: {tls: {mode: DISABLE}}}
"""
    assert analysis_of(HEADLESS + rule) == []
    assert analysis_of(HEADLESS.replace("  clusterIP: None\n", "")) == []


STRICT_SHOP = """
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec: {mtls: {mode: STRICT}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{port: 80, targetPort: 8080}, {port: 9090}]
  selector: {app: web}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: shop}
spec:
  host: web
  trafficPolicy:
    portLevelSettings:
    - port: {number: 80}
      tls: {mode: DISABLE}
"""


def test_a_port_level_disable_rule_toward_a_strict_namespace_is_an_error_at_that_port():
    """The rule's port-level setting is matched by the Service port (mtls_checker.go `trafficPolicyTLSModeForPort`):
    plaintext to port 80, which sends to container port 8080, STRICT like the whole namespace."""
    assert analysis_of(STRICT_SHOP) == [
        "f.yaml[2]: it makes clients send plaintext to web, but mTLS in shop/{app: web}:8080 is STRICT: those servers "
        "refuse plaintext, so every call from a meshed client fails. Remove this rule (auto mTLS already sends "
        "plaintext to DISABLE ports), or make those ports PERMISSIVE. [mesh.disable-meets-strict]"
    ]


def test_a_disable_rule_for_the_only_port_a_service_serves_as_disable_is_quiet():
    """A workload STRICT but at 5432, behind a Service of port 5432 alone: the rule's plaintext reaches 5432 only."""
    pa = HEADLESS.replace("  clusterIP: None\n", "")
    rule = "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: db, namespace: data}\n"
    assert analysis_of(pa + rule + "spec: {host: db, trafficPolicy: {tls: {mode: DISABLE}}}\n") == []
