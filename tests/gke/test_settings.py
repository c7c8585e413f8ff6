"""The GKE side's settings: keys and the rules that relate them, each with its exact message."""

from __future__ import annotations

from tests.gke.configs import parsed

KEY = "gke-mtls:gkeBackend"


def test_mesh_guard_needs_a_selector_and_the_verified_header():
    settings, findings = parsed(meshGuard=True, headers={"X-Client-Cert-Present": "{client_cert_present}"})
    assert settings is not None  # the keys parse; the rules between them refuse the combination
    assert [str(f) for f in findings] == [
        f"{KEY}.selector: meshGuard needs the pod labels of the application; add `selector`. [config.gke-backend]",
        f"{KEY}.headers: meshGuard checks the header that carries {{client_cert_chain_verified}}; add one, such as "
        "X-Client-Cert-Chain-Verified. [config.gke-backend]",
    ]


def test_log_sample_rate_must_be_a_number_from_0_to_1():
    for value, message in [
        (1.5, f"{KEY}.logSampleRate: 1.5 is out of range; use a number from 0.0 to 1.0. [config.range]"),
        ("all", f"{KEY}.logSampleRate: must be a number, got a string 'all'. [config.type]"),
    ]:
        settings, findings = parsed(logSampleRate=value)
        assert settings is None
        assert [str(f) for f in findings] == [message]


def test_creating_the_service_needs_its_selector():
    _, findings = parsed(createService=True)
    assert [str(f) for f in findings] == [
        f"{KEY}.selector: createService needs the pod labels the Service selects; add `selector`. [config.gke-backend]"
    ]


def test_selector_labels_follow_kubernetes_syntax():
    _, findings = parsed(selector={"app": "we b", "-x": "web"})
    assert [str(f) for f in findings] == [
        f"{KEY}.selector.app: 'we b' is not a Kubernetes label value: it must be empty or letters, digits, '-', '_' "
        "or '.', starting and ending with a letter or digit. [config.label]",
        f"{KEY}.selector.-x: '-x' is not a Kubernetes label key: its name part must be letters, digits, '-', '_' or "
        "'.', starting and ending with a letter or digit. [config.label]",
    ]
