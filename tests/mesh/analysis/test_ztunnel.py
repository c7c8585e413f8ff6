"""What ztunnel enforces of an AuthorizationPolicy (components/mesh/analysis/ztunnel.py), as istiod converts it for
ztunnel (pilot/pkg/serviceregistry/ambient/authorization.go of istio/istio @86c9f01fd: `convertAuthorizationPolicy`,
`handleRule`) and as ztunnel matches it (src/rbac.rs of istio/ztunnel @62d826530: an empty match is skipped, a
clause of only empty matches never matches). Inputs are Istio's own where they exist: istio.io's "Use Layer 4
security policy" page (content/en/docs/ambient/usage/l4-policy/index.md of istio/istio.io @03ae9342) and the
policies of TestAuthorizationL7 in tests/integration/ambient/baseline_test.go of istio/istio @86c9f01fd."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.mesh.analysis import ztunnel
from components.mesh.analysis.authorization import Request, decide
from components.mesh.interchange.istio_objects import IstioObject, from_document

SLEEP = "cluster.local/ns/ambient-demo/sa/sleep"

# The l4-policy page's two examples, as written there (less its stray `EOF` lines).
L4_POLICY = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
 name: allow-sleep-to-httpbin
 namespace: ambient-demo
spec:
 selector:
   matchLabels:
     app: httpbin
 action: ALLOW
 rules:
 - from:
   - source:
       principals:
       - cluster.local/ns/ambient-demo/sa/sleep
"""
L7_POLICY = """
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
 name: allow-sleep-to-httpbin
 namespace: ambient-demo
spec:
 selector:
   matchLabels:
     app: httpbin
 action: ALLOW
 rules:
 - from:
   - source:
       principals:
       - cluster.local/ns/ambient-demo/sa/sleep
   to:
   - operation:
       methods: ["GET"]
"""

# TestAuthorizationL7's policySpec and denySpec, with {{.Namespace}} "echo" and {{.Source}} "a".
L7_RULES = """
rules:
- to:
  - operation:
      paths: ["/allowed"]
      methods: ["GET"]
- from:
  - source:
      principals: ["cluster.local/ns/echo/sa/a"]
  to:
  - operation:
      paths: ["/allowed-identity"]
      methods: ["GET"]
- from:
  - source:
      principals: ["cluster.local/ns/echo/sa/someone-else"]
  to:
  - operation:
      paths: ["/denied-identity"]
      methods: ["GET"]
- to:
  - operation:
      methods: ["GET"]
      paths: ["/allowed-wildcard*"]
- to:
  - operation:
      methods: ["GET"]
      paths: ["/headers"]
  when:
  - key: request.headers[x-test-header]
    values: ["match"]
    notValues: ["do-not-match"]
- to:
  - operation:
      methods: ["POST"]
"""
DENY_RULES = """
action: DENY
rules:
- to:
  - operation:
      paths: ["/explicit-deny"]
"""


def parsed(text: str) -> IstioObject:
    obj = from_document(yaml.safe_load(text), "f.yaml[0]", 0)
    assert obj is not None
    return obj


def policy(spec: dict[str, Any], **metadata: Any) -> IstioObject:
    document = {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "p", "namespace": "echo", **metadata},
        "spec": {"selector": {"matchLabels": {"app": "b"}}, **spec},
    }
    return parsed(yaml.safe_dump(document))


def fates(converted: ztunnel.PolicyAtZtunnel) -> list[tuple[str, tuple[str, ...]]]:
    return [(r.fate, r.unread) for r in converted.rules]


def test_ztunnel_reads_every_attribute_of_the_l4_policy_of_istio_docs():
    """The page: "The behavior of the L4 AuthorizationPolicy API has the same functional behavior in Istio ambient
    mode as in sidecar mode"."""
    l4 = parsed(L4_POLICY)
    converted = ztunnel.at_ztunnel(l4)
    assert converted.enforced is l4 and all(r.fate == ztunnel.KEPT for r in converted.rules)
    assert decide([converted.enforced], Request("8000", principal=SLEEP)).allowed is True


def test_an_allow_rule_with_an_http_attribute_matches_nothing_so_the_right_caller_is_denied():
    """The page's L7 example: "Even though the identity of the pod is otherwise correct, the presence of a L7 policy
    ... causes the ztunnel to deny the connection" (`command terminated with exit code 56`). istiod omits the rule
    (`rules = nil` for ALLOW with an L7 attribute); an ALLOW policy without rules matches nothing (rbac.rs)."""
    l7 = parsed(L7_POLICY)
    converted = ztunnel.at_ztunnel(l7)
    assert fates(converted) == [(ztunnel.LEFT_OUT, ("methods",))]
    assert converted.enforced is not None and converted.enforced.spec["rules"] == []
    at_ztunnel = decide([converted.enforced], Request("8000", principal=SLEEP, method="GET"))
    assert at_ztunnel.allowed is False
    assert decide([l7], Request("8000", principal=SLEEP, method="GET")).allowed is True  # a sidecar allows it


def test_every_rule_of_the_l7_integration_policy_is_left_out_with_the_http_attributes_it_holds():
    """TestAuthorizationL7 expects CheckDeny for every call to a destination without a waypoint or sidecar:
    "Only waypoint proxy can handle L7 policies"."""
    converted = ztunnel.at_ztunnel(policy(yaml.safe_load(L7_RULES)))
    assert fates(converted) == [
        (ztunnel.LEFT_OUT, ("methods", "paths")),
        (ztunnel.LEFT_OUT, ("methods", "paths")),
        (ztunnel.LEFT_OUT, ("methods", "paths")),
        (ztunnel.LEFT_OUT, ("methods", "paths")),
        (ztunnel.LEFT_OUT, ("methods", "paths", "request.headers[x-test-header]")),
        (ztunnel.LEFT_OUT, ("methods",)),
    ]
    assert converted.enforced is not None
    assert decide([converted.enforced], Request("18080", principal="cluster.local/ns/echo/sa/a")).allowed is False


def test_a_deny_rule_of_http_attributes_alone_never_matches_at_ztunnel():
    """TestAuthorizationL7's denySpec: istiod keeps the DENY with an empty match, which ztunnel skips
    (`httpDenyNoEffectBoilerplate`: "this DENY policy has no enforceable rules at ztunnel and will have no
    effect"); the test expects /explicit-deny denied only where a waypoint or a sidecar enforces it."""
    converted = ztunnel.at_ztunnel(policy(yaml.safe_load(DENY_RULES)))
    assert fates(converted) == [(ztunnel.NEVER, ("paths",))]
    assert converted.enforced is not None
    request = Request("18080", principal="cluster.local/ns/echo/sa/a", path="/explicit-deny")
    assert decide([converted.enforced], request).allowed is True


def test_a_deny_rule_keeps_its_l4_part_and_denies_more_than_written():
    """`httpDenyMixedBoilerplate`: "DENY policy with HTTP attributes is enforced without the HTTP rules. This will be
    more restrictive than requested.\""""
    deny = policy({"action": "DENY", "rules": [{"to": [{"operation": {"ports": ["8080"], "paths": ["/admin"]}}]}]})
    converted = ztunnel.at_ztunnel(deny)
    assert fates(converted) == [(ztunnel.WIDER, ("paths",))]
    assert converted.enforced is not None
    assert converted.enforced.spec["rules"] == [{"to": [{"operation": {"ports": ["8080"]}}]}]
    assert decide([converted.enforced], Request("8080", principal=SLEEP, path="/index.html")).allowed is False
    assert decide([converted.enforced], Request("9090", principal=SLEEP, path="/admin")).allowed is True


@pytest.mark.parametrize(
    "key, fate",
    [
        ("source.principal", ztunnel.KEPT),
        ("destination.port", ztunnel.KEPT),
        ("source.serviceAccount", ztunnel.LEFT_OUT),  # not in `l4WhenAttributes`
        ("connection.sni", ztunnel.LEFT_OUT),
        ("request.auth.principal", ztunnel.LEFT_OUT),
    ],
)
def test_ztunnel_reads_only_the_five_l4_when_keys(key, fate):
    """`l4WhenAttributes` of authorization.go: source.ip, source.namespace, source.principal, destination.ip,
    destination.port; istiod reports any other key as an HTTP attribute."""
    allow = policy({"rules": [{"when": [{"key": key, "values": ["8080"]}]}]})
    assert fates(ztunnel.at_ztunnel(allow))[0][0] == fate


def test_trust_domains_are_not_passed_to_ztunnel_so_a_source_of_them_alone_never_matches():
    """`handleRule` copies principals, namespaces, service accounts and IP blocks into a match, and no trust domain;
    istiod says nothing of it. A source left empty is an empty match, which ztunnel skips."""
    alone = ztunnel.at_ztunnel(policy({"rules": [{"from": [{"source": {"trustDomains": ["cluster.local"]}}]}]}))
    assert fates(alone) == [(ztunnel.NEVER, ("trustDomains",))]
    beside = ztunnel.at_ztunnel(
        policy({"rules": [{"from": [{"source": {"trustDomains": ["td"], "namespaces": ["shop"]}}]}]})
    )
    assert fates(beside) == [(ztunnel.WIDER, ("trustDomains",))]
    assert beside.enforced is not None
    assert beside.enforced.spec["rules"] == [{"from": [{"source": {"namespaces": ["shop"]}}]}]


@pytest.mark.parametrize(
    "spec, metadata, skipped",
    [
        ({"action": "CUSTOM", "provider": {"name": "ext-authz"}, "rules": [{}]}, {}, "the CUSTOM action"),
        ({"action": "AUDIT", "rules": [{}]}, {}, "the AUDIT action"),
        ({"rules": [{}]}, {"annotations": {"istio.io/dry-run": "true"}}, "AMBIENT_ENABLE_DRY_RUN_AUTHORIZATION_POLICY"),
    ],
)
def test_ztunnel_gets_nothing_of_custom_audit_or_dry_run_policies(spec, metadata, skipped):
    """`convertAuthorizationPolicy`: "ztunnel does not support the %s action"; a dry-run policy is left out unless
    the feature flag is on (pilot/pkg/features/ambient.go, default false)."""
    converted = ztunnel.at_ztunnel(policy(spec, **metadata))
    assert converted.enforced is None and skipped in converted.skipped


def test_a_policy_bound_by_target_refs_is_never_ztunnels():
    """ "TargetRef is not intended for ztunnel"."""
    bound = parsed(
        yaml.safe_dump(
            {
                "apiVersion": "security.istio.io/v1",
                "kind": "AuthorizationPolicy",
                "metadata": {"name": "productpage-viewer", "namespace": "default"},
                "spec": {"targetRefs": [{"kind": "Service", "group": "", "name": "productpage"}], "rules": [{}]},
            }
        )
    )
    assert ztunnel.at_ztunnel(bound).enforced is None
    assert ztunnel.as_enforced([bound, parsed(L4_POLICY)])[0].name == "allow-sleep-to-httpbin"
