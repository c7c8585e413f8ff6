"""Every stack held to what Google documents for its load balancer type (components/core/load_balancer.py): a construct
the table says is unsupported for the configured type is refused with its key and Google's words."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.stack.settings import parse_stack
from tests.conftest import PROJECT_ROOT, committed_config, engine_config

REGIONAL = committed_config("edge-regional-dev")
GLOBAL = committed_config("edge-neg-dev")
CLASSIC = committed_config("edge-dev")


def findings_of(config: dict[str, Any]) -> list[str]:
    return [str(f) for f in parse_stack(engine_config(config), PROJECT_ROOT)[1]]


def changed(config: dict[str, Any], section: str, **values: Any) -> dict[str, Any]:
    config = copy.deepcopy(config)
    for key, value in values.items():
        if value is None:
            config[f"gke-mtls:{section}"].pop(key, None)
        else:
            config[f"gke-mtls:{section}"][key] = value
    return config


def test_the_committed_regional_edge_is_clean():
    assert findings_of(REGIONAL) == []
    assert findings_of(committed_config("platform-regional-dev")) == []


def test_a_regional_edge_needs_its_region():
    assert findings_of(changed(REGIONAL, "edge", region=None)) == [
        "gke-mtls:edge.region: the regional external Application Load Balancer needs its region, which its NEGs "
        "share. [config.region]"
    ]


@pytest.mark.parametrize("region", ["europe-west", "Europe-West1", "europe-west1-b", "europe_west1", ""])
def test_a_region_that_is_not_a_gcp_region_name_is_refused(region):
    assert findings_of(changed(REGIONAL, "edge", region=region)) == [
        f"gke-mtls:edge.region: {region!r} is not valid: a region is a Compute Engine region name such as "
        "europe-west1. [config.syntax]"
    ]


def test_a_region_on_a_global_edge_is_refused():
    assert findings_of(changed(GLOBAL, "edge", region="europe-west1")) == [
        "gke-mtls:edge.region: applies only to regionalExternal; the global external Application Load Balancer is "
        "global. [config.region]"
    ]


def test_a_regional_edge_needs_the_proxy_only_subnet_and_a_global_one_refuses_it():
    assert findings_of(changed(REGIONAL, "backend", proxyOnlySubnet=None)) == [
        "gke-mtls:backend.proxyOnlySubnet: the regional external Application Load Balancer reaches the pods from the "
        "region's proxy-only subnet (Google: \"Load balancers based on the open source Envoy proxy require an ingress "
        'allow firewall rule that permits traffic from the proxy-only subnet to reach the backend instances." '
        "(https://cloud.google.com/load-balancing/docs/firewall-rules)); name the subnet of purpose "
        "REGIONAL_MANAGED_PROXY in gke-mtls:backend.network, for the firewall rule. [config.backend]"
    ]
    assert findings_of(changed(GLOBAL, "backend", proxyOnlySubnet="proxy-only")) == [
        "gke-mtls:backend.proxyOnlySubnet: applies only to regionalExternal; the global external Application Load "
        "Balancer reaches the pods from Google's front-end ranges. Remove it. [config.backend]"
    ]


def test_the_proxy_only_subnet_is_refused_on_the_classic_path_too():
    config = changed(CLASSIC, "backend", proxyOnlySubnet="proxy-only")
    assert findings_of(config) == [
        "gke-mtls:backend.proxyOnlySubnet: applies only to regionalExternal; the classic Application Load Balancer "
        "reaches the pods from Google's front-end ranges. Remove it. [config.backend]"
    ]


def test_standard_tier_is_refused_on_a_global_load_balancer_with_googles_words():
    assert findings_of(changed(GLOBAL, "edge", networkTier="STANDARD")) == [
        'gke-mtls:edge.networkTier: the global external Application Load Balancer takes PREMIUM only; Google: "For '
        'GlobalForwardingRule, the valid value is PREMIUM." '
        "(https://cloud.google.com/compute/docs/reference/rest/v1/forwardingRules) [config.capability]"
    ]
    assert findings_of(changed(REGIONAL, "edge", networkTier="STANDARD")) == []


def test_gke_ingress_backends_serve_only_the_classic_load_balancer():
    assert findings_of(changed(CLASSIC, "edge", loadBalancer="regionalExternal", region="europe-west1")) == [
        "gke-mtls:edge.loadBalancer: is regionalExternal, but the backend service GKE Ingress makes has scheme "
        'EXTERNAL, which only the classic load balancer serves (Google: "EXTERNAL: Signifies that this will be used '
        "for classic Application Load Balancers, global external proxy Network Load Balancers, or external "
        'passthrough Network Load Balancers." (https://cloud.google.com/compute/docs/reference/rest/v1/'
        "backendServices)). Set gke-mtls:backend.source: standaloneNeg for regionalExternal, or remove this key. "
        "[config.scheme]"
    ]


def test_a_standalone_neg_is_never_behind_the_classic_load_balancer():
    assert findings_of(changed(GLOBAL, "edge", loadBalancer="classic")) == [
        "gke-mtls:edge.loadBalancer: is classic, but on a standalone NEG the edge makes its own EXTERNAL_MANAGED "
        "backend service; use globalExternal or regionalExternal. [config.scheme]"
    ]


def test_an_unknown_load_balancer_type_lists_the_three():
    assert findings_of(changed(REGIONAL, "edge", loadBalancer="regional")) == [
        "gke-mtls:edge.loadBalancer: 'regional' is not allowed; use one of classic, globalExternal, regionalExternal. "
        "[config.enum]"
    ]


def test_load_balancer_authorization_is_on_by_default_where_google_documents_principals():
    assert findings_of(changed(REGIONAL, "edge", loadBalancerAuthorization=True)) == []
