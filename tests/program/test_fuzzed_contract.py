"""The contract under fuzzing (tests/program/contract.py): mutations of the committed stacks are either refused with
their keys and nothing registered, or yield only objects the real APIs accept. A bounded, derandomized run; the
longer one is bench/fuzz.py."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

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
