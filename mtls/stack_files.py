"""Reads a stack's committed config file the way the Pulumi engine hands it to the program."""

from __future__ import annotations

import json
from pathlib import Path

import yaml


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
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(f"{path.name}: `config` must be a mapping of keys to values.")
    result: dict[str, str] = {}
    for key, value in config.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            raise StackFileError(
                f"{path.name}: {key} is a secret, which cannot be decrypted offline; keep secrets out of the keys "
                "this tool reads, or run `pulumi preview` instead."
            )
        result[str(key)] = value if isinstance(value, str) else json.dumps(value)
    return result
