"""Builds real X.509 certificates for tests, with every knob the GCP mTLS rules look at."""

from __future__ import annotations

import datetime as dt
import functools
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = dt.datetime.now(dt.UTC)
SHA256 = hashes.SHA256()
DAY = dt.timedelta(days=1)


@functools.cache
def key(kind: str = "ec256", seed: int = 0) -> Any:
    """Private keys are cached: RSA and DSA generation is slow, and tests only need distinct ones by seed."""
    if kind == "ec256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ec384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "ec521":
        return ec.generate_private_key(ec.SECP521R1())
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind == "dsa":
        return dsa.generate_private_key(key_size=2048)
    raise ValueError(kind)


def rsa_public_key_of_size(bits: int) -> rsa.RSAPublicKey:
    """An RSA public key of any size without generating primes (8192-bit keygen takes seconds)."""
    return rsa.RSAPublicNumbers(e=65537, n=(1 << (bits - 1)) | 1 | (0xB5 << (bits - 16))).public_key()


@dataclass
class Issued:
    certificate: x509.Certificate
    private_key: Any

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "gke-mtls tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def issue(
    common_name: str,
    issuer: Issued | None = None,
    *,
    ca: bool | None = True,
    key_kind: str = "ec256",
    key_seed: int = 0,
    public_key: Any = None,
    key_usage: str | None = "ca",
    eku: tuple | None = (ExtendedKeyUsageOID.CLIENT_AUTH,),
    hash_algorithm: Any = SHA256,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    name_constraints: int = 0,
    subject: x509.Name | None = None,
    san: list[x509.GeneralName] | None = None,
    key_ids: bool = True,
) -> Issued:
    """A certificate for `common_name`, signed by `issuer` (self-signed when None)."""
    private_key = key(key_kind, key_seed)
    subject = subject or name(common_name)
    signer = issuer.private_key if issuer else private_key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject if issuer else subject)
        .public_key(public_key or private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - DAY)
        .not_valid_after(not_after or NOW + 365 * DAY)
    )
    if key_ids:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(public_key or private_key.public_key()), critical=False
        )
    if issuer is not None and key_ids:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.certificate.public_key()), critical=False
        )
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    if key_usage == "ca":
        builder = builder.add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
    elif key_usage == "leaf":
        builder = builder.add_extension(_key_usage(digital_signature=True, key_encipherment=True), critical=True)
    elif key_usage == "crl-only":
        builder = builder.add_extension(_key_usage(crl_sign=True), critical=True)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    if name_constraints:
        permitted = [x509.DNSName(f"n{i}.example.com") for i in range(name_constraints)]
        builder = builder.add_extension(
            x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None), critical=True
        )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    algorithm = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hash_algorithm
    return Issued(builder.sign(signer, algorithm), private_key)


def _key_usage(**set_bits: bool) -> x509.KeyUsage:
    bits = dict(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    bits.update(set_bits)
    return x509.KeyUsage(**bits)


def client(common_name: str, issuer: Issued, **options: Any) -> Issued:
    """A client (leaf) certificate shaped like Google's sample: CA:FALSE, digitalSignature, EKU clientAuth."""
    defaults: dict[str, Any] = dict(ca=False, key_usage="leaf", eku=(ExtendedKeyUsageOID.CLIENT_AUTH,), key_seed=7)
    defaults.update(options)
    return issue(common_name, issuer, **defaults)


def resign(issued: Issued, issuer: Issued | None, digest: str, workdir: Path) -> Issued:
    """Re-signs a certificate with a weak digest (sha1, md5) through the openssl command, which `cryptography`
    refuses to do. `issued` must be self-signed; with `issuer` None the result stays self-signed."""
    (workdir / "in.pem").write_bytes(issued.pem)
    (workdir / "in.key").write_bytes(issued.key_pem)
    if issuer is None:
        command = ["openssl", "x509", "-in", "in.pem", "-signkey", "in.key", f"-{digest}", "-preserve_dates"]
    else:
        (workdir / "ca.pem").write_bytes(issuer.pem)
        (workdir / "ca.key").write_bytes(issuer.key_pem)
        command = [
            "openssl",
            "x509",
            "-in",
            "in.pem",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            f"-{digest}",
            "-preserve_dates",
            "-set_serial",
            str(x509.random_serial_number()),
        ]
    out = subprocess.run(command, cwd=workdir, capture_output=True, check=True).stdout
    return Issued(x509.load_pem_x509_certificate(out), issued.private_key)


class RotatingCas:
    """Two CAs (root and intermediate each), a client of each, and the old CA's client re-issued by the new CA."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.old_root = issue("old root", key_seed=21)
        self.old_ca = issue("old intermediate", self.old_root, key_seed=22)
        self.new_root = issue("new root", key_seed=23)
        self.new_ca = issue("new intermediate", self.new_root, key_seed=24)
        self.write("old-root.pem", self.old_root)
        self.write("old-ca.pem", self.old_ca)
        self.write("new-root.pem", self.new_root)
        self.write("new-ca.pem", self.new_ca)
        (directory / "clients").mkdir()
        self.write("clients/billing.pem", client("billing", self.old_ca, key_seed=25), self.old_ca)
        self.write("clients/checkout.pem", client("checkout", self.new_ca, key_seed=26), self.new_ca)

    def write(self, name: str, leaf: Issued, *chain: Issued) -> str:
        path = self.directory / name
        path.write_bytes(leaf.pem + b"".join(c.pem for c in chain))
        return str(path)

    def reissue_billing(self) -> None:
        self.write("clients/billing.pem", client("billing", self.new_ca, key_seed=27), self.new_ca)

    def pem(self, name: str) -> str:
        return (self.directory / name).read_text()


def istio_cacerts(
    directory: Path, signing: Issued, *roots: Issued, key: Issued | None = None, chain: bool = True
) -> str:
    """An Istio cacerts folder laid out like Istio's samples/certs: ca-cert.pem the signing CA, its key, its chain,
    root-cert.pem the roots."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca-cert.pem").write_bytes(signing.pem)
    (directory / "ca-key.pem").write_bytes((key or signing).key_pem)
    (directory / "cert-chain.pem").write_bytes(signing.pem if chain else b"")
    (directory / "root-cert.pem").write_bytes(b"".join(r.pem for r in roots))
    return str(directory)
