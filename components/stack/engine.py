"""The one adapter to Pulumi's engine; no other module touches the SDK's internals.

For the program: the stack's config map (with misspelt top-level keys too) and where findings are reported.
For the offline tools and the tests: the program run under Pulumi's mock engine, with every registration recorded.
An SDK upgrade that changes these internals breaks this module alone.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import pathlib
import runpy
import sys
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pulumi
from google.protobuf import json_format
from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks, rpc
from pulumi.runtime import resource as runtime_resource
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.proto import source_pb2

from components.core.findings import Finding, Severity, errors
from components.stack import preflight, settings

# --- the real engine -------------------------------------------------------------------------------------------


def config_map() -> dict[str, str]:
    """Every config value of this run, so that a misspelt top-level key can be reported too."""
    # The CLI hands config over in PULUMI_CONFIG; the Automation API and the mock engine set it in-process.
    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def report(findings: list[Finding]) -> None:
    """Warnings go to the engine's diagnostics; any error stops the program before it registers anything."""
    for finding in findings:
        if finding.severity is Severity.WARNING:
            pulumi.log.warn(f"{finding}")
        elif finding.severity is Severity.NOTE:
            pulumi.log.info(f"{finding}")
        else:
            pulumi.log.error(f"{finding}")
    if errors(findings):
        raise pulumi.RunError(
            f"{len(errors(findings))} error(s) in the stack configuration (listed above); nothing was registered. "
            f"Run `python -m mtls check --stack {pulumi.get_stack()}` to see them offline."
        )


async def resolved(output: pulumi.Output[Any]) -> Any:
    """An output's value, awaited before the program registers anything more: how a live object read from the cloud
    can stop a run with nothing half made (`apply` runs too late for that)."""
    return await output.future()


def load_settings(project_root: Path) -> settings.StackSettings:
    """Settings that passed preflight; otherwise every finding is reported and the program stops."""
    stack_settings, findings = preflight.check_stack(config_map(), project_root, pulumi.get_stack())
    report(findings)
    assert stack_settings is not None  # report() raised otherwise
    return stack_settings


# --- the mock engine -------------------------------------------------------------------------------------------


class Cloud(Protocol):
    """What the cloud would answer, as plain data: an id and state for each resource, a result for each lookup."""

    def resource(self, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]: ...

    def invoke(self, token: str, args: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Secret:
    """An input the program marked secret (a private key, say), as the engine keeps it: never shown in a plan."""

    value: Any

    def __str__(self) -> str:
        return "[secret]"


def _secrets_wrapped(value: Any) -> Any:
    """The SDK hands a secret input over as a tagged dict; it becomes a Secret, so that nothing prints it by
    accident."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return Secret(_secrets_wrapped(value.get("value")))
        return {k: _secrets_wrapped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_secrets_wrapped(v) for v in value]
    return value


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


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        return self.cloud.resource(args.typ, args.name, dict(args.inputs))

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        return self.cloud.invoke(args.token, dict(args.args)), []


class _RecordingMonitor(mocks.MockMonitor):
    """The mock engine's monitor, writing down each registration with its inputs and options as the engine got them."""

    def __init__(self, mock: pulumi.runtime.Mocks, recording: Recording, project: str):
        super().__init__(mock)
        self.recording = recording
        self.project = project

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.recording.resources.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    inputs=_secrets_wrapped(rpc.deserialize_properties(request.object, keep_unknowns=True)),
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
        if request.urn.endswith(f"::pulumi:pulumi:Stack::{self.project}-{self.recording.stack}"):
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
        loop.set_exception_handler(_unread_exception)
        asyncio.set_event_loop(loop)
        with self.lock:
            self.loops.append(loop)

    def close(self) -> None:
        for loop in self.loops:
            loop.close()


def stack_trace() -> source_pb2.StackTrace:
    """The SDK's `_get_stack_trace` (pulumi 3.272's runtime/resource.py), the same message computed without its
    costs: it builds a `traceback` summary of every frame (a file check and a source line read for each) and a
    pathlib URI for each frame it sends, for every registration, so a registration deeper in the program costs more.
    Here the frames are walked directly and each file's URI made once. The mock engine uses it for its runs (offline
    plans, tests, the benchmark's program and floor alike); tests/stack/test_engine.py holds it equal to the SDK's."""
    if getattr(sys, "tracebacklimit", None) is not None:  # the SDK's summary would be cut short: let it
        return _sdk_stack_trace()
    stack = []
    frame: Any = sys._getframe()  # this function stands where the SDK's own frame would
    while frame is not None:
        stack.append((frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name))
        frame = frame.f_back
    stack.reverse()
    # As the SDK: the third `__init__` from the top is the concrete resource's; the frames below it are sent.
    inits = 0
    for i in range(len(stack) - 1, -1, -1):
        if stack[i][2] == "__init__":
            inits += 1
            if inits == 3:
                break
    if i < 1:
        return source_pb2.StackTrace()
    return source_pb2.StackTrace(
        frames=[source_pb2.StackFrame(pc=_position(name, line)) for name, line, _ in reversed(stack[:i])]
    )


_sdk_stack_trace = runtime_resource._get_stack_trace


def _position(filename: str, line: int | None) -> source_pb2.SourcePosition | None:
    if filename == "" or line is None:
        return None
    uri = _uri(filename)
    return None if uri is None else source_pb2.SourcePosition(uri=uri, line=line)


@functools.lru_cache(maxsize=4096)
def _uri(filename: str) -> str | None:
    try:
        return pathlib.Path(filename).as_uri()
    except ValueError:  # a relative path: no position, as in the SDK
        return None


def _unread_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """What the SDK's futures hold when a run fails (the failure itself is recorded). asyncio's default handler would
    log each with its traceback when the future is collected, and on CPython 3.11 formatting a traceback runs
    ast.parse, whose recursion count the whole interpreter shares: a collection during another ast.parse (pytest
    rewriting a module as it is imported) then breaks that parse ("AST constructor recursion depth mismatch")."""


class _LogCollector(logging.Handler):
    def __init__(self, recording: Recording):
        super().__init__()
        self.recording = recording

    def emit(self, record: logging.LogRecord) -> None:
        self.recording.logs.append((record.levelname.lower(), record.getMessage()))


def run_under_mocks(
    program_dir: Path, project: str, stack: str, config: Mapping[str, str], cloud: Cloud, preview: bool = False
) -> Recording:
    """Runs `<program_dir>/__main__.py` as the Pulumi language host would, against the mock engine (as
    `pulumi preview` when `preview`, else as `pulumi up`), and records what it registers."""
    recording = Recording(stack=stack)
    logger = logging.getLogger(f"gke-mtls.offline.{id(recording)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(_LogCollector(recording))
    mock = _Mocks(cloud)
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(_unread_exception)
    worker_loops = _WorkerLoops()
    loop.set_default_executor(ThreadPoolExecutor(initializer=worker_loops.start))
    asyncio.set_event_loop(loop)
    runtime_resource._get_stack_trace = stack_trace
    try:
        pulumi.runtime.set_mocks(
            mock,
            project=project,
            stack=stack,
            preview=preview,
            logger=logger,
            monitor=_RecordingMonitor(mock, recording, project),
        )
        pulumi.runtime.set_all_config(dict(config))
        # run_in_stack makes the root stack itself, as the language host does.
        runtime_settings.set_root_resource(None)  # type: ignore[arg-type]

        def program() -> None:
            runpy.run_path(str(program_dir), run_name="__main__")

        try:
            loop.run_until_complete(pulumi.runtime.run_in_stack(program))
        except Exception as exc:  # the program's own failure is part of what we record
            recording.error = exc
    finally:
        # A failed run can leave output tasks of its loop behind in the SDK's global settings; the next run (a new
        # loop) must not wait on them.
        with runtime_settings.SETTINGS.lock:
            runtime_settings.SETTINGS.outputs.clear()
        loop.run_until_complete(loop.shutdown_default_executor())
        worker_loops.close()
        asyncio.set_event_loop(None)
        loop.close()
        logger.handlers.clear()
        runtime_resource._get_stack_trace = _sdk_stack_trace
    return recording
