"""PEM files of certificates, read the way Certificate Manager takes them: one certificate per trust config entry,
each at most 5 kB. Each problem says what the file holds instead and names its key (or the path)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from components.core.files import UnreadableFileError, read_regular
from components.core.findings import Finding, Severity, error

# "Each certificate provided in PEM format may occupy up to 5kB" (Certificate Manager API); read as 5000 bytes.
MAX_PEM_BYTES = 5000
PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----\r?\n?", re.DOTALL)


@dataclass(frozen=True)
class Violation:
    code: str  # ours, stable: cert.*
    text: str  # what is wrong and what to do
    status: str = "client_cert_validation_failed"  # GCP's statusDetails when a client chain breaks it
    severity: Severity = Severity.ERROR


@dataclass(frozen=True)
class LoadedCertificate:
    """One certificate from a PEM file, with where it came from for messages."""

    source: str  # the path as written
    key: str  # the config key (or the path, on the command line)
    certificate: x509.Certificate
    pem: str  # this certificate alone, as canonical PEM

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string() or "(empty subject)"

    @cached_property
    def fingerprint(self) -> bytes:
        return self.certificate.fingerprint(hashes.SHA256())

    def finding(self, violation: Violation) -> Finding:
        return Finding(
            violation.severity, violation.code, self.key, f"{self.source} ({self.subject}): {violation.text}"
        )


def load_pem_file(data: bytes, source: str, key: str) -> tuple[list[LoadedCertificate], list[Finding]]:
    """Every certificate in a PEM file, or findings that say what the file holds instead."""

    def problem(code: str, text: str) -> tuple[list[LoadedCertificate], list[Finding]]:
        return [], [Finding(Severity.ERROR, code, key, f"{source}: {text}")]

    if not data.strip():
        return problem("cert.empty", "is empty; it must hold one PEM certificate ('-----BEGIN CERTIFICATE-----').")
    blocks = PEM_BLOCK.findall(data)
    kinds = [m.group(1).decode() for m in PEM_BLOCK.finditer(data)]
    if any("PRIVATE KEY" in k for k in kinds):
        return problem(
            "cert.private-key",
            "holds a private key. Only certificates belong here: remove the key from the file (and from version "
            "control), and consider the key exposed.",
        )
    if not blocks:
        try:
            x509.load_der_x509_certificate(data)
        except ValueError:
            return problem(
                "cert.not-pem", "is neither a PEM nor a DER certificate; replace it with the CA's PEM certificate."
            )
        return problem(
            "cert.der",
            f"is a DER (binary) certificate; convert it: openssl x509 -inform der -in {source} -out {source}.pem",
        )
    loaded: list[LoadedCertificate] = []
    findings: list[Finding] = []
    for match in PEM_BLOCK.finditer(data):
        kind, block = match.group(1).decode(), match.group(0)
        if kind != "CERTIFICATE":
            findings.append(
                Finding(
                    Severity.ERROR,
                    "cert.not-certificate",
                    key,
                    f"{source}: holds a {kind}, not a CERTIFICATE; keep only certificates in this file.",
                )
            )
            continue
        try:
            certificate = x509.load_pem_x509_certificate(block)
        except ValueError as exc:
            findings.append(
                Finding(
                    Severity.ERROR,
                    "cert.unparseable",
                    key,
                    f"{source}: has a CERTIFICATE block that is not a valid X.509 certificate ({exc}).",
                )
            )
            continue
        pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
        one = LoadedCertificate(source, key, certificate, pem)
        if len(pem) > MAX_PEM_BYTES:
            findings.append(
                one.finding(
                    Violation(
                        "cert.size",
                        f"is {len(pem)} bytes as PEM; Certificate Manager takes at most {MAX_PEM_BYTES}. "
                        "Re-issue it with fewer or shorter extensions.",
                    )
                )
            )
        loaded.append(one)
    return loaded, findings


def load_one(data: bytes, source: str, key: str) -> tuple[LoadedCertificate | None, list[Finding]]:
    """Exactly one certificate: each trust config entry holds one."""
    loaded, findings = load_pem_file(data, source, key)
    findings += one_per_file(loaded, source, key)
    if findings or not loaded:
        return None, findings
    return loaded[0], []


def one_per_file(loaded: list[LoadedCertificate], source: str, key: str) -> list[Finding]:
    if len(loaded) <= 1:
        return []
    return [
        error(
            "cert.count",
            key,
            f"{source}: holds {len(loaded)} certificates; a trust config entry holds one, so put each in its own "
            "file and list each one.",
        )
    ]


def read_pem_file(
    source: str, key: str, root: Path | None = None, code: str = "config.file"
) -> tuple[list[LoadedCertificate], list[Finding]]:
    """Every certificate in the file `source` (relative to `root`, if given), or findings that say why there is none.
    `code` says where the path came from: a config key, or the command line."""
    data = _read(source, key, root, code)
    return load_pem_file(data, source, key) if isinstance(data, bytes) else ([], [data])


def read_certificate(
    source: str, key: str, root: Path | None = None, code: str = "config.file"
) -> tuple[LoadedCertificate | None, list[Finding]]:
    """The one certificate of the file `source`: each trust config entry holds exactly one."""
    data = _read(source, key, root, code)
    return load_one(data, source, key) if isinstance(data, bytes) else (None, [data])


# GCP takes PEM certificates of up to 5 KB; a bundle of several is still far below this.
PEM_FILE_LIMIT = 256 * 1024


def _read(source: str, key: str, root: Path | None, code: str) -> bytes | Finding:
    under = f" under {root}" if root is not None else ""
    try:
        return read_regular((root or Path()) / source, PEM_FILE_LIMIT, "a PEM file")
    except FileNotFoundError:
        return error(code, key, f"{source}: no such file{under}; fix the path.")
    except UnreadableFileError as problem:
        return error(code, key, f"{source!r}: {problem}" if "\x00" in source else f"{source}: {problem}")
