"""Google Cloud's frontend mTLS certificate rules, checked before anything is deployed.

Parsing and signatures come from `cryptography`; only GCP's own rules are written here. Facts:
../shared/reference/gcp-edge-mtls.md sections 2-5. Each rule has a stable code and, where GCP logs one for
a rejected client, the `statusDetails` value the load balancer would report.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from components.core.findings import Finding, Severity
from components.edge.pem import LoadedCertificate, Violation, read_certificate
from components.edge.roles import ALLOWLISTED, ANCHOR, INTERMEDIATE

if TYPE_CHECKING:
    from components.edge.settings import EdgeSettings

RSA_KEY_BITS = (2048, 4096)
EC_CURVES = ("secp256r1", "secp384r1")  # P-256, P-384
STRONG_HASHES = ("sha256", "sha384", "sha512")
MAX_NAME_CONSTRAINTS = 10
MAX_SAME_SUBJECT_AND_KEY = 10
MAX_CHAIN_DEPTH = 10  # root and leaf included
# GCP's published Certificate Manager quotas per trust config (not confirmed from a primary source here).
MAX_TRUST_STORE_CERTIFICATES = 200
MAX_INTERMEDIATES = 100
MAX_ALLOWLISTED = 500


@dataclass(frozen=True)
class TrustConfig:
    """The certificates of a Certificate Manager trust config, read from their files."""

    anchors: tuple[LoadedCertificate, ...]
    intermediates: tuple[LoadedCertificate, ...] = ()
    allowlisted: tuple[LoadedCertificate, ...] = ()


BEFORE = "before"  # the trust config without a rotation, or before it started


def deployed_phase(edge: EdgeSettings) -> str:
    return edge.trust_rotation.phase if edge.trust_rotation is not None else BEFORE


def load_rotation(edge: EdgeSettings, root: Path) -> tuple[dict[str, TrustConfig], list[Finding]]:
    """The trust config of each phase, in order: before the rotation (the current anchors), `add` (both), `remove`
    (the new ones alone); only `before` without a rotation."""
    from components.edge.settings import KEY  # the settings (pydantic) only where a stack is read: not for `cert`

    findings: list[Finding] = []

    def group(alias: str, paths: tuple[str, ...]) -> tuple[LoadedCertificate, ...]:
        loaded = [read_certificate(path, f"{KEY}.{alias}[{i}]", root) for i, path in enumerate(paths)]
        findings.extend(problem for _, problems in loaded for problem in problems)
        return tuple(certificate for certificate, _ in loaded if certificate is not None)

    allowlisted = group("allowlistedCertificates", edge.allowlisted_certificates)
    before = TrustConfig(
        group("trustAnchors", edge.trust_anchors), group("intermediateCas", edge.intermediate_cas), allowlisted
    )
    rotation = edge.trust_rotation
    if rotation is None:
        return {BEFORE: before}, findings
    new = TrustConfig(
        group("trustRotation.trustAnchors", rotation.trust_anchors),
        group("trustRotation.intermediateCas", rotation.intermediate_cas),
        allowlisted,
    )
    both = TrustConfig(before.anchors + new.anchors, before.intermediates + new.intermediates, allowlisted)
    return {BEFORE: before, "add": both, "remove": new}, findings


# --- rules on one certificate -------------------------------------------------------------------------------


def key_violations(certificate: x509.Certificate) -> list[Violation]:
    public_key = certificate.public_key()
    if isinstance(public_key, rsa.RSAPublicKey):
        low, high = RSA_KEY_BITS
        if not low <= public_key.key_size <= high:
            return [
                Violation(
                    "cert.rsa-key-size",
                    f"has an RSA {public_key.key_size}-bit key; GCP accepts RSA keys of {low} to {high} bits. "
                    "Re-issue it with a 2048, 3072 or 4096-bit key.",
                    "client_cert_invalid_rsa_key_size",
                )
            ]
        return []
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name not in EC_CURVES:
            return [
                Violation(
                    "cert.ec-curve",
                    f"has an ECDSA key on {public_key.curve.name}; GCP accepts only P-256 and P-384. "
                    "Re-issue it on P-256 or P-384.",
                    "client_cert_unsupported_elliptic_curve_key",
                )
            ]
        return []
    algorithm = type(public_key).__name__.removesuffix("PublicKey").removeprefix("_")
    return [
        Violation(
            "cert.key-algorithm",
            f"has a {algorithm} key; GCP accepts only RSA and ECDSA keys. Re-issue it with RSA or ECDSA.",
            "client_cert_unsupported_key_algorithm",
        )
    ]


def signature_violations(certificate: x509.Certificate, severity: Severity = Severity.ERROR) -> list[Violation]:
    try:
        algorithm = certificate.signature_hash_algorithm
    except UnsupportedAlgorithm:
        algorithm = None
    name = algorithm.name if algorithm is not None else None
    if name in STRONG_HASHES:
        return []
    shown = name.upper() if name else "an algorithm without SHA-2"
    return [
        Violation(
            "cert.signature-hash",
            f"is signed with {shown}; GCP needs SHA-256 or stronger (MD5 and SHA-1 fail validation). "
            "Have its issuer re-sign it with SHA-256.",
            severity=severity,
        )
    ]


def _extension(certificate: x509.Certificate, kind: type) -> x509.Extension | None:
    try:
        return certificate.extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return None


def has_client_auth(certificate: x509.Certificate) -> bool | None:
    """True or False by the EKU extension; None when there is none."""
    eku = _extension(certificate, x509.ExtendedKeyUsage)
    return None if eku is None else ExtendedKeyUsageOID.CLIENT_AUTH in eku.value


def is_ca(certificate: x509.Certificate) -> bool:
    constraints = _extension(certificate, x509.BasicConstraints)
    return constraints is not None and constraints.value.ca


def name_constraint_count(certificate: x509.Certificate) -> int:
    constraints = _extension(certificate, x509.NameConstraints)
    if constraints is None:
        return 0
    return len(constraints.value.permitted_subtrees or ()) + len(constraints.value.excluded_subtrees or ())


def ca_violations(certificate: x509.Certificate) -> list[Violation]:
    found: list[Violation] = []
    if not is_ca(certificate):
        found.append(
            Violation(
                "cert.not-ca",
                "is not a CA (basicConstraints CA:TRUE is missing); GCP only accepts CA "
                "certificates here. Use the CA's own certificate, not a leaf.",
            )
        )
    usage = _extension(certificate, x509.KeyUsage)
    if usage is None or not usage.value.key_cert_sign:
        found.append(
            Violation(
                "cert.key-usage",
                "lacks keyUsage keyCertSign, so it cannot vouch for certificates it "
                "issued; re-issue it with keyUsage = critical, keyCertSign.",
            )
        )
    client_auth = has_client_auth(certificate)
    if client_auth is False:
        found.append(
            Violation(
                "cert.eku",
                "has an extendedKeyUsage without clientAuth, which restricts every "
                "certificate below it: clients fail with client_cert_chain_invalid_eku. "
                "Re-issue it with extendedKeyUsage = clientAuth.",
                "client_cert_chain_invalid_eku",
            )
        )
    elif client_auth is None:
        found.append(
            Violation(
                "cert.eku-missing",
                "has no extendedKeyUsage. GCP requires clientAuth in the EKU of the "
                "CA that issues client certificates (client_cert_chain_invalid_eku); "
                "if this CA issues them, re-issue it with extendedKeyUsage = clientAuth.",
                "client_cert_chain_invalid_eku",
                Severity.WARNING,
            )
        )
    count = name_constraint_count(certificate)
    if count > MAX_NAME_CONSTRAINTS:
        found.append(
            Violation(
                "cert.name-constraints",
                f"has {count} name constraints; GCP allows at most {MAX_NAME_CONSTRAINTS}. Re-issue it with fewer.",
                "client_cert_chain_max_name_constraints_exceeded",
            )
        )
    return found


# Stated on Google's backend mTLS page (https://cloud.google.com/load-balancing/docs/backend-authenticated-tls-
# backend-mtls); the frontend page's matching bullet is cut off in every copy we have, so these only warn.
BACKEND_MTLS_PAGE = "Google's backend mTLS page; unconfirmed for frontend mTLS"
EXTRA_EKUS = {
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
}


def key_identifier_violations(certificate: x509.Certificate, issuer: x509.Certificate | None) -> list[Violation]:
    """A certificate's subject key identifier, and a child's authority key identifier matching its issuer's."""
    found = []
    ski = _extension(certificate, x509.SubjectKeyIdentifier)
    if ski is None and is_ca(certificate):
        found.append(
            Violation(
                "cert.no-ski",
                "has no subjectKeyIdentifier, so the certificates it issues cannot name it by key "
                f"({BACKEND_MTLS_PAGE}). Re-issue it with subjectKeyIdentifier = hash.",
                severity=Severity.WARNING,
            )
        )
    if certificate.issuer == certificate.subject and issuer is None:
        return found  # a self-issued anchor has no authority to name
    aki = _extension(certificate, x509.AuthorityKeyIdentifier)
    if aki is None or aki.value.key_identifier is None:
        found.append(
            Violation(
                "cert.no-aki",
                "has no authorityKeyIdentifier naming its issuer's key, which must match the issuer's "
                f"subjectKeyIdentifier ({BACKEND_MTLS_PAGE}). Re-issue it with authorityKeyIdentifier = keyid.",
                severity=Severity.WARNING,
            )
        )
    elif issuer is not None:
        issuer_ski = _extension(issuer, x509.SubjectKeyIdentifier)
        if issuer_ski is not None and issuer_ski.value.digest != aki.value.key_identifier:
            found.append(
                Violation(
                    "cert.key-id-mismatch",
                    f"has an authorityKeyIdentifier that does not match the subjectKeyIdentifier of its issuer "
                    f"{issuer.subject.rfc4514_string()} ({BACKEND_MTLS_PAGE}). Re-issue it from that issuer.",
                    severity=Severity.WARNING,
                )
            )
    return found


def extra_eku_violations(certificate: x509.Certificate) -> list[Violation]:
    eku = _extension(certificate, x509.ExtendedKeyUsage)
    extra = [label for oid, label in EXTRA_EKUS.items() if eku is not None and oid in eku.value]
    if not extra:
        return []
    return [
        Violation(
            "cert.eku-extra",
            f"has extendedKeyUsage {', '.join(extra)} besides clientAuth; Google requires a client certificate "
            f"without them ({BACKEND_MTLS_PAGE}). Re-issue it with extendedKeyUsage = clientAuth only.",
            severity=Severity.WARNING,
        )
    ]


def validity_violations(certificate: x509.Certificate, now: dt.datetime, warning_days: int) -> list[Violation]:
    not_before, not_after = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    if now < not_before:
        return [
            Violation(
                "cert.not-yet-valid",
                f"is not valid before {not_before:%Y-%m-%d %H:%M} UTC; wait, or fix the issuing clock and re-issue it.",
            )
        ]
    if now > not_after:
        return [Violation("cert.expired", f"expired on {not_after:%Y-%m-%d}; replace it with a renewed certificate.")]
    if not_after - now < dt.timedelta(days=warning_days):
        days = (not_after - now).days
        return [
            Violation(
                "cert.expiring",
                f"expires on {not_after:%Y-%m-%d}, in {days} day(s); renew it and add the "
                "new one before this one expires.",
                severity=Severity.WARNING,
            )
        ]
    return []


def role_violations(certificate: x509.Certificate, role: str, now: dt.datetime, warning_days: int) -> list[Violation]:
    """Rules for one certificate in its role, without looking at the others."""
    if role == ALLOWLISTED:  # GCP takes them as they are, self-signed and expired ones too: their dates only warn
        return [replace(v, severity=Severity.WARNING) for v in validity_violations(certificate, now, warning_days)]
    # A trust anchor's own signature is never verified when it anchors a chain, but Google's certificate
    # requirements do not exempt anchors from SHA-256 or stronger, so a weak one is refused like any other.
    return [
        *key_violations(certificate),
        *signature_violations(certificate),
        *ca_violations(certificate),
        *key_identifier_violations(certificate, None),
        *validity_violations(certificate, now, warning_days),
    ]


# --- rules on the whole trust config --------------------------------------------------------------------------


def is_issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


class Issuers:
    """Certificates indexed by subject, so finding a certificate's issuer is a lookup, not a scan."""

    def __init__(self, certificates: Iterable[x509.Certificate]):
        self.by_subject: dict[bytes, list[x509.Certificate]] = defaultdict(list)
        for certificate in certificates:
            self.by_subject[certificate.subject.public_bytes()].append(certificate)

    def of(self, certificate: x509.Certificate) -> list[x509.Certificate]:
        candidates = self.by_subject.get(certificate.issuer.public_bytes(), [])
        return [c for c in candidates if is_issued_by(certificate, c)]


def spki(certificate: x509.Certificate) -> bytes:
    return certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def check_trust_config(
    anchors: Iterable[LoadedCertificate],
    intermediates: Iterable[LoadedCertificate],
    allowlisted: Iterable[LoadedCertificate],
    now: dt.datetime,
    warning_days: int = 30,
) -> list[Finding]:
    anchors, intermediates, allowlisted = list(anchors), list(intermediates), list(allowlisted)
    findings: list[Finding] = []
    for role, group in ((ANCHOR, anchors), (INTERMEDIATE, intermediates), (ALLOWLISTED, allowlisted)):
        for loaded in group:
            findings += [loaded.finding(v) for v in role_violations(loaded.certificate, role, now, warning_days)]

    findings += _duplicates([*anchors, *intermediates]) + _duplicates(allowlisted)
    findings += _unchained(anchors, intermediates)
    issuers = Issuers([c.certificate for c in anchors + intermediates])
    for loaded in intermediates:
        for issuer in issuers.of(loaded.certificate)[:1]:
            findings += [
                loaded.finding(v)
                for v in key_identifier_violations(loaded.certificate, issuer)
                if v.code == "cert.key-id-mismatch"  # a missing one is said once, with the certificate's own rules
            ]
    same_subject_and_key = Counter((c.certificate.subject.public_bytes(), spki(c.certificate)) for c in intermediates)
    for loaded in intermediates:
        count = same_subject_and_key[(loaded.certificate.subject.public_bytes(), spki(loaded.certificate))]
        if count > MAX_SAME_SUBJECT_AND_KEY:
            findings.append(
                loaded.finding(
                    Violation(
                        "cert.pki-too-large",
                        f"is one of {count} intermediates sharing this subject and public key; GCP "
                        f"allows at most {MAX_SAME_SUBJECT_AND_KEY} (client_cert_pki_too_large). Keep "
                        "only the current ones.",
                        "client_cert_pki_too_large",
                    )
                )
            )
    findings += _quota_findings(anchors, intermediates, allowlisted)
    return findings


def _duplicates(group: list[LoadedCertificate]) -> list[Finding]:
    first: dict[bytes, LoadedCertificate] = {}
    findings = []
    for loaded in group:
        earlier = first.setdefault(loaded.fingerprint, loaded)
        if earlier is not loaded:
            findings.append(
                loaded.finding(
                    Violation(
                        "cert.duplicate",
                        f"is the same certificate as {earlier.key} ({earlier.source}); list it once.",
                        severity=Severity.WARNING,
                    )
                )
            )
    return findings


def _unchained(anchors: list[LoadedCertificate], intermediates: list[LoadedCertificate]) -> list[Finding]:
    issuers = Issuers([c.certificate for c in anchors + intermediates])
    anchor_prints = {a.fingerprint for a in anchors}
    chained: dict[bytes, bool] = {}

    def reaches_anchor(certificate: x509.Certificate, depth: int) -> bool:
        fingerprint = certificate.fingerprint(hashes.SHA256())
        if fingerprint in chained:
            return chained[fingerprint]
        chained[fingerprint] = False  # guards against issuer cycles
        result = depth < MAX_CHAIN_DEPTH and any(
            c.fingerprint(hashes.SHA256()) in anchor_prints or reaches_anchor(c, depth + 1)
            for c in issuers.of(certificate)
            if c is not certificate
        )
        chained[fingerprint] = result
        return result

    findings = []
    for loaded in intermediates:
        if not reaches_anchor(loaded.certificate, 1):
            issuer = loaded.certificate.issuer.rfc4514_string()
            findings.append(
                loaded.finding(
                    Violation(
                        "cert.no-chain",
                        f"does not chain to any configured trust anchor (its issuer is {issuer}); add that "
                        "issuer's certificate to trustAnchors (or intermediateCas), or remove this one.",
                    )
                )
            )
    return findings


def _quota_findings(anchors: list, intermediates: list, allowlisted: list) -> list[Finding]:
    from components.edge.settings import KEY

    key = KEY
    limits = [
        (
            len(anchors) + len(intermediates),
            MAX_TRUST_STORE_CERTIFICATES,
            "trustAnchors + intermediateCas",
            "certificates in the trust store",
        ),
        (len(intermediates), MAX_INTERMEDIATES, "intermediateCas", "intermediate CAs"),
        (len(allowlisted), MAX_ALLOWLISTED, "allowlistedCertificates", "allowlisted certificates"),
    ]
    return [
        Finding(
            Severity.ERROR,
            "cert.trust-config-limit",
            f"{key}.{where.split(' ')[0]}",
            f"{where} hold {count} {what}; GCP's published quota for one trust config is {limit}. Split the "
            "clients across stacks, or drop certificates that are no longer used.",
        )
        for count, limit, where, what in limits
        if count > limit
    ]
