"""Reads a stack's settings file the way the Pulumi engine hands its config to the program, as far as the offline
tool can: finds the project as the Pulumi CLI does, ignores the keys it does not read, and names what it cannot
read (a secret, a Pulumi ESC environment) with what to do instead."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.core.findings import Finding

PROJECT_FILE = "Pulumi.yaml"
# The top-level keys of a Pulumi.<stack>.yaml (Pulumi's stack settings file).
STACK_FILE_KEYS = ("config", "environment", "secretsprovider", "encryptedkey", "encryptionsalt")
# The keys of other namespaces the tool reads (besides the project's own): `plan` and `migration` name the project.
OTHER_KEYS_READ = ("gcp:project",)
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


class StackFileError(Exception):
    pass


@dataclass(frozen=True)
class StackFile:
    path: Path
    config: dict[str, str]  # objects as JSON, as the engine passes them; secrets in keys the tool ignores left out
    environments: tuple[str, ...] = ()  # the Pulumi ESC environments the stack imports
    secrets_ignored: tuple[str, ...] = field(default=(), compare=False)  # secret keys the tool does not read


def find_project(start: Path) -> Path:
    """The directory of the Pulumi.yaml in `start` or the nearest directory above it, as the Pulumi CLI finds a
    project."""
    start = start.resolve()
    for directory in (start, *start.parents):
        if (directory / PROJECT_FILE).is_file():
            return directory
    raise StackFileError(
        f"no {PROJECT_FILE} in {start} or any directory above it; run this inside the Pulumi project (the directory "
        f"with {PROJECT_FILE}, or one below it), or name that directory with -C/--cwd."
    )


def stack_names(project_root: Path) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_root.glob("Pulumi.*.yaml"))


def read_stack_config(project_root: Path, stack: str) -> dict[str, str]:
    """`{"gke-mtls:edge": "<json>", "gcp:project": "acme-dev", ...}`: objects as JSON, as the engine passes them."""
    return read_stack(project_root, stack).config


def read_stack(project_root: Path, stack: str) -> StackFile:
    import yaml

    from components.core.settings import CONFIG_NAMESPACE

    path = project_root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = ", ".join(stack_names(project_root)) or "none"
        raise StackFileError(f"{path.name}: no such stack file in {project_root} (stacks here: {known}).")
    try:
        # libyaml's loader where PyYAML has it: the same values, read some ten times faster
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        document = document or {}
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path.name}: is not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise StackFileError(
            f"{path.name}: the top level must be a mapping with a `config:` key, not {type(document).__name__}; "
            "see Pulumi.dev.yaml."
        )
    for key in document:
        if key not in STACK_FILE_KEYS:
            hint = f"`{CONFIG_NAMESPACE}:{key}` under `config:`" if ":" not in str(key) else f"`{key}` under `config:`"
            raise StackFileError(
                f"{path.name}: `{key}` is not a stack file key (those are {', '.join(STACK_FILE_KEYS)}); "
                f"did you mean {hint}?"
            )
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(f"{path.name}: `config` must be a mapping of keys to values.")
    result: dict[str, str] = {}
    needed: list[str] = []
    ignored: list[str] = []
    for key, value in config.items():
        if ":" not in str(key):
            raise StackFileError(
                f"{path.name}: config key `{key}` has no namespace, and Pulumi reads only `<namespace>:<name>` keys "
                f"from a stack file (it refuses the file otherwise); did you mean `{CONFIG_NAMESPACE}:{key}`?"
            )
        key = str(key)
        secrets = list(_secrets(value, key))
        if not secrets:
            result[key] = value if isinstance(value, str) else json.dumps(value)
        elif key.startswith(CONFIG_NAMESPACE + ":") or key in OTHER_KEYS_READ:
            needed += secrets
        else:  # Pulumi decrypts it for the providers; the offline tool never reads it
            ignored += secrets
    if needed:
        raise StackFileError(_secrets_message(path.name, needed))
    return StackFile(path, result, _environments(document.get("environment")), tuple(ignored))


def _secrets(value: Any, at: str) -> Iterator[str]:
    """The paths of the secrets in a config value: Pulumi writes an encrypted value as a mapping whose one key is
    `secure` and whose value is the ciphertext, wherever it sits (a key's value, inside an object, a list item)."""
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get("secure"), str):
            yield at
            return
        for name, inner in value.items():
            yield from _secrets(
                inner, f"{at}.{name}" if _PLAIN_NAME.fullmatch(str(name)) else f"{at}[{json.dumps(name)}]"
            )
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from _secrets(inner, f"{at}[{i}]")


def _secrets_message(file: str, keys: list[str]) -> str:
    def command(key: str) -> str:
        nested = "." in key.partition(":")[2] or "[" in key
        return f"pulumi config get --path '{key}'" if nested else f"pulumi config get {key}"

    named = f"{keys[0]} is a secret" if len(keys) == 1 else f"{_listed(keys)} are secrets"
    these = "this key" if len(keys) == 1 else "these keys"
    prints = "prints its value" if len(keys) == 1 else "prints a value"
    return (
        f"{file}: {named} (`secure:`), which the offline tool cannot decrypt: it has no access to the stack's "
        f"secrets provider. Check a test stack that holds {these} in plaintext instead (`{command(keys[0])}` "
        f"{prints}), or run `pulumi preview`."
    )


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _environments(value: Any) -> tuple[str, ...]:
    """The Pulumi ESC environments an `environment:` entry imports: a list of names, or an inline definition with
    `imports` (a name, or a mapping from a name to its options) and perhaps `values` of its own, named here
    "an inline environment"."""
    if value is None or value == []:
        return ()
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    if isinstance(value, dict):
        imports = value.get("imports") or []
        names = [str(next(iter(i))) if isinstance(i, dict) and i else str(i) for i in imports if i]
        return tuple(names + ([INLINE] if value.get("values") else []))
    return (str(value),)


INLINE = "an inline environment"


def _described(environments: tuple[str, ...]) -> str:
    names = [e for e in environments if e != INLINE]
    named = f"Pulumi ESC environment{'s' if len(names) > 1 else ''} {_listed(names)}" if names else ""
    inline = "an inline Pulumi ESC environment" if INLINE in environments else ""
    return " and ".join(part for part in (named, inline) if part)


def environment_findings(stack_file: StackFile, findings: list[Finding]) -> list[Finding]:
    """A stack that imports Pulumi ESC environments may get a key from them that its file lacks, and the offline
    tool cannot open them: a section found missing is said to be so in one line (StackFileError); otherwise a note
    says that only the file's own keys were checked. (A key inside a section the file sets is the file's to give:
    the file's value of a key replaces the environment's.)"""
    from components.core.findings import note
    from components.core.settings import CONFIG_NAMESPACE

    if not stack_file.environments:
        return findings
    where = _described(stack_file.environments)
    missing = {f.key for f in findings if f.code == "config.required" and "." not in f.key and "[" not in f.key}
    if missing:
        sections = sorted(missing - {CONFIG_NAMESPACE})
        lacks = (
            "gke-mtls:edge, gke-mtls:mesh and gke-mtls:gkeBackend (a stack needs at least one)"
            if CONFIG_NAMESPACE in missing
            else _listed(sections)
            + (" (the environment may set it)" if len(sections) == 1 else " (the environment may set them)")
        )
        raise StackFileError(
            f"{stack_file.path.name}: takes config from the {where}, which the offline tool cannot open, and this "
            f"file lacks {lacks}. Copy the missing keys into the file's `config:` in plaintext (a test stack), or "
            "check the stack with `pulumi preview`, which opens the environment."
        )
    return [
        note(
            "stack.environment",
            stack_file.path.name,
            f"also takes config from the {where}, which the offline tool cannot open: only the keys in this file "
            "were checked.",
        ),
        *findings,
    ]
