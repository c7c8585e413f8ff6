"""The Google Cloud SDK's generated API messages on this machine: the ground truth for GCP field names and enums."""

from __future__ import annotations

import ast
import functools
import shutil
from pathlib import Path

import pytest

CANDIDATES = [Path("/usr/lib/google-cloud-sdk"), Path("/usr/share/google-cloud-sdk")]


def _sdk_root() -> Path:
    gcloud = shutil.which("gcloud")
    found = [Path(gcloud).resolve().parent.parent] if gcloud else []
    for root in [*found, *CANDIDATES]:
        if (root / "lib" / "googlecloudsdk").is_dir():
            return root
    pytest.fail("the Google Cloud SDK is not installed here; install google-cloud-cli (Debian) for these checks")


@functools.cache
def message_fields(api: str, version: str, message: str) -> set[str]:
    """The field names of one generated message, read from its source without importing the SDK."""
    path = _sdk_root() / "lib/googlecloudsdk/generated_clients/apis" / api / version / f"{api}_{version}_messages.py"
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ClassDef) and node.name == message:
            return {
                t.id for n in node.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)
            } - {"__module__"}
    raise AssertionError(f"{message} is not in {path}")
