"""The Google Cloud SDK's generated API messages on this machine: the ground truth for GCP field names and enums."""

from __future__ import annotations

import ast
import functools
import re
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
    return _classes_in(
        _sdk_root() / "lib/googlecloudsdk/generated_clients/apis" / api / version / f"{api}_{version}_messages.py"
    )


def _classes_in(path: Path) -> dict[str, ast.ClassDef]:
    """The classes a generated module defines, nested ones also as `Outer.Inner`, read without importing it."""
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
    return _constants(_classes(api, version)[enum])


def _constants(node: ast.ClassDef) -> set[str]:
    """The names an enum class assigns."""
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
    if not isinstance(inputs, dict):
        return [f"{at}: {inputs!r} where the API takes a {message}"]
    if message not in _classes(api, version):
        return [f"{at}: the SDK has no message {message}"]
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


GAPIC_TYPES = Path(__file__).parent / "edge" / "google_types" / "network_security_v1_authz_policy.py.txt"


@functools.cache
def _gapic_classes() -> dict[str, ast.ClassDef]:
    """The generated proto-plus classes of networksecurity v1 AuthzPolicy, by qualified name."""
    return _classes_in(GAPIC_TYPES)


def _gapic_fields(message: str) -> dict[str, tuple[str, str | None]]:
    """snake_case field -> ("message" | "enum" | "scalar", the qualified class it names)."""
    fields: dict[str, tuple[str, str | None]] = {}
    for node in _gapic_classes()[message].body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(node.value, ast.Call):
            keywords = {
                k.arg: _type_name(k.value, message) for k in node.value.keywords if k.arg in ("message", "enum")
            }
            kind = "message" if "message" in keywords else "enum" if "enum" in keywords else "scalar"
            fields[node.target.id] = (kind, keywords.get("message") or keywords.get("enum"))
    return fields


def _type_name(node: ast.expr, message: str) -> str | None:
    """`message="AuthzPolicy.AuthzRule"`, or `message=AuthzRule` (a class of the enclosing scope)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        scopes = message.split(".")
        candidates = [".".join([*scopes[:i], node.id]) for i in range(len(scopes), -1, -1)]
        return next((c for c in candidates if c in _gapic_classes()), node.id)
    return None


def gapic_unknown_inputs(message: str, inputs: Any, at: str = "") -> list[str]:
    """As `unknown_inputs`, against Google's generated types (`GAPIC_TYPES`); camelCase keys, as the engine has them."""
    if isinstance(inputs, list):
        return [p for i, item in enumerate(inputs) for p in gapic_unknown_inputs(message, item, f"{at}[{i}]")]
    if not isinstance(inputs, dict):
        return [f"{at}: {inputs!r} where the API takes a {message}"]
    problems: list[str] = []
    fields = _gapic_fields(message)
    for key, value in inputs.items():
        name = "from_" if key == "from" else re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()
        where = f"{at}.{key}" if at else key
        if name not in fields:
            problems.append(f"{where}: no field {name!r} in {message}")
            continue
        kind, named = fields[name]
        if kind == "message" and named is not None:
            problems += gapic_unknown_inputs(named, value, where)
        elif kind == "enum" and named is not None:
            allowed = _constants(_gapic_classes()[named])
            problems += [f"{where}: {v!r} is not one of {sorted(allowed)}" for v in [value] if v not in allowed]
    return problems
