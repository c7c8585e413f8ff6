"""Runs the real program (`__main__.py`) under Pulumi's mock engine and records what it would register.

Used by `python -m mtls plan` and by the tests. Cloud lookups are answered with placeholders, which the
recording marks so nobody mistakes them for real values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.stack.engine import Recording

PROJECT = "gke-mtls"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROXY_ONLY_RANGE = "10.129.0.0/23"  # a placeholder proxy-only subnet's range, when nothing exports one
BACKEND_SERVICE_INVOKE = "gcp:compute/getBackendService:getBackendService"
STACK_REFERENCE = "pulumi:pulumi:StackReference"
NEG_INVOKE = "gcp:compute/getNetworkEndpointGroup:getNetworkEndpointGroup"
SUBNETWORKS_INVOKE = "gcp:compute/getSubnetworks:getSubnetworks"
CERTIFICATES_INVOKE = "gcp:certificatemanager/getCertificates:getCertificates"

# Collection paths of compute resources, for placeholder ids and self links.
COMPUTE_COLLECTIONS = {
    "gcp:compute/globalAddress:GlobalAddress": "global/addresses",
    "gcp:compute/managedSslCertificate:ManagedSslCertificate": "global/sslCertificates",
    "gcp:compute/sSLPolicy:SSLPolicy": "global/sslPolicies",
    "gcp:compute/uRLMap:URLMap": "global/urlMaps",
    "gcp:compute/targetHttpsProxy:TargetHttpsProxy": "global/targetHttpsProxies",
    "gcp:compute/targetHttpProxy:TargetHttpProxy": "global/targetHttpProxies",
    "gcp:compute/globalForwardingRule:GlobalForwardingRule": "global/forwardingRules",
    "gcp:compute/backendService:BackendService": "global/backendServices",
    "gcp:compute/healthCheck:HealthCheck": "global/healthChecks",
    "gcp:compute/firewall:Firewall": "global/firewalls",
}
# Regional compute resources, under projects/<project>/regions/<region>/.
REGIONAL_COLLECTIONS = {
    "gcp:compute/address:Address": "addresses",
    "gcp:compute/regionSslPolicy:RegionSslPolicy": "sslPolicies",
    "gcp:compute/regionUrlMap:RegionUrlMap": "urlMaps",
    "gcp:compute/regionTargetHttpsProxy:RegionTargetHttpsProxy": "targetHttpsProxies",
    "gcp:compute/regionTargetHttpProxy:RegionTargetHttpProxy": "targetHttpProxies",
    "gcp:compute/forwardingRule:ForwardingRule": "forwardingRules",
    "gcp:compute/regionBackendService:RegionBackendService": "backendServices",
    "gcp:compute/regionHealthCheck:RegionHealthCheck": "healthChecks",
}
ADDRESS_TYPES = ("gcp:compute/globalAddress:GlobalAddress", "gcp:compute/address:Address")
LOCATED_COLLECTIONS = {
    "gcp:certificatemanager/trustConfig:TrustConfig": "trustConfigs",
    "gcp:certificatemanager/certificate:Certificate": "certificates",
    "gcp:certificatemanager/dnsAuthorization:DnsAuthorization": "dnsAuthorizations",
    "gcp:certificatemanager/certificateMap:CertificateMap": "certificateMaps",
    "gcp:certificatemanager/certificateMapEntry:CertificateMapEntry": "certificateMapEntries",
    "gcp:networksecurity/serverTlsPolicy:ServerTlsPolicy": "serverTlsPolicies",
    "gcp:networksecurity/authzPolicy:AuthzPolicy": "authzPolicies",
}


@dataclass(frozen=True)
class Placeholders:
    """Stand-ins for what only the cloud knows. Shown as placeholders in every plan."""

    backend_name: str = "k8s1-0123abcd-default-web-80-5104b449"
    backend_scheme: str = "EXTERNAL"
    project: str = "placeholder-project"  # replaced by the stack's gcp:project when it sets one
    ip_address: str = "203.0.113.10"  # TEST-NET-3, never routable
    # Outputs of referenced stacks; None: the configured backend output, holding backend_name.
    stack_outputs: Mapping[str, Any] | None = None
    backend_lookup_error: str | None = None
    # What the NEG controller writes on the Service once it has run; None: not yet (a first `pulumi up`).
    neg_status: str | None = None
    # The zones of the standalone NEG an edge stack reads, and its network.
    neg_zones: tuple[str, ...] = ()  # none: two zones of the edge's region, or of europe-west1
    neg_network: str | None = None  # None: the edge's backend.network
    neg_name: str = "placeholder-neg"  # when the referenced stack's file is not in this project
    neg_endpoint_type: str = "GCE_VM_IP_PORT"
    neg_lookup_error: str | None = None  # the NEG lookup fails with this (a zone the NEG is no longer in)
    # The live Service a platform stack's standalone NEG annotates, as read: Service port -> target port. None: the
    # stack's own port and targetPort.
    service_ports: Mapping[int, int | str] | None = None
    live_service_error: str | None = None  # the read of the live Service fails with this (no such Service)
    neg_outputs_from: str = ""  # the stack file the referenced stack's NEG outputs were made from, for the plan
    # The region's active proxy-only subnets a regional edge finds: name, network, range. None: the one the edge names,
    # in its network, with the range the referenced stack exports.
    proxy_only_subnets: tuple[tuple[str, str, str], ...] | None = None
    other_subnets: tuple[str, ...] = ()  # names of the region's subnets of other purposes
    # The stack's Certificate Manager certificates a step of the switch from a Compute certificate finds by label:
    # (name, state). The default: one, ACTIVE.
    certificate_states: tuple[tuple[str, str], ...] = (("placeholder-certificate", "ACTIVE"),)


class PlaceholderCloud:
    """The cloud's answers, made of placeholders: ids and self links in Google's formats, the stack outputs and the
    backend service given on the command line."""

    def __init__(self, placeholders: Placeholders):
        self.placeholders = placeholders

    def resource(self, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        p = self.placeholders
        if typ == STACK_REFERENCE:
            return name, {"outputs": dict(p.stack_outputs or {})}
        state = dict(inputs)
        physical = state.get("name") or name
        state.setdefault("name", physical)
        collection = COMPUTE_COLLECTIONS.get(typ) or (
            f"regions/{state.get('region')}/{REGIONAL_COLLECTIONS[typ]}" if typ in REGIONAL_COLLECTIONS else None
        )
        if collection is not None:
            resource_id = f"projects/{p.project}/{collection}/{physical}"
            state["selfLink"] = f"https://www.googleapis.com/compute/v1/{resource_id}"
            if typ in ADDRESS_TYPES:
                state["address"] = p.ip_address
            return resource_id, state
        if typ == "kubernetes:core/v1:Service" and "spec" not in state:  # a read of the live Service
            if p.live_service_error:
                raise Exception(p.live_service_error)  # the engine reports it as the provider's failure
            ports = [{"port": port, "targetPort": target} for port, target in (p.service_ports or {}).items()]
            state["spec"] = {"ports": ports}
        if typ in ("kubernetes:core/v1:Service", "kubernetes:core/v1:ServicePatch") and p.neg_status:
            metadata = dict(state.get("metadata") or {})
            metadata["annotations"] = {
                **(metadata.get("annotations") or {}),
                "cloud.google.com/neg-status": p.neg_status,
            }
            state["metadata"] = metadata
        if typ == "gcp:certificatemanager/dnsAuthorization:DnsAuthorization":
            domain = state.get("domain")
            state["dnsResourceRecords"] = [
                {
                    "name": f"_acme-challenge.{domain}.",
                    "type": "CNAME",
                    "data": f"placeholder.{physical}.authorize.certificatemanager.goog.",
                }
            ]
        if typ in LOCATED_COLLECTIONS:
            location = state.get("location", "global")
            return f"projects/{p.project}/locations/{location}/{LOCATED_COLLECTIONS[typ]}/{physical}", state
        return f"{name}-id", state

    def invoke(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        p = self.placeholders
        if token == BACKEND_SERVICE_INVOKE:
            if p.backend_lookup_error:
                raise Exception(p.backend_lookup_error)  # the engine reports it as the provider's failure
            name = args["name"]
            return {
                "name": name,
                "selfLink": f"https://www.googleapis.com/compute/v1/projects/{p.project}/global/backendServices/{name}",
                "loadBalancingScheme": p.backend_scheme,
            }
        if token == NEG_INVOKE:
            if p.neg_lookup_error:
                raise Exception(p.neg_lookup_error)  # the engine reports it as the provider's failure
            zone, name = args["zone"], args["name"]
            network = p.neg_network or "placeholder-network"
            return {
                "name": name,
                "zone": zone,
                "networkEndpointType": p.neg_endpoint_type,
                "network": f"https://www.googleapis.com/compute/v1/projects/{p.project}/global/networks/{network}",
                "selfLink": f"https://www.googleapis.com/compute/v1/projects/{p.project}/zones/{zone}/"
                f"networkEndpointGroups/{name}",
            }
        if token == CERTIFICATES_INVOKE:
            return {
                "certificates": [
                    {
                        "name": f"projects/{p.project}/locations/global/certificates/{name}",
                        "manageds": [{"state": state}],
                    }
                    for name, state in p.certificate_states
                ]
            }
        if token == SUBNETWORKS_INVOKE:
            if "purpose" not in str(args.get("filter")):  # the region's subnets of that name, of any purpose
                return {
                    "subnetworks": [
                        _subnetwork(p.project, args["region"], n, "placeholder-network", "10.0.0.0/20")
                        for n in p.other_subnets
                        if f'"{n}"' in str(args.get("filter"))
                    ]
                }
            found = [_subnetwork(p.project, args["region"], *s) for s in p.proxy_only_subnets or ()]
            return {"subnetworks": found}
        return {}


def _subnetwork(project: str, region: str, name: str, network: str, ip_range: str) -> dict[str, Any]:
    networks = f"https://www.googleapis.com/compute/v1/projects/{project}/global/networks"
    return {
        "name": name,
        "network": f"{networks}/{network}",
        "networkName": network,
        "ipCidrRange": ip_range,
        "selfLink": f"https://www.googleapis.com/compute/v1/projects/{project}/regions/{region}/subnetworks/{name}",
    }


def run_program(
    stack: str,
    config: Mapping[str, str],
    placeholders: Placeholders = Placeholders(),
    project_root: Path = PROJECT_ROOT,
    preview: bool = False,
) -> Recording:
    """Runs `<project_root>/__main__.py` under the mock engine, the cloud answering with placeholders (as
    `pulumi preview` when `preview`, else as `pulumi up`)."""
    from components.stack.engine import run_under_mocks  # Pulumi loads here, not for the CLI's other commands

    placeholders = completed(config, placeholders, project_root)
    return run_under_mocks(project_root, PROJECT, stack, config, PlaceholderCloud(placeholders), preview)


def completed(config: Mapping[str, str], placeholders: Placeholders, project_root: Path) -> Placeholders:
    """The placeholders the stack's own settings complete: what its referenced stack exports, its live Service."""
    from components.edge.settings import BackendSettings
    from components.stack.settings import namespace_values

    values = namespace_values(config)[0]
    backend, gke = values.get("backend"), values.get("gkeBackend")
    if placeholders.service_ports is None and isinstance(gke, dict) and type(gke.get("port")) is int:
        service_ports: Any = {gke["port"]: gke.get("targetPort", gke["port"])}  # settings refuse other values
        placeholders = replace(placeholders, service_ports=service_ports)
    backend = backend if isinstance(backend, dict) else {}
    if not placeholders.neg_zones:
        edge = values.get("edge")
        region = edge.get("region") if isinstance(edge, dict) else None
        region = region if isinstance(region, str) else "europe-west1"
        placeholders = replace(placeholders, neg_zones=(f"{region}-b", f"{region}-c"))
    network = backend.get("network")
    if placeholders.neg_network is None and isinstance(network, str):  # the NEG is where the edge expects it
        placeholders = replace(placeholders, neg_network=network)
    if placeholders.stack_outputs is None and backend.get("source") == "standaloneNeg":
        outputs, origin = _neg_outputs(str(backend.get("stack")), placeholders, project_root)
        placeholders = replace(placeholders, stack_outputs=outputs, neg_outputs_from=origin)
    subnet = backend.get("proxyOnlySubnet")
    if placeholders.proxy_only_subnets is None and isinstance(subnet, str) and isinstance(network, str):
        exported = (placeholders.stack_outputs or {}).get("negBackend")
        ip_range = exported.get("proxyOnlySubnetRange") if isinstance(exported, dict) else None
        found = ((subnet, network, ip_range if isinstance(ip_range, str) else PROXY_ONLY_RANGE),)
        placeholders = replace(placeholders, proxy_only_subnets=found)
    if placeholders.stack_outputs is not None:
        return placeholders
    output = backend.get("output", BackendSettings.model_fields["output"].default)
    return replace(placeholders, stack_outputs={output: placeholders.backend_name})


def _neg_outputs(reference: str, placeholders: Placeholders, project_root: Path) -> tuple[dict[str, Any], str]:
    """What a platform stack of this project would export for its standalone NEG, from its stack file; zones are
    placeholders. A stack of another project, or one whose settings do not parse, gets placeholders throughout."""
    from components.core.edge_backend import NegBackend
    from components.gke import objects
    from components.gke.headers import DEFAULT_HEADERS
    from components.stack.settings import parse_stack
    from mtls import stack_files

    parts = reference.split("/")
    stack = parts[-1]
    settings = None
    if (len(parts) < 3 or parts[-2] == PROJECT) and stack in stack_files.stack_names(project_root):
        settings, _ = parse_stack(stack_files.read_stack_config(project_root, stack), project_root)
    gke = settings.gke_backend if settings is not None else None
    zones = list(placeholders.neg_zones)
    if gke is not None and gke.standalone_neg is not None:
        outputs = {"negName": gke.standalone_neg, "negZones": zones, "negBackend": objects.neg_backend(gke)}
        return outputs, f"Pulumi.{stack}.yaml"
    backend = NegBackend(port=8080, headers=DEFAULT_HEADERS).model_dump(mode="json", by_alias=True, exclude_none=True)
    return {"negName": placeholders.neg_name, "negZones": zones, "negBackend": backend}, ""
