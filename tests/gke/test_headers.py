"""GCP's rules for the custom request headers: each fails on one side and passes on the other."""

from __future__ import annotations

import pytest

from components.gke.headers import CLIENT_CERT_VARIABLES, DEFAULT_HEADERS, header_findings
from tests.gke.configs import settings

KEY = "gke-mtls:gkeBackend"


def header_messages(headers: dict[str, str]) -> list[str]:
    return [str(f) for f in header_findings(headers, f"{KEY}.headers")]


def test_default_headers_carry_the_mtls_verdict_and_pass_every_rule():
    assert header_messages(DEFAULT_HEADERS) == []
    assert settings().header_for("client_cert_chain_verified") == "X-Client-Cert-Chain-Verified"


def test_at_most_16_headers():
    sixteen = {f"X-H{i}": "v" for i in range(16)}
    assert header_messages(sixteen) == []
    assert header_messages({**sixteen, "X-H16": "v"}) == [
        f"{KEY}.headers: 17 headers; a backend service takes at most 16. [header.count]"
    ]


def test_at_most_8_kb_of_headers():
    assert header_messages({"X-Big": "v" * (8192 - 5)}) == []
    assert header_messages({"X-Big": "v" * 8192}) == [
        f"{KEY}.headers: the headers take 8197 bytes; a backend service takes at most 8192 (names and values, before "
        "variables expand). [header.size]"
    ]


@pytest.mark.parametrize(
    "name, code",
    [
        ("X Client", "header.name"),
        ("X-Client:Cert", "header.name"),
        ("X-User-IP", "header.reserved"),
        ("CDN-Loop", "header.reserved"),
        ("Connection", "header.hop-by-hop"),
        ("Keep-Alive", "header.hop-by-hop"),
        ("TE", "header.hop-by-hop"),
        ("Upgrade", "header.hop-by-hop"),
        ("X-Google-Cert", "header.prefix"),
        ("x-goog-cert", "header.prefix"),
        ("X-GFE-Cert", "header.prefix"),
        ("X-Amz-Cert", "header.prefix"),
    ],
)
def test_rejects_names_gcp_refuses(name, code):
    (finding,) = header_findings({name: "{client_cert_present}"}, f"{KEY}.headers")
    assert (finding.code, finding.key) == (code, f"{KEY}.headers.{name}")


@pytest.mark.parametrize("name", ["X-Client-Cert", "Client-Verified", "x_cert.hash~1"])
def test_accepts_token_names(name):
    assert header_messages({name: "{client_cert_present}"}) == []


def test_rejects_duplicate_names_case_insensitively():
    assert header_messages({"X-Cert": "a", "x-cert": "b"}) == [
        f"{KEY}.headers.x-cert: x-cert repeats X-Cert (header names are case-insensitive). [header.duplicate]"
    ]


def test_rejects_unknown_client_cert_variables_and_accepts_every_known_one_and_escapes():
    (finding,) = header_findings({"X-Cert": "{client_cert_fingerprint}"}, f"{KEY}.headers")
    assert finding.code == "header.variable"
    assert finding.message.startswith("{client_cert_fingerprint} is not a variable the load balancer knows")
    every = {f"X-V{i}": "{" + v + "}" for i, v in enumerate(CLIENT_CERT_VARIABLES)}
    assert header_messages(every) == []
    assert header_messages({"X-Literal": "{{client_cert_anything}}"}) == []


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("a\r\nSet-Cookie: x", "the control character '\\r'"),
        ("a\x00", "the control character '\\x00'"),
        ("caf\u00e9", "the non-ASCII character 'é'"),
    ],
)
def test_header_values_follow_rfc_7230(value, shown):
    assert header_messages({"X-Client": value}) == [
        f"{KEY}.headers.X-Client: {value!r} holds {shown}; a header value (RFC 7230) takes visible ASCII characters, "
        "spaces and tabs only. [header.value]"
    ]
    assert header_messages({"X-Client": "v1\t{client_cert_present} ok"}) == []


def test_a_huge_bad_value_is_quoted_as_a_short_excerpt():
    assert header_messages({"X-Client": "\x01" + "x" * 1_000_000}) == [
        f"{KEY}.headers: the headers take 1000009 bytes; a backend service takes at most 8192 (names and values, "
        "before variables expand). [header.size]",
        f"{KEY}.headers.X-Client: '\\x01{'x' * 55}… (1000001 characters) holds the control character '\\x01'; a "
        "header value (RFC 7230) takes visible ASCII characters, spaces and tabs only. [header.value]",
    ]
