"""The certificate the load balancer presents for edge.domains: which DNS authorizations a Google-managed Certificate
Manager certificate needs, stable Pulumi names for them, the self-managed certificate read from its PEM files and
checked before anything is deployed, and where a switch from a Compute managed certificate stands."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from components.core.files import UnreadableFileError, read_regular
from components.core.findings import Finding, Severity, error, errors, quoted, warning
from components.edge import certificates
from components.edge.pem import LoadedCertificate, Violation, read_pem_file
from components.edge.settings import KEY, WILDCARD, EdgeSettings

# A Pulumi name part per domain, short enough that the auto-name (name, '-', 7 random characters) fits the 64
# characters of a Certificate Manager name.
MAX_NAME_PART = 40
KEY_FILE_LIMIT = 64 * 1024  # a PEM private key is a few KB; more is another file
CERTIFICATE_KEY = f"{KEY}.certificate"
# What a Google-managed certificate's state is when it serves (Certificate Manager ManagedCertificate.State).
ACTIVE = "ACTIVE"
# The label that finds a stack's Certificate Manager certificate again, on a later `pulumi up` of the switch.
STACK_LABEL = "gke-mtls-stack"


def authorized_domains(domains: Iterable[str]) -> list[str]:
    """One DNS authorization per domain, in order: `example.com`'s covers `*.example.com` too (Certificate Manager
    DnsAuthorization.domain: 'authorization for "example.com" can be used to issue certificates for "example.com"
    and "*.example.com"')."""
    return list(dict.fromkeys(domain.removeprefix(WILDCARD).lower() for domain in domains))


def name_part(domain: str) -> str:
    """`domain` as part of a Pulumi name: dots become '_' and a wildcard's '*' becomes 'wildcard_' (no host name holds
    '_', and none an empty label, so two domains never share a part), and a long name is cut, with a hash of the
    whole."""
    part = domain.replace("*", "wildcard_").replace(".", "_")
    if len(part) <= MAX_NAME_PART:
        return part
    digest = hashlib.sha256(domain.encode()).hexdigest()[:8]
    return f"{part[: MAX_NAME_PART - 9]}-{digest}"


def stack_label(stack: str) -> str:
    """A stack name as a label value: lowercase letters, digits, '-' and '_', at most 63 characters."""
    value = re.sub(r"[^a-z0-9_-]", "-", stack.lower())
    return value if len(value) <= 63 else f"{value[:54]}-{hashlib.sha256(stack.encode()).hexdigest()[:8]}"


# --- the self-managed certificate ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SelfManagedCertificate:
    """The certificate and chain of `certificate.certificateFile`, leaf first, and the key of `privateKeyFile`."""

    chain: tuple[LoadedCertificate, ...]
    private_key: PrivateKeyTypes
    private_key_pem: str
    key_source: str

    @property
    def leaf(self) -> x509.Certificate:
        return self.chain[0].certificate

    @property
    def chain_pem(self) -> str:
        return "".join(c.pem for c in self.chain)


def load_self_managed(edge: EdgeSettings, root: Path) -> tuple[SelfManagedCertificate | None, list[Finding]]:
    """The selfManaged certificate's files, read; None (with why) when they cannot be used, or for another source."""
    certificate = edge.certificate
    if certificate is None or certificate.source != "selfManaged":
        return None, []
    if certificate.certificate_file is None or certificate.private_key_file is None:
        return None, []  # the settings name the missing key
    chain_key = f"{CERTIFICATE_KEY}.certificateFile"
    chain, findings = read_pem_file(certificate.certificate_file, chain_key, root)
    if not chain and not findings:
        findings = [error("cert.empty", chain_key, f"{certificate.certificate_file}: holds no certificate.")]
    key, key_findings = _read_private_key(certificate.private_key_file, root)
    findings += key_findings
    if errors(findings) or key is None:
        return None, findings
    private_key, private_key_pem = key
    files = SelfManagedCertificate(tuple(chain), private_key, private_key_pem, certificate.private_key_file)
    return files, findings


def _read_private_key(source: str, root: Path) -> tuple[tuple[PrivateKeyTypes, str] | None, list[Finding]]:
    key = f"{CERTIFICATE_KEY}.privateKeyFile"
    path = root / Path(source).expanduser()
    try:
        data = read_regular(path, KEY_FILE_LIMIT, "the key's PEM file")
    except FileNotFoundError:
        return None, [error("config.file", key, f"{source}: no such file under {root}; fix the path.")]
    except UnreadableFileError as problem:
        return None, [error("config.file", key, f"{source}: {problem}")]
    try:
        private_key = serialization.load_pem_private_key(data, password=None)
    except TypeError:  # cryptography: a password was not given but the key is encrypted
        return None, [
            error(
                "cert.key-encrypted",
                key,
                f"{source}: is an encrypted key; Certificate Manager takes it unencrypted (Pulumi keeps it as a "
                f"secret). Decrypt it to a file outside the repository: openssl pkey -in {source} -out KEY.pem",
            )
        ]
    except (ValueError, UnsupportedAlgorithm) as exc:
        return None, [error("cert.not-key", key, f"{source}: is not a PEM private key ({exc}).")]
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    found = []
    if _inside(path, root):
        found.append(
            warning(
                "config.private-key",
                key,
                f"{source}: lies inside the project, where a commit takes it along; keep private keys out of the "
                "repository and give the key's absolute path.",
            )
        )
    return (private_key, pem), found


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def check_self_managed(
    certificate: SelfManagedCertificate, domains: Iterable[str], now: dt.datetime, warning_days: int
) -> list[Finding]:
    """Google's certificate rules on the leaf (key, signature, validity), its key, its names and its chain."""
    leaf = certificate.chain[0]
    violations: list[Violation] = [
        *certificates.key_violations(leaf.certificate),
        *certificates.signature_violations(leaf.certificate),
        *certificates.validity_violations(leaf.certificate, now, warning_days),
    ]
    if certificates.is_ca(leaf.certificate):
        violations.append(
            Violation("cert.server-ca", "is a CA certificate; the first certificate of the file is the server's own.")
        )
    found = [leaf.finding(v) for v in violations]
    if certificates.spki(leaf.certificate) != _public_key(certificate.private_key):
        found.append(
            error(
                "cert.key-mismatch",
                f"{CERTIFICATE_KEY}.privateKeyFile",
                f"{certificate.key_source}: is not the key of {leaf.source} ({leaf.subject}); name the key the "
                "certificate was issued for.",
            )
        )
    names = dns_names(leaf.certificate)
    found += [
        error(
            "cert.domain",
            f"{KEY}.domains[{i}]",
            f"{quoted(domain)}: {leaf.source} ({leaf.subject}) does not cover it; its DNS names are "
            f"{', '.join(names) or 'none'}. Re-issue it with this name, or list only the names it holds.",
        )
        for i, domain in enumerate(domains)
        if not covers(names, domain)
    ]
    for child, parent in zip(certificate.chain, certificate.chain[1:], strict=False):
        if not certificates.is_issued_by(child.certificate, parent.certificate):
            found.append(
                child.finding(
                    Violation(
                        "cert.chain-order",
                        f"is not issued by the certificate after it ({parent.subject}); put the leaf first, then "
                        "each issuer in order.",
                        severity=Severity.ERROR,
                    )
                )
            )
    return found


def _public_key(private_key: PrivateKeyTypes) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def dns_names(certificate: x509.Certificate) -> list[str]:
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [name.lower() for name in names.get_values_for_type(x509.DNSName)]


def covers(names: Iterable[str], domain: str) -> bool:
    """Whether a certificate with these DNS names serves `domain` (RFC 6125: a wildcard stands for one whole first
    label; a wildcard domain needs the same wildcard)."""
    domain = domain.lower()
    for name in names:
        if name == domain:
            return True
        if name.startswith(WILDCARD) and not domain.startswith(WILDCARD):
            first, _, rest = domain.partition(".")
            if first and rest == name[len(WILDCARD) :]:
                return True
    return False


# --- the switch from a Compute managed certificate -----------------------------------------------------------


def switch_problem(step: str, states: Mapping[str, str]) -> str | None:
    """Why the switch cannot take `step` now, or None. `states`: the stack's Certificate Manager certificates found
    by their label, name -> state. Attaching the map, or dropping the Compute certificate, before the certificate is
    ACTIVE would serve clients a certificate Google has not issued yet."""
    if step == "prepare":
        return None
    key = f"{CERTIFICATE_KEY}.switchFromCompute"
    if not states:
        return (
            f"{key}: is {step}, but this stack has no Certificate Manager certificate yet: take step prepare first "
            "(`pulumi up` with switchFromCompute: prepare), create its DNS records, and wait for it to be ACTIVE."
        )
    pending = {name: state for name, state in states.items() if state != ACTIVE}
    if pending:
        listed = ", ".join(f"{name} ({state or 'no state yet'})" for name, state in sorted(pending.items()))
        return (
            f"{key}: is {step}, but the stack's certificate is not ACTIVE yet: {listed}. Create the DNS records of "
            "its authorizations (output dnsAuthorizationRecords), wait until `gcloud certificate-manager "
            "certificates describe` shows ACTIVE, then run this step again; until then the proxy keeps serving the "
            "Compute certificate."
        )
    return None
