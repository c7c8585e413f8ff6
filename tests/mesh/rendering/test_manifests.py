"""The Istio resources generated from mesh settings: exact apiVersion, kind, metadata and spec."""

from __future__ import annotations

from components.mesh.rendering.manifests import manifests
from tests.mesh.configs import EVERY_SHAPE, SEED, settings_of


def documents(raw):
    return [m.document for m in manifests(settings_of(raw))]


def test_seed_scenario_generates_strict_mesh_permissive_exception_and_identity_policy():
    assert documents(SEED) == [
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "PeerAuthentication",
            "metadata": {"name": "default", "namespace": "istio-system"},
            "spec": {"mtls": {"mode": "STRICT"}},
        },
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "PeerAuthentication",
            "metadata": {"name": "my-special-app", "namespace": "my-namespace"},
            "spec": {"selector": {"matchLabels": {"app": "my-special-app"}}, "mtls": {"mode": "PERMISSIVE"}},
        },
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": "httpbin-policy", "namespace": "default"},
            "spec": {
                "selector": {"matchLabels": {"app": "httpbin"}},
                "action": "ALLOW",
                "rules": [
                    {
                        "from": [{"source": {"principals": ["cluster.local/ns/default/sa/sleep"]}}],
                        "to": [{"operation": {"methods": ["GET"], "paths": ["/info*"]}}],
                    }
                ],
            },
        },
    ]


def test_no_destination_rule_is_generated_unless_needed():
    assert [d["kind"] for d in documents(SEED)].count("DestinationRule") == 0


def test_every_shape_generates_each_kind_with_exact_specs():
    docs = {(d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]): d["spec"] for d in documents(EVERY_SHAPE)}
    assert docs == {
        ("PeerAuthentication", "istio-system", "default"): {"mtls": {"mode": "PERMISSIVE"}},
        ("PeerAuthentication", "legacy", "default"): {"mtls": {"mode": "DISABLE"}},
        ("PeerAuthentication", "payments", "default"): {"mtls": {"mode": "STRICT"}},
        ("PeerAuthentication", "shop", "web-front"): {
            "selector": {"matchLabels": {"app": "web", "tier": "front"}},
            "mtls": {"mode": "STRICT"},
            "portLevelMtls": {"8080": {"mode": "PERMISSIVE"}, "9090": {"mode": "DISABLE"}},
        },
        # Port 9090 is DISABLE: clients get plaintext on the matching Service port (90).
        ("DestinationRule", "shop", "web-plaintext"): {
            "host": "web.shop.svc.cluster.local",
            "trafficPolicy": {"portLevelSettings": [{"port": {"number": 90}, "tls": {"mode": "DISABLE"}}]},
        },
        ("PeerAuthentication", "batch", "old-plaintext"): {
            "selector": {"matchLabels": {"app": "old"}},
            "mtls": {"mode": "DISABLE"},
        },
        ("DestinationRule", "batch", "old-plaintext"): {
            "host": "old.batch.svc.cluster.local",
            "trafficPolicy": {"tls": {"mode": "DISABLE"}},
        },
        ("PeerAuthentication", "ops", "default"): {"mtls": {"mode": "UNSET"}},
        ("AuthorizationPolicy", "shop", "deny-admin"): {
            "action": "DENY",
            "rules": [{"to": [{"operation": {"paths": ["/admin*"], "ports": ["8080"]}}]}],
        },
        ("AuthorizationPolicy", "shop", "audit-all"): {"action": "AUDIT", "rules": [{}]},
        ("AuthorizationPolicy", "shop", "ext-authz"): {
            "selector": {"matchLabels": {"app": "web"}},
            "action": "CUSTOM",
            "provider": {"name": "oauth2-proxy"},
            "rules": [{"to": [{"operation": {"hosts": ["shop.example.com"]}}]}],
        },
        ("AuthorizationPolicy", "payments", "by-header"): {
            "selector": {"matchLabels": {"app": "api"}},
            "action": "ALLOW",
            "rules": [
                {
                    "from": [{"source": {"namespaces": ["shop"]}}],
                    "when": [{"key": "request.headers[x-tenant]", "values": ["acme"]}],
                }
            ],
        },
        ("AuthorizationPolicy", "payments", "allow-nothing"): {},
        ("DestinationRule", "istio-system", "mesh-wide-istio-mutual"): {
            "host": "*.local",
            "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}},
        },
    }


def test_logical_names_are_unique_and_say_kind_namespace_and_name():
    names = [m.logical_name for m in manifests(settings_of(EVERY_SHAPE))]
    assert len(names) == len(set(names))
    assert "pa-shop-web-front" in names and "dr-shop-web-plaintext" in names and "ap-payments-allow-nothing" in names
