"""What a client's sidecar sends to a port, decided per port as istiod decides it
(components/mesh/analysis/transport.py): a DestinationRule's TLS first, then auto mTLS, which a DISABLE namespace
turns off and which otherwise reads the PeerAuthentication of the endpoint's pod at that port
(pilot/pkg/xds/endpoints/mtls_checker.go of istio/istio). Inputs are Istio's own where they exist, with their
template values filled in."""

from __future__ import annotations

from typing import Any

import yaml

from components.mesh.analysis.transport import MTLS, PLAINTEXT, MeshView
from components.mesh.interchange.istio_objects import from_document


def view_of(text: str, root: str = "istio-system") -> MeshView:
    documents = [d for d in yaml.safe_load_all(text) if d]
    objects = [from_document(d, f"f.yaml[{i}]", i) for i, d in enumerate(documents)]
    return MeshView([o for o in objects if o is not None], root)


def sent(view: MeshView, client: str | None, namespace: str, labels: dict[str, Any], port: str) -> tuple[Any, str]:
    result = view.sent_by_sidecar(client, namespace, labels, port)
    return result.form, result.why


# tests/integration/security/testdata/reachability/workload-peer-authn-port-override.yaml.tmpl of istio/istio, as
# reachability_test.go's "mtls port override" fills it: MTLSMode STRICT, MTLSModeOverride DISABLE, To the echo app
# `b` in namespace echo1, and the workload ports of http, http2, https, tcp and grpc (common/ports/ports.go).
PORT_OVERRIDE = """
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: b, namespace: echo1}
spec:
  selector:
    matchLabels:
      app: b
  mtls:
    mode: STRICT
  portLevelMtls:
    18080:
      mode: DISABLE
    18085:
      mode: DISABLE
    18443:
      mode: DISABLE
    19090:
      mode: DISABLE
    17070:
      mode: DISABLE
"""


def test_a_sidecar_sends_plaintext_to_a_disable_port_without_any_destination_rule():
    """ "mtls port override" expects every call to succeed, and none over mTLS (expectMTLS: never)."""
    view = view_of(PORT_OVERRIDE)
    assert sent(view, "echo1", "echo1", {"app": "b"}, "18080") == (
        PLAINTEXT,
        "port 18080 is DISABLE, so auto mTLS sends it plaintext",
    )
    assert sent(view, "echo1", "echo1", {"app": "b"}, "18081") == (MTLS, "")  # auto-http: STRICT, mTLS
    assert view.server_mode("echo1", {"app": "b"}, "18080") == "DISABLE"


# workload-peer-authn.yaml.tmpl and workload-dr.yaml.tmpl, as "mtls disabled" and "mtls strict" fill them.
WORKLOAD_AND_RULE = """
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: b, namespace: echo1}
spec:
  selector:
    matchLabels:
      app: b
  mtls:
    mode: {mode}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: b, namespace: echo1}
spec:
  host: "b.echo1.svc.cluster.local"
  trafficPolicy:
    tls:
      mode: {tls}
---
apiVersion: v1
kind: Service
metadata: {name: b, namespace: echo1}
spec:
  selector: {app: b}
  ports: [{name: http, port: 80, targetPort: 18080}]
"""


def test_a_destination_rule_decides_before_auto_mtls():
    rules = view_of(WORKLOAD_AND_RULE.replace("{mode}", "DISABLE").replace("{tls}", "DISABLE"))
    assert sent(rules, "echo1", "echo1", {"app": "b"}, "18080") == (
        PLAINTEXT,
        "DestinationRule echo1/b (f.yaml[1]) sets tls.mode DISABLE",
    )
    strict = view_of(WORKLOAD_AND_RULE.replace("{mode}", "STRICT").replace("{tls}", "ISTIO_MUTUAL"))
    assert sent(strict, None, "echo1", {"app": "b"}, "18080")[0] == MTLS


def test_a_disable_namespace_turns_auto_mtls_off_for_its_services_even_at_a_strict_workload():
    """`BestEffortInferServiceMTLSMode` (pilot/pkg/model/push_context.go) reads namespace and mesh policies only, and
    a DISABLE there leaves the client's cluster without TLS (cluster_tls.go `buildUpstreamTLSSettings`)."""
    text = PORT_OVERRIDE + "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
    text += "metadata: {name: default, namespace: istio-system}\nspec: {mtls: {mode: DISABLE}}\n"
    assert sent(view_of(text), "echo1", "echo1", {"app": "b"}, "18081") == (
        PLAINTEXT,
        "mTLS in the mesh is DISABLE, which turns auto mTLS off for its services",
    )


# istio.io's authn-policy task as it stood with DestinationRules (content/en/docs/tasks/security/authentication/
# authn-policy/snips.sh of istio/istio.io, commit a6950eb08827: snip_enable_mutual_tls_per_workload_5 and _6), with
# the httpbin Service of samples/httpbin/httpbin.yaml (port 8000 to the container's 80).
PORT_LEVEL_RULE = """
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata:
  name: "httpbin"
  namespace: "bar"
spec:
  selector:
    matchLabels:
      app: httpbin
  mtls:
    mode: STRICT
  portLevelMtls:
    80:
      mode: DISABLE
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata:
  name: "httpbin"
  namespace: bar
spec:
  host: httpbin.bar.svc.cluster.local
  trafficPolicy:
    tls:
      mode: ISTIO_MUTUAL
    portLevelSettings:
    - port:
        number: 8000
      tls:
        mode: DISABLE
---
apiVersion: v1
kind: Service
metadata: {name: httpbin, namespace: bar}
spec:
  ports: [{name: http, port: 8000, targetPort: 80}]
  selector: {app: httpbin}
"""


def test_a_port_level_setting_is_matched_by_the_service_port_in_front_of_the_container_port():
    view = view_of(PORT_LEVEL_RULE)
    assert sent(view, "foo", "bar", {"app": "httpbin"}, "80") == (
        PLAINTEXT,
        "DestinationRule bar/httpbin (f.yaml[1]) sets tls.mode DISABLE",
    )
    # A container port the Service does not front is reached by no host of the rule: nothing is judged there.
    assert sent(view, "foo", "bar", {"app": "httpbin"}, "9000")[0] is None


# The same task in its Istio 1.4 form (index.md of istio/istio.io, commit f3e60692553f): the mesh-wide `*.local`
# ISTIO_MUTUAL rule, and in the server's namespace a rule for httpbin.legacy, which "will be preferred over the
# global destination rule defined in istio-system".
LOOKUP = """
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: default, namespace: istio-system}
spec:
  host: "*.local"
  trafficPolicy:
    tls:
      mode: ISTIO_MUTUAL
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata:
 name: "httpbin-legacy"
 namespace: "legacy"
spec:
 host: "httpbin.legacy.svc.cluster.local"
 trafficPolicy:
   tls:
     mode: DISABLE
---
apiVersion: v1
kind: Service
metadata: {name: httpbin, namespace: legacy}
spec:
  ports: [{name: http, port: 8000, targetPort: 80}]
  selector: {app: httpbin}
"""


def test_the_servers_namespace_comes_before_the_root_namespace():
    """`PushContext.destinationRule` (pilot/pkg/model/push_context.go): the client's namespace, then the service's,
    then the root namespace; a root-namespace client sees the root's private rules first, and no others there."""
    view = view_of(LOOKUP)
    for client in ("foo", "istio-system", None):
        assert sent(view, client, "legacy", {"app": "httpbin"}, "80")[0] == PLAINTEXT
    assert sent(view, "foo", "legacy", {"app": "sleep"}, "80") == (
        MTLS,
        "DestinationRule istio-system/default (f.yaml[0]) sets tls.mode ISTIO_MUTUAL",
    )


def test_a_rule_exported_to_its_own_namespace_applies_to_its_clients_only():
    private = ' host: "httpbin.legacy.svc.cluster.local"\n exportTo: ["."]'
    view = view_of(LOOKUP.replace(' host: "httpbin.legacy.svc.cluster.local"', private))
    assert sent(view, "legacy", "legacy", {"app": "httpbin"}, "80")[0] == PLAINTEXT
    assert sent(view, "foo", "legacy", {"app": "httpbin"}, "80")[0] == MTLS


# The ingress Gateway of istio.io's authn-policy task (snips.sh, commit 00f76de374d1, snip_enduser_authentication_1).
GATEWAY = """
apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata:
  name: httpbin-gateway
  namespace: foo
spec:
  selector:
    istio: ingressgateway # use Istio default gateway implementation
  servers:
  - port:
      number: 80
      name: http
      protocol: HTTP
    hosts:
    - "*"
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
"""


def test_gateway_pods_take_what_their_gateway_says_and_get_plaintext_from_auto_mtls():
    """No PeerAuthentication applies at a gateway (pilot/pkg/networking/core/gateway.go builds its listeners from the
    Gateway's servers), and its pods carry no `security.istio.io/tlsMode` label (only the sidecar injection template
    sets it), so auto mTLS sends them plaintext (mtls_checker.go)."""
    view = view_of(GATEWAY)
    gateway = {"istio": "ingressgateway", "app": "istio-ingressgateway"}
    assert view.server_mode("istio-system", gateway, "8080") is None
    assert sent(view, "foo", "istio-system", gateway, "8080") == (
        PLAINTEXT,
        "auto mTLS sends plaintext to gateway pods (Gateway foo/httpbin-gateway (f.yaml[0]))",
    )
    assert view.server_mode("istio-system", {"app": "istiod"}, "15012") == "STRICT"


def test_a_rule_for_a_host_no_known_service_names_leaves_its_namespaces_pods_undecided():
    """Without the Services, `httpbin.legacy` may be any pod's of legacy: what its clients send there is not told,
    and nothing is reported on it; with the Service, the rule is placed."""
    without_service = view_of(LOOKUP.split("---\napiVersion: v1")[0])
    assert sent(without_service, "foo", "legacy", {"app": "httpbin"}, "80")[0] is None
    assert sent(without_service, "foo", "other", {"app": "httpbin"}, "80")[0] == MTLS
    assert sent(view_of(LOOKUP), "foo", "legacy", {"app": "httpbin"}, "80")[0] == PLAINTEXT


def test_the_local_rule_toward_a_disable_workload_is_an_error_only_when_nothing_may_exempt_it():
    from components.mesh.analysis.engine import analyze
    from components.mesh.interchange.istio_objects import from_document

    disable = (
        "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
        "metadata: {name: httpbin, namespace: legacy}\n"
        "spec: {selector: {matchLabels: {app: httpbin}}, mtls: {mode: DISABLE}}\n"
    )

    def codes(text: str) -> list[str]:
        documents = [d for d in yaml.safe_load_all(text) if d]
        objects = [o for i, d in enumerate(documents) if (o := from_document(d, f"f.yaml[{i}]", i)) is not None]
        return [f.code for f in analyze(objects, [], "istio-system")]

    local_rule_only = LOOKUP.split("---")[0]
    assert codes(local_rule_only + disable) == ["mesh.istio-mutual-meets-disable"]
    assert codes(LOOKUP.split("---\napiVersion: v1")[0] + disable) == ["mesh.istio-mutual-dr"]  # rule unplaced
    assert codes(LOOKUP + disable) == ["mesh.istio-mutual-dr"]  # the rule placed: it exempts httpbin


def rules_for_shop(*rules: str) -> MeshView:
    """A STRICT mesh, a Service `web` in `shop`, and the DestinationRules given (each a YAML document body)."""
    head = """
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{port: 80, targetPort: 8080}]
  selector: {app: web}
"""
    return view_of(
        head + "".join(f"---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\n{r}" for r in rules)
    )


def test_a_tls_setting_without_a_mode_is_disable():
    """ClientTLSSettings.mode is a proto3 enum whose zero value is DISABLE: `tls: {sni: ...}` sends plaintext
    (pilot/pkg/networking/core/cluster_tls.go reads `tls.GetMode()`)."""
    view = rules_for_shop(
        "metadata: {name: web, namespace: shop}\nspec:\n  host: web\n  trafficPolicy: {tls: {sni: web.example}}\n"
    )
    assert sent(view, "shop", "shop", {"app": "web"}, "8080") == (
        PLAINTEXT,
        "DestinationRule shop/web (f.yaml[2]) sets tls.mode DISABLE",
    )


def test_rules_for_one_host_are_merged_and_the_oldest_traffic_policy_wins():
    """`mergeDestinationRule` (pilot/pkg/model/destination_rule.go) adds a newer rule's subsets to the older one and
    takes its top-level trafficPolicy only when the older one has none."""
    subsets_only = (
        "metadata: {name: subsets, namespace: shop, creationTimestamp: '2026-01-01T00:00:00Z'}\n"
        "spec:\n  host: web\n  subsets: [{name: v1, labels: {version: v1}}]\n"
    )
    disable = (
        "metadata: {name: plain, namespace: shop, creationTimestamp: '2026-02-01T00:00:00Z'}\n"
        "spec:\n  host: web\n  trafficPolicy: {tls: {mode: DISABLE}}\n"
    )
    mutual = (
        "metadata: {name: mutual, namespace: shop, creationTimestamp: '2026-03-01T00:00:00Z'}\n"
        "spec:\n  host: web\n  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}\n"
    )
    view = rules_for_shop(subsets_only, disable, mutual)
    assert sent(view, "shop", "shop", {"app": "web"}, "8080")[1] == (
        "DestinationRule shop/plain (f.yaml[3]) sets tls.mode DISABLE"
    )


def test_an_exact_host_beats_a_wildcard_of_the_same_namespace():
    wildcard = "metadata: {name: all, namespace: shop}\nspec:\n  host: '*.shop.svc.cluster.local'\n" + (
        "  trafficPolicy: {tls: {mode: DISABLE}}\n"
    )
    exact = "metadata: {name: web, namespace: shop}\nspec:\n  host: web\n  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}\n"
    for order in ((wildcard, exact), (exact, wildcard)):
        assert sent(rules_for_shop(*order), "shop", "shop", {"app": "web"}, "8080")[0] == MTLS


def test_the_clients_own_namespace_comes_first():
    """Step 1 of `PushContext.destinationRule`: a rule in the client's namespace, for another namespace's host."""
    own = (
        "metadata: {name: to-web, namespace: frontend}\nspec:\n  host: web.shop.svc.cluster.local\n"
        "  trafficPolicy: {tls: {mode: DISABLE}}\n"
    )
    servers = (
        "metadata: {name: web, namespace: shop}\nspec:\n  host: web\n  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}\n"
    )
    view = rules_for_shop(own, servers)
    assert sent(view, "frontend", "shop", {"app": "web"}, "8080")[0] == PLAINTEXT
    assert sent(view, "billing", "shop", {"app": "web"}, "8080")[0] == MTLS


def test_a_most_specific_rule_not_exported_to_the_client_sends_the_lookup_to_the_next_namespace():
    """`getExportedDestinationRuleFromNamespace`: the most specific host first, then `exportTo`; no fall back to a
    less specific host of the same namespace."""
    specific = (
        "metadata: {name: web, namespace: shop}\nspec:\n  host: web\n  exportTo: [billing]\n"
        "  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}\n"
    )
    wildcard = "metadata: {name: all, namespace: shop}\nspec:\n  host: '*.shop.svc.cluster.local'\n" + (
        "  trafficPolicy: {tls: {mode: DISABLE}}\n"
    )
    view = rules_for_shop(specific, wildcard)
    assert sent(view, "billing", "shop", {"app": "web"}, "8080")[0] == MTLS
    assert sent(view, "frontend", "shop", {"app": "web"}, "8080") == (MTLS, "")  # auto mTLS: no rule applies
