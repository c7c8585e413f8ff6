"""The mesh's plugged-in CA, an Istio `cacerts` folder (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem),
checked as istiod loads it, and a change of it checked against the bundle it replaces.

istiod (security/pkg/pki/util/keycertbundle.go, `Verify`; security/pkg/pki/ca/ca.go,
`NewPluggedCertIstioCAOptions`): ca-cert.pem must verify through the certificates of cert-chain.pem to a root of
root-cert.pem (Go's x509 verification: signatures, each certificate's validity, issuers that are CAs, and no extended
key usage that excludes serverAuth, the usage Go checks when none is asked for); ca-key.pem must parse and be
ca-cert.pem's key; and ca-cert.pem must be a CA. Istio does not rotate a plugged-in CA ("It is the user's
responsibility", istio/istio#28575); its own test (tests/integration/security/cacert_rotation/main_test.go) first
deploys root-cert.pem with the old and the new roots, then switches the signing CA, and drops the old root last.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from components.core.files import UnreadableFileError, read_regular
from components.core.findings import Finding, Severity, error, note, warning

CA_CERT, CA_KEY, ROOT_CERT, CERT_CHAIN = "ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem"
FILES = (CA_CERT, CA_KEY, ROOT_CERT, CERT_CHAIN)
FILE_LIMIT = 256 * 1024
MAX_DEPTH = 10
# Istio's default workload certificate lifetime (DEFAULT_WORKLOAD_CERT_TTL, 24h): how long the old CA's certificates
# live after the signing CA changed.
WORKLOAD_CERT_TTL = dt.timedelta(hours=24)


@dataclass(frozen=True)
class Bundle:
    directory: str
    ca_cert: x509.Certificate
    roots: tuple[x509.Certificate, ...]
    chain: tuple[x509.Certificate, ...]
    root_pem: bytes  # root-cert.pem as written: istiod before 1.31 compares these bytes

    def fingerprint(self) -> bytes:
        return self.ca_cert.fingerprint(hashes.SHA256())


def _where(directory: str, name: str) -> str:
    return str(Path(directory) / name)


def _certificates(data: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(data) if b"-----BEGIN CERTIFICATE-----" in data else []


def load(directory: str, now: dt.datetime, warning_days: int = 30) -> tuple[Bundle | None, list[Finding]]:
    """The bundle of `directory` as istiod loads it, or None, with a finding naming the file for each problem."""
    data: dict[str, bytes] = {}
    findings: list[Finding] = []
    if not Path(directory).is_dir():
        return None, [error("meshca.folder", directory, "is not a folder; name the cacerts folder (ca-cert.pem, ...).")]
    for name in FILES:
        path = Path(directory) / name
        try:
            data[name] = read_regular(path, FILE_LIMIT, f"the bundle's {name}")
        except FileNotFoundError:
            findings.append(
                error("meshca.missing", _where(directory, name), f"is missing; istiod needs all of {', '.join(FILES)}.")
            )
        except UnreadableFileError as problem:
            findings.append(error("meshca.file", _where(directory, name), str(problem)))
    if findings:
        return None, findings
    parsed: dict[str, list[x509.Certificate]] = {}
    for name in (CA_CERT, ROOT_CERT, CERT_CHAIN):
        try:
            parsed[name] = _certificates(data[name])
        except ValueError as exc:
            findings.append(
                error(
                    "meshca.unparseable", _where(directory, name), f"holds a certificate that does not parse ({exc})."
                )
            )
            continue
        if not parsed[name] and name != CERT_CHAIN:
            findings.append(error("meshca.empty", _where(directory, name), "holds no PEM certificate."))
    if findings:
        return None, findings
    ca_cert = parsed[CA_CERT][0]  # istiod decodes the first PEM block
    findings += _key_findings(directory, data[CA_KEY], ca_cert)
    if not _is_ca(ca_cert):
        findings.append(
            error(
                "meshca.not-ca",
                _where(directory, CA_CERT),
                'is not a CA (basicConstraints CA:TRUE); istiod refuses it: "certificate is not authorized to sign '
                "other certificates\". Use the intermediate CA's certificate.",
            )
        )
    bundle = Bundle(directory, ca_cert, tuple(parsed[ROOT_CERT]), tuple(parsed[CERT_CHAIN]), data[ROOT_CERT])
    verified = build_path(ca_cert, bundle.chain, bundle.roots, now)
    if isinstance(verified, str):
        findings.append(
            error(
                "meshca.chain",
                _where(directory, CA_CERT),
                f"does not verify to a root of {ROOT_CERT} through {CERT_CHAIN}: {verified}. istiod refuses the bundle "
                '("cannot verify the cert with the provided root chain").',
            )
        )
    not_after = ca_cert.not_valid_after_utc
    if now < not_after < now + dt.timedelta(days=warning_days):
        findings.append(
            warning(
                "meshca.expiring",
                _where(directory, CA_CERT),
                f"expires on {not_after:%Y-%m-%d}, in {(not_after - now).days} day(s): rotate the signing CA before "
                "then (README: rotating the mesh's CA).",
            )
        )
    return (None if any(f.severity.value == "error" for f in findings) else bundle), findings


def _key_findings(directory: str, key_pem: bytes, ca_cert: x509.Certificate) -> list[Finding]:
    where = _where(directory, CA_KEY)
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        return [error("meshca.key", where, "is encrypted; istiod reads an unencrypted PEM key.")]
    except (ValueError, UnsupportedAlgorithm) as exc:
        return [error("meshca.key", where, f"is not a PEM private key istiod can parse ({exc}).")]
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    spki = ca_cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if public != spki:
        return [
            error(
                "meshca.key-mismatch",
                where,
                f'is not the key of {CA_CERT} ({ca_cert.subject.rfc4514_string()}); istiod refuses the bundle ("the '
                "cert does not match the key\"). Put the signing CA's own key here.",
            )
        ]
    return []


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _allows_server_auth(certificate: x509.Certificate) -> bool:
    """Go's chain check, with no key usage asked for, takes serverAuth: a certificate whose EKU lists neither it nor
    anyExtendedKeyUsage breaks the chain; one without the extension restricts nothing."""
    try:
        usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return ExtendedKeyUsageOID.SERVER_AUTH in usages or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in usages


def _issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def build_path(
    certificate: x509.Certificate,
    intermediates: tuple[x509.Certificate, ...],
    roots: tuple[x509.Certificate, ...],
    now: dt.datetime,
) -> list[x509.Certificate] | str:
    """The path from `certificate` to one of `roots` as Go's x509 builds it, or why there is none."""
    reasons: list[str] = []

    def valid(c: x509.Certificate) -> bool:
        if not c.not_valid_before_utc <= now <= c.not_valid_after_utc:
            reasons.append(f"{c.subject.rfc4514_string()} is not valid now (until {c.not_valid_after_utc:%Y-%m-%d})")
            return False
        if not _allows_server_auth(c):
            reasons.append(f"{c.subject.rfc4514_string()} has an extendedKeyUsage without serverAuth")
            return False
        return True

    def extend(path: list[x509.Certificate]) -> list[x509.Certificate] | None:
        current = path[-1]
        for root in roots:
            if _issued_by(current, root) and _is_ca(root) and valid(root):
                return [*path, root]
        if len(path) >= MAX_DEPTH:
            return None
        for issuer in intermediates:
            if issuer in path or not _issued_by(current, issuer):
                continue
            if not _is_ca(issuer):
                reasons.append(f"{issuer.subject.rfc4514_string()} is not a CA")
                continue
            if valid(issuer) and (found := extend([*path, issuer])) is not None:
                return found
        return None

    if not valid(certificate):
        return reasons[0]
    found = extend([certificate])
    if found is not None:
        return found
    if reasons:
        return reasons[0]
    return f"no certificate there issued {certificate.issuer.rfc4514_string()}"


def _root_of(bundle: Bundle, now: dt.datetime) -> x509.Certificate | None:
    path = build_path(bundle.ca_cert, bundle.chain, bundle.roots, now)
    return path[-1] if isinstance(path, list) else None


def change_findings(new: Bundle, previous: Bundle, now: dt.datetime) -> list[Finding]:
    """A change of the deployed bundle (`previous`) to `new`: one istiod applies (pilot/pkg/bootstrap/istio_ca.go
    `handleEvent`), held to the order of Istio's rotation test: the new root joins root-cert.pem before the signing CA
    changes, and the old root leaves only after the workloads have certificates of the new CA."""
    new_root, old_root = _root_of(new, now), _root_of(previous, now)
    deployed = {r.fingerprint(hashes.SHA256()) for r in previous.roots}
    kept = {r.fingerprint(hashes.SHA256()) for r in new.roots}
    switching = new.fingerprint() != previous.fingerprint()
    where = _where(new.directory, ROOT_CERT)
    found = _root_reload_findings(new, previous, deployed, kept) if new.root_pem != previous.root_pem else []
    nested = deployed <= kept or kept <= deployed
    if switching and new_root is not None and new_root.fingerprint(hashes.SHA256()) not in deployed:
        found.append(
            error(
                "meshca.root-first",
                _where(new.directory, CA_CERT),
                f"switches the signing CA to one under root {new_root.subject.rfc4514_string()}, which the deployed "
                f"{ROOT_CERT} ({previous.directory}) does not hold: until every workload has that root, their peers' "
                f"new certificates fail mTLS. First deploy {ROOT_CERT} with the old and the new roots, keeping the "
                "old signing CA; switch the signing CA in a later step.",
            )
        )
    if switching and nested and old_root is not None and old_root.fingerprint(hashes.SHA256()) not in kept:
        found.append(
            error(
                "meshca.root-dropped",
                where,
                f"drops root {old_root.subject.rfc4514_string()} in the step that switches the signing CA: workloads "
                "still hold certificates of the old CA until they renew. Keep both roots now, and drop the old one in "
                f"a later step, {WORKLOAD_CERT_TTL.total_seconds() / 3600:.0f} hours (Istio's default workload "
                "certificate lifetime) or more after this one.",
            )
        )
    if not switching and nested and deployed - kept:
        found.append(
            note(
                "meshca.root-removed",
                where,
                "drops a root the deployed bundle holds: safe once every workload renewed its certificate under the "
                f"current signing CA ({WORKLOAD_CERT_TTL.total_seconds() / 3600:.0f} hours by Istio's default).",
            )
        )
    return sorted(found, key=lambda f: list(Severity).index(f.severity))


def _root_reload_findings(new: Bundle, previous: Bundle, deployed: set[bytes], kept: set[bytes]) -> list[Finding]:
    """istiod applies a changed root-cert.pem only under two conditions; otherwise it logs a warning and ignores the
    whole change, the signing CA included."""
    where = _where(new.directory, ROOT_CERT)
    if not (deployed <= kept or kept <= deployed):
        return [
            error(
                "meshca.root-not-nested",
                where,
                f"neither holds every root of the deployed {ROOT_CERT} ({previous.directory}) nor only roots of it: "
                'istiod ignores such a change ("Updating new ROOT-CA not supported"), the signing CA included. Add '
                "the new root in one step, remove the old one in another.",
            )
        ]
    found = [
        note(
            "meshca.multiroot",
            where,
            "changes the file: istiod applies that only with ISTIO_MULTIROOT_MESH=true in its environment "
            "(values.pilot.env, as Istio's rotation test sets); without it, it logs \"Multi root is disabled, updating "
            'new ROOT-CA not supported" and ignores the change, the signing CA included.',
        )
    ]
    if previous.root_pem not in new.root_pem and new.root_pem not in previous.root_pem:
        found.append(
            warning(
                "meshca.root-bytes",
                where,
                f"holds the deployed roots, but not the deployed {ROOT_CERT}'s text whole (or the reverse): istiod "
                "before 1.31 compares the files' bytes and ignores the change. Append the new root to the deployed "
                "file as it is, or delete the old root's block from it.",
            )
        )
    return found
