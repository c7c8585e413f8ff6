"""The clients whose requests must get through: those the user declares, and, whenever the stack has an edge
backend, Google's load balancer and its health checks, which reach the pods in plaintext from Google's ranges."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from components.core.edge_backend import AllowedClient
from components.core.findings import Finding, error, warning
from components.core.load_balancer import FRONT_END_RANGES
from components.core.manifest import ISTIO_SECURITY, Manifest
from components.mesh.analysis.authorization import AuthorizationPolicies, Request, action_of, policy_matches
from components.mesh.interchange.istio_objects import IstioObject, labels_text
from components.mesh.settings import EDGE_BACKEND_KEY, EdgeBackendSettings, MeshSettings, caller_key

LOAD_BALANCER = "the load balancer"
HEALTH_CHECKS = "Google's health checks"
# The AuthorizationPolicy that lets the load balancer in where the stack's own ALLOW policies would deny it.
ADMISSION_NAME = "edge-load-balancer"
_FRONT_ENDS = tuple(ipaddress.ip_network(r) for r in FRONT_END_RANGES)


@dataclass(frozen=True)
class Caller:
    name: str
    key: str  # the settings key that declares it
    namespace: str
    selector: Mapping[str, str]
    requests: tuple[Request, ...]  # one per port called

    @property
    def sidecar(self) -> bool:
        """A caller with a sidecar sends what auto mTLS and DestinationRules decide for each port it calls; one
        without sends plaintext everywhere."""
        return bool(self.requests[0].principal)

    def where(self, port: str) -> str:
        return f"{self.namespace}/{labels_text(self.selector)}:{port}"


@dataclass(frozen=True)
class EdgeClient:
    """An allowed client as the mesh sees it: the header its identity arrives in, from the load balancer."""

    client: AllowedClient
    header: str
    key: str  # the settings key that lists it

    def request(self, port: str, verified_header: str, ranges: Sequence[str]) -> Request:
        path = self.client.paths[0].removesuffix("*") if self.client.paths else None
        headers = {verified_header.lower(): "true", self.header.lower(): self.client.header_values[0]}
        method = self.client.methods[0] if self.client.methods else None
        return Request(port, principal="", sources=_networks(ranges), headers=headers, path=path, method=method)

    def rule(self, port: str, verified_header: str, ranges: Sequence[str]) -> dict[str, Any]:
        operation: dict[str, Any] = {"ports": [port]}
        if self.client.paths:
            operation["paths"] = list(self.client.paths)
        if self.client.methods:
            operation["methods"] = list(self.client.methods)
        return {
            "from": _plaintext_from(ranges),
            "to": [{"operation": operation}],
            "when": [
                {"key": f"request.headers[{verified_header.lower()}]", "values": ["true"]},
                {"key": f"request.headers[{self.header.lower()}]", "values": list(self.client.header_values)},
            ],
        }


@dataclass(frozen=True)
class LoadBalancerFacts:
    """What the GKE side of the same stack tells about the load balancer's requests (None: not known here)."""

    verified_header: str | None = None  # the header the load balancer sets to the chain's verdict
    health_check_port: int | None = None
    health_check_path: str | None = None
    clients: tuple[EdgeClient, ...] = ()  # the only clients let through; none: every verified client
    clients_key: str = ""  # the settings key that lists them
    # Where its requests come from: Google's front ends, or a regional load balancer's proxy-only subnet. Health
    # checks come from the front ends on every type.
    request_ranges: tuple[str, ...] = FRONT_END_RANGES


def declared(mesh: MeshSettings) -> list[Caller]:
    callers = []
    for i, c in enumerate(mesh.callers):
        principal = c.source.principal if c.source.principal is not None else ""
        sources = tuple(c.source.ip_blocks) or None
        requests = tuple(Request(str(p), principal=principal, sources=sources) for p in c.target.ports)
        callers.append(Caller(f"caller {c.name}", caller_key(i), c.target.namespace, c.target.selector, requests))
    return callers


def load_balancer(mesh: MeshSettings, facts: LoadBalancerFacts) -> list[Caller]:
    backend = mesh.edge_backend
    if backend is None or backend.namespace is None or backend.port is None:
        return []  # the ingress gateway, its pods not named: nothing to check them against
    if facts.clients and facts.verified_header:
        found = [
            Caller(f"{LOAD_BALANCER} (client {c.client.identity})", c.key, backend.namespace, backend.selector, (r,))
            for c in facts.clients
            for r in [c.request(str(backend.port), facts.verified_header, facts.request_ranges)]
        ]
        return found + _health_checks(backend, facts)
    verified = facts.verified_header.lower() if facts.verified_header else None
    requests = Request(
        str(backend.port),
        principal="",
        sources=_networks(facts.request_ranges),
        headers={verified: "true"} if verified else None,  # the requests that must pass: verified clients
    )
    found = [Caller(LOAD_BALANCER, EDGE_BACKEND_KEY, backend.namespace, backend.selector, (requests,))]
    return found + _health_checks(backend, facts)


def _health_checks(backend: EdgeBackendSettings, facts: LoadBalancerFacts) -> list[Caller]:
    assert backend.namespace is not None and backend.port is not None
    found = []
    if facts.health_check_path is not None:
        probe = Request(
            str(facts.health_check_port or backend.port),
            principal="",
            sources=_FRONT_ENDS,
            headers={"user-agent": "GoogleHC/1.0"},
            headers_complete=True,
            path=facts.health_check_path,
            method="GET",
        )
        found.append(Caller(HEALTH_CHECKS, EDGE_BACKEND_KEY, backend.namespace, backend.selector, (probe,)))
    return found


def may_cover_backend(mesh: MeshSettings, manifest: Manifest) -> bool:
    """An AuthorizationPolicy that could apply to the edge backend: in its namespace or the root namespace."""
    backend = mesh.edge_backend
    return (
        backend is not None
        and manifest.kind == "AuthorizationPolicy"
        and manifest.namespace in (backend.namespace, mesh.root_namespace)
    )


def needs_admission(mesh: MeshSettings, policies: Iterable[IstioObject]) -> bool:
    """An ALLOW policy of the stack applies to the backend, so the load balancer needs a rule of its own: without
    any ALLOW policy, Istio allows it already, and adding one would deny every other caller."""
    backend = mesh.edge_backend
    if backend is None or backend.namespace is None:
        return False
    applying = AuthorizationPolicies.of(policies, mesh.root_namespace).applying_to(backend.namespace, backend.selector)
    return any(action_of(p) == "ALLOW" for p in applying)


def admission(mesh: MeshSettings, facts: LoadBalancerFacts) -> Manifest:
    """Plaintext (no identity) from where the load balancer sends on the backend port, with the verified-chain header
    when the GKE side sets one (or only the allowed clients, when it lists them); and the health checks, which carry
    no such header, from Google's front ends on their port and path."""
    backend = mesh.edge_backend
    assert backend is not None and backend.namespace is not None and backend.port is not None
    serving: dict[str, object] = {
        "from": _plaintext_from(facts.request_ranges),
        "to": [{"operation": {"ports": [str(backend.port)]}}],
    }
    rules: list[dict[str, Any]] = [serving]
    if facts.clients and facts.verified_header:  # each allowed client instead of every verified one
        rules = [c.rule(str(backend.port), facts.verified_header, facts.request_ranges) for c in facts.clients]
    elif facts.verified_header:
        serving["when"] = [{"key": f"request.headers[{facts.verified_header.lower()}]", "values": ["true"]}]
    if facts.verified_header and facts.health_check_path is not None:  # the probes carry no verdict header
        probe = {"ports": [str(facts.health_check_port or backend.port)], "paths": [facts.health_check_path]}
        rules.append({"from": _plaintext_from(FRONT_END_RANGES), "to": [{"operation": {**probe, "methods": ["GET"]}}]})
    return Manifest(
        ISTIO_SECURITY,
        "AuthorizationPolicy",
        ADMISSION_NAME,
        backend.namespace,
        {"selector": {"matchLabels": dict(backend.selector)}, "action": "ALLOW", "rules": rules},
        origin=facts.clients_key if facts.clients else EDGE_BACKEND_KEY,
    )


def _plaintext_from(ranges: Sequence[str]) -> list[dict[str, Any]]:
    return [{"source": {"notPrincipals": ["*"], "ipBlocks": list(ranges)}}]


def _senders(ranges: Sequence[str]) -> str:
    where = "Google's front ends" if tuple(ranges) == FRONT_END_RANGES else "the load balancer's proxy-only subnet"
    return f"{where} ({', '.join(ranges)})"


def _networks(ranges: Sequence[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(r) for r in ranges)


# --- allowed clients -----------------------------------------------------------------------------------------------

UNLISTED = "an unlisted client"  # no identity of the list, in a chain the load balancer verified


def allowed_client_findings(
    mesh: MeshSettings, facts: LoadBalancerFacts, objects: Sequence[IstioObject], covered_before: bool
) -> list[Finding]:
    """The list holds only if no other ALLOW rule lets a verified client with another identity through the edge; and
    where no ALLOW policy covered the workload before, the list's policy makes it deny by default."""
    backend = mesh.edge_backend
    if not facts.clients or not facts.verified_header or backend is None or backend.namespace is None:
        return []
    found = []
    if not covered_before:
        labels = labels_text(backend.selector)
        found.append(
            warning(
                "mesh.edge-allow-policy",
                facts.clients_key,
                f"makes {backend.namespace}/{labels} refuse every request that no ALLOW rule matches, on every "
                "port, as any ALLOW policy does: its other callers (mesh peers, scrapers) need rules of their own in "
                "gke-mtls:mesh.authorization. List them in gke-mtls:mesh.callers and the plan checks each.",
            )
        )
    identity_headers = {c.header.lower(): "not-listed" for c in facts.clients}
    unlisted = Request(
        str(backend.port),
        principal="",
        sources=_networks(facts.request_ranges),
        headers={facts.verified_header.lower(): "true", **identity_headers},
    )
    applying = AuthorizationPolicies.of(objects, mesh.root_namespace).applying_to(backend.namespace, backend.selector)
    for policy in applying:
        if action_of(policy) != "ALLOW" or (policy.name, policy.namespace) == (ADMISSION_NAME, backend.namespace):
            continue
        # The client chooses its path, method and other headers: a rule that may match for some of them lets it in.
        match = policy_matches(policy, unlisted)
        if match is not False:
            lets = "lets" if match else "can let, by the path, method or headers it sends,"
            found.append(
                error(
                    "mesh.allowed-clients-bypassed",
                    policy.origin.key,
                    f"ALLOW policy {policy.namespace}/{policy.name} {lets} {UNLISTED} through the load balancer to "
                    f"port {backend.port}, so {facts.clients_key} does not hold: ALLOW policies add up. Restrict its "
                    f"rule to mesh identities (principals) or to sources other than {_senders(facts.request_ranges)}.",
                )
            )
    return found
