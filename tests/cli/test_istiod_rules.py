"""`python -m mtls check` stops, with the settings key, every config whose generated resources istiod's webhook
would refuse at `pulumi up`: each case of the issue "Validation as strict as istiod"."""

from __future__ import annotations

import copy
import shutil
from typing import Any

import pytest
import yaml

from mtls.__main__ import main
from tests.conftest import PROJECT_ROOT

POLICY = "gke-mtls:mesh.authorization[1]"


def check(tmp_path, capsys, stack: str, edit) -> list[str]:
    shutil.copytree(PROJECT_ROOT / "certs", tmp_path / "certs")
    config = yaml.safe_load((PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text())
    edit(config["config"])
    (tmp_path / "Pulumi.x.yaml").write_text(yaml.safe_dump(config))
    assert main(["--project-root", str(tmp_path), "check", "--stack", "x"]) == 1
    return capsys.readouterr().out.splitlines()


def policy(**fields: Any):
    def edit(config: dict[str, Any]) -> None:
        body = {"name": "p", "namespace": "shop", "selector": {"app": "web"}, "action": "ALLOW", **fields}
        config["gke-mtls:mesh"]["authorization"].append(copy.deepcopy(body))

    return edit


def workload(**fields: Any):
    def edit(config: dict[str, Any]) -> None:
        config["gke-mtls:mesh"]["workloads"].append({"namespace": "shop", "selector": {"app": "old"}, **fields})

    return edit


CUSTOM_FIX = "match them in an ALLOW or DENY policy, which runs after CUSTOM, or inside your authorizer."
IP_FIX = "write an IP address (10.1.2.3) or a CIDR range (10.0.0.0/16)."
ACCOUNT_FIX = "write <service-account> or <namespace>/<service-account>."
TEMPLATE_FIX = "istiod accepts only whole segments {*} (one segment) and a final {**} (the rest), and no other braces."

CASES = {
    "custom_with_identity_fields": (
        policy(
            action="CUSTOM",
            provider="ext-authz",
            rules=[
                {
                    "from": [
                        {"source": {"principals": ["cluster.local/ns/a/sa/b"]}},
                        {"source": {"namespaces": ["a"]}},
                    ],
                    "when": [{"key": "request.auth.claims[iss]", "values": ["https://issuer"]}],
                }
            ],
        ),
        [
            f"error: {POLICY}.rules[0].from[0].source.principals: CUSTOM policies cannot use principals (istiod "
            f"refuses it); {CUSTOM_FIX} [mesh.custom-identity]",
            f"error: {POLICY}.rules[0].from[1].source.namespaces: CUSTOM policies cannot use namespaces (istiod "
            f"refuses it); {CUSTOM_FIX} [mesh.custom-identity]",
            f"error: {POLICY}.rules[0].when[0].key: CUSTOM policies cannot use request.auth.claims[iss] (istiod "
            f"refuses it); {CUSTOM_FIX} [mesh.custom-identity]",
        ],
    ),
    "malformed_ip_blocks": (
        policy(rules=[{"from": [{"source": {"ipBlocks": ["10.0.0.300"], "notRemoteIpBlocks": ["10.0.0.0/33"]}}]}]),
        [
            f"error: {POLICY}.rules[0].from[0].source.ipBlocks[0]: bad IP address (10.0.0.300): {IP_FIX} [mesh.rule]",
            f"error: {POLICY}.rules[0].from[0].source.notRemoteIpBlocks[0]: bad CIDR range (10.0.0.0/33): "
            f'netip.ParsePrefix("10.0.0.0/33"): prefix length out of range: {IP_FIX} [mesh.rule]',
        ],
    ),
    "when_values_of_the_wrong_kind": (
        policy(
            rules=[
                {
                    "when": [
                        {"key": "source.ip", "values": ["gateway"]},
                        {"key": "remote.ip", "notValues": ["1.2.3"]},
                        {"key": "destination.port", "values": ["http"]},
                    ]
                }
            ]
        ),
        [
            f"error: {POLICY}.rules[0].when[0].values: bad IP address (gateway): source.ip takes IP addresses or CIDR "
            "ranges (10.0.0.0/16). [mesh.rule]",
            f"error: {POLICY}.rules[0].when[1].notValues: bad IP address (1.2.3): remote.ip takes IP addresses or CIDR "
            "ranges (10.0.0.0/16). [mesh.rule]",
            f'error: {POLICY}.rules[0].when[2].values: bad port (http): strconv.ParseUint: parsing "http": invalid '
            "syntax: destination.port takes port numbers (0 to 65535), as strings. [mesh.port]",
        ],
    ),
    "empty_when_values": (
        policy(
            rules=[
                {
                    "when": [
                        {"key": "request.headers[x-id]", "values": ["a", ""]},
                        {"key": "source.principal", "values": []},
                    ]
                }
            ]
        ),
        [
            f"error: {POLICY}.rules[0].when[0].values[1]: empty values are not allowed. [mesh.rule]",
            f"error: {POLICY}.rules[0].when[1]: set `values` or `notValues` to a non-empty list. [mesh.rule]",
        ],
    ),
    "malformed_map_keys": (
        policy(
            rules=[
                {
                    "when": [
                        {"key": "request.headers[x-id", "values": ["a"]},
                        {"key": "request.auth.claims[]", "values": ["a"]},
                    ]
                }
            ]
        ),
        [
            f"error: {POLICY}.rules[0].when[0].key: 'request.headers[x-id': write the header or claim name between "
            "the brackets, e.g. request.headers[x-id]. [mesh.rule]",
            f"error: {POLICY}.rules[0].when[1].key: 'request.auth.claims[]': write the header or claim name between "
            "the brackets, e.g. request.headers[x-id]. [mesh.rule]",
        ],
    ),
    "service_accounts_and_trust_domains_with_slashes": (
        policy(rules=[{"from": [{"source": {"serviceAccounts": ["a/b/c"], "trustDomains": ["cluster.local/ns"]}}]}]),
        [
            f"error: {POLICY}.rules[0].from[0].source.serviceAccounts[0]: expected format 'serviceAccount' or "
            f"'namespace/serviceAccount', found \"a/b/c\" in serviceAccounts: {ACCOUNT_FIX} [mesh.rule]",
            f"error: {POLICY}.rules[0].from[0].source.trustDomains[0]: 'cluster.local/ns': a trust domain has no '/' "
            "(it is the first part of a SPIFFE identity); write the domain alone (cluster.local), and match whole "
            "identities with `principals`. [mesh.rule]",
        ],
    ),
    "service_accounts_beyond_16_and_with_principals": (
        policy(
            rules=[
                {
                    "from": [
                        {
                            "source": {
                                "serviceAccounts": [f"sa{i}" for i in range(17)],
                                "principals": ["cluster.local/ns/a/sa/b"],
                            }
                        }
                    ]
                }
            ]
        ),
        [
            f"error: {POLICY}.rules[0].from[0].source: serviceAccounts cannot be set with principals (Istio refuses "
            "it): put them in separate `from` entries, which are ORed. [mesh.rule]",
            f"error: {POLICY}.rules[0].from[0].source.serviceAccounts: 17 values; Istio allows at most 16 per source. "
            "[mesh.rule]",
        ],
    ),
    "path_templates_istio_refuses": (
        policy(rules=[{"to": [{"operation": {"paths": ["/api/{id}"], "notPaths": ["/{**}/{*}"]}}]}]),
        [
            f"error: {POLICY}.rules[0].to[0].operation.notPaths[0]: invalid or unsupported path {{**}}/{{*}}, found "
            f"in notPaths. {{**}} is not the last operator: {TEMPLATE_FIX} [mesh.rule]",
            f"error: {POLICY}.rules[0].to[0].operation.paths[0]: invalid or unsupported path api/{{id}}, found in "
            f"paths. Contains '{{' or '}}' beyond a supported path template: {TEMPLATE_FIX} [mesh.rule]",
        ],
    ),
    "service_name_too_long_for_a_destination_rule_host": (
        workload(mode="DISABLE", service="s" * 64),
        [
            f"error: gke-mtls:mesh.workloads[2].service: '{'s' * 64}' is 64 characters; at most 63 are allowed. "
            "[config.syntax]"
        ],
    ),
    "port_that_is_a_superscript_digit": (
        workload(mode="PERMISSIVE", service="old", ports={"²": "DISABLE"}),
        [
            "error: gke-mtls:mesh.workloads[2].ports.²: '²' is not a port; use a number from 1 to 65535, written as "
            "a string. [mesh.port]"
        ],
    ),
}


@pytest.mark.parametrize("edit,expected", list(CASES.values()), ids=list(CASES))
def test_check_refuses_what_istiod_would_refuse_with_its_key(tmp_path, capsys, edit, expected):
    out = check(tmp_path, capsys, "dev", edit)
    assert out[:-1] == expected
    assert out[-1] == f"x: {len(expected)} error(s), 0 warning(s)"


def test_check_refuses_a_health_check_path_with_braces_that_the_mesh_guard_would_carry(tmp_path, capsys):
    """`*` would exempt every path from the guard, and a query would never match: Envoy matches the path alone."""

    def edit(config: dict[str, Any]) -> None:
        config["gke-mtls:gkeBackend"]["healthCheck"]["requestPath"] = "/health/{id}"

    assert check(tmp_path, capsys, "app-dev", edit) == [
        "error: gke-mtls:gkeBackend.healthCheck.requestPath: '/health/{id}' is not valid: a path starts with / and "
        "holds only what RFC 3986 allows in a path: ASCII letters, digits, -._~!$&'()+,;=:@ and /, or a %XX escape "
        "of two hex digits; no spaces, braces, '*' or query ('?'). [config.syntax]",
        "x: 1 error(s), 0 warning(s)",
    ]


def test_render_reports_a_superscript_port_instead_of_crashing(tmp_path, capsys):
    shutil.copytree(PROJECT_ROOT / "certs", tmp_path / "certs")
    config = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())
    workload(mode="PERMISSIVE", service="old", ports={"²": "DISABLE"})(config["config"])
    (tmp_path / "Pulumi.x.yaml").write_text(yaml.safe_dump(config))
    assert main(["--project-root", str(tmp_path), "render", "--stack", "x"]) == 1
    assert "gke-mtls:mesh.workloads[2].ports.²: '²' is not a port" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            policy(rules=[{"from": [{"source": {"principals": []}}]}]),
            f"error: {POLICY}.rules[0].from[0].source.principals: an empty principals list is no principals to Istio; "
            "list values or remove it. [mesh.rule]",
        ),
        (
            workload(mode="PERMISSIVE", ports={"080": "DISABLE"}),
            "error: gke-mtls:mesh.workloads[2].ports.080: '080' is not a port; use a number from 1 to 65535, written "
            "as a string. [mesh.port]",
        ),
    ],
    ids=["empty-list", "leading-zero-port"],
)
def test_check_refuses_what_the_review_found_istiod_would_refuse(tmp_path, capsys, edit, expected):
    assert check(tmp_path, capsys, "dev", edit)[0] == expected


def test_a_huge_bad_ip_block_is_quoted_as_an_excerpt(tmp_path, capsys):
    edit = policy(rules=[{"from": [{"source": {"ipBlocks": ["9" * 100_000]}}]}])
    assert check(tmp_path, capsys, "dev", edit)[0] == (
        f"error: {POLICY}.rules[0].from[0].source.ipBlocks[0]: bad IP address ({'9' * 59}… (100002 characters): "
        f"{IP_FIX} [mesh.rule]"
    )
