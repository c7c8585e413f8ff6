"""GCP's frontend mTLS certificate rules, each held against real certificates: the bad side and the good."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID

from components.core.findings import Severity
from components.edge import certificates
from components.edge.certificates import ANCHOR, INTERMEDIATE, check_trust_config
from components.edge.pem import LoadedCertificate, load_one, load_pem_file
from tests import pki

NOW = pki.NOW
SUBJECT = "CN={cn},O=gke-mtls tests"


def loaded(issued: pki.Issued, source: str = "ca.pem", key: str = "gke-mtls:edge.trustAnchors[0]") -> LoadedCertificate:
    (one,), findings = load_pem_file(issued.pem, source, key)
    assert findings == []
    return one


def findings_for(role: str, issued: pki.Issued, warning_days: int = 30) -> list[str]:
    return [
        f"{v.severity.value} {v.code}: {v.text}"
        for v in certificates.role_violations(issued.certificate, role, NOW, warning_days)
    ]


def codes(role: str, issued: pki.Issued) -> list[str]:
    return [v.code for v in certificates.role_violations(issued.certificate, role, NOW, 30)]


@pytest.fixture(scope="module")
def root() -> pki.Issued:
    return pki.issue("root", key_kind="rsa2048")


# --- keys ---


@pytest.mark.parametrize("bits", [1024, 8192])
def test_rejects_rsa_trust_anchor_outside_2048_to_4096_bits(bits):
    public_key = pki.key("rsa1024").public_key() if bits == 1024 else pki.rsa_public_key_of_size(bits)
    anchor = pki.issue("odd-rsa", public_key=public_key)
    assert findings_for(ANCHOR, anchor) == [
        f"error cert.rsa-key-size: has an RSA {bits}-bit key; GCP accepts RSA keys of 2048 to 4096 bits. Re-issue it "
        "with a 2048, 3072 or 4096-bit key."
    ]


@pytest.mark.parametrize("bits", [2048, 3072, 4096])
def test_accepts_rsa_keys_from_2048_to_4096_bits(bits):
    anchor = pki.issue(
        "rsa",
        public_key=pki.rsa_public_key_of_size(bits) if bits != 2048 else None,
        key_kind="rsa2048" if bits == 2048 else "ec256",
    )
    assert codes(ANCHOR, anchor) == []


def test_rejects_ecdsa_on_p521():
    anchor = pki.issue("p521", key_kind="ec521")
    assert findings_for(ANCHOR, anchor) == [
        "error cert.ec-curve: has an ECDSA key on secp521r1; GCP accepts only P-256 and P-384. Re-issue it on P-256 "
        "or P-384."
    ]


@pytest.mark.parametrize("kind", ["ec256", "ec384"])
def test_accepts_ecdsa_on_p256_and_p384(kind):
    assert codes(ANCHOR, pki.issue(kind, key_kind=kind)) == []


@pytest.mark.parametrize("kind, shown", [("ed25519", "Ed25519"), ("dsa", "DSA")])
def test_rejects_keys_that_are_neither_rsa_nor_ecdsa(root, kind, shown):
    # Signed by an RSA root so only the subject key is at fault.
    intermediate = pki.issue(kind, root, key_kind=kind)
    assert findings_for(INTERMEDIATE, intermediate) == [
        f"error cert.key-algorithm: has a {shown} key; GCP accepts only RSA and ECDSA keys. Re-issue "
        "it with RSA or ECDSA."
    ]


# --- signatures ---


@pytest.mark.parametrize("digest", ["sha1", "md5"])
def test_rejects_intermediate_signed_with_a_weak_hash(root, tmp_path, digest):
    intermediate = pki.resign(pki.issue("weak", key_seed=4), root, digest, tmp_path)
    assert intermediate.certificate.signature_hash_algorithm.name == digest
    assert findings_for(INTERMEDIATE, intermediate) == [
        f"error cert.signature-hash: is signed with {digest.upper()}; GCP needs SHA-256 or stronger "
        "(MD5 and SHA-1 fail validation). Have its issuer re-sign it with SHA-256."
    ]


def test_a_trust_anchor_signed_with_sha1_is_refused_too(tmp_path):
    """Google's certificate requirements ask for SHA-256 or stronger and do not exempt trust anchors, although a
    verifier never checks an anchor's own signature."""
    anchor = pki.resign(pki.issue("old-root", key_kind="rsa2048"), None, "sha1", tmp_path)
    assert [(v.severity, v.code) for v in certificates.role_violations(anchor.certificate, ANCHOR, NOW, 30)] == [
        (Severity.ERROR, "cert.signature-hash")
    ]


@pytest.mark.parametrize("algorithm", [hashes.SHA256(), hashes.SHA384(), hashes.SHA512()])
def test_accepts_sha2_signatures(root, algorithm):
    assert codes(INTERMEDIATE, pki.issue("sha2", root, hash_algorithm=algorithm)) == []


# --- CA shape ---


def test_rejects_trust_anchor_that_is_not_a_ca():
    leafish = pki.issue("leafish", ca=False, key_usage="leaf")
    assert codes(ANCHOR, leafish) == ["cert.not-ca", "cert.key-usage"]
    assert findings_for(ANCHOR, leafish)[0] == (
        "error cert.not-ca: is not a CA (basicConstraints CA:TRUE is missing); GCP only accepts CA certificates here. "
        "Use the CA's own certificate, not a leaf."
    )


def test_rejects_ca_without_basic_constraints():
    assert codes(ANCHOR, pki.issue("no-bc", ca=None)) == ["cert.not-ca"]


def test_rejects_ca_without_key_cert_sign():
    assert findings_for(ANCHOR, pki.issue("crl-only", key_usage="crl-only")) == [
        "error cert.key-usage: lacks keyUsage keyCertSign, so it cannot vouch for certificates it issued; re-issue it "
        "with keyUsage = critical, keyCertSign."
    ]
    assert codes(ANCHOR, pki.issue("no-ku", key_usage=None)) == ["cert.key-usage"]


def test_rejects_ca_whose_eku_lacks_client_auth(root):
    server_only = pki.issue("server-ca", root, eku=(ExtendedKeyUsageOID.SERVER_AUTH,))
    assert findings_for(INTERMEDIATE, server_only) == [
        "error cert.eku: has an extendedKeyUsage without clientAuth, which restricts every certificate below it: "
        "clients fail with client_cert_chain_invalid_eku. Re-issue it with extendedKeyUsage = clientAuth."
    ]


def test_warns_for_ca_without_any_eku(root):
    assert findings_for(INTERMEDIATE, pki.issue("no-eku", root, eku=None)) == [
        "warning cert.eku-missing: has no extendedKeyUsage. GCP requires clientAuth in the EKU of the CA that issues "
        "client certificates (client_cert_chain_invalid_eku); if this CA issues them, re-issue it with "
        "extendedKeyUsage = clientAuth."
    ]


def test_accepts_ca_whose_eku_has_client_auth_among_others(root):
    both = pki.issue("both", root, eku=(ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH))
    assert codes(INTERMEDIATE, both) == []


def test_rejects_more_than_10_name_constraints_and_accepts_10(root):
    assert findings_for(INTERMEDIATE, pki.issue("nc11", root, name_constraints=11)) == [
        "error cert.name-constraints: has 11 name constraints; GCP allows at most 10. Re-issue it with fewer."
    ]
    assert codes(INTERMEDIATE, pki.issue("nc10", root, name_constraints=10)) == []


# --- validity ---


def test_rejects_expired_ca():
    expired = pki.issue("expired", not_before=NOW - 400 * pki.DAY, not_after=NOW - 2 * pki.DAY)
    day = (NOW - 2 * pki.DAY).strftime("%Y-%m-%d")
    assert findings_for(ANCHOR, expired) == [
        f"error cert.expired: expired on {day}; replace it with a renewed certificate."
    ]


def test_rejects_ca_not_yet_valid():
    future = pki.issue("future", not_before=NOW + 2 * pki.DAY, not_after=NOW + 400 * pki.DAY)
    assert codes(ANCHOR, future) == ["cert.not-yet-valid"]


def test_warns_when_a_ca_expires_within_the_warning_window():
    soon = pki.issue("soon", not_after=NOW + dt.timedelta(days=10, hours=1))
    assert findings_for(ANCHOR, soon) == [
        f"warning cert.expiring: expires on {(NOW + dt.timedelta(days=10, hours=1)):%Y-%m-%d}, in 10 day(s); renew it "
        "and add the new one before this one expires."
    ]
    assert codes(ANCHOR, soon) == ["cert.expiring"]
    assert findings_for(ANCHOR, soon, warning_days=7) == []


# --- allowlisted ---


def test_allowlisted_certificates_may_be_self_signed_expired_and_weak():
    odd = pki.issue(
        "legacy-client",
        ca=False,
        key_usage="leaf",
        key_kind="rsa1024",
        eku=None,
        not_before=NOW - 400 * pki.DAY,
        not_after=NOW - pki.DAY,
    )
    violations = certificates.role_violations(odd.certificate, certificates.ALLOWLISTED, NOW, 30)
    # Only its dates are said, as a warning: Google accepts an allowlisted certificate expired or not.
    assert [(v.code, v.severity.value) for v in violations] == [("cert.expired", "warning")]


def test_an_allowlisted_certificate_expiring_soon_is_warned_about():
    soon = pki.issue("legacy-client", ca=False, key_usage="leaf", not_after=NOW + 10 * pki.DAY)
    violations = certificates.role_violations(soon.certificate, certificates.ALLOWLISTED, NOW, 30)
    assert [(v.code, v.severity.value) for v in violations] == [("cert.expiring", "warning")]


# --- the whole trust config ---


def test_intermediate_that_chains_to_no_anchor_is_an_error(root):
    stranger_root = pki.issue("stranger-root", key_seed=5)
    orphan = pki.issue("orphan", stranger_root, key_seed=6)
    findings = check_trust_config(
        [loaded(root)], [loaded(orphan, "orphan.pem", "gke-mtls:edge.intermediateCas[0]")], [], NOW
    )
    assert [str(f) for f in findings] == [
        f"gke-mtls:edge.intermediateCas[0]: orphan.pem ({SUBJECT.format(cn='orphan')}): does not chain to any "
        f"configured trust anchor (its issuer is {SUBJECT.format(cn='stranger-root')}); add that issuer's certificate "
        "to trustAnchors (or intermediateCas), or remove this one. [cert.no-chain]"
    ]


def test_intermediate_with_the_anchors_name_but_another_key_does_not_chain(root):
    impostor_root = pki.issue("root", key_seed=9)  # same subject as `root`, different key
    orphan = pki.issue("signed-by-impostor", impostor_root, key_seed=6)
    findings = check_trust_config([loaded(root)], [loaded(orphan)], [], NOW)
    assert [f.code for f in findings] == ["cert.no-chain"]


def test_intermediates_may_chain_through_each_other(root):
    upper = pki.issue("upper", root, key_seed=1)
    lower = pki.issue("lower", upper, key_seed=2)
    assert check_trust_config([loaded(root)], [loaded(lower), loaded(upper)], [], NOW) == []


def test_duplicate_certificates_are_reported(root):
    findings = check_trust_config(
        [
            loaded(root, "a.pem", "gke-mtls:edge.trustAnchors[0]"),
            loaded(root, "b.pem", "gke-mtls:edge.trustAnchors[1]"),
        ],
        [],
        [],
        NOW,
    )
    assert [(f.severity, str(f)) for f in findings] == [
        (
            Severity.WARNING,
            f"gke-mtls:edge.trustAnchors[1]: b.pem ({SUBJECT.format(cn='root')}): is the same "
            "certificate as gke-mtls:edge.trustAnchors[0] (a.pem); list it once. [cert.duplicate]",
        )
    ]


def test_more_than_10_intermediates_sharing_subject_and_key_are_too_large_a_pki(root):
    eleven = [
        loaded(pki.issue("rotated", root, key_seed=1), f"i{i}.pem", f"gke-mtls:edge.intermediateCas[{i}]")
        for i in range(11)
    ]
    findings = check_trust_config([loaded(root)], eleven, [], NOW)
    assert {f.code for f in findings} == {"cert.pki-too-large"}
    assert len(findings) == 11
    assert check_trust_config([loaded(root)], eleven[:10], [], NOW) == []


def test_more_than_100_intermediates_exceed_the_published_quota(root):
    many = [loaded(pki.issue(f"i{i}", root, key_seed=1)) for i in range(101)]
    findings = check_trust_config([loaded(root)], many, [], NOW)
    assert [str(f) for f in findings] == [
        "gke-mtls:edge.intermediateCas: intermediateCas hold 101 intermediate CAs; GCP's published quota for one trust "
        "config is 100. Split the clients across stacks, or drop certificates that are no longer used. "
        "[cert.trust-config-limit]"
    ]


def test_the_committed_example_certificates_pass():
    from tests.conftest import PROJECT_ROOT

    for stack in ("dev", "prod"):
        anchor, _ = load_one((PROJECT_ROOT / f"certs/{stack}/root-ca.pem").read_bytes(), "root", "k")
        intermediate, _ = load_one((PROJECT_ROOT / f"certs/{stack}/intermediate-ca.pem").read_bytes(), "inter", "k")
        assert anchor is not None and intermediate is not None
        assert check_trust_config([anchor], [intermediate], [], NOW) == []


def test_an_intermediate_whose_authority_key_id_does_not_match_its_issuer_warns():
    """Google's backend mTLS page: a parent's subjectKeyIdentifier must match its child's authorityKeyIdentifier."""
    from cryptography import x509

    root = pki.issue("kid-root", key_seed=8)
    stranger = pki.issue("kid-stranger", key_seed=9)
    builder = (
        x509.CertificateBuilder()
        .subject_name(pki.name("kid-ca"))
        .issuer_name(root.certificate.subject)
        .public_key(pki.key("ec256", 10).public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - pki.DAY)
        .not_valid_after(NOW + 365 * pki.DAY)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(pki.key("ec256", 10).public_key()), critical=False)
        .add_extension(  # names another key than the one that signs it
            x509.AuthorityKeyIdentifier.from_issuer_public_key(stranger.certificate.public_key()), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    )
    mismatched = pki.Issued(builder.sign(root.private_key, hashes.SHA256()), pki.key("ec256", 10))
    findings = certificates.check_trust_config(
        [loaded(root)], [loaded(mismatched, "kid-ca.pem", "gke-mtls:edge.intermediateCas[0]")], [], NOW
    )
    assert [f.code for f in findings] == ["cert.key-id-mismatch"]
    assert "does not match the subjectKeyIdentifier of its issuer CN=kid-root,O=gke-mtls tests" in findings[0].message
