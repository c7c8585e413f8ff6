"""The platform stack's standalone NEG as the edge stack reads it: its outputs checked, and the NEGs found in each
zone checked against the edge's settings. Messages name the stack and the output, or the edge's key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.core.edge_backend import NegBackend
from components.core.load_balancer import CAPABILITIES, LoadBalancerType
from components.core.names import NEG_NAME, ZONE_NAME
from components.core.settings import parse
from components.edge.settings import BACKEND_KEY, KEY, NEG_OUTPUTS, BackendSettings, EdgeSettings

# The endpoint type of a standalone zonal NEG: pod IPs and ports.
ENDPOINT_TYPE = "GCE_VM_IP_PORT"
# A compute list filter (AIP-160; parenthesized expressions are ANDed): the subnets a regional Envoy-based load
# balancer sends from (compute v1 Subnetwork.role: "An ACTIVE subnetwork is one that is currently being used for
# Envoy-based load balancers in a region").
ACTIVE_PROXY_ONLY_FILTER = '(purpose = "REGIONAL_MANAGED_PROXY") (role = "ACTIVE")'
PLATFORM_RANGE_KEY = "gke-mtls:gkeBackend.proxyOnlySubnetRange"


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


@dataclass(frozen=True)
class ProxyOnlySubnet:
    name: str
    network: str  # its network's self link
    ip_cidr_range: str
    self_link: str


def placement_problem(
    backend: BackendSettings, edge: EdgeSettings, kind: LoadBalancerType, neg: StandaloneNeg
) -> str | None:
    """Why the exported NEG cannot serve this type of load balancer, or None: a regional one reaches NEGs of its own
    region only, and the platform stack's mesh must let the load balancer in from where it sends."""
    exported = neg.backend.proxy_only_subnet_range
    if kind is LoadBalancerType.REGIONAL_EXTERNAL:
        outside = [zone for zone in neg.zones if zone.rsplit("-", 1)[0] != edge.region]
        if outside:
            return (
                f"{KEY}.region: NEG {neg.name!r} of stack {backend.stack!r} is in {', '.join(outside)}, outside "
                f"{edge.region}; a regional external load balancer reaches the NEGs of its own region only. Set "
                f"edge.region to the cluster's region ({outside[0].rsplit('-', 1)[0]})."
            )
        if exported is None:
            return (
                f"{BACKEND_KEY}.stack: output 'negBackend' of stack {backend.stack!r} has no proxyOnlySubnetRange, so "
                "that stack's mesh lets the load balancer in from Google's front-end ranges only, and a regional "
                f"external load balancer sends from its proxy-only subnet. Set {PLATFORM_RANGE_KEY} there to the range "
                f"of {BACKEND_KEY}.proxyOnlySubnet and run `pulumi up` on it first."
            )
    elif exported is not None:
        lb = CAPABILITIES[kind]
        return (
            f"{BACKEND_KEY}.stack: output 'negBackend' of stack {backend.stack!r} has proxyOnlySubnetRange {exported}: "
            f"that stack's mesh expects a regional external load balancer and would refuse the {lb.name}'s requests "
            f"from Google's front-end ranges. Remove {PLATFORM_RANGE_KEY} there, or set {KEY}.loadBalancer: "
            "regionalExternal here."
        )
    return None


def proxy_only_subnet(
    backend: BackendSettings,
    edge: EdgeSettings,
    neg: StandaloneNeg,
    active: list[ProxyOnlySubnet],
    named_otherwise: bool,
) -> tuple[ProxyOnlySubnet | None, str]:
    """The active proxy-only subnet of the settings, among the region's `active` ones, or why it cannot be used.
    `named_otherwise`: a subnet of that name exists in the region, of another purpose or role."""
    key = f"{BACKEND_KEY}.proxyOnlySubnet"
    name, region = backend.proxy_only_subnet, edge.region
    found = next((s for s in active if s.name == name), None)
    if found is None:
        listed = ", ".join(f"{s.name} (network {_last(s.network)})" for s in active) or "none"
        why = (
            "is a subnet of another purpose, or a BACKUP proxy-only subnet"
            if named_otherwise
            else "does not exist there (a proxy-only subnet serves its own region only)"
        )
        return None, (
            f"{key}: {name!r} is not an active proxy-only subnet (purpose REGIONAL_MANAGED_PROXY, role ACTIVE) in "
            f"{region}: it {why}. Active proxy-only subnets in {region}: {listed}. Name one of network "
            f"{backend.network!r}, or create it: gcloud compute networks subnets create NAME "
            f"--purpose=REGIONAL_MANAGED_PROXY --role=ACTIVE --region={region} --network={backend.network} "
            "--range=CIDR."
        )
    if _last(found.network) != backend.network:
        return None, (
            f"{key}: {name!r} is in network {_last(found.network)!r}, not {backend.network!r} where the NEG's pods "
            "are; the load balancer sends from the proxy-only subnet of the backends' own network. Name that one."
        )
    exported = neg.backend.proxy_only_subnet_range
    if exported != found.ip_cidr_range:
        return None, (
            f"{key}: {name!r} has range {found.ip_cidr_range}, but stack {backend.stack!r} lets the load balancer in "
            f"from {exported} ({PLATFORM_RANGE_KEY}); its mesh would refuse every request. Set that key to "
            f"{found.ip_cidr_range} and run `pulumi up` on that stack first."
        )
    return found, ""


def _last(link: str) -> str:
    return link.rsplit("/", 1)[-1]


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
