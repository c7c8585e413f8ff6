"""The mock engine's stack capture gives the SDK's own message for every registration, at a fraction of the cost."""

from __future__ import annotations

import pytest
from pulumi.runtime import resource as runtime_resource

from components.stack import engine
from tests.conftest import COMMITTED_STACKS, committed_config


@pytest.mark.parametrize("stack", COMMITTED_STACKS)
def test_the_stack_capture_is_the_sdks_for_every_registration(run_stack, monkeypatch, stack):
    """Both are called where the SDK calls its own (resource registrations, reads), at the same depth."""
    compared: list[tuple[object, object]] = []
    fast = engine.stack_trace

    def both() -> object:
        ours, theirs = fast(), engine._sdk_stack_trace()
        compared.append((ours, theirs))
        return ours

    monkeypatch.setattr(engine, "stack_trace", both)
    recording = run_stack(committed_config(stack), stack=stack)
    assert recording.error is None, recording.error
    assert runtime_resource._get_stack_trace is engine._sdk_stack_trace  # put back after the run
    assert len(compared) >= len(recording.resources) > 5
    assert any(len(ours.frames) > 5 for ours, _ in compared)  # frames were compared, not only empty traces
    assert [ours for ours, _ in compared] == [theirs for _, theirs in compared]
