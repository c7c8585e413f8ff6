"""The mesh's plugged-in CA bundle (an Istio `cacerts` folder), checked as istiod loads it
(security/pkg/pki/util/keycertbundle.go `Verify`, security/pkg/pki/ca/ca.go `NewPluggedCertIstioCAOptions`), and a
change of it held to the order of Istio's own rotation test (tests/integration/security/cacert_rotation): the
combined root first, then the new signing CA. Bundles are made with `cryptography` the way Istio's samples/certs are
laid out: ca-cert.pem an intermediate CA, cert-chain.pem its chain, root-cert.pem the roots."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography.x509.oid import ExtendedKeyUsageOID

from components.mesh.validation import cacerts
from tests import pki

NOW = dt.datetime.now(dt.UTC)


OLD_ROOT = pki.issue("Root CA", eku=None, key_seed=31)
OLD_CA = pki.issue("Istio CA", OLD_ROOT, eku=None, key_seed=32)
NEW_ROOT = pki.issue("Root CA 2027", eku=None, key_seed=33)
NEW_CA = pki.issue("Intermediate CA", NEW_ROOT, eku=None, key_seed=34)


def test_a_bundle_laid_out_like_istios_samples_loads(tmp_path):
    loaded, findings = cacerts.load(pki.istio_cacerts(tmp_path / "cacerts", OLD_CA, OLD_ROOT), NOW)
    assert findings == []
    assert loaded is not None and loaded.ca_cert == OLD_CA.certificate


def test_a_key_of_another_certificate_is_refused(tmp_path):
    directory = pki.istio_cacerts(tmp_path / "cacerts", OLD_CA, OLD_ROOT, key=NEW_CA)
    loaded, findings = cacerts.load(directory, NOW)
    assert loaded is None
    assert [str(f) for f in findings] == [
        f"{directory}/ca-key.pem: is not the key of ca-cert.pem (CN=Istio CA,O=gke-mtls tests); istiod refuses the "
        'bundle ("the cert does not match the key"). Put the signing CA\'s own key here. [meshca.key-mismatch]'
    ]


def test_a_chain_that_ends_at_no_root_of_the_bundle_is_refused(tmp_path):
    directory = pki.istio_cacerts(tmp_path / "cacerts", OLD_CA, NEW_ROOT)
    loaded, findings = cacerts.load(directory, NOW)
    assert loaded is None
    assert [str(f) for f in findings] == [
        f"{directory}/ca-cert.pem: does not verify to a root of root-cert.pem through cert-chain.pem: no certificate "
        'there issued CN=Root CA,O=gke-mtls tests. istiod refuses the bundle ("cannot verify the cert with the '
        'provided root chain"). [meshca.chain]'
    ]


def test_a_signing_certificate_that_is_not_a_ca_is_refused(tmp_path):
    leaf = pki.issue("not a CA", OLD_ROOT, ca=False, key_usage="leaf", eku=None, key_seed=35)
    [finding] = cacerts.load(pki.istio_cacerts(tmp_path / "cacerts", leaf, OLD_ROOT), NOW)[1]
    assert finding.code == "meshca.not-ca"
    assert '"certificate is not authorized to sign other certificates"' in finding.message


def test_an_extended_key_usage_without_server_auth_breaks_the_chain_as_in_go():
    """Go's x509 Verify, with no KeyUsages, checks ExtKeyUsageServerAuth along the chain."""
    client_only = pki.issue("Istio CA", OLD_ROOT, eku=(ExtendedKeyUsageOID.CLIENT_AUTH,), key_seed=36)
    path = cacerts.build_path(client_only.certificate, (), (OLD_ROOT.certificate,), NOW)
    assert path == "CN=Istio CA,O=gke-mtls tests has an extendedKeyUsage without serverAuth"
    server = pki.issue("Istio CA", OLD_ROOT, eku=(ExtendedKeyUsageOID.SERVER_AUTH,), key_seed=36)
    assert isinstance(cacerts.build_path(server.certificate, (), (OLD_ROOT.certificate,), NOW), list)


def test_a_missing_file_is_named(tmp_path):
    directory = pki.istio_cacerts(tmp_path / "cacerts", OLD_CA, OLD_ROOT)
    (Path(directory) / "cert-chain.pem").unlink()
    assert [str(f) for f in cacerts.load(directory, NOW)[1]] == [
        f"{directory}/cert-chain.pem: is missing; istiod needs all of ca-cert.pem, ca-key.pem, root-cert.pem, "
        "cert-chain.pem. [meshca.missing]"
    ]


def test_a_signing_ca_expiring_soon_is_warned_about(tmp_path):
    soon = pki.issue("Istio CA", OLD_ROOT, eku=None, key_seed=37, not_after=NOW + 10 * pki.DAY)
    loaded, findings = cacerts.load(pki.istio_cacerts(tmp_path / "cacerts", soon, OLD_ROOT), NOW)
    assert loaded is not None
    assert [f.code for f in findings] == ["meshca.expiring"]


def test_the_rotation_of_istios_test_passes_step_by_step(tmp_path):
    """Step 1 puts the new root beside the old one; step 2 switches the signing CA, both roots kept; step 3 drops
    the old root (a note: safe once workloads renewed)."""
    deployed = cacerts.load(pki.istio_cacerts(tmp_path / "0", OLD_CA, OLD_ROOT), NOW)[0]
    step1 = cacerts.load(pki.istio_cacerts(tmp_path / "1", OLD_CA, OLD_ROOT, NEW_ROOT), NOW)[0]
    step2 = cacerts.load(pki.istio_cacerts(tmp_path / "2", NEW_CA, OLD_ROOT, NEW_ROOT), NOW)[0]
    step3 = cacerts.load(pki.istio_cacerts(tmp_path / "3", NEW_CA, NEW_ROOT), NOW)[0]
    assert None not in (deployed, step1, step2, step3)
    assert [f.code for f in cacerts.change_findings(step1, deployed, NOW)] == ["meshca.multiroot"]
    assert cacerts.change_findings(step2, step1, NOW) == []
    assert [f.code for f in cacerts.change_findings(step3, step2, NOW)] == ["meshca.multiroot", "meshca.root-removed"]


def test_switching_the_signing_ca_without_the_combined_root_is_refused(tmp_path):
    deployed = cacerts.load(pki.istio_cacerts(tmp_path / "0", OLD_CA, OLD_ROOT), NOW)[0]
    switched = cacerts.load(pki.istio_cacerts(tmp_path / "2", NEW_CA, NEW_ROOT), NOW)[0]
    assert deployed is not None and switched is not None
    assert [(f.code, f.key) for f in cacerts.change_findings(switched, deployed, NOW)] == [
        ("meshca.root-not-nested", f"{tmp_path}/2/root-cert.pem"),
        ("meshca.root-first", f"{tmp_path}/2/ca-cert.pem"),
    ]
    assert "First deploy root-cert.pem with the old and the new roots" in str(
        cacerts.change_findings(switched, deployed, NOW)[1]
    )


def test_switching_the_signing_ca_and_dropping_the_old_root_in_one_step_is_refused(tmp_path):
    step1 = cacerts.load(pki.istio_cacerts(tmp_path / "1", OLD_CA, OLD_ROOT, NEW_ROOT), NOW)[0]
    hasty = cacerts.load(pki.istio_cacerts(tmp_path / "2", NEW_CA, NEW_ROOT), NOW)[0]
    assert step1 is not None and hasty is not None
    assert [f.code for f in cacerts.change_findings(hasty, step1, NOW)] == ["meshca.root-dropped", "meshca.multiroot"]


def test_a_root_change_istiod_would_ignore_is_refused(tmp_path):
    """pilot/pkg/bootstrap/istio_ca.go `handleEvent`: a new root-cert.pem must hold every deployed root, or only
    deployed roots; otherwise istiod logs "Updating new ROOT-CA not supported" and keeps the deployed bundle."""
    other = pki.issue("Another root", eku=None, key_seed=37)
    step1 = cacerts.load(pki.istio_cacerts(tmp_path / "1", OLD_CA, OLD_ROOT, NEW_ROOT), NOW)[0]
    swapped = cacerts.load(pki.istio_cacerts(tmp_path / "x", OLD_CA, OLD_ROOT, other), NOW)[0]
    assert step1 is not None and swapped is not None
    [finding] = cacerts.change_findings(swapped, step1, NOW)
    assert str(finding) == (
        f"{tmp_path}/x/root-cert.pem: neither holds every root of the deployed root-cert.pem ({tmp_path}/1) nor only "
        'roots of it: istiod ignores such a change ("Updating new ROOT-CA not supported"), the signing CA included. '
        "Add the new root in one step, remove the old one in another. [meshca.root-not-nested]"
    )


def test_a_reordered_root_file_is_warned_about_for_istio_before_1_31(tmp_path):
    """Before 1.31 istiod compared the files with bytes.Contains; 1.31 compares the sets of certificates (#59909)."""
    step1 = cacerts.load(pki.istio_cacerts(tmp_path / "1", OLD_CA, OLD_ROOT, NEW_ROOT), NOW)[0]
    reordered = cacerts.load(pki.istio_cacerts(tmp_path / "r", OLD_CA, NEW_ROOT, OLD_ROOT), NOW)[0]
    assert step1 is not None and reordered is not None
    assert [f.code for f in cacerts.change_findings(reordered, step1, NOW)] == [
        "meshca.root-bytes",
        "meshca.multiroot",
    ]
