"""Stack settings parsed directly, without the engine: defaults, types and file reading."""

from __future__ import annotations

import dataclasses
import json

import pytest
from pydantic import ValidationError

from components.core.findings import Severity
from components.edge.settings import SslPolicy
from components.stack.settings import parse_stack as parse
from tests.conftest import PROJECT_ROOT, engine_config


def minimal_config(**edge: object) -> dict[str, str]:
    """A new stack's edge: a Certificate Manager certificate, as README's examples have it."""
    values = {"domains": ["dev.example.com"], "trustAnchors": ["certs/dev/root-ca.pem"]}
    values["certificate"] = {"source": "dnsAuthorization"}
    return engine_config(
        {
            "gke-mtls:backend": {"name": "k8s1-0123abcd-default-web-80-5104b449"},
            "gke-mtls:edge": {**values, **edge},
        }
    )


def test_defaults_are_the_safe_choices():
    settings, findings = parse(minimal_config(), PROJECT_ROOT)

    assert findings == []
    assert settings is not None
    assert settings.backend.output == "backendServiceName"
    assert settings.edge.ssl_policy == SslPolicy(profile="MODERN", min_tls_version="TLS_1_2", custom_features=())
    assert settings.edge.client_validation == "REJECT_INVALID"
    assert settings.edge.https_redirect is False
    assert settings.edge.intermediate_cas == () and settings.edge.allowlisted_certificates == ()


def test_a_stack_without_a_certificate_keeps_its_compute_certificate_and_the_plan_says_so():
    config = minimal_config()
    edge = json.loads(config["gke-mtls:edge"])
    del edge["certificate"]
    config["gke-mtls:edge"] = json.dumps(edge)
    settings, findings = parse(config, PROJECT_ROOT)
    assert settings is not None
    assert [str(f) for f in findings] == [
        "gke-mtls:edge.certificate: is unset, so the edge keeps a Compute managed certificate, which Google "
        "provisions only once DNS points at the load balancer. Move to a Certificate Manager certificate with "
        "certificate.switchFromCompute (README: the switch from a Compute certificate), or set certificate.source: "
        "computeManaged to keep it. [edge.compute-certificate]"
    ]
    explicit = minimal_config(certificate={"source": "computeManaged"})
    assert parse(explicit, PROJECT_ROOT)[1] == []


def test_settings_are_immutable():
    settings, _ = parse(minimal_config(), PROJECT_ROOT)
    assert settings is not None
    with pytest.raises(ValidationError, match="Instance is frozen"):
        settings.edge.domains = ("other.example.com",)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.edge = None  # type: ignore[misc]


def test_certificate_files_keep_their_key_path_and_text():
    settings, _ = parse(minimal_config(), PROJECT_ROOT)
    assert settings is not None
    assert settings.edge.trust_anchors == ("certs/dev/root-ca.pem",)
    (anchor,) = settings.trust.anchors
    assert anchor.key == "gke-mtls:edge.trustAnchors[0]"
    assert anchor.source == "certs/dev/root-ca.pem"
    assert anchor.pem == (PROJECT_ROOT / "certs/dev/root-ca.pem").read_text()


def test_other_namespaces_are_left_to_their_owners():
    config = minimal_config()
    config["gcp:project"] = "acme-dev"
    config["kubernetes:context"] = "gke_acme"
    settings, findings = parse(config, PROJECT_ROOT)
    assert settings is not None and findings == []


def test_der_certificate_is_reported_with_the_conversion_command(tmp_path):
    from tests import pki

    (tmp_path / "root.der").write_bytes(pki.issue("root").der)
    _, findings = parse(minimal_config(trustAnchors=["root.der"]), tmp_path)
    assert [str(f) for f in findings] == [
        "gke-mtls:edge.trustAnchors[0]: root.der: is a DER (binary) certificate; convert it: openssl x509 -inform "
        "der -in root.der -out root.der.pem [cert.der]"
    ]


def test_integer_where_a_boolean_belongs_is_a_type_error():
    _, findings = parse(minimal_config(httpsRedirect=1), PROJECT_ROOT)
    assert [str(f) for f in findings] == [
        "gke-mtls:edge.httpsRedirect: must be true or false (a YAML boolean), got a number 1. [config.type]"
    ]


def test_compatible_profile_is_allowed_with_a_warning():
    settings, findings = parse(minimal_config(sslPolicy={"profile": "COMPATIBLE"}), PROJECT_ROOT)
    assert settings is not None
    assert [(f.severity, str(f)) for f in findings] == [
        (
            Severity.WARNING,
            "gke-mtls:edge.sslPolicy.profile: COMPATIBLE allows weak cipher suites; use MODERN or RESTRICTED. "
            "[config.weak-tls]",
        )
    ]


def test_plain_string_value_that_is_not_json_is_still_read_as_a_string():
    config = minimal_config()
    config["gke-mtls:edge"] = "not json {"
    _, findings = parse(config, PROJECT_ROOT)
    assert [str(f) for f in findings] == ["gke-mtls:edge: must be an object, got a string. [config.type]"]


def test_structured_values_arrive_as_json_like_the_engine_sends_them():
    config = minimal_config()
    assert json.loads(config["gke-mtls:edge"])["domains"] == ["dev.example.com"]


def test_allowing_invalid_client_certificates_is_a_warning_that_says_who_must_enforce():
    settings, findings = parse(minimal_config(clientValidation="ALLOW_INVALID_OR_MISSING_CLIENT_CERT"), PROJECT_ROOT)
    assert settings is not None
    assert [(f.severity, f.code, f.key) for f in findings] == [
        (Severity.WARNING, "config.weak-validation", "gke-mtls:edge.clientValidation")
    ]
    assert "must refuse them by the X-Client-Cert-Chain-Verified header" in findings[0].message


def test_integer_out_of_range_names_the_range():
    _, findings = parse(minimal_config(expiryWarningDays=5000), PROJECT_ROOT)
    assert [str(f) for f in findings] == [
        "gke-mtls:edge.expiryWarningDays: 5000 is out of range; use an integer from 0 to 3650. [config.range]"
    ]


@pytest.mark.parametrize("depth", [40, 100_000])
def test_a_value_nested_deeper_than_any_setting_is_refused_by_key(depth):
    config = {"gke-mtls:mesh": "[" * depth + "1" + "]" * depth}
    _, findings = parse(config, PROJECT_ROOT)
    assert [str(f) for f in findings][:1] == [
        "gke-mtls:mesh: is nested more than 32 levels deep; no setting is. Check the YAML's indentation and "
        "brackets. [config.nesting]"
    ]


def test_a_service_name_must_be_a_dns_1035_label():
    config = {
        "gke-mtls:cluster": json.dumps({"context": "ctx"}),
        "gke-mtls:gkeBackend": json.dumps({"namespace": "default", "service": "1web", "port": 80}),
    }
    _, findings = parse(config, PROJECT_ROOT)
    assert [str(f) for f in findings] == [
        "gke-mtls:gkeBackend.service: '1web' is not valid: a Service name is a DNS-1035 label: up to 63 lowercase "
        "letters, digits or hyphens, starting with a letter and ending with a letter or digit. [config.syntax]"
    ]
