"""Shared fixtures: the committed stacks' config, and the real program run under the mock engine."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.stack.engine import Recording
from mtls import offline

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The stack files committed with the project; a user's own stack files may sit beside them.
COMMITTED_STACKS = (
    "dev",
    "prod",
    "app-dev",
    "edge-dev",
    "platform-dev",
    "platform-neg-dev",
    "edge-neg-dev",
    "platform-regional-dev",
    "edge-regional-dev",
)


def committed_config(stack: str) -> dict[str, Any]:
    """The stack file's config as YAML values (objects, not JSON strings), to edit in a test."""
    return yaml.safe_load((PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


def engine_config(config: dict[str, Any]) -> dict[str, str]:
    """What the engine hands the program: objects as JSON strings."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


@pytest.fixture
def committed_project(tmp_path: Path) -> Path:
    """Pulumi.yaml, the committed stack files and their example certificates alone in a folder: what a check that
    reads every stack file of the project sees, whatever stack files a user has added to this one."""
    for name in ("Pulumi.yaml", *(f"Pulumi.{stack}.yaml" for stack in COMMITTED_STACKS)):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    shutil.copytree(PROJECT_ROOT / "certs", tmp_path / "certs")
    return tmp_path


@pytest.fixture
def dev_config() -> dict[str, Any]:
    return copy.deepcopy(committed_config("dev"))


@pytest.fixture
def run_stack():
    """Runs __main__.py under the mock engine with a config (YAML values) and returns the recording."""

    def run(config: dict[str, Any], stack: str = "dev", preview: bool = False, **placeholders: Any) -> Recording:
        return offline.run_program(
            stack, engine_config(config), offline.Placeholders(**placeholders), PROJECT_ROOT, preview=preview
        )

    return run
