"""Runs the real program (`__main__.py`) under Pulumi's mock engine and records what it would register.

Used by `python -m mtls plan` and by the tests. Cloud lookups are answered with placeholders, which the
recording marks so nobody mistakes them for real values.
"""

from __future__ import annotations

import asyncio
import logging
import runpy
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks, rpc
from pulumi.runtime import settings as runtime_settings

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
    project: str = "placeholder-project"
    ip_address: str = "203.0.113.10"  # TEST-NET-3, never routable
    # Outputs of referenced stacks; None: the configured backend output, holding backend_name.
    stack_outputs: Mapping[str, Any] | None = None
    backend_lookup_error: str | None = None
    # What the NEG controller writes on the Service once it has run; None: not yet (a first `pulumi up`).
    neg_status: str | None = None


@dataclass
class Registration:
    type: str
    name: str
    urn: str
    parent: str
    inputs: dict[str, Any]
    custom: bool
    protect: bool
    delete_before_replace: bool
    retain_on_delete: bool
    read: bool = False
    provider: str = ""  # "<provider urn>::<id>" for resources of an explicit provider
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)  # input -> URNs it came from
    dependencies: list[str] = field(default_factory=list)  # depends_on and property dependencies, as URNs
    options: dict[str, Any] = field(default_factory=dict)  # the other resource options the engine received


@dataclass
class Invocation:
    token: str
    args: dict[str, Any]
    result: dict[str, Any]


@dataclass
class Recording:
    stack: str
    resources: list[Registration] = field(default_factory=list)
    invokes: list[Invocation] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    logs: list[tuple[str, str]] = field(default_factory=list)  # (level, message)
    error: BaseException | None = None

    def of_type(self, typ: str) -> list[Registration]:
        return [r for r in self.resources if r.type == typ]

    def one(self, typ: str) -> Registration:
        found = self.of_type(typ)
        if len(found) != 1:
            raise AssertionError(f"expected one {typ}, found {len(found)}")
        return found[0]

    def named(self, name: str) -> Registration:
        found = [r for r in self.resources if r.name == name]
        if len(found) != 1:
            raise AssertionError(f"expected one resource named {name}, found {len(found)}")
        return found[0]

    def cloud_resources(self) -> list[Registration]:
        """Resources a provider would create (not components, stacks, providers or reads)."""
        return [r for r in self.resources if r.custom and not r.read and not r.type.startswith("pulumi:")]

    def messages(self, level: str) -> list[str]:
        return [m for lvl, m in self.logs if lvl == level]


class OfflineMocks(pulumi.runtime.Mocks):
    def __init__(self, placeholders: Placeholders):
        self.placeholders = placeholders

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        p = self.placeholders
        if args.typ == STACK_REFERENCE:
            return args.name, {"outputs": dict(p.stack_outputs or {})}
        state = dict(args.inputs)
        physical = state.get("name") or args.name
        state.setdefault("name", physical)
        if args.typ in COMPUTE_COLLECTIONS:
            resource_id = f"projects/{p.project}/{COMPUTE_COLLECTIONS[args.typ]}/{physical}"
            state["selfLink"] = f"https://www.googleapis.com/compute/v1/{resource_id}"
            if args.typ == "gcp:compute/globalAddress:GlobalAddress":
                state["address"] = p.ip_address
            return resource_id, state
        if args.typ in ("kubernetes:core/v1:Service", "kubernetes:core/v1:ServicePatch") and p.neg_status:
            metadata = dict(state.get("metadata") or {})
            metadata["annotations"] = {
                **(metadata.get("annotations") or {}),
                "cloud.google.com/neg-status": p.neg_status,
            }
            state["metadata"] = metadata
        if args.typ in LOCATED_COLLECTIONS:
            location = state.get("location", "global")
            return f"projects/{p.project}/locations/{location}/{LOCATED_COLLECTIONS[args.typ]}/{physical}", state
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        p = self.placeholders
        if args.token == BACKEND_SERVICE_INVOKE:
            if p.backend_lookup_error:
                raise Exception(p.backend_lookup_error)
            name = args.args["name"]
            return {
                "name": name,
                "selfLink": f"https://www.googleapis.com/compute/v1/projects/{p.project}/global/backendServices/{name}",
                "loadBalancingScheme": p.backend_scheme,
            }, []
        return {}, []


class RecordingMonitor(mocks.MockMonitor):
    def __init__(self, mock: OfflineMocks, recording: Recording):
        super().__init__(mock)
        self.recording = recording

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.recording.resources.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    inputs=rpc.deserialize_properties(request.object, keep_unknowns=True),
                    custom=request.custom,
                    protect=request.protect,
                    delete_before_replace=request.deleteBeforeReplace,
                    retain_on_delete=request.retainOnDelete,
                    provider=request.provider,
                    property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                    dependencies=sorted(request.dependencies),
                    options={
                        "ignoreChanges": list(request.ignoreChanges),
                        "replaceOnChanges": list(request.replaceOnChanges),
                        "additionalSecretOutputs": list(request.additionalSecretOutputs),
                        "aliases": [json_format.MessageToDict(alias) for alias in request.aliases],
                        "customTimeouts": json_format.MessageToDict(request.customTimeouts),
                        "deletedWith": request.deletedWith,
                        "importId": request.importId,
                    },
                )
            )
        return response

    def ReadResource(self, request):  # noqa: N802
        response = super().ReadResource(request)
        inputs = rpc.deserialize_properties(request.properties)
        self.recording.resources.append(
            Registration(
                request.type, request.name, response.urn, request.parent, inputs, True, False, False, False, read=True
            )
        )
        return response

    def Invoke(self, request):  # noqa: N802
        args = rpc.deserialize_properties(request.args)
        try:
            response = super().Invoke(request)
        except Exception as exc:
            self.recording.invokes.append(Invocation(request.tok, args, {"error": str(exc)}))
            raise
        result = rpc.deserialize_properties(getattr(response, "return"))
        self.recording.invokes.append(Invocation(request.tok, args, result))
        return response

    def RegisterResourceOutputs(self, request):  # noqa: N802
        if request.urn.endswith(f"::pulumi:pulumi:Stack::{PROJECT}-{self.recording.stack}"):
            self.recording.outputs = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)


class _WorkerLoops:
    """The SDK gives every executor thread an event loop of its own and never closes it; we make those loops
    ourselves so that they are closed with the run, not found half torn down at interpreter exit."""

    def __init__(self) -> None:
        self.loops: list[asyncio.AbstractEventLoop] = []
        self.lock = threading.Lock()

    def start(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        with self.lock:
            self.loops.append(loop)

    def close(self) -> None:
        for loop in self.loops:
            loop.close()


class _LogCollector(logging.Handler):
    def __init__(self, recording: Recording):
        super().__init__()
        self.recording = recording

    def emit(self, record: logging.LogRecord) -> None:
        self.recording.logs.append((record.levelname.lower(), record.getMessage()))


def run_program(
    stack: str,
    config: Mapping[str, str],
    placeholders: Placeholders = Placeholders(),
    project_root: Path = PROJECT_ROOT,
    preview: bool = False,
) -> Recording:
    """Runs `<project_root>/__main__.py` as the Pulumi language host would, against the mock engine
    (as `pulumi preview` when `preview`, else as `pulumi up`)."""
    if placeholders.stack_outputs is None:
        placeholders = replace(placeholders, stack_outputs={_backend_output_name(config): placeholders.backend_name})
    recording = Recording(stack=stack)
    logger = logging.getLogger(f"gke-mtls.offline.{id(recording)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(_LogCollector(recording))
    mock = OfflineMocks(placeholders)
    loop = asyncio.new_event_loop()
    worker_loops = _WorkerLoops()
    loop.set_default_executor(ThreadPoolExecutor(initializer=worker_loops.start))
    asyncio.set_event_loop(loop)
    try:
        pulumi.runtime.set_mocks(
            mock,
            project=PROJECT,
            stack=stack,
            preview=preview,
            logger=logger,
            monitor=RecordingMonitor(mock, recording),
        )
        pulumi.runtime.set_all_config(dict(config))
        # run_in_stack makes the root stack itself, as the language host does.
        runtime_settings.set_root_resource(None)  # type: ignore[arg-type]

        def program() -> None:
            runpy.run_path(str(project_root), run_name="__main__")

        try:
            loop.run_until_complete(pulumi.runtime.run_in_stack(program))
        except Exception as exc:  # the program's own failure is part of what we record
            recording.error = exc
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        worker_loops.close()
        asyncio.set_event_loop(None)
        loop.close()
        logger.handlers.clear()
    return recording


def _backend_output_name(config: Mapping[str, str]) -> str:
    from components.edge.settings import BackendSettings
    from components.stack.settings import namespace_values

    default = BackendSettings.model_fields["output"].default
    backend = namespace_values(config).get("backend")
    return backend.get("output", default) if isinstance(backend, dict) else default
