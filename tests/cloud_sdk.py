"""The Google Cloud SDK's generated API messages on this machine: the ground truth for GCP field names and enums.

The generated modules are read with `ast`, never imported, and never inside a test: CPython 3.11's `ast.parse`
keeps its recursion count in state shared by the whole interpreter, and a finalizer that runs during a parse (an
asyncio future logging an exception nobody read: 3.11 formats the traceback with ast.parse) leaves it off, so that
the parse fails with "SystemError: AST constructor recursion depth mismatch". Parsing compute v1's messages (4 MB)
takes long enough to meet one in a test run often. A fresh interpreter with nothing else running reads each module
once (`python -m tests.cloud_sdk FILE`) and hands back a plain index of its classes as JSON, which the tests then
look fields and enums up in. (tests/project/test_architecture.py parses the project's own modules with the cycle
collector paused, for the same reason.)
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

CANDIDATES = [Path("/usr/lib/google-cloud-sdk"), Path("/usr/share/google-cloud-sdk")]
PROJECT_ROOT = Path(__file__).resolve().parent.parent
GAPIC_TYPES = Path(__file__).parent / "edge" / "google_types" / "network_security_v1_authz_policy.py.txt"

# One class of the index: the names its body assigns, each with the call that makes it (`StringField`, ...; None
# when not a call) and the class that call names (its first argument, as text); and its annotated fields
# (proto-plus: `name: T = proto.Field(proto.MESSAGE, message=...)`), each with its `message` or `enum` keyword,
# written as text ("text") or as a name of the enclosing scope ("name"); None when not a call.
ClassIndex = dict[str, Any]


def _sdk_root() -> Path:
    import pytest

    gcloud = shutil.which("gcloud")
    found = [Path(gcloud).resolve().parent.parent] if gcloud else []
    for root in [*found, *CANDIDATES]:
        if (root / "lib" / "googlecloudsdk").is_dir():
            return root
    pytest.fail("the Google Cloud SDK is not installed here; install google-cloud-cli (Debian) for these checks")


def _messages_module(api: str, version: str) -> Path:
    return _sdk_root() / "lib/googlecloudsdk/generated_clients/apis" / api / version / f"{api}_{version}_messages.py"


@functools.cache
def _classes_in(path: Path) -> dict[str, ClassIndex]:
    """The index of a generated module's classes, by name; nested ones also as `Outer.Inner`."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.cloud_sdk", str(path)], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise AssertionError(f"could not read {path}:\n{done.stderr[-2000:]}")
    classes: dict[str, ClassIndex] = json.loads(done.stdout)
    return classes


def index(path: Path) -> dict[str, ClassIndex]:
    """Run in its own interpreter (see the module's docstring): every class of the module at `path`, read with ast."""
    import ast

    found: dict[str, ClassIndex] = {}

    def written(node: ast.expr) -> list[str] | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return ["text", node.value]
        if isinstance(node, ast.Name):
            return ["name", node.id]
        return None

    def collect(node: ast.ClassDef, prefix: str) -> None:
        assigns, annotated = [], []
        for inner in node.body:
            if isinstance(inner, ast.ClassDef):
                collect(inner, f"{prefix}{node.name}.")
            elif isinstance(inner, ast.Assign):
                call = inner.value if isinstance(inner.value, ast.Call) else None
                kind = getattr(call.func, "attr", "") if call else None  # None: not a call
                first = call.args[0] if call and call.args else None
                named = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
                for target in inner.targets:
                    if isinstance(target, ast.Name):
                        assigns.append([target.id, kind, named])
            elif isinstance(inner, ast.AnnAssign) and isinstance(inner.target, ast.Name):
                keywords = None  # not a call
                if isinstance(inner.value, ast.Call):
                    keywords = {k.arg: written(k.value) for k in inner.value.keywords if k.arg in ("message", "enum")}
                annotated.append([inner.target.id, keywords])
        found[prefix + node.name] = {"assigns": assigns, "annotated": annotated}

    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ClassDef):
            collect(node, "")
    return found


def _classes(api: str, version: str) -> dict[str, ClassIndex]:
    return _classes_in(_messages_module(api, version))


def message_fields(api: str, version: str, message: str) -> set[str]:
    """The field names of one generated message."""
    classes = _classes(api, version)
    if message not in classes:
        raise AssertionError(f"{message} is not in {_messages_module(api, version)}")
    return _constants(classes[message]) - {"__module__"}


def _fields(api: str, version: str, message: str) -> dict[str, tuple[str, str | None]]:
    """field name -> (MessageField / EnumField / StringField ..., the class it names, qualified)."""
    classes = _classes(api, version)
    fields: dict[str, tuple[str, str | None]] = {}
    for name, kind, named in classes[message]["assigns"]:
        if kind is None:
            continue
        if isinstance(named, str):  # a nested class first, as the SDK resolves it
            named = f"{message}.{named}" if f"{message}.{named}" in classes else named
        fields[name] = (kind, named)
    return fields


def enum_values(api: str, version: str, enum: str) -> set[str]:
    return _constants(_classes(api, version)[enum])


def _constants(cls: ClassIndex) -> set[str]:
    """The names a class body assigns: an enum's values, a message's fields."""
    return {name for name, _, _ in cls["assigns"]}


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


def _gapic_classes() -> dict[str, ClassIndex]:
    """The generated proto-plus classes of networksecurity v1 AuthzPolicy, by qualified name."""
    return _classes_in(GAPIC_TYPES)


def _gapic_fields(message: str) -> dict[str, tuple[str, str | None]]:
    """snake_case field -> ("message" | "enum" | "scalar", the qualified class it names)."""
    fields: dict[str, tuple[str, str | None]] = {}
    for name, keywords in _gapic_classes()[message]["annotated"]:
        if keywords is None:
            continue  # not a proto.Field call
        named = {k: _type_name(v, message) for k, v in keywords.items()}
        kind = "message" if "message" in named else "enum" if "enum" in named else "scalar"
        fields[name] = (kind, named.get("message") or named.get("enum"))
    return fields


def _type_name(written: list[str] | None, message: str) -> str | None:
    """`message="AuthzPolicy.AuthzRule"`, or `message=AuthzRule` (a class of the enclosing scope)."""
    if written is None:
        return None
    form, text = written
    if form == "text":
        return text
    scopes = message.split(".")
    candidates = [".".join([*scopes[:i], text]) for i in range(len(scopes), -1, -1)]
    return next((c for c in candidates if c in _gapic_classes()), text)


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


if __name__ == "__main__":
    print(json.dumps(index(Path(sys.argv[1]))))
