"""Would the load balancer accept this client? GCP's rules on the leaf and the chain, with real certificates."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from components.edge.client_check import TrustConfig, check_client
from components.edge.pem import load_pem_file
from tests import pki

NOW = pki.NOW


def as_loaded(*issued: pki.Issued) -> tuple:
    return tuple(load_pem_file(i.pem, f"{i.certificate.subject.rfc4514_string()}.pem", "k")[0][0] for i in issued)


@pytest.fixture(scope="module")
def pki_set():
    root = pki.issue("root", key_kind="rsa2048")
    intermediate = pki.issue("issuing-ca", root, key_seed=1)
    return root, intermediate


def subject(cn: str) -> str:
    return f"CN={cn},O=gke-mtls tests"


def test_accepts_a_chain_the_client_presents_in_full(pki_set):
    root, intermediate = pki_set
    alice = pki.client("alice", intermediate)
    assert check_client(alice.certificate, [intermediate.certificate], TrustConfig(as_loaded(root)), NOW) == []


def test_accepts_a_bare_leaf_when_the_trust_config_holds_the_intermediate(pki_set):
    root, intermediate = pki_set
    alice = pki.client("alice", intermediate)
    assert check_client(alice.certificate, [], TrustConfig(as_loaded(root), as_loaded(intermediate)), NOW) == []


def test_rejects_leaf_without_client_auth_eku(pki_set):
    root, intermediate = pki_set
    server = pki.client("server", intermediate, eku=(ExtendedKeyUsageOID.SERVER_AUTH,))
    assert check_client(server.certificate, [intermediate.certificate], TrustConfig(as_loaded(root)), NOW) == [
        f"client_cert_chain_invalid_eku: {subject('server')}: has no extendedKeyUsage clientAuth; re-issue it with "
        "extendedKeyUsage = clientAuth."
    ]


def test_rejects_chain_whose_issuer_has_no_eku(pki_set):
    root, _ = pki_set
    plain_ca = pki.issue("plain-ca", root, key_seed=2, eku=None)
    bob = pki.client("bob", plain_ca)
    assert check_client(bob.certificate, [plain_ca.certificate], TrustConfig(as_loaded(root)), NOW) == [
        f"client_cert_chain_invalid_eku: {subject('plain-ca')}: issued the client certificate but has no "
        "extendedKeyUsage clientAuth; re-issue this CA with extendedKeyUsage = clientAuth."
    ]


def test_rejects_a_leaf_that_is_a_ca(pki_set):
    root, intermediate = pki_set
    carol = pki.client("carol", intermediate, ca=True, key_usage="ca")
    assert check_client(carol.certificate, [intermediate.certificate], TrustConfig(as_loaded(root)), NOW) == [
        f"client_cert_validation_failed: {subject('carol')}: is a CA certificate (basicConstraints CA:TRUE); a client "
        "certificate must not be a CA."
    ]


def test_rejects_an_expired_leaf(pki_set):
    root, intermediate = pki_set
    old = pki.client("old", intermediate, not_before=NOW - 30 * pki.DAY, not_after=NOW - pki.DAY)
    assert check_client(old.certificate, [intermediate.certificate], TrustConfig(as_loaded(root)), NOW) == [
        f"client_cert_validation_failed: {subject('old')}: expired on {(NOW - pki.DAY):%Y-%m-%d}; replace it with a "
        "renewed certificate."
    ]


def test_rejects_a_chain_from_an_unknown_issuer(pki_set):
    root, _ = pki_set
    other_root = pki.issue("other-root", key_seed=5)
    other_ca = pki.issue("other-ca", other_root, key_seed=6)
    eve = pki.client("eve", other_ca)
    reasons = check_client(eve.certificate, [other_ca.certificate], TrustConfig(as_loaded(root)), NOW)
    assert reasons == [
        f"client_cert_validation_failed: {subject('eve')}: no valid path to a trust anchor: its issuer "
        f"{subject('other-ca')} is not a trust anchor, and no intermediate the client presented or the trust config "
        "holds leads to one. If an intermediate CA is missing, pass it with --intermediates (or after the leaf), or "
        "add it to intermediateCas; otherwise this client is not one of yours."
    ]


def test_a_missing_intermediate_says_to_pass_it(pki_set):
    """cryptography's own words ("candidates exhausted") are replaced by what to do."""
    root, issuing = pki_set
    alice = pki.client("alice", issuing)
    (reason,) = check_client(alice.certificate, [], TrustConfig(as_loaded(root)), NOW)
    assert "candidates exhausted" not in reason
    assert f"its issuer {subject('issuing-ca')} is not a trust anchor" in reason
    assert "pass it with --intermediates" in reason


def test_a_v1_certificate_is_named_in_gcp_terms(tmp_path, pki_set):
    """`openssl x509 -req` without -extfile makes a v1 certificate, which cryptography's verifier refuses with
    its own words; the reason says what GCP needs instead."""
    import subprocess

    root, issuing = pki_set
    (tmp_path / "ca.pem").write_bytes(issuing.pem)
    (tmp_path / "ca.key").write_bytes(issuing.key_pem)
    subprocess.run(
        [
            "openssl",
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            str(tmp_path / "v1.key"),
            "-out",
            str(tmp_path / "v1.csr"),
            "-subj",
            "/CN=v1-client",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            "openssl",
            "x509",
            "-req",
            "-in",
            str(tmp_path / "v1.csr"),
            "-CA",
            str(tmp_path / "ca.pem"),
            "-CAkey",
            str(tmp_path / "ca.key"),
            "-CAcreateserial",
            "-days",
            "30",
            "-sha256",
            "-out",
            str(tmp_path / "v1.pem"),
        ],
        check=True,
        capture_output=True,
    )
    v1 = x509.load_pem_x509_certificate((tmp_path / "v1.pem").read_bytes())
    if v1.version is not x509.Version.v1:
        pytest.skip("this openssl makes v3 certificates from `x509 -req` by default")
    reasons = check_client(v1, [issuing.certificate], TrustConfig(as_loaded(root)), NOW)
    assert (
        "client_cert_validation_failed: CN=v1-client: is an X.509 v1 certificate (what `openssl x509 -req` makes "
        "without -extfile), so it carries no extensions; GCP needs v3, with basicConstraints and extendedKeyUsage. "
        "Re-issue it with an extensions file."
    ) in reasons
    assert not any("encountered processing" in r for r in reasons)


@pytest.mark.parametrize(
    "options, status, text",
    [
        ({"key_kind": "rsa1024"}, "client_cert_invalid_rsa_key_size", "has an RSA 1024-bit key"),
        ({"key_kind": "ec521"}, "client_cert_unsupported_elliptic_curve_key", "has an ECDSA key on secp521r1"),
        ({"key_kind": "ed25519"}, "client_cert_unsupported_key_algorithm", "has a Ed25519 key"),
    ],
    ids=["rsa-1024", "p-521", "ed25519"],
)
def test_rejects_leaf_keys_gcp_does_not_accept(pki_set, options, status, text):
    root, intermediate = pki_set
    leaf = pki.client("odd-key", intermediate, **options)
    reasons = check_client(leaf.certificate, [intermediate.certificate], TrustConfig(as_loaded(root)), NOW)
    assert reasons[0].startswith(f"{status}: {subject('odd-key')}: {text}")


def test_rejects_leaf_signed_with_sha1(pki_set, tmp_path):
    root, intermediate = pki_set
    weak = pki.resign(pki.client("weak", None), intermediate, "sha1", tmp_path)
    reasons = check_client(weak.certificate, [intermediate.certificate], TrustConfig(as_loaded(root)), NOW)
    assert reasons[0] == (
        f"client_cert_validation_failed: {subject('weak')}: is signed with SHA1; GCP needs SHA-256 or stronger (MD5 "
        "and SHA-1 fail validation). Have its issuer re-sign it with SHA-256."
    )


def test_accepts_an_allowlisted_self_signed_expired_certificate(pki_set):
    root, _ = pki_set
    legacy = pki.client("legacy", None, not_before=NOW - 30 * pki.DAY, not_after=NOW - pki.DAY)
    trust = TrustConfig(as_loaded(root), (), as_loaded(legacy))
    assert check_client(legacy.certificate, [], trust, NOW) == []
    assert check_client(legacy.certificate, [], TrustConfig(as_loaded(root)), NOW) != []


def test_rejects_when_more_than_10_intermediates_share_subject_and_key(pki_set):
    root, intermediate = pki_set
    alice = pki.client("alice", intermediate)
    copies = [pki.issue("issuing-ca", root, key_seed=1) for _ in range(11)]
    reasons = check_client(alice.certificate, [c.certificate for c in copies], TrustConfig(as_loaded(root)), NOW)
    assert reasons == [
        f"client_cert_pki_too_large: {subject('alice')}: more than 10 intermediates share one subject and key."
    ]


def test_without_anchors_only_allowlisted_clients_pass(pki_set):
    _, intermediate = pki_set
    alice = pki.client("alice", intermediate)
    assert check_client(alice.certificate, [intermediate.certificate], TrustConfig(()), NOW) == [
        f"client_cert_validation_failed: {subject('alice')}: is not allowlisted and the trust config has no trust "
        "anchor to validate it against."
    ]
