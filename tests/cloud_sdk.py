"""The Google Cloud SDK's generated API messages on this machine: the ground truth for GCP field names and enums."""

from __future__ import annotations

import ast
import functools
import shutil
from pathlib import Path
from typing import Any

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


@functools.cache
def _classes(api: str, version: str) -> dict[str, ast.ClassDef]:
    """Every message and enum class of an API version, by name; nested ones also as `Outer.Inner`."""
    path = _sdk_root() / "lib/googlecloudsdk/generated_clients/apis" / api / version / f"{api}_{version}_messages.py"
    found: dict[str, ast.ClassDef] = {}

    def collect(node: ast.ClassDef, prefix: str) -> None:
        found[prefix + node.name] = node
        for inner in node.body:
            if isinstance(inner, ast.ClassDef):
                collect(inner, f"{prefix}{node.name}.")

    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ClassDef):
            collect(node, "")
    return found


def _fields(api: str, version: str, message: str) -> dict[str, tuple[str, str | None]]:
    """field name -> (MessageField / EnumField / StringField ..., the class it names, qualified)."""
    classes = _classes(api, version)
    fields: dict[str, tuple[str, str | None]] = {}
    for node in classes[message].body:
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
            continue
        kind = getattr(node.value.func, "attr", "")
        named = node.value.args[0].value if node.value.args and isinstance(node.value.args[0], ast.Constant) else None
        if isinstance(named, str):  # a nested class first, as the SDK resolves it
            named = f"{message}.{named}" if f"{message}.{named}" in classes else named
        for target in node.targets:
            if isinstance(target, ast.Name):
                fields[target.id] = (kind, named if isinstance(named, str) else None)
    return fields


def enum_values(api: str, version: str, enum: str) -> set[str]:
    node = _classes(api, version)[enum]
    return {t.id for n in node.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}


def unknown_inputs(
    api: str, version: str, message: str, inputs: Any, renames: dict[str, str] | None = None, at: str = ""
) -> list[str]:
    """The input keys (as the engine received them) that `message` has no field for, and the enum values it does not
    accept, as paths. `renames` maps the provider's names (`key`, or `Message.key` for one message) to the API's."""
    renames = renames or {}
    problems: list[str] = []
    if isinstance(inputs, list):
        for i, item in enumerate(inputs):
            problems += unknown_inputs(api, version, message, item, renames, f"{at}[{i}]")
        return problems
    fields = _fields(api, version, message)
    for key, value in inputs.items():
        if key.startswith("__"):
            continue
        name = renames.get(f"{message}.{key}", renames.get(key, key))
        where = f"{at}.{key}" if at else key
        if name not in fields:
            problems.append(f"{where}: no field {name!r} in {message}")
            continue
        kind, named = fields[name]
        if kind == "MessageField" and named is not None and isinstance(value, (dict, list)):
            problems += unknown_inputs(api, version, named, value, renames, where)
        elif kind == "EnumField" and named is not None:
            allowed = enum_values(api, version, named)
            for item in value if isinstance(value, list) else [value]:
                if item not in allowed:
                    problems.append(f"{where}: {item!r} is not one of {sorted(allowed)}")
    return problems
