"""End to end: a real TLS server on loopback (Python's ssl, OpenSSL underneath) requires client certificates
against the same anchors our check uses. What our check accepts completes a handshake; what it refuses for
unknown issuer, expiry or key usage is refused by OpenSSL too. Where OpenSSL is more lenient than GCP, the
test says so and shows our check is the stricter one."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography.x509 import DNSName
from cryptography.x509.oid import ExtendedKeyUsageOID

from components.edge.client_check import TrustConfig, check_client
from components.edge.pem import load_pem_file
from tests import pki


def handshake(anchor: pki.Issued, client: pki.Issued, chain: list[pki.Issued], workdir: Path) -> bool:
    """True when the server completed a handshake that required and verified the client's certificate."""
    server_cert = pki.issue(
        "localhost",
        ca=False,
        key_usage="leaf",
        eku=(ExtendedKeyUsageOID.SERVER_AUTH,),
        san=[DNSName("localhost")],
        key_seed=11,
    )
    (workdir / "server.pem").write_bytes(server_cert.pem)
    (workdir / "server.key").write_bytes(server_cert.key_pem)
    (workdir / "anchors.pem").write_bytes(anchor.pem)
    (workdir / "client.pem").write_bytes(client.pem + b"".join(c.pem for c in chain))
    (workdir / "client.key").write_bytes(client.key_pem)

    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(workdir / "server.pem", workdir / "server.key")
    server_context.verify_mode = ssl.CERT_REQUIRED
    server_context.load_verify_locations(workdir / "anchors.pem")
    client_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_context.check_hostname = False
    client_context.verify_mode = ssl.CERT_NONE  # the server's identity is not under test
    client_context.load_cert_chain(workdir / "client.pem", workdir / "client.key")

    outcome: dict[str, object] = {}
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)

    def serve() -> None:
        connection, _ = listener.accept()
        connection.settimeout(5)
        try:
            with server_context.wrap_socket(connection, server_side=True) as tls:
                outcome["peer"] = tls.getpeercert()
                tls.sendall(b"ok")
        except (ssl.SSLError, OSError) as exc:
            outcome["error"] = exc

    server = threading.Thread(target=serve)
    server.start()
    try:
        with (
            socket.create_connection(listener.getsockname(), timeout=5) as raw,
            client_context.wrap_socket(raw) as tls,
        ):
            tls.recv(2)  # TLS 1.3 reports a refused client certificate only on the first read
    except (ssl.SSLError, OSError):
        pass
    finally:
        server.join(10)
        listener.close()
    return "peer" in outcome and bool(outcome["peer"])


def our_verdict(anchor: pki.Issued, client: pki.Issued, chain: list[pki.Issued]) -> list[str]:
    trust = TrustConfig(tuple(load_pem_file(anchor.pem, "anchor.pem", "k")[0]))
    return check_client(client.certificate, [c.certificate for c in chain], trust)


@pytest.fixture(scope="module")
def ca():
    root = pki.issue("tls-root", key_kind="rsa2048")
    return root, pki.issue("tls-issuing-ca", root, key_seed=1)


def test_chain_our_check_accepts_completes_a_handshake(ca, tmp_path):
    root, intermediate = ca
    alice = pki.client("alice", intermediate)
    assert our_verdict(root, alice, [intermediate]) == []
    assert handshake(root, alice, [intermediate], tmp_path) is True


@pytest.mark.parametrize("case", ["unknown-issuer", "expired-leaf", "server-only-key-usage"])
def test_chains_our_check_refuses_are_refused_by_openssl_too(ca, tmp_path, case):
    root, intermediate = ca
    chain = [intermediate]
    if case == "unknown-issuer":
        other_root = pki.issue("other-root", key_seed=5)
        chain = [pki.issue("other-ca", other_root, key_seed=6)]
        client = pki.client("mallory", chain[0])
    elif case == "expired-leaf":
        client = pki.client("old", intermediate, not_before=pki.NOW - 30 * pki.DAY, not_after=pki.NOW - pki.DAY)
    else:
        client = pki.client("server-cert", intermediate, eku=(ExtendedKeyUsageOID.SERVER_AUTH,))
    assert our_verdict(root, client, chain) != []
    assert handshake(root, client, chain, tmp_path) is False


def test_openssl_accepts_a_ca_leaf_that_gcp_refuses_and_our_check_refuses_it(ca, tmp_path):
    root, intermediate = ca
    ca_leaf = pki.client("ca-leaf", intermediate, ca=True, key_usage=None)
    # OpenSSL is more lenient than GCP here: a CA:TRUE client certificate completes the handshake.
    assert handshake(root, ca_leaf, [intermediate], tmp_path) is True
    assert [r.split(":")[0] for r in our_verdict(root, ca_leaf, [intermediate])] == ["client_cert_validation_failed"]
