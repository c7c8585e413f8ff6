"""The edge's certificate from Certificate Manager under Pulumi's mock engine: DNS authorizations, the certificate
and, on the global load balancers, its map with one entry per host name; a self-managed certificate from PEM files;
and the switch from a Compute managed certificate, walked step by step. Every input is exact."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from components.stack.engine import Secret
from tests import pki
from tests.conftest import PROJECT_ROOT, committed_config

PROJECT = "placeholder-project"
LOCATED = f"projects/{PROJECT}/locations/global"
COMPUTE_CERTIFICATE = "gcp:compute/managedSslCertificate:ManagedSslCertificate"
CERTIFICATE = "gcp:certificatemanager/certificate:Certificate"
DNS_AUTHORIZATION = "gcp:certificatemanager/dnsAuthorization:DnsAuthorization"
CERTIFICATE_MAP = "gcp:certificatemanager/certificateMap:CertificateMap"
MAP_ENTRY = "gcp:certificatemanager/certificateMapEntry:CertificateMapEntry"
HTTPS_PROXY = "gcp:compute/targetHttpsProxy:TargetHttpsProxy"
CERTIFICATES_LOOKUP = "gcp:certificatemanager/getCertificates:getCertificates"
MAP_URL = f"//certificatemanager.googleapis.com/{LOCATED}/certificateMaps/edge-certificate-map"
COMPUTE_URL = f"projects/{PROJECT}/global/sslCertificates/edge-certificate"


@pytest.fixture
def edge() -> dict[str, Any]:
    """The committed classic edge stack: a Certificate Manager certificate with DNS authorization."""
    return committed_config("edge-dev")


def certificate(config: dict[str, Any], **values: Any) -> dict[str, Any]:
    config = copy.deepcopy(config)
    config["gke-mtls:edge"]["certificate"] = values
    return config


# --- DNS authorization, on a global load balancer --------------------------------------------------------------


def test_a_dns_authorized_certificate_is_served_through_a_map_with_an_entry_per_host_name(run_stack, edge):
    recording = run_stack(edge, stack="edge-dev")
    assert recording.error is None
    assert recording.of_type(COMPUTE_CERTIFICATE) == []
    assert recording.one(DNS_AUTHORIZATION).inputs == {
        "location": "global",
        "domain": "dev.example.com",
        "description": "Authorizes the mTLS edge's certificate for dev.example.com (gke-mtls)",
    }
    assert recording.one(CERTIFICATE).inputs == {
        "location": "global",
        "description": "The mTLS edge's server certificate (gke-mtls)",
        "labels": {"gke-mtls-stack": "edge-dev"},
        "managed": {
            "domains": ["dev.example.com"],
            "dnsAuthorizations": [f"{LOCATED}/dnsAuthorizations/edge-dns-auth-dev_example_com"],
        },
    }
    assert recording.one(CERTIFICATE_MAP).inputs == {
        "description": "The mTLS edge's certificates by host name (gke-mtls)",
        "labels": {"gke-mtls-stack": "edge-dev"},
    }
    assert recording.one(MAP_ENTRY).inputs == {
        "map": "edge-certificate-map",
        "hostname": "dev.example.com",
        "certificates": [f"{LOCATED}/certificates/edge-certificate"],
        "description": "Serves the mTLS edge's certificate for dev.example.com (gke-mtls)",
    }
    proxy = recording.one(HTTPS_PROXY).inputs
    assert proxy["certificateMap"] == MAP_URL
    assert "sslCertificates" not in proxy


def test_the_dns_records_to_create_are_a_stack_output(run_stack, edge):
    recording = run_stack(edge, stack="edge-dev")
    assert recording.outputs["dnsAuthorizationRecords"] == [
        {
            "domain": "dev.example.com",
            "name": "_acme-challenge.dev.example.com.",
            "type": "CNAME",
            "data": "placeholder.edge-dns-auth-dev_example_com.authorize.certificatemanager.goog.",
        }
    ]


def test_one_authorization_covers_a_domain_and_its_wildcard(run_stack, edge):
    """Certificate Manager DnsAuthorization.domain: 'authorization for "example.com" can be used to issue
    certificates for "example.com" and "*.example.com"'."""
    edge["gke-mtls:edge"]["domains"] = ["dev.example.com", "*.dev.example.com", "api.dev.example.com"]
    recording = run_stack(edge, stack="edge-dev")
    assert recording.error is None
    assert sorted(a.inputs["domain"] for a in recording.of_type(DNS_AUTHORIZATION)) == [
        "api.dev.example.com",
        "dev.example.com",
    ]
    managed = recording.one(CERTIFICATE).inputs["managed"]
    assert managed["domains"] == ["dev.example.com", "*.dev.example.com", "api.dev.example.com"]
    assert len(managed["dnsAuthorizations"]) == 2
    assert sorted(e.inputs["hostname"] for e in recording.of_type(MAP_ENTRY)) == [
        "*.dev.example.com",
        "api.dev.example.com",
        "dev.example.com",
    ]
    assert "edge-map-entry-wildcard__dev_example_com" in {e.name for e in recording.of_type(MAP_ENTRY)}
    assert recording.outputs["httpsUrls"] == ["https://dev.example.com/", "https://api.dev.example.com/"]


def test_a_domain_used_from_several_projects_takes_per_project_records(run_stack, edge):
    config = certificate(edge, source="dnsAuthorization", dnsAuthorizationType="PER_PROJECT_RECORD")
    recording = run_stack(config, stack="edge-dev")
    assert recording.one(DNS_AUTHORIZATION).inputs["type"] == "PER_PROJECT_RECORD"


# --- self-managed, from PEM files -------------------------------------------------------------------------------


def server_files(directory: Path, *names: str, issuer_key_seed: int = 11) -> tuple[Path, Path, pki.Issued]:
    """A server certificate for `names`, issued by a CA of its own: the chain (leaf first) and the key."""
    ca = pki.issue("edge test CA", key_seed=issuer_key_seed)
    leaf = pki.issue(
        names[0],
        ca,
        ca=False,
        key_usage="leaf",
        eku=(ExtendedKeyUsageOID.SERVER_AUTH,),
        key_seed=3,
        san=[x509.DNSName(n) for n in names],
    )
    chain, key = directory / "server.pem", directory / "server-key.pem"
    chain.write_bytes(leaf.pem + ca.pem)
    key.write_bytes(leaf.key_pem)
    return chain, key, leaf


def test_a_self_managed_certificate_carries_its_chain_and_its_key_as_a_secret(run_stack, edge, tmp_path):
    chain, key, _ = server_files(tmp_path, "dev.example.com")
    config = certificate(edge, source="selfManaged", certificateFile=str(chain), privateKeyFile=str(key))
    recording = run_stack(config, stack="edge-dev")
    assert recording.error is None
    assert recording.of_type(DNS_AUTHORIZATION) == []
    inputs = recording.one(CERTIFICATE).inputs
    assert isinstance(inputs["selfManaged"], Secret)  # the key makes the whole block secret
    assert inputs["selfManaged"].value == {"pemCertificate": chain.read_text(), "pemPrivateKey": key.read_text()}
    assert recording.one(HTTPS_PROXY).inputs["certificateMap"] == MAP_URL
    assert "dnsAuthorizationRecords" not in recording.outputs


def test_the_plan_never_shows_the_private_key(edge, tmp_path):
    from mtls import offline, plan
    from tests.conftest import engine_config

    chain, key, _ = server_files(tmp_path, "dev.example.com")
    config = certificate(edge, source="selfManaged", certificateFile=str(chain), privateKeyFile=str(key))
    out = plan.render(offline.run_program("edge-dev", engine_config(config)), offline.Placeholders())
    assert "│       selfManaged: [secret]" in out
    assert "PRIVATE KEY" not in out


@pytest.mark.parametrize(
    "case, expected",
    [
        (
            "key-of-another-certificate",
            "gke-mtls:edge.certificate.privateKeyFile: {key}: is not the key of {chain} (CN=dev.example.com,O=gke-mtls "
            "tests); name the key the certificate was issued for. [cert.key-mismatch]",
        ),
        (
            "name-not-covered",
            "gke-mtls:edge.domains[0]: 'dev.example.com': {chain} (CN=other.example.com,O=gke-mtls tests) does not "
            "cover it; its DNS names are other.example.com, *.shop.example.com. Re-issue it with this name, or list "
            "only the names it holds. [cert.domain]",
        ),
        (
            "encrypted-key",
            "gke-mtls:edge.certificate.privateKeyFile: {key}: is an encrypted key; Certificate Manager takes it "
            "unencrypted (Pulumi keeps it as a secret). Decrypt it to a file outside the repository: openssl pkey -in "
            "{key} -out KEY.pem [cert.key-encrypted]",
        ),
        ("not-a-key", "gke-mtls:edge.certificate.privateKeyFile: {key}: is not a PEM private key ("),
        (
            "chain-out-of-order",
            "gke-mtls:edge.certificate.certificateFile: {chain} (CN=dev.example.com,O=gke-mtls tests): is not issued "
            "by the certificate after it (CN=unrelated CA,O=gke-mtls tests); put the leaf first, then each issuer in "
            "order. [cert.chain-order]",
        ),
    ],
)
def test_self_managed_files_that_break_the_rules_are_refused_by_key(run_stack, edge, tmp_path, case, expected):
    names = ("other.example.com", "*.shop.example.com") if case == "name-not-covered" else ("dev.example.com",)
    chain, key, leaf = server_files(tmp_path, *names)
    if case == "key-of-another-certificate":
        key.write_bytes(pki.issue("someone else", key_seed=5).key_pem)
    elif case == "encrypted-key":
        encrypted = leaf.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
        key.write_bytes(encrypted)
    elif case == "not-a-key":
        key.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    elif case == "chain-out-of-order":
        chain.write_bytes(leaf.pem + pki.issue("unrelated CA", key_seed=12).pem)
    config = certificate(edge, source="selfManaged", certificateFile=str(chain), privateKeyFile=str(key))
    recording = run_stack(config, stack="edge-dev")
    [message] = recording.messages("error")
    assert message.startswith(expected.format(key=key, chain=chain))
    assert recording.resources == []


def test_a_key_inside_the_project_is_warned_about(run_stack, edge, tmp_path):
    inside = PROJECT_ROOT / "certs" / f"test-key-{tmp_path.name}.pem"
    chain, key, _ = server_files(tmp_path, "dev.example.com")
    inside.write_bytes(key.read_bytes())
    try:
        config = certificate(edge, source="selfManaged", certificateFile=str(chain), privateKeyFile=str(inside))
        recording = run_stack(config, stack="edge-dev")
    finally:
        inside.unlink()
    assert recording.error is None
    assert recording.messages("warning") == [
        f"gke-mtls:edge.certificate.privateKeyFile: {inside}: lies inside the project, where a commit takes it along; "
        "keep private keys out of the repository and give the key's absolute path. [config.private-key]"
    ]


# --- the switch from a Compute managed certificate, step by step ------------------------------------------------


def step(edge: dict[str, Any], name: str | None) -> dict[str, Any]:
    if name is None:  # before: the stack as it was, without `certificate`
        config = copy.deepcopy(edge)
        del config["gke-mtls:edge"]["certificate"]
        return config
    return certificate(edge, source="dnsAuthorization", switchFromCompute=name)


def test_the_switch_keeps_serving_until_the_new_certificate_is_attached(run_stack, edge):
    """Each step is one settings change and one `pulumi up`; the Compute certificate is the same resource, with
    the same inputs, until step drop deletes it, so nothing is replaced under live clients."""
    runs = {name: run_stack(step(edge, name), stack="edge-dev") for name in (None, "prepare", "attach", "drop")}
    assert [r.error for r in runs.values()] == [None, None, None, None]
    compute = {name: [(c.urn, c.inputs) for c in r.of_type(COMPUTE_CERTIFICATE)] for name, r in runs.items()}
    assert compute[None] == compute["prepare"] == compute["attach"] != []
    assert compute["drop"] == []
    proxies = {name: r.one(HTTPS_PROXY).inputs for name, r in runs.items()}
    assert {k: v for k, v in proxies[None].items() if "ertificate" in k} == {"sslCertificates": [COMPUTE_URL]}
    assert {k: v for k, v in proxies["prepare"].items() if "ertificate" in k} == {"sslCertificates": [COMPUTE_URL]}
    assert {k: v for k, v in proxies["attach"].items() if "ertificate" in k} == {
        "sslCertificates": [COMPUTE_URL],
        "certificateMap": MAP_URL,
    }
    assert {k: v for k, v in proxies["drop"].items() if "ertificate" in k} == {"certificateMap": MAP_URL}
    # The Certificate Manager side is made at prepare, and stays the same through attach and drop.
    made = {
        name: sorted(
            (x.urn, str(x.inputs))
            for x in r.resources
            if "certificatemanager/" in x.type and "trustConfig" not in x.type
        )
        for name, r in runs.items()
    }
    assert made[None] == [] and made["prepare"] == made["attach"] == made["drop"] != []


def test_each_step_of_the_switch_is_said_in_the_plan(run_stack, edge):
    for name, number in (("prepare", 1), ("attach", 2), ("drop", 3)):
        recording = run_stack(step(edge, name), stack="edge-dev")
        [said] = [m for m in recording.messages("info") if "switchFromCompute" in m]
        assert said.startswith(f"gke-mtls:edge.certificate.switchFromCompute: step {number} of 3 ({name}):")


def test_attach_and_drop_look_the_certificate_up_by_the_stacks_label(run_stack, edge):
    prepare = run_stack(step(edge, "prepare"), stack="edge-dev")
    assert [i.token for i in prepare.invokes if i.token == CERTIFICATES_LOOKUP] == []
    attach = run_stack(step(edge, "attach"), stack="edge-dev")
    assert [(i.token, i.args) for i in attach.invokes if i.token == CERTIFICATES_LOOKUP] == [
        (CERTIFICATES_LOOKUP, {"filter": 'labels.gke-mtls-stack="edge-dev"'})
    ]


@pytest.mark.parametrize("name", ["attach", "drop"])
def test_a_step_before_the_certificate_is_active_is_refused_and_nothing_registers(run_stack, edge, name):
    pending = (("edge-certificate-1a2b3c4", "PROVISIONING"),)
    recording = run_stack(step(edge, name), stack="edge-dev", certificate_states=pending)
    assert str(recording.error) == (
        f"gke-mtls:edge.certificate.switchFromCompute: is {name}, but the stack's certificate is not ACTIVE yet: "
        f"{LOCATED}/certificates/edge-certificate-1a2b3c4 (PROVISIONING). Create the DNS records of "
        "its authorizations (output dnsAuthorizationRecords), wait until `gcloud certificate-manager certificates "
        "describe` shows ACTIVE, then run this step again; until then the proxy keeps serving the Compute "
        "certificate."
    )
    assert [r.type for r in recording.resources if r.type.startswith("gcp:")] == []


def test_dropping_the_compute_certificate_before_prepare_is_refused(run_stack, edge):
    recording = run_stack(step(edge, "drop"), stack="edge-dev", certificate_states=())
    assert str(recording.error) == (
        "gke-mtls:edge.certificate.switchFromCompute: is drop, but this stack has no Certificate Manager certificate "
        "yet: take step prepare first (`pulumi up` with switchFromCompute: prepare), create its DNS records, and wait "
        "for it to be ACTIVE."
    )


# --- checked against Google's generated API types --------------------------------------------------------------


def test_every_certificate_manager_field_and_enum_is_one_the_api_accepts(run_stack, edge, tmp_path):
    """Against the Cloud SDK's generated certificatemanager v1 and compute v1 messages on this machine."""
    from tests.cloud_sdk import unknown_inputs

    recordings = [
        run_stack(step(edge, "attach"), stack="edge-dev"),
        run_stack(
            certificate(edge, source="dnsAuthorization", dnsAuthorizationType="PER_PROJECT_RECORD"), stack="edge-dev"
        ),
    ]
    chain, key, _ = server_files(tmp_path, "dev.example.com")
    self_managed = run_stack(
        certificate(edge, source="selfManaged", certificateFile=str(chain), privateKeyFile=str(key)), stack="edge-dev"
    )
    messages = {
        CERTIFICATE: ("certificatemanager", "Certificate"),
        DNS_AUTHORIZATION: ("certificatemanager", "DnsAuthorization"),
        CERTIFICATE_MAP: ("certificatemanager", "CertificateMap"),
        MAP_ENTRY: ("certificatemanager", "CertificateMapEntry"),
        HTTPS_PROXY: ("compute", "TargetHttpsProxy"),
        COMPUTE_CERTIFICATE: ("compute", "SslCertificate"),
    }
    renames = {"selfManaged": "selfManaged"}
    problems = []
    for recording in [*recordings, self_managed]:
        for typ, (api, message) in messages.items():
            for resource in recording.of_type(typ):
                inputs = {
                    k: (v.value if isinstance(v, Secret) else v)
                    for k, v in resource.inputs.items()
                    # location and map are in the resource's name; labels are a map of our own keys
                    if k not in ("location", "labels", "map")
                }
                problems += [f"{typ}: {p}" for p in unknown_inputs(api, "v1", message, inputs, renames)]
    assert problems == []
    assert all(
        recording.of_type(t) for t in (DNS_AUTHORIZATION, CERTIFICATE_MAP, MAP_ENTRY) for recording in recordings
    )
