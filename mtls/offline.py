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
BACKEND_SERVICE_INVOKE = "gcp:compute/getBackendService:getBackendService"
STACK_REFERENCE = "pulumi:pulumi:StackReference"

# Collection paths of compute resources, for placeholder ids and self links.
COMPUTE_COLLECTIONS = {
    "gcp:compute/globalAddress:GlobalAddress": "global/addresses",
    "gcp:compute/managedSslCertificate:ManagedSslCertificate": "global/sslCertificates",
    "gcp:compute/sSLPolicy:SSLPolicy": "global/sslPolicies",
    "gcp:compute/uRLMap:URLMap": "global/urlMaps",
    "gcp:compute/targetHttpsProxy:TargetHttpsProxy": "global/targetHttpsProxies",
    "gcp:compute/targetHttpProxy:TargetHttpProxy": "global/targetHttpProxies",
    "gcp:compute/globalForwardingRule:GlobalForwardingRule": "global/forwardingRules",
}
LOCATED_COLLECTIONS = {
    "gcp:certificatemanager/trustConfig:TrustConfig": "trustConfigs",
    "gcp:networksecurity/serverTlsPolicy:ServerTlsPolicy": "serverTlsPolicies",
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
        if typ in COMPUTE_COLLECTIONS:
            resource_id = f"projects/{p.project}/{COMPUTE_COLLECTIONS[typ]}/{physical}"
            state["selfLink"] = f"https://www.googleapis.com/compute/v1/{resource_id}"
            if typ == "gcp:compute/globalAddress:GlobalAddress":
                state["address"] = p.ip_address
            return resource_id, state
        if typ in ("kubernetes:core/v1:Service", "kubernetes:core/v1:ServicePatch") and p.neg_status:
            metadata = dict(state.get("metadata") or {})
            metadata["annotations"] = {
                **(metadata.get("annotations") or {}),
                "cloud.google.com/neg-status": p.neg_status,
            }
            state["metadata"] = metadata
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
        return {}


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

    if placeholders.stack_outputs is None:
        placeholders = replace(placeholders, stack_outputs={_backend_output_name(config): placeholders.backend_name})
    return run_under_mocks(project_root, PROJECT, stack, config, PlaceholderCloud(placeholders), preview)


def _backend_output_name(config: Mapping[str, str]) -> str:
    from components.edge.settings import BackendSettings
    from components.stack.settings import namespace_values

    default = BackendSettings.model_fields["output"].default
    backend = namespace_values(config)[0].get("backend")
    return backend.get("output", default) if isinstance(backend, dict) else default
