"""`rotation`, `expiry` and `cert --role mesh-ca`: the rotations of both layers, seen from the command line before
each `pulumi up` (edge) or `kubectl apply` of cacerts (mesh)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml

from mtls.__main__ import main
from tests import pki
from tests.conftest import committed_config


@pytest.fixture
def cas(tmp_path) -> pki.RotatingCas:
    return pki.RotatingCas(tmp_path)


def write_stack(cas: pki.RotatingCas, phase: str | None, new_intermediates: tuple[str, ...] = ("new-ca.pem",)) -> None:
    config: dict[str, Any] = copy.deepcopy(committed_config("edge-dev"))
    edge = config["gke-mtls:edge"]
    edge.update(trustAnchors=["old-root.pem"], intermediateCas=["old-ca.pem"])
    if phase is not None:
        edge["trustRotation"] = {
            "phase": phase,
            "trustAnchors": ["new-root.pem"],
            "intermediateCas": list(new_intermediates),
            "clients": ["clients"],
        }
    (cas.directory / "Pulumi.edge.yaml").write_text(yaml.safe_dump({"config": config}))


def run(capsys, cas: pki.RotatingCas, *args: str) -> tuple[int, list[str], str]:
    status = main(["--project-root", str(cas.directory), *args])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def test_rotation_shows_each_phase_ahead_and_fails_while_a_client_would_be_locked_out(cas, capsys):
    write_stack(cas, "add")
    clients = str(cas.directory / "clients")
    status, out, err = run(capsys, cas, "rotation", "--stack", "edge", clients)
    billing = f"{clients}/billing.pem (CN=billing,O=gke-mtls tests)"
    checkout = f"{clients}/checkout.pem (CN=checkout,O=gke-mtls tests)"
    assert (status, err) == (1, "")
    assert out[:4] == [
        "phase add (this stack file): all 2 client(s) get in",
        f"  accepted: {billing}",
        f"  accepted: {checkout}",
        "phase remove (the next pulumi up): locks out 1 of 2 client(s)",
    ]
    assert out[4].startswith(f"  refused: {billing}: client_cert_validation_failed: CN=billing,O=gke-mtls tests: no ")
    assert out[5:] == [f"  accepted: {checkout}"]
    cas.reissue_billing()
    status, out, _ = run(capsys, cas, "rotation", "--stack", "edge", clients)
    assert status == 0
    assert out[3] == "phase remove (the next pulumi up): all 2 client(s) get in"


def test_rotation_without_a_rotation_holds_clients_to_the_trust_config_deployed(cas, capsys):
    write_stack(cas, None)
    status, out, _ = run(capsys, cas, "rotation", "--stack", "edge", str(cas.directory / "clients" / "checkout.pem"))
    assert status == 1
    assert out[0] == "no rotation (this stack file): locks out 1 of 1 client(s)"
    assert "no valid path to a trust anchor" in out[1]


def test_rotation_takes_an_intermediate_the_clients_present(cas, capsys):
    """The new CA's intermediate left out of the trust config, so the clients must present it."""
    cas.reissue_billing()
    write_stack(cas, "remove", new_intermediates=())
    leaf = cas.write("lone.pem", pki.client("lone", cas.new_ca, key_seed=28))
    status, out, _ = run(capsys, cas, "rotation", "--stack", "edge", leaf)
    assert (status, out[0]) == (1, "phase remove (this stack file): locks out 1 of 1 client(s)")
    status, out, _ = run(
        capsys, cas, "rotation", "--stack", "edge", "--intermediates", str(cas.directory / "new-ca.pem"), leaf
    )
    assert (status, out) == (
        0,
        ["phase remove (this stack file): all 1 client(s) get in", f"  accepted: {leaf} (CN=lone,O=gke-mtls tests)"],
    )


def test_rotation_as_json_names_the_phase_of_each_verdict(cas, capsys):
    write_stack(cas, "add")
    status, out, _ = run(capsys, cas, "rotation", "--stack", "edge", "--json", str(cas.directory / "clients"))
    document = json.loads("\n".join(out))
    assert status == 1
    assert [(f["severity"], f["code"], f["key"]) for f in document["findings"]] == [
        ("note", "rotation.accepted", "phase add (this stack file)"),
        ("note", "rotation.accepted", "phase add (this stack file)"),
        ("error", "rotation.locked-out", "phase remove (the next pulumi up)"),
        ("note", "rotation.accepted", "phase remove (the next pulumi up)"),
    ]
    assert (document["errors"], document["notes"]) == (1, 3)


def test_rotation_of_a_stack_without_an_edge_says_so(cas, capsys):
    config = copy.deepcopy(committed_config("platform-dev"))
    (cas.directory / "Pulumi.platform.yaml").write_text(yaml.safe_dump({"config": config}))
    status, out, err = run(capsys, cas, "rotation", "--stack", "platform", str(cas.directory / "clients"))
    assert (status, out) == (2, [])
    assert err == "error: stack 'platform' has no gke-mtls:edge, so it holds no certificates.\n"


def test_rotation_of_a_client_file_that_is_not_pem_names_it(cas, capsys):
    write_stack(cas, "add")
    (cas.directory / "notes.pem").write_text("not a certificate\n")
    status, out, err = run(capsys, cas, "rotation", "--stack", "edge", str(cas.directory / "notes.pem"))
    assert (status, out) == (2, [])
    assert err.startswith(f"error: {cas.directory}/notes.pem: ")


def test_expiry_lists_every_certificate_of_the_rotation_soonest_first(cas, capsys):
    write_stack(cas, "add")
    status, out, _ = run(capsys, cas, "expiry", "--stack", "edge")
    assert status == 0
    assert [line.split(": ", 2)[1] for line in out[:-1]] == [
        "gke-mtls:edge.intermediateCas[0]",
        "gke-mtls:edge.trustAnchors[0]",
        "gke-mtls:edge.trustRotation.intermediateCas[0]",
        "gke-mtls:edge.trustRotation.trustAnchors[0]",
    ]
    assert out[0].startswith("note: gke-mtls:edge.intermediateCas[0]: intermediate CA old-ca.pem (CN=old intermediate")
    assert out[0].endswith(" day(s). [expiry.days-left]")
    assert out[-1] == "edge expiry: 0 error(s), 0 warning(s), 4 note(s)"


def test_expiry_warns_of_a_ca_inside_the_warning_window(cas, capsys):
    write_stack(cas, "add")
    cas.write("new-ca.pem", pki.issue("new intermediate", cas.new_root, key_seed=24, not_after=pki.NOW + 10 * pki.DAY))
    status, out, _ = run(capsys, cas, "expiry", "--stack", "edge")
    assert status == 0
    assert out[0].startswith("warning: gke-mtls:edge.trustRotation.intermediateCas[0]: intermediate CA new-ca.pem")
    assert out[0].endswith(", in 9 day(s). [expiry.soon]")


def test_expiry_of_a_stack_holding_an_expired_ca_points_to_check(cas, capsys):
    write_stack(cas, "add")
    cas.write("new-ca.pem", pki.issue("new intermediate", cas.new_root, key_seed=24, not_after=pki.NOW - pki.DAY))
    status, out, err = run(capsys, cas, "expiry", "--stack", "edge")
    assert (status, out) == (2, [])
    assert err.splitlines() == [
        "error: gke-mtls:edge.trustRotation.intermediateCas[0]: new-ca.pem (CN=new intermediate,O=gke-mtls tests): "
        "expired on " + f"{(pki.NOW - pki.DAY):%Y-%m-%d}; replace it with a renewed certificate. [cert.expired]",
        "error: stack 'edge' does not pass preflight; fix it first (python -m mtls check).",
    ]


OLD_ROOT = pki.issue("Root CA", eku=None, key_seed=31)
OLD_CA = pki.issue("Istio CA", OLD_ROOT, eku=None, key_seed=32)
NEW_ROOT = pki.issue("Root CA 2027", eku=None, key_seed=33)
NEW_CA = pki.issue("Intermediate CA", NEW_ROOT, eku=None, key_seed=34)


def test_cert_mesh_ca_checks_a_cacerts_folder_as_istiod_loads_it(tmp_path, capsys):
    folder = pki.istio_cacerts(tmp_path / "cacerts", OLD_CA, OLD_ROOT)
    assert main(["cert", "--role", "mesh-ca", folder]) == 0
    assert capsys.readouterr().out == f"{folder} (mesh CA): ok\n"


def test_cert_mesh_ca_refuses_to_switch_the_signing_ca_before_the_combined_root(tmp_path, capsys):
    deployed = pki.istio_cacerts(tmp_path / "deployed", OLD_CA, OLD_ROOT)
    switched = pki.istio_cacerts(tmp_path / "next", NEW_CA, NEW_ROOT)
    assert main(["cert", "--role", "mesh-ca", switched, "--previous", deployed]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"error: {switched}/root-cert.pem: ")
    assert out[0].endswith("[meshca.root-not-nested]")
    assert out[1].startswith(f"error: {switched}/ca-cert.pem: ")
    assert out[1].endswith("[meshca.root-first]")
    assert out[2] == f"{switched} (mesh CA): 2 error(s), 0 warning(s)"
    step1 = pki.istio_cacerts(tmp_path / "step1", OLD_CA, OLD_ROOT, NEW_ROOT)
    assert main(["cert", "--role", "mesh-ca", step1, "--previous", deployed]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"{step1} (mesh CA): 0 error(s), 0 warning(s), 1 note(s)"


def test_cert_mesh_ca_names_a_folder_that_does_not_exist(tmp_path, capsys):
    assert main(["cert", "--role", "mesh-ca", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr() == (
        "",
        f"error: {tmp_path}/missing: is not a folder; name the cacerts folder (ca-cert.pem, ...). [meshca.folder]\n",
    )


def test_cert_mesh_ca_takes_one_folder(tmp_path, capsys):
    assert main(["cert", "--role", "mesh-ca", str(tmp_path), str(tmp_path)]) == 2
    assert capsys.readouterr() == (
        "",
        "error: --role mesh-ca takes one folder, the cacerts folder (ca-cert.pem, ca-key.pem, ...).\n",
    )
