"""`python -m mtls check | cert | client`: the offline preflight commands as users run them."""

from __future__ import annotations

import shutil
from pathlib import Path

from cryptography.x509.oid import ExtendedKeyUsageOID

from mtls.__main__ import main
from tests import pki
from tests.conftest import COMMITTED_STACKS, PROJECT_ROOT


def write(path: Path, *issued: pki.Issued) -> str:
    path.write_bytes(b"".join(i.pem for i in issued))
    return str(path)


def test_check_of_the_committed_stacks_is_clean(capsys, committed_project):
    """The committed dev stacks are alternatives of one environment: they share its cluster and its domain, which
    is worth a note each, never an error."""
    for stack in COMMITTED_STACKS:
        assert main(["--project-root", str(committed_project), "check", "--stack", stack]) == 0, stack
        out = capsys.readouterr().out.splitlines()
        assert not [line for line in out if line.startswith(("error", "warning"))], out
    assert main(["--project-root", str(committed_project), "check", "--stack", "prod"]) == 0
    assert capsys.readouterr().out == "prod: ok\n"


def test_check_lists_every_finding_and_exits_1_on_errors(tmp_path, capsys):
    shutil.copytree(PROJECT_ROOT / "certs", tmp_path / "certs")
    write(tmp_path / "weak-root.pem", pki.issue("weak-root", key_kind="rsa1024"))
    (tmp_path / "Pulumi.x.yaml").write_text(
        "config:\n  gke-mtls:backend: {name: web}\n  gke-mtls:edge:\n    domains: [x.example.com]\n"
        "    certificate: {source: dnsAuthorization}\n"
        "    trustAnchors: [weak-root.pem, certs/dev/root-ca.pem]\n    sslPolicy: {minTlsVersion: TLS_1_0}\n"
    )
    assert main(["--project-root", str(tmp_path), "check", "--stack", "x"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "warning: gke-mtls:edge.sslPolicy.minTlsVersion: TLS_1_0 admits clients on TLS versions with known "
        "weaknesses; use TLS_1_2 unless a client you must serve cannot. [config.weak-tls]",
        "error: gke-mtls:edge.trustAnchors[0]: weak-root.pem (CN=weak-root,O=gke-mtls tests): has an RSA 1024-bit "
        "key; GCP accepts RSA keys of 2048 to 4096 bits. Re-issue it with a 2048, 3072 or 4096-bit key. "
        "[cert.rsa-key-size]",
        "x: 1 error(s), 1 warning(s)",
    ]


def test_cert_prints_one_line_per_file_and_exits_1_if_any_fails(tmp_path, capsys):
    good = write(tmp_path / "good.pem", pki.issue("good-root"))
    leaf = write(tmp_path / "leaf.pem", pki.client("leaf", pki.issue("good-root")))
    assert main(["cert", "--role", "anchor", good, leaf]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{good}: ok",
        f"{leaf}: error cert.not-ca: {leaf} (CN=leaf,O=gke-mtls tests): is not a CA (basicConstraints CA:TRUE is "
        "missing); GCP only accepts CA certificates here. Use the CA's own certificate, not a leaf.; error "
        f"cert.key-usage: {leaf} (CN=leaf,O=gke-mtls tests): lacks keyUsage keyCertSign, so it cannot vouch for "
        "certificates it issued; re-issue it with keyUsage = critical, keyCertSign.",
    ]


def test_cert_passes_files_with_only_warnings(tmp_path, capsys):
    no_eku = write(tmp_path / "no-eku.pem", pki.issue("no-eku-root", eku=None))
    assert main(["cert", "--role", "anchor", no_eku]) == 0
    assert capsys.readouterr().out.startswith(f"{no_eku}: warning cert.eku-missing: ")


def test_cert_allowlisted_role_accepts_a_self_signed_leaf(tmp_path, capsys):
    legacy = write(tmp_path / "legacy.pem", pki.client("legacy", None))
    assert main(["cert", "--role", "allowlisted", legacy]) == 0
    assert capsys.readouterr().out == f"{legacy}: ok\n"


def test_client_with_anchors_accepts_a_good_chain(tmp_path, capsys):
    root = pki.issue("cli-root", key_kind="rsa2048")
    issuing = pki.issue("cli-ca", root, key_seed=1)
    anchors = write(tmp_path / "root.pem", root)
    leaf = write(tmp_path / "alice.pem", pki.client("alice", issuing))
    chain = write(tmp_path / "chain.pem", issuing)
    assert main(["client", "--anchors", anchors, leaf, chain]) == 0
    assert capsys.readouterr().out == "accepted\n"
    # The intermediate may come from the trust config instead, and the leaf file may carry the chain.
    assert main(["client", "--anchors", anchors, "--intermediates", chain, leaf]) == 0
    full = write(tmp_path / "fullchain.pem", pki.client("alice", issuing), issuing)
    assert main(["client", "--anchors", anchors, full]) == 0


def test_client_exits_1_with_one_line_per_reason(tmp_path, capsys):
    root = pki.issue("cli-root", key_kind="rsa2048")
    issuing = pki.issue("cli-ca", root, key_seed=1)
    anchors = write(tmp_path / "root.pem", root)
    bad = write(
        tmp_path / "bad.pem",
        pki.client("bad", issuing, key_kind="rsa1024", eku=(ExtendedKeyUsageOID.SERVER_AUTH,)),
        issuing,
    )
    assert main(["client", "--anchors", anchors, bad]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "client_cert_invalid_rsa_key_size",
        "client_cert_chain_invalid_eku",
    ]


def test_client_against_the_dev_stack_refuses_a_stranger(tmp_path, capsys):
    stranger = pki.issue("stranger-ca")
    leaf = write(tmp_path / "leaf.pem", pki.client("stranger", stranger), stranger)
    assert main(["client", "--stack", "dev", leaf]) == 1
    out = capsys.readouterr().out
    assert out.startswith(
        "client_cert_validation_failed: CN=stranger,O=gke-mtls tests: no valid path to a trust anchor"
    )


def test_client_allowlisted_certificate_is_accepted(tmp_path, capsys):
    legacy_cert = pki.client("legacy", None)
    legacy = write(tmp_path / "legacy.pem", legacy_cert)
    anchors = write(tmp_path / "root.pem", pki.issue("cli-root", key_kind="rsa2048"))
    assert main(["client", "--anchors", anchors, "--allowlisted", legacy, legacy]) == 0
    assert capsys.readouterr().out == "accepted\n"


def test_client_with_an_unreadable_leaf_exits_2(tmp_path, capsys):
    anchors = write(tmp_path / "root.pem", pki.issue("cli-root", key_kind="rsa2048"))
    assert main(["client", "--anchors", anchors, str(tmp_path / "missing.pem")]) == 2
    assert f"error: {tmp_path / 'missing.pem'}: no such file; fix the path. [cert.file]" in capsys.readouterr().err


def test_client_against_a_stack_without_an_edge_says_so(tmp_path, capsys):
    stranger = pki.issue("stranger-ca")
    leaf = write(tmp_path / "leaf.pem", pki.client("stranger", stranger))
    assert main(["client", "--stack", "platform-dev", leaf]) == 2
    assert capsys.readouterr().err == "error: stack 'platform-dev' has no gke-mtls:edge, so it has no trust config.\n"


def test_a_stack_name_too_long_for_the_edge_metric_is_refused(tmp_path, capsys):
    """Cloud Logging takes metric identifiers of at most 100 characters (LogMetric.name, logging v2)."""
    shutil.copytree(PROJECT_ROOT / "certs", tmp_path / "certs")
    config = (PROJECT_ROOT / "Pulumi.dev.yaml").read_text()
    longest, too_long = "s" * 62, "s" * 63
    for stack in (longest, too_long):
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(config)
    assert main(["--project-root", str(tmp_path), "check", "--stack", longest]) == 0
    assert main(["--project-root", str(tmp_path), "check", "--stack", too_long]) == 1
    assert capsys.readouterr().out.splitlines()[-2] == (
        f"error: stack {too_long}: the edge's log-based metric would be named gke-mtls-sssssssssssssssssssssssssssssss"
        "... (101 characters), and Cloud Logging takes at most 100: use a stack name of at most 62 characters. "
        "[config.metric-name]"
    )


# --- what Google states for backend mTLS, warned about for the frontend ---


def test_an_anchor_without_a_subject_key_identifier_warns_and_names_the_doc(tmp_path, capsys):
    """Google's backend mTLS page: a parent's subjectKeyIdentifier must match its child's authorityKeyIdentifier.
    Its frontend page's matching bullet is cut off, so this warns; an anchor with one stays clean."""
    bare = write(tmp_path / "bare-root.pem", pki.issue("bare-root", key_ids=False))
    assert main(["cert", "--role", "anchor", bare]) == 0
    assert capsys.readouterr().out == (
        f"{bare}: warning cert.no-ski: {bare} (CN=bare-root,O=gke-mtls tests): has no subjectKeyIdentifier, so the "
        "certificates it issues cannot name it by key (Google's backend mTLS page; unconfirmed for frontend mTLS). "
        "Re-issue it with subjectKeyIdentifier = hash.\n"
    )
    good = write(tmp_path / "root.pem", pki.issue("root"))
    assert main(["cert", "--role", "anchor", good]) == 0
    assert capsys.readouterr().out == f"{good}: ok\n"


def test_a_chain_without_key_identifiers_is_accepted_with_warnings(tmp_path, capsys):
    root = pki.issue("bare-root", key_ids=False)
    issuing = pki.issue("bare-ca", root, key_seed=1, key_ids=False)
    anchors = write(tmp_path / "root.pem", root)
    leaf = write(tmp_path / "leaf.pem", pki.client("bob", issuing, key_ids=False), issuing)
    assert main(["client", "--anchors", anchors, leaf]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "accepted"
    assert [line.split(": has ")[0] for line in lines[1:]] == [
        "warning: CN=bob,O=gke-mtls tests",
        "warning: CN=bare-ca,O=gke-mtls tests",
        "warning: CN=bare-ca,O=gke-mtls tests",
    ]
    assert "has no authorityKeyIdentifier naming its issuer's key" in lines[1]
    assert "has no subjectKeyIdentifier" in lines[2] and "has no authorityKeyIdentifier" in lines[3]


def test_a_client_certificate_with_code_signing_too_is_accepted_with_a_warning(tmp_path, capsys):
    root = pki.issue("root")
    issuing = pki.issue("ca", root, key_seed=1)
    anchors = write(tmp_path / "root.pem", root)
    eku = (ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.CODE_SIGNING, ExtendedKeyUsageOID.OCSP_SIGNING)
    leaf = write(tmp_path / "leaf.pem", pki.client("carol", issuing, eku=eku), issuing)
    assert main(["client", "--anchors", anchors, leaf]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "accepted",
        "warning: CN=carol,O=gke-mtls tests: has extendedKeyUsage codeSigning, OCSPSigning besides clientAuth; "
        "Google requires a client certificate without them (Google's backend mTLS page; unconfirmed for frontend "
        "mTLS). Re-issue it with extendedKeyUsage = clientAuth only.",
    ]
