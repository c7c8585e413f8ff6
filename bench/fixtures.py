"""Generated stack configs for the benchmark: N workloads, each in its own namespace with a workload
PeerAuthentication (one port exception) and an AuthorizationPolicy with two principal rules, plus the full edge
with three trust anchors and two intermediate CAs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = dt.datetime.now(dt.UTC)


def _ca(common_name: str, issuer: tuple[x509.Certificate, Any] | None) -> tuple[x509.Certificate, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    issuer_cert, issuer_key = issuer or (None, key)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )
    return certificate, key


def write_certificates(directory: Path) -> dict[str, list[str]]:
    directory.mkdir(parents=True, exist_ok=True)
    roots = [_ca(f"bench root {i}", None) for i in range(3)]
    intermediates = [_ca(f"bench intermediate {i}", roots[i]) for i in range(2)]
    paths: dict[str, list[str]] = {"trustAnchors": [], "intermediateCas": []}
    for group, certificates in (("trustAnchors", roots), ("intermediateCas", intermediates)):
        for i, (certificate, _) in enumerate(certificates):
            path = directory / f"{group}-{i}.pem"
            path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
            paths[group].append(str(path))
    return paths


def stack_config(workloads: int, certificates: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "gke-mtls:backend": {"name": "k8s1-0123abcd-default-web-80-5104b449"},
        "gke-mtls:edge": {
            "domains": ["bench.example.com"],
            "trustAnchors": certificates["trustAnchors"],
            "intermediateCas": certificates["intermediateCas"],
            "httpsRedirect": True,
        },
        "gke-mtls:cluster": {"context": "gke_bench"},
        "gke-mtls:mesh": {
            "mode": "STRICT",
            "workloads": [
                {"namespace": f"team-{i}", "selector": {"app": f"svc-{i}"}, "ports": {"9090": "PERMISSIVE"}}
                for i in range(workloads)
            ],
            "authorization": [
                {
                    "name": f"svc-{i}-callers",
                    "namespace": f"team-{i}",
                    "selector": {"app": f"svc-{i}"},
                    "rules": [
                        {
                            "from": [
                                {"source": {"principals": [f"cluster.local/ns/team-{(i + 1) % workloads}/sa/client"]}}
                            ],
                            "to": [{"operation": {"methods": ["GET"], "ports": ["8080"]}}],
                        },
                        {
                            "from": [{"source": {"principals": ["cluster.local/ns/ops/sa/prober"]}}],
                            "to": [{"operation": {"paths": ["/healthz"], "ports": ["8080"]}}],
                        },
                    ],
                }
                for i in range(workloads)
            ],
        },
    }
