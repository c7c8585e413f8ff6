"""Would a client presenting this chain pass a trust config under REJECT_INVALID?

Path building and signatures come from `cryptography`'s verifier (with its web-PKI extension profile relaxed,
since GCP does not apply it); GCP's own rules are then applied to the leaf and the built chain. Each reason
starts with the `statusDetails` value the load balancer would log.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import verification

from components.core.findings import Severity
from components.edge import certificates
from components.edge.certificates import TrustConfig


def _reason(status: str, certificate: x509.Certificate, text: str) -> str:
    return f"{status}: {certificate.subject.rfc4514_string()}: {text}"


def _leaf_reasons(leaf: x509.Certificate, now: dt.datetime) -> list[str]:
    reasons = [_reason(v.status, leaf, v.text) for v in certificates.key_violations(leaf)]
    reasons += [_reason(v.status, leaf, v.text) for v in certificates.signature_violations(leaf)]
    if certificates.is_ca(leaf):
        reasons.append(
            _reason(
                "client_cert_validation_failed",
                leaf,
                "is a CA certificate (basicConstraints CA:TRUE); a client certificate must not be a CA.",
            )
        )
    if not certificates.has_client_auth(leaf):
        reasons.append(
            _reason(
                "client_cert_chain_invalid_eku",
                leaf,
                "has no extendedKeyUsage clientAuth; re-issue it with extendedKeyUsage = clientAuth.",
            )
        )
    reasons += [
        _reason(v.status, leaf, v.text)
        for v in certificates.validity_violations(leaf, now, 0)
        if v.severity is Severity.ERROR
    ]
    return reasons


def _path(
    leaf: x509.Certificate, pool: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate], now: dt.datetime
) -> list[x509.Certificate] | str:
    # GCP applies no web-PKI extension profile (no SAN requirement and such); CAs still need basicConstraints.
    ca_policy = verification.ExtensionPolicy.permit_all().require_present(
        x509.BasicConstraints, verification.Criticality.AGNOSTIC, None
    )
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store(list(anchors)))
        .time(now)
        .max_chain_depth(certificates.MAX_CHAIN_DEPTH - 2)
        .extension_policies(ca_policy=ca_policy, ee_policy=verification.ExtensionPolicy.permit_all())
        .build_client_verifier()
    )
    try:
        return list(verifier.verify(leaf, list(pool)).chain)
    except verification.VerificationError as exc:
        return str(exc)


def client_warnings(
    leaf: x509.Certificate, presented: Sequence[x509.Certificate], trust: TrustConfig, now: dt.datetime | None = None
) -> list[str]:
    """What Google documents for backend mTLS but may not enforce at the frontend: key identifiers along the chain
    the load balancer would build, and a client certificate with extra extended key usages."""
    now = now or dt.datetime.now(dt.UTC)
    warnings = [_reason("warning", leaf, v.text) for v in certificates.extra_eku_violations(leaf)]
    pool = [*presented, *(i.certificate for i in trust.intermediates)]
    chain = _path(leaf, pool, [a.certificate for a in trust.anchors], now) if trust.anchors else "no anchor"
    if isinstance(chain, str):
        return warnings
    for child, issuer in itertools.pairwise(chain):
        found = certificates.key_identifier_violations(child, issuer)
        warnings += [_reason("warning", child, v.text) for v in found]
    return warnings


def check_client(
    leaf: x509.Certificate, presented: Sequence[x509.Certificate], trust: TrustConfig, now: dt.datetime | None = None
) -> list[str]:
    """The reasons the load balancer would refuse this client; empty when it would accept it."""
    now = now or dt.datetime.now(dt.UTC)
    fingerprint = leaf.fingerprint(hashes.SHA256())
    if any(a.fingerprint == fingerprint for a in trust.allowlisted):
        return []  # allowlisted: valid as it is, even self-signed or expired (proof of possession is the TLS stack's)
    if not trust.anchors:
        return [
            _reason(
                "client_cert_validation_failed",
                leaf,
                "is not allowlisted and the trust config has no trust anchor to validate it against.",
            )
        ]
    reasons = _leaf_reasons(leaf, now)
    pool = [*presented, *(i.certificate for i in trust.intermediates)]
    same_subject_and_key = Counter((c.subject.public_bytes(), certificates.spki(c)) for c in pool)
    if any(count > certificates.MAX_SAME_SUBJECT_AND_KEY for count in same_subject_and_key.values()):
        reasons.append(
            _reason(
                "client_cert_pki_too_large",
                leaf,
                f"more than {certificates.MAX_SAME_SUBJECT_AND_KEY} intermediates share one subject and key.",
            )
        )
    old = [c for c in (leaf, *pool) if c.version is not x509.Version.v3]
    reasons += [
        _reason(
            "client_cert_validation_failed",
            c,
            "is an X.509 v1 certificate (what `openssl x509 -req` makes without -extfile), so it carries no "
            "extensions; GCP needs v3, with basicConstraints and extendedKeyUsage. Re-issue it with an "
            "extensions file.",
        )
        for c in old
    ]
    chain = _path(leaf, pool, [a.certificate for a in trust.anchors], now)
    if isinstance(chain, str):
        if old or (reasons and "not valid at validation time" in chain):  # already said why, in GCP's words
            return reasons
        if "maximum depth" in chain:
            reasons.append(
                _reason(
                    "client_cert_validation_search_limit_exceeded",
                    leaf,
                    f"no valid path to a trust anchor within {certificates.MAX_CHAIN_DEPTH} certificates; shorten "
                    "the chain.",
                )
            )
        else:
            reasons.append(
                _reason(
                    "client_cert_validation_failed",
                    leaf,
                    f"no valid path to a trust anchor: its issuer {leaf.issuer.rfc4514_string()} is not a trust "
                    "anchor, and no intermediate the client presented or the trust config holds leads to one. If "
                    "an intermediate CA is missing, pass it with --intermediates (or after the leaf), or add it to "
                    "intermediateCas; otherwise this client is not one of yours.",
                )
            )
        return reasons
    issuer = chain[1]
    if not certificates.has_client_auth(issuer):
        reasons.append(
            _reason(
                "client_cert_chain_invalid_eku",
                issuer,
                "issued the client certificate but has no extendedKeyUsage clientAuth; re-issue this CA "
                "with extendedKeyUsage = clientAuth.",
            )
        )
    for ca in chain[1:]:
        is_anchor = ca is chain[-1]
        reasons += [_reason(v.status, ca, v.text) for v in certificates.key_violations(ca)]
        if not is_anchor:  # an anchor's own signature is never verified
            reasons += [_reason(v.status, ca, v.text) for v in certificates.signature_violations(ca)]
        reasons += [
            _reason(v.status, ca, v.text)
            for v in certificates.ca_violations(ca)
            if v.severity is Severity.ERROR and not (ca is issuer and v.code == "cert.eku")
        ]
    return reasons
