"""Reads a stack's committed config file the way the Pulumi engine hands it to the program."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from components.core.settings import CONFIG_NAMESPACE

# The top-level keys of a Pulumi.<stack>.yaml (Pulumi's stack settings file).
STACK_FILE_KEYS = ("config", "environment", "secretsprovider", "encryptedkey", "encryptionsalt")


class StackFileError(Exception):
    pass


def stack_names(project_root: Path) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_root.glob("Pulumi.*.yaml"))


def read_stack_config(project_root: Path, stack: str) -> dict[str, str]:
    """`{"gke-mtls:edge": "<json>", "gcp:project": "acme-dev", ...}`: objects as JSON, as the engine passes them."""
    path = project_root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = ", ".join(stack_names(project_root)) or "none"
        raise StackFileError(f"{path.name}: no such stack file in {project_root} (stacks here: {known}).")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
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
    for key, value in config.items():
        if ":" not in str(key):
            raise StackFileError(
                f"{path.name}: config key `{key}` has no namespace, and Pulumi reads only `<namespace>:<name>` keys "
                f"from a stack file (it refuses the file otherwise); did you mean `{CONFIG_NAMESPACE}:{key}`?"
            )
        if isinstance(value, dict) and set(value) == {"secure"}:
            raise StackFileError(
                f"{path.name}: {key} is a secret, which cannot be decrypted offline; keep secrets out of the keys "
                "this tool reads, or run `pulumi preview` instead."
            )
        result[str(key)] = value if isinstance(value, str) else json.dumps(value)
    return result
