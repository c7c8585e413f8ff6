"""The contract under fuzzing (tests/program/contract.py): mutations of the committed stacks are either refused with
their keys and nothing registered, or yield only objects the real APIs accept. A bounded, derandomized run; the
longer one is bench/fuzz.py."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from components.stack.engine import Recording, Registration
from tests.program import contract


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(contract.mutated_stacks())
def test_any_mutation_of_a_committed_stack_is_refused_by_key_or_yields_valid_objects(case):
    stack, config = case
    _, broken = contract.verdict(stack, config)
    assert broken == [], contract.as_json(config)


def resource(typ: str, inputs: dict) -> Registration:
    return Registration(typ, "r", "urn", "", inputs, True, False, False, False)


@pytest.mark.parametrize(
    "typ, inputs, problem",
    [
        (
            "gcp:monitoring/alertPolicy:AlertPolicy",
            {"notificationChannels": ["projects/Acme Dev/notificationChannels/1"]},
            "alert policy: notification channel 'projects/Acme Dev/notificationChannels/1' has no valid project ID or "
            "number",
        ),
        (
            "gcp:compute/healthCheck:HealthCheck",
            {"timeoutSec": 10, "checkIntervalSec": 5, "httpHealthCheck": {"requestPath": "/"}},
            "health check: timeoutSec 10 is greater than checkIntervalSec 5",
        ),
        (
            "gcp:compute/healthCheck:HealthCheck",
            {"timeoutSec": 5, "checkIntervalSec": 5, "http2HealthCheck": {"requestPath": "/a%zz"}},
            "health check: request path '/a%zz' is not an RFC 3986 path",
        ),
        (
            "gcp:networksecurity/authzPolicy:AuthzPolicy",
            {"httpRules": [{"to": {"operations": [{"methods": ["GET"] * 6}, {"methods": ["POST"] * 5}]}}]},
            "authorization policy: 11 methods; Google's AuthzPolicy takes at most 10",
        ),
        (
            "kubernetes:cloud.google.com/v1:BackendConfig",
            {
                "metadata": {"name": "web-mtls", "namespace": "default"},
                "spec": {"healthCheck": {"timeoutSec": 6, "checkIntervalSec": 5, "requestPath": "/é"}},
            },
            "BackendConfig default/web-mtls: timeoutSec 6 is greater than checkIntervalSec 5",
        ),
    ],
    ids=["channel-project", "timeout-over-interval", "path-not-rfc-3986", "eleven-methods", "backend-config"],
)
def test_the_contract_holds_the_public_rules_the_fuzzer_found_broken(typ, inputs, problem):
    """The rules the real APIs apply, written apart from the settings, so that these classes cannot come back."""
    recording = Recording("x", resources=[resource(typ, inputs)])
    assert problem in contract.registered_problems(recording)
