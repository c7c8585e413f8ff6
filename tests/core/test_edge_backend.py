"""An allowed client: which identities a certificate can carry, the path forms that mean the same at the load
balancer and in the mesh, and the header values the mesh matches (checked on a real certificate's SANs)."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from components.core.edge_backend import AllowedClient, load_balancer_paths
from components.core.settings import parse
from components.mesh.analysis.authorization import value_matches


def findings(entry: dict) -> list[str]:
    _, found = parse(AllowedClient, entry, "gke-mtls:gkeBackend.allowedClients[0]")
    return [str(f) for f in found]


@pytest.mark.parametrize(
    "entry",
    [
        {"uriSan": "spiffe://acme.com/ns/shop/sa/checkout"},
        {"uriSan": "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66"},
        {"uriSan": "https://billing.acme.com/clients/7"},
        {"dnsSan": "billing.acme.com"},
        {"dnsSan": "localhost", "paths": ["/charge", "/api/*"], "methods": ["GET", "POST"]},
    ],
)
def test_accepts_identities_a_certificate_carries(entry):
    assert findings(entry) == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({}, "give exactly one of `uriSan` and `dnsSan` (neither is set)."),
        ({"uriSan": "spiffe://a/b", "dnsSan": "a.b"}, "give exactly one of `uriSan` and `dnsSan` (not both)."),
        ({"uriSan": "acme.com/checkout"}, "is not an absolute URI"),
        ({"uriSan": "spiffe://acme.com/ns/shop/sa/check out"}, "holds a character a URI does not"),
        ({"uriSan": "spiffe://Acme.com/ns/shop"}, "has no valid SPIFFE trust domain"),
        ({"uriSan": "spiffe://acme.com/ns//sa"}, "is not a SPIFFE ID"),
        ({"uriSan": "spiffe://acme.com/ns/../sa"}, "is not a SPIFFE ID"),
        ({"uriSan": "HTTPS://acme.com/x"}, "has an uppercase scheme"),
        ({"uriSan": "spiffe://acme.com/" + "a" * 2100}, "is over 2048 bytes"),
        ({"dnsSan": "*.acme.com"}, "is not a DNS name as a certificate carries it"),
        ({"dnsSan": "bücher.example"}, "is not a DNS name as a certificate carries it"),
        ({"dnsSan": "a..b"}, "is not a DNS name as a certificate carries it"),
        ({"dnsSan": "a.b", "paths": ["/x?y=1"]}, "only these two forms mean the same at both"),
        ({"dnsSan": "a.b", "paths": ["/a*b"]}, "only these two forms mean the same at both"),
        ({"dnsSan": "a.b", "paths": ["api"]}, "a path is exact (/charge) or a prefix ending in *"),
        ({"dnsSan": "a.b", "methods": ["CONNECT"]}, "methods[0]"),
        ({"dnsSan": "a.b", "paths": ["/a", "/b", "/c"]}, "the paths make 6 load-balancer path matches"),
    ],
)
def test_refuses_what_no_certificate_or_rule_can_match_naming_the_entry(entry, message):
    found = findings(entry)
    assert len(found) == 1 and found[0].startswith("gke-mtls:gkeBackend.allowedClients[0]")
    assert message in found[0]


def test_an_exact_path_also_matches_itself_with_a_query_at_the_load_balancer():
    """The load balancer matches the path with its query, Istio without: `/charge` must admit `/charge?x=1` at both."""
    assert load_balancer_paths("/charge") == [{"exact": "/charge"}, {"prefix": "/charge?"}]
    assert load_balancer_paths("/api/*") == [{"prefix": "/api/"}]


def certificate_with_sans(*names: x509.GeneralName) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(list(names)), critical=False)
        .sign(key, hashes.SHA256())
    )


def load_balancer_expansion(certificate: x509.Certificate, kind: type) -> str:
    """What Google documents for {client_cert_uri_sans} / {client_cert_dnsname_sans}: each SAN of the kind
    Base64-encoded, comma-separated, in certificate order (SPIFFE IDs go to {client_cert_spiffe_id} instead)."""
    sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(kind)
    return ",".join(base64.b64encode(v.encode()).decode() for v in sans if not v.startswith("spiffe://"))


def matches(values: tuple[str, ...], header: str) -> bool:
    """Istio's `when` value match (exact, `x*`, `*x`), as the mesh analysis implements and tests it."""
    return any(value_matches(v, header) for v in values)


@pytest.mark.parametrize("position", ["only", "first", "last"])
def test_a_dns_san_is_matched_alone_first_or_last_in_the_load_balancers_list(position):
    others = {"only": [], "first": ["b.acme.com"], "last": ["b.acme.com"]}[position]
    names = ["billing.acme.com", *others] if position != "last" else [*others, "billing.acme.com"]
    certificate = certificate_with_sans(*(x509.DNSName(n) for n in names))
    client = AllowedClient(dns_san="billing.acme.com")
    assert matches(client.header_values, load_balancer_expansion(certificate, x509.DNSName))


def test_a_dns_san_in_the_middle_is_not_matched_so_the_request_is_refused_not_let_through():
    certificate = certificate_with_sans(*(x509.DNSName(n) for n in ["a.acme.com", "billing.acme.com", "c.acme.com"]))
    expansion = load_balancer_expansion(certificate, x509.DNSName)
    assert not matches(AllowedClient(dns_san="billing.acme.com").header_values, expansion)


def test_another_clients_san_never_matches():
    certificate = certificate_with_sans(
        x509.DNSName("billing.acme.com.evil.example"), x509.DNSName("xbilling.acme.com")
    )
    assert not matches(
        AllowedClient(dns_san="billing.acme.com").header_values, load_balancer_expansion(certificate, x509.DNSName)
    )


def test_a_spiffe_id_comes_as_it_is_and_is_matched_exactly():
    client = AllowedClient(uri_san="spiffe://acme.com/ns/shop/sa/checkout")
    assert client.variable == "client_cert_spiffe_id"
    assert client.header_values == ("spiffe://acme.com/ns/shop/sa/checkout",)
    assert AllowedClient(uri_san="https://acme.com/x").variable == "client_cert_uri_sans"
    assert AllowedClient(dns_san="acme.com").variable == "client_cert_dnsname_sans"
