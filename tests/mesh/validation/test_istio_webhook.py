"""istiod's webhook rules against Istio's own test tables (tests/mesh/validation/istio_webhook/, see its README), and
the whole verdict (CRD schema, CEL, webhook) that `validate` gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.mesh.validation import schema as istio_schema
from components.mesh.validation import webhook

TABLES = Path(__file__).parent / "istio_webhook"
# Tables whose Go test asserts warnings too: there a case without `_warning` must give none.
WARNING_TABLES = {"authorization_policy", "peer_authentication", "destination_rule", "outlier_detection", "locality_lb"}


def cases() -> list[Any]:
    found = []
    for path in sorted(TABLES.glob("*.yaml")):
        for i, document in enumerate(yaml.safe_load_all(path.read_text(encoding="utf-8"))):
            if document:
                expected = {k: document.pop(k) for k in list(document) if k.startswith("_")}
                found.append(pytest.param(path.stem, expected, document, id=f"{path.stem}[{i}] {expected['_case']}"))
    return found


CASES = cases()


@pytest.fixture(scope="module")
def schemas() -> istio_schema.IstioSchemas:
    return istio_schema.IstioSchemas.load()


def test_the_tables_hold_every_case_translated():
    counts: dict[str, int] = {}
    for case in CASES:
        counts[case.values[0]] = counts.get(case.values[0], 0) + 1
    assert counts == {
        "authorization_policy": 67,
        "connection_pool": 14,
        "destination_rule": 25,
        "load_balancer": 7,
        "locality_lb": 13,
        "outlier_detection": 8,
        "peer_authentication": 9,
        "tls": 12,
        "traffic_policy": 7,
    }


@pytest.mark.parametrize(("table", "expected", "document"), CASES)
def test_the_webhook_gives_istios_verdict(table, expected, document):
    verdict = webhook.check(document)
    assert (not verdict.errors) == expected.get("_wire_valid", expected["_valid"]), verdict.errors
    if "_error" in expected:
        assert any(expected["_error"] in e for e in verdict.errors), verdict.errors
    if "_warning" in expected:
        assert any(expected["_warning"] in w for w in verdict.warnings), verdict.warnings
    elif table in WARNING_TABLES:
        assert verdict.warnings == []


@pytest.mark.parametrize(("table", "expected", "document"), CASES)
def test_validate_refuses_what_the_cluster_refuses(schemas, table, expected, document):
    """The whole verdict: the API server refuses first (schema, CEL), istiod's webhook after."""
    verdict = schemas.admit(document)
    refused_by_crd = bool(expected.get("_crd_refuses"))
    valid = expected.get("_wire_valid", expected["_valid"])
    assert (not verdict.errors) == (valid and not refused_by_crd), verdict.errors


def test_a_structurally_invalid_document_gets_the_api_servers_errors_only(schemas):
    verdict = schemas.admit(
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": "x", "namespace": "shop"},
            "spec": {"action": "DENY", "rules": "everything"},
        }
    )
    assert verdict.errors == ['spec.rules: Invalid value: "everything": spec.rules in body must be of type array']


def test_dry_run_is_refused_on_other_kinds_with_istiods_words():
    verdict = webhook.check(
        {
            "kind": "PeerAuthentication",
            "metadata": {"name": "web", "namespace": "shop", "annotations": {"istio.io/dry-run": "true"}},
            "spec": {},
        }
    )
    assert verdict.errors == ["shop/web has unsupported annotation istio.io/dry-run, please remove the annotation"]


def test_an_http_only_deny_rule_warns_that_it_denies_tcp_ports():
    verdict = webhook.check(
        {
            "kind": "AuthorizationPolicy",
            "metadata": {"name": "no-admin", "namespace": "shop"},
            "spec": {"action": "DENY", "rules": [{"to": [{"operation": {"paths": ["/admin"]}}]}]},
        }
    )
    assert verdict.errors == []
    assert verdict.warnings == [webhook.DENY_ON_TCP_WARNING]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("10.0.0.300", "bad IP address (10.0.0.300)"),
        ("010.0.0.1", "bad IP address (010.0.0.1)"),
        ("10.0.0.0/33", 'bad CIDR range (10.0.0.0/33): netip.ParsePrefix("10.0.0.0/33"): prefix length out of range'),
        ("10.0.0.0/08", 'bad CIDR range (10.0.0.0/08): netip.ParsePrefix("10.0.0.0/08"): bad bits after slash: "08"'),
        (
            "10.0.0.0/255.0.0.0",
            'bad CIDR range (10.0.0.0/255.0.0.0): netip.ParsePrefix("10.0.0.0/255.0.0.0"): '
            'bad bits after slash: "255.0.0.0"',
        ),
    ],
)
def test_ip_blocks_follow_gos_netip_parsers(value, problem):
    assert webhook.ip_problems([value]) == [problem]


def test_ip_blocks_accept_what_go_accepts():
    assert webhook.ip_problems(["10.0.0.1", "10.0.0.1/8", "2001:db8::/32", "fe80::1%eth0", "::ffff:1.2.3.4"]) == []


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("/api/{*}/items", True),
        ("/{**}/index.html", True),
        ("/{**}/{*}", False),
        ("/api/{id}", False),
        ("/api/{*}/a b", False),
        ("/plain/{x}", False),  # braces outside a template are refused too
    ],
)
def test_path_templates_follow_istio(path, ok):
    assert (webhook.path_template_problem("Paths", [path]) is None) is ok


def policy(spec: dict, **metadata: Any) -> dict:
    return {"kind": "AuthorizationPolicy", "metadata": {"name": "p", "namespace": "shop", **metadata}, "spec": spec}


def test_an_empty_rules_list_is_no_rules_as_jsonpb_decodes_it():
    assert webhook.check(policy({"action": "DENY", "rules": []})).errors == [
        "invalid policy p.shop: DENY action without `rules` is meaningless as it will never be triggered, add an "
        "empty rule `{}` if you want it be triggered for every request"
    ]


def test_target_refs_are_named_as_istio_prints_its_kinds():
    spec = {"targetRefs": [{"kind": "Pod", "name": "web"}]}
    assert webhook.check(policy(spec)).errors == [
        "invalid policy p.shop: targetRef must be to one of [core/v1/Service networking.istio.io/v1/ServiceEntry "
        "gateway.networking.k8s.io/v1/Gateway gateway.networking.k8s.io/v1/GatewayClass] but was /Pod"
    ]


def test_an_object_without_namespace_is_judged_in_default_as_kubectl_sends_it():
    rule = {"kind": "DestinationRule", "metadata": {"name": "r"}, "spec": {"host": "web", "exportTo": ["."]}}
    assert webhook.check(rule).errors == []


def test_validate_reads_yaml_keys_that_are_not_strings_as_the_api_server_does(tmp_path, schemas):
    from components.mesh.interchange.istio_objects import read_documents

    path = tmp_path / "p.yaml"
    path.write_text(
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p, namespace: shop}\n"
        "spec: {selector: {matchLabels: {on: x, 123: y}}, portLevelMtls: {8080: {mode: DISABLE}}}\n"
    )
    [document], problems = read_documents([str(path)])
    assert problems == []
    assert document.body["spec"]["selector"]["matchLabels"] == {"true": "x", "123": "y"}
    assert schemas.admit(document.body).errors == []


def test_a_huge_bad_value_is_quoted_as_an_excerpt_in_istiods_words():
    spec = {"rules": [{"from": [{"source": {"ipBlocks": ["x" * 200_000]}}]}]}
    assert webhook.check(policy(spec)).errors == [
        f"invalid policy p.shop: bad IP address ({'x' * 59}… (200002 characters)"
    ]


@pytest.mark.parametrize(
    ("annotation", "why"),
    [
        ("internal.istio.io/webhook-always-reject", "rejecting"),
        ("internal.istio.io/parent-namespace", "this may not be set by users"),
        ("internal.istio.io/parents", "this may not be set by users"),
    ],
)
def test_istiods_internal_annotations_are_refused_in_its_words(annotation, why):
    """`validateMetadata` in pkg/config/validation/validation.go of istio/istio 1.30.3 refuses objects carrying the
    annotations pkg/config/constants keeps for istiod itself."""
    assert webhook.check(policy({}, annotations={annotation: ""})).errors == [f'"{annotation}" annotation found, {why}']


@pytest.mark.parametrize("value", ["1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"])
def test_the_dry_run_annotation_takes_every_value_gos_parse_bool_takes(value):
    """istiod's webhook parses it with Go's strconv.ParseBool (`checkDryRunAnnotation`, pkg/config/validation)."""
    deny_all = policy({"action": "DENY", "rules": [{}]}, annotations={"istio.io/dry-run": value})
    assert webhook.check(deny_all).errors == []


@pytest.mark.parametrize("value", ["yes", "on", "tRuE", " true", ""])
def test_the_dry_run_annotation_refuses_what_gos_parse_bool_refuses(value):
    assert webhook.check(policy({"action": "DENY", "rules": [{}]}, annotations={"istio.io/dry-run": value})).errors == [
        f"shop/p has annotation istio.io/dry-run with invalid value ({value}): "
        f'strconv.ParseBool: parsing "{value}": invalid syntax'
    ]


def test_the_status_istiod_writes_is_accepted_and_ignored(schemas):
    """Istio's CRDs declare the status subresource, so the API server ignores `status` on create and update; istiod
    writes `status.conditions` into AuthorizationPolicies when ambient is on."""
    document = {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "p", "namespace": "shop"},
        "spec": {},
        "status": {"conditions": [{"type": "WaypointAccepted", "status": "True", "reason": "Accepted"}]},
    }
    assert schemas.admit(document).errors == []
    document["status"] = "anything at all"
    assert schemas.admit(document).errors == []


def test_an_annotation_that_is_not_a_string_is_refused_with_what_to_do(schemas):
    """YAML reads `istio.io/dry-run: true` as a boolean; Kubernetes annotations and labels are strings only."""
    document = policy({"action": "DENY", "rules": [{}]}, annotations={"istio.io/dry-run": True})
    assert schemas.admit({"apiVersion": "security.istio.io/v1", **document}).errors[0] == (
        "metadata.annotations.istio.io/dry-run: Invalid value: a boolean: annotations are strings; quote the value"
    )
