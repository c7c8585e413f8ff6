"""The server certificate's rules on their own: which DNS authorizations a certificate needs, names that fit
Certificate Manager's, which names a certificate covers, and where the switch from a Compute certificate stands."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from components.edge import server_certificate
from components.edge.pem import LoadedCertificate
from components.edge.server_certificate import SelfManagedCertificate, check_self_managed, covers
from tests import pki


def test_one_authorization_per_domain_and_its_wildcard():
    domains = ["Dev.example.com", "*.dev.example.com", "api.example.com", "*.shop.example.com"]
    assert server_certificate.authorized_domains(domains) == ["dev.example.com", "api.example.com", "shop.example.com"]


def test_name_parts_are_distinct_and_fit_certificate_managers_64_characters():
    """Pulumi adds '-' and 7 characters; `edge-dns-auth-` comes before the part."""
    long = "a" * 60 + ".example.com"
    parts = {server_certificate.name_part(d) for d in ["a-b.com", "a.b-com", "*.a.com", "wildcard.a.com", long]}
    assert len(parts) == 5
    assert all(len(f"edge-dns-auth-{p}") + 8 <= 64 for p in parts)
    assert server_certificate.name_part(long) != server_certificate.name_part("a" * 60 + ".example.org")


@pytest.mark.parametrize(
    "names, domain, covered",
    [
        (["dev.example.com"], "dev.example.com", True),
        (["DEV.example.com"], "dev.EXAMPLE.com", True),
        (["*.example.com"], "dev.example.com", True),
        (["*.example.com"], "example.com", False),
        (["*.example.com"], "a.b.example.com", False),
        (["*.example.com"], "*.example.com", True),
        (["dev.example.com"], "*.example.com", False),
    ],
)
def test_a_wildcard_name_covers_one_whole_first_label(names, domain, covered):
    """RFC 6125 section 6.4.3, as Google's load balancers serve by SNI."""
    assert covers([n.lower() for n in names], domain) is covered


def test_stack_labels_are_label_values():
    assert server_certificate.stack_label("Prod.EU") == "prod-eu"
    assert len(server_certificate.stack_label("s" * 100)) <= 63


def _self_managed(leaf: pki.Issued, chain: list[pki.Issued]) -> SelfManagedCertificate:
    loaded = tuple(
        LoadedCertificate("server.pem", "gke-mtls:edge.certificate.certificateFile", c.certificate, c.pem.decode())
        for c in [leaf, *chain]
    )
    return SelfManagedCertificate(loaded, leaf.private_key, leaf.key_pem.decode(), "key.pem")


def test_an_expired_or_weak_server_certificate_is_refused_like_a_trust_anchor():
    ca = pki.issue("ca")
    expired = pki.issue(
        "dev.example.com",
        ca,
        ca=False,
        key_usage="leaf",
        eku=(ExtendedKeyUsageOID.SERVER_AUTH,),
        key_kind="rsa1024",
        not_after=pki.NOW - pki.DAY,
        san=[x509.DNSName("dev.example.com")],
    )
    found = check_self_managed(_self_managed(expired, [ca]), ["dev.example.com"], dt.datetime.now(dt.UTC), 30)
    assert [f.code for f in found] == ["cert.rsa-key-size", "cert.expired"]


def test_a_good_server_certificate_passes():
    ca = pki.issue("ca")
    leaf = pki.issue(
        "dev.example.com",
        ca,
        ca=False,
        key_usage="leaf",
        eku=(ExtendedKeyUsageOID.SERVER_AUTH,),
        key_seed=4,
        san=[x509.DNSName("dev.example.com"), x509.DNSName("*.dev.example.com")],
    )
    domains = ["dev.example.com", "*.dev.example.com", "api.dev.example.com"]
    assert check_self_managed(_self_managed(leaf, [ca]), domains, dt.datetime.now(dt.UTC), 30) == []


def test_the_switch_is_judged_by_the_certificates_state():
    assert server_certificate.switch_problem("prepare", {}) is None
    assert server_certificate.switch_problem("attach", {"c": "ACTIVE"}) is None
    assert "no Certificate Manager certificate yet" in str(server_certificate.switch_problem("attach", {}))
    assert "c (FAILED)" in str(server_certificate.switch_problem("drop", {"c": "FAILED"}))
