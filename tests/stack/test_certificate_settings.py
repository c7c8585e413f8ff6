"""The edge's certificate settings: which source each load balancer takes (Google's words when it does not), the keys
each source needs, wildcards, and the switch from a Compute managed certificate."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.stack.settings import parse_stack
from tests.conftest import PROJECT_ROOT, committed_config, engine_config

GLOBAL = committed_config("edge-dev")
REGIONAL = committed_config("edge-regional-dev")
KEY = "gke-mtls:edge.certificate"


def findings_of(config: dict[str, Any], **certificate: Any) -> list[str]:
    config = copy.deepcopy(config)
    config["gke-mtls:edge"]["certificate"] = certificate
    return [str(f) for f in parse_stack(engine_config(config), PROJECT_ROOT)[1]]


def test_the_default_source_is_a_dns_authorized_certificate_manager_certificate():
    assert findings_of(GLOBAL) == []
    assert findings_of(REGIONAL) == []


def test_a_compute_managed_certificate_is_refused_on_the_regional_load_balancer_with_googles_words():
    assert findings_of(REGIONAL, source="computeManaged") == [
        f"{KEY}.source: computeManaged is a Compute Google-managed certificate, which the regional external "
        'Application Load Balancer does not take; Google: "Currently, you may specify up to 15 Classic SSL '
        'Certificates or up to 100 Certificate Manager Certificates." '
        "(https://cloud.google.com/compute/docs/reference/rest/v1/regionTargetHttpsProxies) Use dnsAuthorization or "
        "selfManaged. [config.capability]"
    ]


def test_self_managed_needs_both_files_and_the_others_take_none():
    assert findings_of(GLOBAL, source="selfManaged") == [
        f"{KEY}.certificateFile: selfManaged needs the certificate's PEM files. [config.certificate]",
        f"{KEY}.privateKeyFile: selfManaged needs the certificate's PEM files. [config.certificate]",
    ]
    assert findings_of(GLOBAL, source="dnsAuthorization", certificateFile="certs/x.pem") == [
        f"{KEY}.certificateFile: applies only to selfManaged, not dnsAuthorization. [config.certificate]"
    ]


def test_the_dns_authorization_type_belongs_to_dns_authorization():
    assert findings_of(GLOBAL, source="computeManaged", dnsAuthorizationType="PER_PROJECT_RECORD") == [
        f"{KEY}.dnsAuthorizationType: applies only to dnsAuthorization, not computeManaged. [config.certificate]"
    ]


def test_the_switch_is_refused_where_there_is_nothing_to_switch_from():
    assert findings_of(REGIONAL, source="dnsAuthorization", switchFromCompute="prepare") == [
        f"{KEY}.switchFromCompute: moves a global edge from its Compute managed certificate to a Certificate Manager "
        "one, and the regional external Application Load Balancer never held one. Remove it. [config.certificate]"
    ]
    assert findings_of(GLOBAL, source="computeManaged", switchFromCompute="prepare") == [
        f"{KEY}.switchFromCompute: moves a global edge from its Compute managed certificate to a Certificate Manager "
        "one, and the certificate is still the Compute one. Remove it. [config.certificate]"
    ]


def test_an_unknown_step_lists_the_three():
    assert findings_of(GLOBAL, source="dnsAuthorization", switchFromCompute="done") == [
        f"{KEY}.switchFromCompute: 'done' is not allowed; use one of prepare, attach, drop. [config.enum]"
    ]


def test_a_wildcard_waits_until_the_compute_certificate_is_dropped():
    config = copy.deepcopy(GLOBAL)
    config["gke-mtls:edge"]["domains"] = ["dev.example.com", "*.dev.example.com"]
    for step in ("prepare", "attach"):
        found = findings_of(config, source="dnsAuthorization", switchFromCompute=step)
        [finding] = [f for f in found if f.endswith("[config.domain]")]
        assert finding.startswith("gke-mtls:edge.domains[1]: '*.dev.example.com': the Compute managed certificate")
    found = findings_of(config, source="dnsAuthorization", switchFromCompute="drop")
    assert [f for f in found if not f.endswith("[edge.certificate-switch]")] == []


@pytest.mark.parametrize("domain", ["*.*.example.com", "a*.example.com", "*example.com", "*"])
def test_a_wildcard_is_a_whole_first_label_only(domain):
    config = copy.deepcopy(GLOBAL)
    config["gke-mtls:edge"]["domains"] = [domain]
    [finding] = findings_of(config, source="dnsAuthorization")
    assert finding.startswith(f"gke-mtls:edge.domains[0]: {domain!r}: ")
    assert finding.endswith("[config.domain]")


def test_a_certificate_takes_at_most_100_domains():
    config = copy.deepcopy(GLOBAL)
    config["gke-mtls:edge"]["domains"] = [f"h{i}.example.com" for i in range(101)]
    assert findings_of(config, source="dnsAuthorization") == [
        "gke-mtls:edge.domains: has 101 entries; at most 100 are allowed. [config.range]"
    ]
