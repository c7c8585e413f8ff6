"""Finds the backend service GKE's Ingress controller generated, before the edge registers anything."""

from __future__ import annotations

import re

import pulumi
import pulumi_gcp as gcp

from mtls.backend_service import BackendService, scheme_problem
from mtls.settings import GCE_NAME, BackendSettings

KEY = "gke-mtls:backend"


async def find_backend_service(backend: BackendSettings) -> BackendService:
    """Resolves the name (StackReference or explicit) and reads the service; raises RunError naming the key."""
    name = backend.name or await _name_from_stack(backend)
    # A failed lookup (no such service, no permission) ends the run with the provider's own message; the SDK
    # records RPC failures itself, so wrapping it here would not change what the user sees.
    found = gcp.compute.get_backend_service(name=name)
    service = BackendService(name=name, self_link=found.self_link, load_balancing_scheme=found.load_balancing_scheme)
    problem = scheme_problem(service)
    if problem is not None:
        raise pulumi.RunError(f"{KEY}: {problem}")
    return service


async def _name_from_stack(backend: BackendSettings) -> str:
    assert backend.stack is not None
    reference = pulumi.StackReference(backend.stack)
    # get_output rather than require_output: the latter fails with a bare KeyError naming neither stack nor key.
    name = await reference.get_output(backend.output).future()
    if name is None:
        raise pulumi.RunError(
            f"{KEY}.output: stack {backend.stack!r} has no output {backend.output!r}. Export the backend service "
            f"name from that stack under this name, or set {KEY}.output to the output it does export."
        )
    if not isinstance(name, str) or not re.fullmatch(str(GCE_NAME.pattern), name):
        raise pulumi.RunError(
            f"{KEY}.output: output {backend.output!r} of stack {backend.stack!r} is {name!r}, not a backend "
            "service name; export the name of the backend service GKE generated."
        )
    return name
