"""PEM files as Certificate Manager takes them: what a file holds instead of one certificate, said with its key."""

from __future__ import annotations

import os

import pytest
from cryptography import x509

from components.edge.pem import load_one, load_pem_file, read_certificate, read_pem_file
from tests import pki

SUBJECT = "CN={cn},O=gke-mtls tests"


@pytest.fixture(scope="module")
def root() -> pki.Issued:
    return pki.issue("root", key_kind="rsa2048")


def test_accepts_one_pem_certificate_and_keeps_it_canonical(root):
    text_around = b"Bag Attributes\n    friendlyName: root\n" + root.pem + b"\n"
    one, findings = load_one(text_around, "root.pem", "gke-mtls:edge.trustAnchors[0]")
    assert findings == []
    assert one is not None and one.pem == root.pem.decode() and one.subject == SUBJECT.format(cn="root")


@pytest.mark.parametrize(
    "content, code, message",
    [
        (b"", "cert.empty", "x.pem: is empty; it must hold one PEM certificate ('-----BEGIN CERTIFICATE-----')."),
        (b"  \n", "cert.empty", "x.pem: is empty; it must hold one PEM certificate ('-----BEGIN CERTIFICATE-----')."),
        (
            b"hello, I am not a certificate\n",
            "cert.not-pem",
            "x.pem: is neither a PEM nor a DER certificate; replace it with the CA's PEM certificate.",
        ),
        (b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n", "cert.unparseable", None),
    ],
    ids=["empty", "blank", "garbage", "corrupt-block"],
)
def test_rejects_files_that_hold_no_certificate_and_says_what_they_hold(content, code, message):
    one, findings = load_one(content, "x.pem", "gke-mtls:edge.trustAnchors[0]")
    assert one is None
    assert [f.code for f in findings] == [code]
    assert findings[0].key == "gke-mtls:edge.trustAnchors[0]"
    if message:
        assert findings[0].message == message
    else:
        assert findings[0].message.startswith("x.pem: has a CERTIFICATE block that is not a valid X.509 certificate (")


def test_rejects_der_file_with_the_conversion_command(root):
    _, findings = load_one(root.der, "root.der", "k")
    assert [str(f) for f in findings] == [
        "k: root.der: is a DER (binary) certificate; convert it: openssl x509 -inform der -in root.der -out "
        "root.der.pem [cert.der]"
    ]


def test_rejects_a_file_holding_a_private_key_even_beside_the_certificate(root):
    for content in (root.key_pem, root.pem + root.key_pem):
        _, findings = load_one(content, "root.pem", "k")
        assert [str(f) for f in findings] == [
            "k: root.pem: holds a private key. Only certificates belong here: remove the key from the file (and "
            "from version control), and consider the key exposed. [cert.private-key]"
        ]


def test_rejects_a_certificate_request():
    csr = b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
    _, findings = load_one(csr, "req.pem", "k")
    assert [str(f) for f in findings] == [
        "k: req.pem: holds a CERTIFICATE REQUEST, not a CERTIFICATE; keep only certificates in this file. "
        "[cert.not-certificate]"
    ]


def test_rejects_two_certificates_in_one_file(root):
    other = pki.issue("other", key_seed=3)
    _, findings = load_one(root.pem + other.pem, "both.pem", "k")
    assert [str(f) for f in findings] == [
        "k: both.pem: holds 2 certificates; a trust config entry holds one, so put each in its own file and list "
        "each one. [cert.count]"
    ]


def test_rejects_a_certificate_over_5000_bytes_as_pem_and_accepts_one_under():
    sans = [x509.DNSName(f"host-{i:04d}.a-rather-long-domain-name.example.com") for i in range(80)]
    big = pki.issue("big", san=sans)
    (_,), findings = load_pem_file(big.pem, "big.pem", "k")
    assert len(big.pem) > 5000
    assert [str(f) for f in findings] == [
        f"k: big.pem ({SUBJECT.format(cn='big')}): is {len(big.pem)} bytes as PEM; Certificate Manager takes at most "
        "5000. Re-issue it with fewer or shorter extensions. [cert.size]"
    ]
    small = pki.issue("small", san=sans[:10])
    assert load_pem_file(small.pem, "small.pem", "k")[1] == []


def test_reads_a_file_under_the_project_root_and_says_where_it_looked(tmp_path, root):
    (tmp_path / "root.pem").write_bytes(root.pem)
    one, findings = read_certificate("root.pem", "k", tmp_path)
    assert findings == [] and one is not None and one.source == "root.pem" and one.key == "k"
    assert [str(f) for f in read_certificate("gone.pem", "k", tmp_path)[1]] == [
        f"k: gone.pem: no such file under {tmp_path}; fix the path. [config.file]"
    ]


@pytest.mark.parametrize(
    "name, message",
    [
        ("", "{path}: is a directory; name a PEM file."),
        ("a\x00b", "'a\\x00b': a path cannot hold a NUL character; fix the path."),
    ],
    ids=["directory", "nul"],
)
def test_refuses_paths_that_are_not_files_with_the_code_of_where_they_came_from(tmp_path, name, message):
    path = str(tmp_path / name) if name == "" else name
    (finding,) = read_pem_file(path, path, code="cert.file")[1]
    assert (finding.code, finding.message) == ("cert.file", message.format(path=path))


def test_a_device_a_folder_a_nul_byte_or_a_huge_file_is_refused_with_the_reason(tmp_path):
    (tmp_path / "huge.pem").write_bytes(b"x" * (256 * 1024 + 1))
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "pipe.pem")  # opening it would block: it must be refused before
    cases = {
        "/dev/zero": "k: /dev/zero: is not a regular file (a device, pipe or socket); name a PEM file. [config.file]",
        "pipe.pem": "k: pipe.pem: is not a regular file (a device, pipe or socket); name a PEM file. [config.file]",
        "folder": "k: folder: is a directory; name a PEM file. [config.file]",
        "huge.pem": "k: huge.pem: is larger than 256 KiB; name a PEM file. [config.file]",
        "a\x00.pem": "k: 'a\\x00.pem': a path cannot hold a NUL character; fix the path. [config.file]",
    }
    for source, message in cases.items():
        assert [str(f) for f in read_certificate(source, "k", tmp_path)[1]] == [message]
