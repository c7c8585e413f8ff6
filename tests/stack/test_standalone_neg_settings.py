"""The settings of the standalone-NEG path that span sections: where the edge's backend comes from, which features
need the EXTERNAL_MANAGED load balancer, and the mesh port the allowed clients are enforced on."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.stack.settings import parse_stack
from tests.conftest import PROJECT_ROOT, committed_config, engine_config

EDGE = committed_config("edge-neg-dev")
PLATFORM = committed_config("platform-neg-dev")


def findings_of(config: dict[str, Any]) -> list[str]:
    return [str(f) for f in parse_stack(engine_config(config), PROJECT_ROOT)[1]]


def edge_with(**backend: Any) -> dict[str, Any]:
    config = copy.deepcopy(EDGE)
    config["gke-mtls:backend"] = {k: v for k, v in {**config["gke-mtls:backend"], **backend}.items() if v is not None}
    return config


def test_the_committed_pair_is_clean_and_says_the_mesh_alone_enforces_the_allowed_clients():
    assert findings_of(EDGE) == []
    assert [f.split(" [")[-1] for f in findings_of(PLATFORM)] == ["edge.global-authorization]"]


def test_a_standalone_neg_is_read_from_a_stack_in_a_known_network():
    assert findings_of(edge_with(stack=None, network=None, name="k8s1-x", output="other")) == [
        "gke-mtls:backend.stack: source standaloneNeg needs the platform stack that exports negName, negZones, "
        "negBackend. [config.backend]",
        "gke-mtls:backend.name: applies only with `source: gkeIngress`: with a standalone NEG the edge makes its own "
        "backend service. Remove it. [config.backend]",
        "gke-mtls:backend.output: applies only with `source: gkeIngress`; a standalone NEG is read from the outputs "
        "negName, negZones, negBackend. Remove it. [config.backend]",
        "gke-mtls:backend.network: source standaloneNeg needs the cluster's VPC network, for the firewall rule that "
        "lets Google's load balancer and health checks reach the pods. [config.backend]",
    ]


def test_without_node_tags_the_firewall_rule_is_wide_and_the_plan_says_so():
    assert findings_of(edge_with(nodeTags=None)) == [
        "gke-mtls:backend.nodeTags: the firewall rule for Google's ranges opens the serving port on every instance "
        "of network 'platform-vpc'; list the cluster's node tags to narrow it. [config.wide-firewall]"
    ]


@pytest.mark.parametrize("key", ["network", "nodeTags", "maxRatePerEndpoint"])
def test_the_neg_only_keys_are_refused_on_the_gke_ingress_path(key):
    value = {"network": "vpc", "nodeTags": ["gke-node"], "maxRatePerEndpoint": 5}[key]
    config = edge_with(source=None, network=None, nodeTags=None)
    config["gke-mtls:backend"][key] = value
    assert findings_of(config) == [
        f"gke-mtls:backend.{key}: applies only with `source: standaloneNeg`; remove it. [config.backend]"
    ]


def test_load_balancer_authorization_on_the_classic_load_balancer_is_refused_with_googles_words():
    config = edge_with(source=None, network=None, nodeTags=None)
    config["gke-mtls:edge"]["loadBalancerAuthorization"] = True
    assert findings_of(config) == [
        "gke-mtls:edge.loadBalancerAuthorization: the classic Application Load Balancer takes no client-certificate "
        'authorization policies; Google: "Authorization policies can be configured on the forwarding rule of all '
        'Application Load Balancers with a load balancing scheme of EXTERNAL_MANAGED or INTERNAL_MANAGED." '
        "(https://cloud.google.com/load-balancing/docs/auth-policy/auth-policy-overview) The mesh enforces the "
        "platform stack's allowedClients on every path: remove this key, or use loadBalancer: regionalExternal to have "
        "the load balancer enforce them too. [config.capability]"
    ]


def test_load_balancer_authorization_on_the_global_external_load_balancer_is_refused_with_googles_words():
    config = copy.deepcopy(EDGE)
    config["gke-mtls:edge"]["loadBalancerAuthorization"] = True
    assert findings_of(config) == [
        "gke-mtls:edge.loadBalancerAuthorization: the global external Application Load Balancer takes no "
        'client-certificate principals; Google: "This field is not supported for global external Application Load '
        'Balancers." (https://github.com/googleapis/googleapis/blob/master/google/cloud/networksecurity/v1/'
        "authz_policy.proto) The mesh enforces the platform stack's allowedClients on every path: remove this key, "
        "or use loadBalancer: regionalExternal to have the load balancer enforce them too. [config.capability]"
    ]
    config["gke-mtls:edge"]["loadBalancerAuthorization"] = False  # saying it is off is fine
    assert findings_of(config) == []


def test_allowed_clients_need_the_mesh_on_the_port_the_load_balancer_sends_to():
    without_mesh = copy.deepcopy(PLATFORM)
    del without_mesh["gke-mtls:mesh"]
    without_mesh["gke-mtls:gkeBackend"]["meshGuard"] = False
    note, *found = findings_of(without_mesh)
    assert note.endswith("[edge.global-authorization]")
    assert found == [
        "gke-mtls:gkeBackend.allowedClients: is enforced in the mesh too, on the backend's port; add gke-mtls:mesh "
        "with edgeBackend: {namespace: default, selector: {...}, port: 8080}. [config.gke-backend]"
    ]
    other_port = copy.deepcopy(PLATFORM)
    other_port["gke-mtls:mesh"]["edgeBackend"]["port"] = 9090
    assert "gke-mtls:mesh.edgeBackend: is default:9090, but gke-mtls:gkeBackend serves default:8080" in " ".join(
        findings_of(other_port)
    )
