"""Identity without mTLS, stated exactly. ISTIO-SECURITY-2021-004
(https://istio.io/latest/news/security/istio-security-2021-004/) and the concept page's "Dependency on mutual TLS":
plaintext requests carry no identity, so they match every negative identity value and no positive one. A rule that
matches plaintext that way lets it through (ALLOW) or lets it past (DENY); the other way round fails closed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.mesh.configs import findings_of

HTTPBIN = {"namespace": "default", "selector": {"app": "httpbin"}}


def mesh(mode: str, action: str, rule: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "mode": "STRICT",
        "workloads": [{**HTTPBIN, "mode": mode}],
        "authorization": [{"name": "policy", **HTTPBIN, "action": action, "rules": [rule]}],
        **extra,
    }


def source(**fields: Any) -> dict[str, Any]:
    return {"from": [{"source": fields}]}


def test_allow_with_not_namespaces_on_a_permissive_workload_lets_plaintext_through():
    """The advisory's first case: ALLOW `notNamespaces: [foo]` lets plaintext from foo through."""
    assert findings_of(mesh("PERMISSIVE", "ALLOW", source(notNamespaces=["foo"]))) == [
        "error gke-mtls:mesh.authorization[0].rules[0]: notNamespaces in an ALLOW rule also match plaintext requests, "
        "which carry no identity, so plaintext from anyone passes this rule, and plaintext is accepted where it "
        "applies (default/{app: httpbin} is PERMISSIVE) (ISTIO-SECURITY-2021-004). Make those ports STRICT, or "
        'require an identity in the same source (`namespaces: ["*"]`). [mesh.plaintext-bypass]'
    ]


def test_deny_by_namespaces_on_a_permissive_workload_lets_plaintext_past():
    """The advisory's second case: DENY `namespaces: [foo]` does not deny plaintext from foo."""
    assert findings_of(mesh("PERMISSIVE", "DENY", source(namespaces=["foo"]))) == [
        "error gke-mtls:mesh.authorization[0].rules[0]: namespaces in a DENY rule never match plaintext requests, "
        "which carry no identity, so plaintext from the very sources it names gets past it, and plaintext is accepted "
        "where it applies (default/{app: httpbin} is PERMISSIVE) (ISTIO-SECURITY-2021-004). Make those ports STRICT, "
        'or add a DENY rule with `notPrincipals: ["*"]` that refuses plaintext there. [mesh.plaintext-bypass]'
    ]


@pytest.mark.parametrize(
    "action, rule",
    [
        ("ALLOW", source(notNamespaces=["foo"])),
        ("DENY", source(namespaces=["foo"])),
        ("DENY", {"when": [{"key": "source.principal", "values": ["cluster.local/ns/foo/sa/bar"]}]}),
    ],
    ids=["allow-not-namespaces", "deny-namespaces", "deny-when-principal"],
)
def test_the_same_rules_on_a_strict_workload_are_quiet(action, rule):
    """STRICT refuses plaintext before any policy sees it: the advisory's recommended fix."""
    assert findings_of(mesh("STRICT", action, rule)) == []


@pytest.mark.parametrize(
    "action, rule",
    [
        ("DENY", source(notPrincipals=["*"])),  # the advisory's fix: deny what has no identity
        ("ALLOW", source(notPrincipals=["*"])),  # allows plaintext on purpose: no identity is read
        ("DENY", source(notNamespaces=["shop"])),  # plaintext matches it: denied, fails closed
        ("ALLOW", {"to": [{"operation": {"methods": ["GET"]}}]}),  # no identity at all
    ],
    ids=["deny-not-principals-star", "allow-not-principals-star", "deny-not-namespaces", "no-identity"],
)
def test_rules_that_do_not_let_plaintext_through_raise_no_error(action, rule):
    assert [f for f in findings_of(mesh("PERMISSIVE", action, rule)) if f.startswith("error")] == []


@pytest.mark.parametrize(
    "when",
    [
        {"key": "connection.sni", "notValues": ["outbound_.8000_._.httpbin.default.svc.cluster.local"]},
        {"key": "source.namespace", "notValues": ["foo"]},
        {"key": "source.serviceAccount", "notValues": ["foo/bar"]},
    ],
    ids=["connection.sni", "source.namespace", "source.serviceAccount"],
)
def test_every_mtls_only_condition_key_counts(when):
    """Kiali's mTLS check adds `connection.sni` to the concept page's `source.principal` and `source.namespace`;
    the reference has `source.serviceAccount` and `source.trustDomain` from the peer certificate too."""
    findings = findings_of(mesh("PERMISSIVE", "ALLOW", {"when": [when]}))
    assert [f.rsplit("[", 1)[1] for f in findings] == ["mesh.plaintext-bypass]"]
    assert f"when {when['key']} notValues in an ALLOW rule" in findings[0]


def test_a_positive_allow_on_a_permissive_workload_fails_closed_and_says_so_in_a_note():
    """The advisory: a positive match in ALLOW denies plaintext. Not a bypass; a note says who it shuts out."""
    assert findings_of(mesh("PERMISSIVE", "ALLOW", source(principals=["cluster.local/ns/shop/sa/checkout"]))) == [
        "note gke-mtls:mesh.authorization[0]: plaintext is accepted where it applies (default/{app: httpbin} is "
        "PERMISSIVE), but such requests carry no identity, so principals never match them: this policy denies them "
        "unless another rule allows them (it fails closed; no bypass). If something without a sidecar calls there, "
        "declare it in gke-mtls:mesh.callers to have it checked. [mesh.plaintext-denied]"
    ]


def test_a_rule_limited_to_strict_ports_ignores_a_permissive_port():
    workload = {**HTTPBIN, "ports": {"9090": "PERMISSIVE"}}
    rule = {**source(namespaces=["foo"]), "to": [{"operation": {"ports": ["8000"]}}]}
    raw = {"workloads": [workload], "authorization": [{"name": "p", **HTTPBIN, "action": "DENY", "rules": [rule]}]}
    assert findings_of(raw) == []
    rule["to"][0]["operation"]["ports"] = ["8000", "9090"]
    (finding,) = findings_of(raw)
    assert "(default/{app: httpbin}:9090 is PERMISSIVE)" in finding


def test_a_root_namespace_policy_sees_every_permissive_namespace():
    """A policy in the root namespace applies in every namespace (reference section 3.1)."""
    raw = {
        "namespaces": {"legacy": "PERMISSIVE"},
        "authorization": [
            {"name": "p", "namespace": "istio-system", "action": "ALLOW", "rules": [source(notNamespaces=["evil"])]}
        ],
    }
    (finding,) = findings_of(raw)
    assert "(namespace legacy is PERMISSIVE)" in finding


def test_a_dry_run_policy_is_never_enforced_so_it_lets_nothing_through():
    """Istio's dry-run annotation: the policy is evaluated and logged, not enforced."""
    from components.mesh.analysis.engine import analyze
    from components.mesh.interchange.istio_objects import IstioObject, Origin

    objects = [
        IstioObject(
            "PeerAuthentication", "istio-system", "default", {"mtls": {"mode": "PERMISSIVE"}}, Origin("a", False)
        ),
        IstioObject(
            "AuthorizationPolicy",
            "default",
            "observe",
            {"action": "DENY", "rules": [source(namespaces=["foo"])]},
            Origin("b", False),
            {"istio.io/dry-run": "true"},
        ),
    ]
    assert analyze(objects, [], "istio-system") == []


def test_the_advisorys_fix_for_allow_requiring_an_identity_in_the_same_source_is_quiet():
    """ISTIO-SECURITY-2021-004's mitigation: add `namespaces: ["*"]` to the source, so plaintext matches nothing."""
    rule = source(notNamespaces=["foo"], namespaces=["*"])
    assert [f for f in findings_of(mesh("PERMISSIVE", "ALLOW", rule)) if f.startswith("error")] == []
    another_entry = {
        "from": [{"source": {"notNamespaces": ["foo"], "namespaces": ["*"]}}, {"source": {"notNamespaces": ["bar"]}}]
    }
    (finding,) = [f for f in findings_of(mesh("PERMISSIVE", "ALLOW", another_entry)) if f.startswith("error")]
    assert finding.startswith("error gke-mtls:mesh.authorization[0].rules[0]: notNamespaces in an ALLOW rule")


def test_a_deny_by_not_namespaces_on_a_permissive_workload_says_that_plaintext_matches_it():
    """The concept page's "Dependency on mutual TLS": plaintext compares as empty, so a `not*` identity value DOES
    match it; in a DENY rule that denies plaintext (fails closed), never "never matches"."""
    assert findings_of(mesh("PERMISSIVE", "DENY", source(notNamespaces=["shop"]))) == [
        "note gke-mtls:mesh.authorization[0]: plaintext is accepted where it applies (default/{app: httpbin} is "
        "PERMISSIVE), but such requests carry no identity, so notNamespaces match every one of them: this policy "
        "denies them (it fails closed; no bypass). If something without a sidecar calls there, declare it in "
        "gke-mtls:mesh.callers to have it checked. [mesh.plaintext-denied]"
    ]


@pytest.mark.parametrize(
    "action, rule, effect",
    [
        (
            "ALLOW",
            source(notNamespaces=["foo"]),
            "notNamespaces match every one of them: this rule lets them all through, whoever sends them",
        ),
        (
            "DENY",
            source(namespaces=["foo"]),
            "namespaces never match one: this rule refuses none of them, from whichever sources it names",
        ),
        (
            "DENY",
            source(notPrincipals=["cluster.local/ns/foo/sa/bar"]),
            "notPrincipals match every one of them: "
            "this rule refuses every request there that its other conditions match, whoever sends it",
        ),
    ],
    ids=["allow-not-namespaces", "deny-namespaces", "deny-not-principals"],
)
def test_on_a_disable_workload_every_identity_rule_is_an_error_without_the_advisorys_half_fixes(action, rule, effect):
    """At a DISABLE workload every request is plaintext, a sidecar's too (auto mTLS reads the port's mode,
    pilot/pkg/xds/endpoints/mtls_checker.go): identity fields there are always or never true (Kiali's KIA0105), and
    neither "make it STRICT" nor `notPrincipals: ["*"]` is advice that fits."""
    assert findings_of(mesh("DISABLE", action, rule)) == [
        "error gke-mtls:mesh.authorization[0].rules[0]: every request arrives as plaintext, without an identity, where "
        f"this rule applies (default/{{app: httpbin}} is DISABLE), so {effect} (Kiali's KIA0105). Let Istio mTLS "
        "reach those ports (PERMISSIVE or STRICT, and no DestinationRule that turns TLS off), or match those callers "
        "by what plaintext carries (`ipBlocks`, headers). [mesh.identity-unavailable]"
    ]


def test_an_allow_rule_by_ip_block_keeps_a_disable_port_open_beside_a_rule_by_principal():
    """The policy is judged as a whole: on the DISABLE port another rule, by `ipBlocks`, can match plaintext."""
    workload = {**HTTPBIN, "mode": "STRICT", "ports": {"9090": "DISABLE"}}
    rules = [
        source(principals=["cluster.local/ns/shop/sa/checkout"]),
        {**source(ipBlocks=["10.8.0.0/14"]), "to": [{"operation": {"ports": ["9090"]}}]},
    ]
    raw = {"workloads": [workload], "authorization": [{"name": "p", **HTTPBIN, "rules": rules}]}
    assert findings_of(raw) == []
    rules.pop()
    assert [f.rsplit(" [", 1)[1] for f in findings_of(raw)] == ["mesh.identity-unavailable]"]
