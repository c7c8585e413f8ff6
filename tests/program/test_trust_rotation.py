"""A rotation of the edge's client CAs, walked end to end on certificates made with `cryptography`: two CAs, clients
of each; each phase's trust config as registered under the mock engine, updated in place; and phase remove refused
while a listed client would be locked out, until that client has a certificate of the new CA."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.stack import preflight
from tests import pki
from tests.conftest import PROJECT_ROOT, committed_config, engine_config

TRUST_CONFIG = "gcp:certificatemanager/trustConfig:TrustConfig"
SERVER_TLS_POLICY = "gcp:networksecurity/serverTlsPolicy:ServerTlsPolicy"


@pytest.fixture
def cas(tmp_path) -> pki.RotatingCas:
    return pki.RotatingCas(tmp_path)


def edge_config(cas: pki.RotatingCas, phase: str | None) -> dict[str, Any]:
    config = copy.deepcopy(committed_config("edge-dev"))
    edge = config["gke-mtls:edge"]
    edge.update(trustAnchors=[str(cas.directory / "old-root.pem")], intermediateCas=[str(cas.directory / "old-ca.pem")])
    if phase is not None:
        edge["trustRotation"] = {
            "phase": phase,
            "trustAnchors": [str(cas.directory / "new-root.pem")],
            "intermediateCas": [str(cas.directory / "new-ca.pem")],
            "clients": [str(cas.directory / "clients")],
        }
    return config


def check(config: dict[str, Any]) -> list[str]:
    return [str(f) for f in preflight.check_stack(engine_config(config), PROJECT_ROOT, "edge-dev")[1]]


def test_a_full_rotation_adds_the_new_ca_then_removes_the_old_one_once_every_client_moved(cas, run_stack):
    # Before: the old CA alone.
    assert check(edge_config(cas, None)) == []
    # Phase add: both CAs; the plan says which phase, and warns of the client phase remove would lock out.
    found = check(edge_config(cas, "add"))
    assert found[0].startswith("gke-mtls:edge.trustRotation.phase: phase 1 of 2 (add): the trust config holds")
    assert found[1].startswith(
        f"gke-mtls:edge.trustRotation.clients: phase remove would lock out 1 client(s): {cas.directory}/clients/"
        "billing.pem (CN=billing,O=gke-mtls tests): client_cert_validation_failed: CN=billing,O=gke-mtls tests: no "
        "valid path to a trust anchor"
    )
    assert len(found) == 2
    # Phase remove is refused while billing still has the old CA's certificate, and nothing registers.
    [refused] = [f for f in check(edge_config(cas, "remove")) if f.endswith("[config.rotation]")]
    assert refused.startswith(
        "gke-mtls:edge.trustRotation.phase: remove would lock out 1 client(s) of trustRotation.clients: "
        f"{cas.directory}/clients/billing.pem (CN=billing,O=gke-mtls tests): client_cert_validation_failed:"
    )
    assert refused.endswith(
        "Re-issue them under the new CA (`python -m mtls rotation` shows each), or stay in phase add. [config.rotation]"
    )
    recording = run_stack(edge_config(cas, "remove"), stack="edge-dev")
    assert [r.type for r in recording.resources if r.type.startswith("gcp:")] == []
    # Once billing has a certificate of the new CA, phase remove goes through.
    cas.reissue_billing()
    found = check(edge_config(cas, "remove"))
    assert [f.rsplit(" [", 1)[1] for f in found] == ["edge.trust-rotation]"]


def test_each_phase_updates_the_one_trust_config_in_place(cas, run_stack):
    """The trust config keeps its URN, its auto-name and its options through the phases, so Pulumi updates it (the
    provider PATCHes it: of TrustConfig's fields only name and location are immutable, magic-modules
    mmv1/products/certificatemanager/TrustConfig.yaml). Were it ever replaced, the new one would be created first
    (no fixed name, no deleteBeforeReplace) and the server TLS policy, which follows its id, moved to it before the
    old one is deleted: the policy never points at nothing."""
    cas.reissue_billing()
    runs = {phase: run_stack(edge_config(cas, phase), stack="edge-dev") for phase in (None, "add", "remove")}
    assert [r.error for r in runs.values()] == [None, None, None]
    trust = {phase: r.one(TRUST_CONFIG) for phase, r in runs.items()}
    assert len({t.urn for t in trust.values()}) == 1
    assert all("name" not in t.inputs and not t.delete_before_replace for t in trust.values())
    assert all(t.options["replaceOnChanges"] == [] for t in trust.values())
    stores = {phase: t.inputs["trustStores"][0] for phase, t in trust.items()}
    old = {"trustAnchors": [cas.pem("old-root.pem")], "intermediateCas": [cas.pem("old-ca.pem")]}
    new = {"trustAnchors": [cas.pem("new-root.pem")], "intermediateCas": [cas.pem("new-ca.pem")]}
    as_pems = {p: {k: [e["pemCertificate"] for e in v] for k, v in s.items()} for p, s in stores.items()}
    assert as_pems[None] == old
    assert as_pems["add"] == {k: old[k] + new[k] for k in old}
    assert as_pems["remove"] == new
    for recording in runs.values():
        policy = recording.one(SERVER_TLS_POLICY)
        assert policy.property_dependencies["mtlsPolicy"] == [recording.one(TRUST_CONFIG).urn]


def test_a_phase_that_would_remove_the_last_anchor_is_refused(cas):
    config = edge_config(cas, "remove")
    config["gke-mtls:edge"]["trustRotation"]["trustAnchors"] = []
    assert (
        "gke-mtls:edge.trustRotation.trustAnchors: phase remove would remove the last trust anchor, and no client "
        "could be validated; list the new CAs. [config.rotation]"
    ) in check(config)


def test_a_new_anchor_that_is_already_trusted_is_refused(cas):
    config = edge_config(cas, "add")
    config["gke-mtls:edge"]["trustRotation"]["trustAnchors"] = [str(cas.directory / "old-root.pem")]
    assert (
        f"gke-mtls:edge.trustRotation.trustAnchors[0]: {cas.directory}/old-root.pem is already a trust anchor "
        "(trustAnchors); a rotation adds another CA. [config.rotation]"
    ) in check(config)


def test_a_client_folder_without_certificates_is_named(cas, tmp_path):
    empty = tmp_path / "nobody"
    empty.mkdir()
    config = edge_config(cas, "remove")
    config["gke-mtls:edge"]["trustRotation"]["clients"] = [str(empty)]
    assert (
        f"gke-mtls:edge.trustRotation.clients[0]: {empty}: holds no .pem or .crt file; name the clients' files. "
        "[rotation.no-clients]"
    ) in check(config)


def test_the_cleanup_after_phase_remove_registers_the_same_trust_config(cas, run_stack):
    """Step 4 of the README's rotation: the new files moved to trustAnchors and intermediateCas, trustRotation
    removed; `pulumi up` then has nothing to change in the trust config or the policy."""
    cas.reissue_billing()
    removed = run_stack(edge_config(cas, "remove"), stack="edge-dev")
    settled = edge_config(cas, None)
    settled["gke-mtls:edge"].update(
        trustAnchors=[str(cas.directory / "new-root.pem")], intermediateCas=[str(cas.directory / "new-ca.pem")]
    )
    after = run_stack(settled, stack="edge-dev")
    assert (removed.error, after.error) == (None, None)
    for kind in (TRUST_CONFIG, SERVER_TLS_POLICY):
        assert (after.one(kind).urn, after.one(kind).inputs) == (removed.one(kind).urn, removed.one(kind).inputs)
