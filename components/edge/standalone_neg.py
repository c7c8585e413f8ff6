"""The platform stack's standalone NEG as the edge stack reads it: its outputs checked, and the NEGs found in each
zone checked against the edge's settings. Messages name the stack and the output, or the edge's key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.core.edge_backend import NegBackend
from components.core.names import NEG_NAME, ZONE_NAME
from components.core.settings import parse
from components.edge.settings import BACKEND_KEY, NEG_OUTPUTS, BackendSettings

# The endpoint type of a standalone zonal NEG: pod IPs and ports.
ENDPOINT_TYPE = "GCE_VM_IP_PORT"


@dataclass(frozen=True)
class StandaloneNeg:
    name: str
    zones: tuple[str, ...]
    backend: NegBackend


class NegOutputsError(Exception):
    """The referenced stack's outputs cannot make a backend; the message says which output and what to do."""


def from_outputs(stack: str, outputs: Mapping[str, Any]) -> StandaloneNeg:
    """`outputs`: each of NEG_OUTPUTS, None when the stack does not export it."""
    missing = [name for name in NEG_OUTPUTS if outputs.get(name) is None]
    if missing:
        raise NegOutputsError(
            f"{BACKEND_KEY}.stack: stack {stack!r} has no output {', '.join(map(repr, missing))}. Run `pulumi up` on "
            "that stack with gke-mtls:gkeBackend.standaloneNeg set, or point backend.stack at the stack that has it."
        )
    name, zones, exported = (outputs[key] for key in NEG_OUTPUTS)
    if not isinstance(name, str) or not NEG_NAME.matches(name):
        raise NegOutputsError(f"{BACKEND_KEY}.stack: output 'negName' of stack {stack!r} is {name!r}, not a NEG name.")
    if not isinstance(zones, list) or not all(isinstance(z, str) and ZONE_NAME.matches(z) for z in zones):
        raise NegOutputsError(
            f"{BACKEND_KEY}.stack: output 'negZones' of stack {stack!r} is {zones!r}, not a list of zone names."
        )
    if not zones:
        raise NegOutputsError(
            f"{BACKEND_KEY}.stack: output 'negZones' of stack {stack!r} is empty: the NEG controller had not reported "
            f"NEG {name!r} when that stack last ran. Run `pulumi up --refresh` on {stack!r}, then this stack again."
        )
    backend, problems = parse(NegBackend, _whole_numbers(exported), f"output 'negBackend' of stack {stack!r}")
    if backend is None:
        raise NegOutputsError(
            f"{BACKEND_KEY}.stack: {problems[0].key}: {problems[0].message} Update that stack's gke-mtls to this "
            "version and run `pulumi up` on it."
        )
    return StandaloneNeg(name, tuple(zones), backend)


def lookup_failed_message(backend: BackendSettings, neg: StandaloneNeg, zone: str, reason: object) -> str:
    return (
        f"{BACKEND_KEY}.stack: NEG {neg.name!r} of stack {backend.stack!r} cannot be read in zone {zone} ({reason}). "
        f"If the cluster has left that zone, run `pulumi up --refresh` on {backend.stack!r} so that its negZones "
        "are current, then this stack again."
    )


def found_problem(backend: BackendSettings, neg: StandaloneNeg, zone: str, found: Mapping[str, Any]) -> str | None:
    """Why the NEG found in `zone` cannot be the edge's backend, or None."""
    where = f"NEG {neg.name!r} in {zone}"
    if found.get("networkEndpointType") not in (None, ENDPOINT_TYPE):
        return (
            f"{BACKEND_KEY}.stack: {where} has endpoint type {found['networkEndpointType']!r}, not {ENDPOINT_TYPE} "
            "(pod IPs and ports); the name belongs to another NEG. Rename gkeBackend.standaloneNeg."
        )
    network = str(found.get("network") or "").rsplit("/", 1)[-1]
    if network and network != backend.network:
        return (
            f"{BACKEND_KEY}.network: {where} is in network {network!r}, not {backend.network!r}; the firewall rule "
            f"must be where the pods are. Set backend.network to {network!r}."
        )
    return None


def _whole_numbers(value: Any) -> Any:
    """Stack outputs travel as protobuf Structs, where every number is a float: 8080 arrives as 8080.0."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value
