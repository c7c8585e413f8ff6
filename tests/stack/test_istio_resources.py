"""The Istio resources of a stack with both sides of the edge: the load balancer's admission rule reads what the GKE
side knows (the verified-chain header, the health check), and Google's health checks become a caller."""

from __future__ import annotations

import copy
import json

from components.core.findings import Finding, Severity
from components.stack import istio_resources, preflight
from components.stack.preflight import mesh_findings
from components.stack.settings import StackSettings, parse_stack
from tests.conftest import PROJECT_ROOT, committed_config, engine_config
from tests.gke.configs import settings as gke_settings
from tests.mesh.configs import EDGE_BACKEND_WITH_CALLERS, settings_of


def stack(health_check_port: int | None = None, **mesh_changes: object) -> StackSettings:
    raw = copy.deepcopy(EDGE_BACKEND_WITH_CALLERS)
    raw.update(mesh_changes)
    health_check = {"requestPath": "/healthz", **({"port": health_check_port} if health_check_port else {})}
    gke = gke_settings(selector={"app": "web"}, targetPort=8080, healthCheck=health_check, meshGuard=True)
    return StackSettings(None, None, None, None, settings_of(raw), gke)


def messages(findings: list[Finding]) -> list[str]:
    return [f"{f.severity.value} {f}" for f in findings]


def test_the_admission_rule_wants_the_verified_header_and_lets_the_probes_in_on_their_path():
    admission = next(m for m in istio_resources.for_stack(stack()) if m.name == "edge-load-balancer")
    front_ends = [{"source": {"notPrincipals": ["*"], "ipBlocks": ["130.211.0.0/22", "35.191.0.0/16"]}}]
    assert admission.document == {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "edge-load-balancer", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "action": "ALLOW",
            "rules": [
                {
                    "from": front_ends,
                    "to": [{"operation": {"ports": ["8080"]}}],
                    "when": [{"key": "request.headers[x-client-cert-chain-verified]", "values": ["true"]}],
                },
                {
                    "from": front_ends,
                    "to": [{"operation": {"ports": ["8080"], "paths": ["/healthz"], "methods": ["GET"]}}],
                },
            ],
        },
    }
    assert mesh_findings(stack()) == []


def test_health_checks_on_a_strict_port_are_refused():
    """The probes come from the same Google ranges in plaintext, on their own port when one is set."""
    assert messages(mesh_findings(stack(health_check_port=8081))) == [
        "error gke-mtls:mesh.edgeBackend: Google's health checks send plaintext to default/{app: web}:8081, but mTLS "
        "there is STRICT (gke-mtls:mesh.mode), so every probe is refused. Give the caller a sidecar (and declare its "
        "`principal`), or add "
        '`ports: {"8081": PERMISSIVE}` to the gke-mtls:mesh.workloads entry of that workload. [mesh.caller-refused]'
    ]
    open_port = [
        {"namespace": "default", "selector": {"app": "web"}, "ports": {"8080": "PERMISSIVE", "8081": "PERMISSIVE"}}
    ]
    assert mesh_findings(stack(health_check_port=8081, workloads=open_port)) == []


def test_the_mesh_guard_lets_the_probes_and_verified_requests_through():
    """The guard denies plaintext without the verified header except on the health check path: neither the load
    balancer's verified requests nor the probes match it (checked with no ALLOW policy in the way)."""
    assert mesh_findings(stack(authorization=[])) == []


def test_a_generated_resource_the_cluster_would_refuse_is_our_defect_named_by_its_settings_key():
    """The settings checks should stop this first; if they miss a case, preflight still refuses it, as mesh.internal."""
    from components.core.manifest import ISTIO_SECURITY, Manifest
    from components.stack.preflight import admission_findings

    refused = Manifest(
        ISTIO_SECURITY,
        "PeerAuthentication",
        "web",
        "shop",
        {"portLevelMtls": {"8080": {"mode": "DISABLE"}}},
        "gke-mtls:mesh.workloads[0]",
    )
    assert [str(f) for f in admission_findings([refused])] == [
        "gke-mtls:mesh.workloads[0]: internal error: the generated PeerAuthentication shop/web would be refused "
        'by the cluster (spec: Invalid value: "object": portLevelMtls requires selector). The settings checks missed '
        "this case: change gke-mtls:mesh.workloads[0] to avoid it, and please report it to gke-mtls. [mesh.internal]",
        "gke-mtls:mesh.workloads[0]: internal error: the generated PeerAuthentication shop/web would be refused "
        "by the cluster (mesh/namespace peer authentication cannot have port level mTLS). The settings checks missed "
        "this case: change gke-mtls:mesh.workloads[0] to avoid it, and please report it to gke-mtls. [mesh.internal]",
    ]


def test_two_objects_pulumi_would_name_alike_are_refused_with_both_keys():
    from tests.mesh.configs import KEY

    raw = {
        "authorization": [
            {"name": "c", "namespace": "a-b", "rules": [{}]},
            {"name": "b-c", "namespace": "a", "rules": [{}]},
        ]
    }
    config = {"gke-mtls:cluster": json.dumps({"context": "ctx"}), KEY: json.dumps(raw)}
    _, findings = preflight.check_stack(config, PROJECT_ROOT, "dev")
    assert [str(f) for f in findings if f.code == "mesh.pulumi-name"] == [
        "gke-mtls:mesh.authorization[1]: the AuthorizationPolicy a/b-c and a-b/c (gke-mtls:mesh.authorization[0]) "
        "would both be the Pulumi resource 'ap-a-b-c'; rename one. [mesh.pulumi-name]"
    ]


# --- allowed clients -------------------------------------------------------------------------------------------


def platform_with_clients(**mesh_changes: object) -> dict:
    config = committed_config("platform-neg-dev")
    config["gke-mtls:mesh"].update(mesh_changes)
    return config


def stack_findings(config: dict) -> list[str]:
    """Errors and warnings; the note that only the mesh enforces the list on this global path is tests/gke's."""
    found = preflight.check_stack(engine_config(config), PROJECT_ROOT, "platform-neg-dev")[1]
    return [str(f) for f in found if f.severity is not Severity.NOTE]


def test_allowed_clients_replace_the_rule_for_every_verified_client():
    """Each client's identity header and paths, from Google's front ends only, with a verified chain; the probes
    keep their own rule; nothing else from the load balancer gets in."""
    settings, _ = parse_stack(engine_config(platform_with_clients()), PROJECT_ROOT)
    assert settings is not None
    admission = next(m for m in istio_resources.for_stack(settings) if m.name == "edge-load-balancer")
    front_ends = [{"source": {"notPrincipals": ["*"], "ipBlocks": ["130.211.0.0/22", "35.191.0.0/16"]}}]
    verified = {"key": "request.headers[x-client-cert-chain-verified]", "values": ["true"]}
    assert admission.origin == "gke-mtls:gkeBackend.allowedClients"
    assert admission.document["spec"]["rules"] == [
        {
            "from": front_ends,
            "to": [{"operation": {"ports": ["8080"], "paths": ["/api/*"], "methods": ["GET", "POST"]}}],
            "when": [
                verified,
                {
                    "key": "request.headers[x-client-cert-spiffe-id]",
                    "values": ["spiffe://acme.com/ns/shop/sa/checkout"],
                },
            ],
        },
        {
            "from": front_ends,
            "to": [{"operation": {"ports": ["8080"], "paths": ["/invoices/*"], "methods": ["GET"]}}],
            "when": [
                verified,
                {
                    "key": "request.headers[x-client-cert-dnsname-sans]",
                    "values": ["YmlsbGluZy5hY21lLmNvbQ==", "YmlsbGluZy5hY21lLmNvbQ==,*", "*,YmlsbGluZy5hY21lLmNvbQ=="],
                },
            ],
        },
        {"from": front_ends, "to": [{"operation": {"ports": ["8080"], "paths": ["/healthz"], "methods": ["GET"]}}]},
    ]


CHECKOUT = {"principal": "cluster.local/ns/shop/sa/checkout"}
PROMETHEUS = {"ipBlocks": ["10.8.0.0/14"]}


def callers() -> list[dict]:
    return [
        {
            "name": "checkout",
            "from": CHECKOUT,
            "to": {"namespace": "default", "selector": {"app": "web"}, "ports": [8080]},
        },
        {
            "name": "prometheus",
            "from": PROMETHEUS,
            "to": {"namespace": "default", "selector": {"app": "web"}, "ports": [9090]},
        },
    ]


def test_allowed_clients_make_the_workload_deny_by_default_and_the_plan_says_so():
    """An ALLOW policy on a workload refuses whatever no ALLOW rule matches, on every port. The list is one, so the
    workload's other callers are reported, and the plan warns even when none is declared."""
    config = platform_with_clients(callers=callers(), authorization=[])
    config["gke-mtls:mesh"]["workloads"][0]["ports"]["9090"] = "PERMISSIVE"
    found = stack_findings(config)
    assert [f.split(":")[1].split(" ")[0] for f in found if f.endswith("[mesh.caller-denied]")] == [
        "mesh.callers[0]",
        "mesh.callers[1]",
    ]
    assert found[-1] == (
        "gke-mtls:gkeBackend.allowedClients: makes default/{app: web} refuse every request that no ALLOW rule "
        "matches, on every port, as any ALLOW policy does: its other callers (mesh peers, scrapers) need rules of "
        "their own in gke-mtls:mesh.authorization. List them in gke-mtls:mesh.callers and the plan checks each. "
        "[mesh.edge-allow-policy]"
    )


def test_another_allow_rule_that_lets_any_verified_client_through_the_edge_is_refused():
    """ALLOW policies add up: a rule on the backend port that does not exclude Google's front ends would let every
    client the load balancer verified through, listed or not."""
    open_port = {"name": "open-8080", "namespace": "default", "selector": {"app": "web"}}
    open_port["rules"] = [{"to": [{"operation": {"ports": ["8080"]}}]}]
    found = stack_findings(platform_with_clients(authorization=[open_port]))
    assert found == [
        "gke-mtls:mesh.authorization[0]: ALLOW policy default/open-8080 lets an unlisted client through the load "
        "balancer to port 8080, so gke-mtls:gkeBackend.allowedClients does not hold: ALLOW policies add up. Restrict "
        "its rule to mesh identities (principals) or to sources other than Google's front ends (130.211.0.0/22, "
        "35.191.0.0/16). [mesh.allowed-clients-bypassed]"
    ]
    # The client chooses its path, method and headers, so a rule narrowed only by them lets it in too.
    for narrowed in [
        {"to": [{"operation": {"ports": ["8080"], "paths": ["/public/*"]}}]},
        {"to": [{"operation": {"methods": ["GET"]}}]},
        {"to": [{"operation": {"notPaths": ["/admin/*"]}}]},
        {"when": [{"key": "request.headers[x-debug]", "values": ["1"]}]},
    ]:
        [finding] = stack_findings(platform_with_clients(authorization=[{**open_port, "rules": [narrowed]}]))
        assert "can let, by the path, method or headers it sends, an unlisted client through" in finding, narrowed
    by_identity = {
        **open_port,
        "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/shop/sa/cart"]}}]}],
    }
    assert stack_findings(platform_with_clients(authorization=[by_identity])) == []


def test_beside_the_stacks_own_allow_policies_a_caller_still_needs_a_rule_of_its_own():
    config = platform_with_clients(callers=callers()[:1])
    config["gke-mtls:mesh"]["authorization"] = [
        {
            "name": "scrape",
            "namespace": "default",
            "selector": {"app": "web"},
            "rules": [{"to": [{"operation": {"ports": ["9090"]}}]}],
        }
    ]
    assert stack_findings(config) == [
        "gke-mtls:mesh.callers[0]: caller checkout's requests to default/{app: web}:8080 carry the principal "
        "cluster.local/ns/shop/sa/checkout; ALLOW policies default/scrape (gke-mtls:mesh.authorization[0]), "
        "default/edge-load-balancer (gke-mtls:gkeBackend.allowedClients) deny them (no rule of theirs matches them). "
        "Add a rule that matches it, or remove it from gke-mtls:mesh.callers if it is meant to be refused. "
        "[mesh.caller-denied]"
    ]


def test_a_policy_that_denies_the_health_check_path_is_reported_on_the_new_path_too():
    """A DENY policy refuses what it matches: the advice is to narrow it, never to add an `ipBlocks` rule to it."""
    deny_probe = {
        "name": "no-health",
        "namespace": "default",
        "selector": {"app": "web"},
        "action": "DENY",
        "rules": [{"to": [{"operation": {"paths": ["/healthz"], "ports": ["8080"]}}]}],
    }
    found = stack_findings(platform_with_clients(authorization=[deny_probe]))
    assert [f for f in found if "health checks" in f] == [
        "gke-mtls:mesh.edgeBackend: Google's health checks's requests to default/{app: web}:8080 carry no principal; "
        "DENY policy default/no-health (gke-mtls:mesh.authorization[0]) matches them. A DENY policy refuses what its "
        "rules match, so a rule added to it would refuse more: narrow the rule that matches them so that it leaves "
        "them out (for example `notIpBlocks: [130.211.0.0/22, 35.191.0.0/16]` in its `from` source), or remove it. "
        "[mesh.caller-denied]"
    ]


def test_an_http2_or_https_probe_is_tls_so_the_mesh_sees_no_path():
    for probe_type in ("HTTP2", "HTTPS"):
        gke = gke_settings(
            selector={"app": "web"}, targetPort=8080, healthCheck={"requestPath": "/healthz", "type": probe_type}
        )
        settings = StackSettings(None, None, None, None, settings_of(copy.deepcopy(EDGE_BACKEND_WITH_CALLERS)), gke)
        assert istio_resources.load_balancer_facts(settings).health_check_path is None


def test_the_regional_load_balancer_is_checked_as_sending_from_its_proxy_only_subnet():
    """A regional external load balancer's requests come from the proxy-only subnet (Google's firewall-rules page):
    a policy written for Google's front ends refuses them, and the plan says so; the global one is let in."""
    only_front_ends = {
        "name": "front-ends-only",
        "namespace": "default",
        "selector": {"app": "web"},
        "action": "DENY",
        "rules": [
            {
                "from": [{"source": {"notIpBlocks": ["130.211.0.0/22", "35.191.0.0/16"]}}],
                "to": [{"operation": {"ports": ["8080"]}}],
            }
        ],
    }
    regional = committed_config("platform-regional-dev")
    regional["gke-mtls:mesh"]["authorization"] = [only_front_ends]
    regional["gke-mtls:mesh"]["callers"] = []
    denied = [f for f in stack_findings(regional) if f.endswith("[mesh.caller-denied]")]
    assert [f.split("'s requests")[0] for f in denied] == [
        "gke-mtls:gkeBackend.allowedClients[0]: the load balancer (client spiffe://acme.com/ns/shop/sa/checkout)",
        "gke-mtls:gkeBackend.allowedClients[1]: the load balancer (client billing.acme.com)",
    ]
    # The advice names the range the requests come from, not Google's front ends.
    assert all("(for example `notIpBlocks: [10.129.0.0/23]` in its `from` source)" in f for f in denied)
    global_ = platform_with_clients(authorization=[only_front_ends], callers=[])
    assert [f for f in stack_findings(global_) if f.endswith("[mesh.caller-denied]")] == []
