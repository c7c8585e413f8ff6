"""Kiali's KIA0105 scenarios (tests/mesh/analysis/kiali_kia0105/, see its README): an AuthorizationPolicy that reads
peer identities where no request carries one. Kiali marks the case with a DISABLE target whatever auto mTLS does
(`TestAutoAuthzPeerAuthnDisable`, `TestAutoAuthzDestRuleDisable`, `TestAutoAuthzMeshPeerAuthnDisable`,
`TestAutoAuthzMeshDestRuleDisable`, `TestAuthozDisabled`, `TestMTLSDisabledWorkloadLevel`,
`TestMTLSPermissiveDisabledWorkloadLevel` in business/checkers/authorization/mtls_enabled_checker_test.go of
kiali/kiali); each of those is an error here, and the scenarios without one get no KIA0105 error."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mtls.__main__ import main

FIXTURES = Path(__file__).parent / "kiali_kia0105"
# Scenario: (the error it gets, why every request there is plaintext or refused)
DISABLE_TARGETS = {
    "7": ("mesh.identity-unavailable", "bookinfo/{app: productpage} is DISABLE"),  # namespace PeerAuthentication
    "8": ("mesh.identity-unavailable", "but DestinationRule bookinfo/enable-mtls"),  # namespace-wide host DISABLE
    "9": ("mesh.identity-unavailable", "bookinfo/{app: productpage} is DISABLE"),  # mesh PeerAuthentication
    "10": ("mesh.identity-unavailable", "but DestinationRule istio-system/enable-mtls"),  # `*.local` DISABLE
    # STRICT mesh with a DISABLE rule for bookinfo: every meshed call there is refused before any policy.
    "15": ("mesh.disable-meets-strict", "but mTLS in namespace bookinfo is STRICT"),
    "16": ("mesh.identity-unavailable", "but DestinationRule bookinfo/disable-mtls"),
    "17": ("mesh.identity-unavailable", "but DestinationRule bookinfo/disable-mtls"),
    "19": ("mesh.identity-unavailable", "bookinfo/{app: ratings} is DISABLE"),  # DENY by principal: never matches
    "20": ("mesh.identity-unavailable", "bookinfo/{app: ratings} is DISABLE"),
    # ratings PERMISSIVE, with the `ratings` DestinationRule DISABLE: the fixture's Service has no name, so the rule
    # cannot be placed and the DENY by principal is the advisory's bypass; with the Service, the test below.
    "22": ("mesh.plaintext-bypass", "bookinfo/{app: ratings} is PERMISSIVE"),
}
OTHERS = ["1", "2", "3", "4", "5", "6", "11", "12", "13", "14", "18", "21", "23", "71", "101"]


def analyze(path: Path, capsys) -> list[str]:
    main(["analyze", str(path)])
    return capsys.readouterr().out.splitlines()[:-1]


def test_every_scenario_of_kialis_test_is_here():
    assert len(DISABLE_TARGETS) + len(OTHERS) == len(list(FIXTURES.glob("*.yaml"))) == 25


@pytest.mark.parametrize("scenario", list(DISABLE_TARGETS))
def test_a_scenario_with_a_disable_target_is_an_error(scenario, capsys):
    code, why = DISABLE_TARGETS[scenario]
    errors = [line for line in analyze(FIXTURES / f"mtls_enabled_checker_{scenario}.yaml", capsys) if "[mesh." in line]
    assert [line.rsplit(" [", 1)[1] for line in errors if line.startswith("error")] == [f"{code}]"]
    assert why in next(line for line in errors if line.endswith(f"[{code}]"))


@pytest.mark.parametrize("scenario", OTHERS)
def test_a_scenario_without_one_gets_no_kia0105_error(scenario, capsys):
    lines = analyze(FIXTURES / f"mtls_enabled_checker_{scenario}.yaml", capsys)
    assert not [
        line for line in lines if "[mesh.identity-unavailable]" in line or "[mesh.disable-meets-strict]" in line
    ]


def test_the_exact_error_of_an_allow_by_principal_at_a_disable_namespace(capsys):
    path = FIXTURES / "mtls_enabled_checker_7.yaml"
    assert analyze(path, capsys) == [
        f"error: {path}[0]: every request arrives as plaintext, without an identity, where this policy applies "
        "(bookinfo/{app: productpage} is DISABLE), so principals never match one, and no rule of this ALLOW policy "
        "matches one without them: it denies every request there that no other ALLOW policy allows (Kiali's KIA0105). "
        "Let Istio mTLS reach those ports (PERMISSIVE or STRICT, and no DestinationRule that turns TLS off), or match "
        "those callers by what plaintext carries (`ipBlocks`, headers). [mesh.identity-unavailable]"
    ]


def test_with_kialis_ratings_service_the_disable_rule_makes_every_request_plaintext(tmp_path, capsys):
    """Scenario 22 with the Service Kiali's test adds in code (`CreateFakeServicesWithSelector("ratings",
    "bookinfo")`): the DestinationRule `ratings` (ratings.bookinfo.svc.cluster.local) then reaches the workload."""
    documents = [d for d in yaml.safe_load_all((FIXTURES / "mtls_enabled_checker_22.yaml").read_text()) if d]
    service = next(d for d in documents if d["kind"] == "Service")
    service["metadata"].update(name="ratings", namespace="bookinfo")
    path = tmp_path / "scenario-22.yaml"
    path.write_text(yaml.safe_dump_all(documents))
    errors = [line for line in analyze(path, capsys) if line.startswith("error") and "[mesh." in line]
    assert errors == [
        f"error: {path}[8].spec.rules[0]: every request arrives as plaintext, without an identity, where this rule "
        "applies (bookinfo/{app: ratings} is PERMISSIVE, but DestinationRule bookinfo/ratings-mtls "
        f"({path}[5]) sets tls.mode DISABLE), so principals never match one: this rule refuses none of them, from "
        "whichever sources it names (Kiali's KIA0105). Let Istio mTLS reach those ports (PERMISSIVE or STRICT, and no "
        "DestinationRule that turns TLS off), or match those callers by what plaintext carries (`ipBlocks`, headers). "
        "[mesh.identity-unavailable]"
    ]
