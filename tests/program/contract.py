"""The contract the README promises, as code the fuzz test (tests/program/test_fuzzed_contract.py) and the longer run
(bench/fuzz.py) share: any stack config is either refused, each finding with its gke-mtls key and nothing registered,
or every object the program registers passes the checks the real APIs make.

Mutations start from the committed stacks and change types, shapes, strings (Unicode, control characters, huge)
and sizes.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import kubernetes_validate
from hypothesis import strategies as st

from components.core.findings import errors
from components.core.names import (
    DNS1123_LABEL,
    DNS1123_SUBDOMAIN,
    SERVICE_NAME,
    label_key_problem,
    label_value_problem,
)
from components.mesh.validation import schema as istio_schema
from components.stack import preflight
from mtls import offline
from tests.conftest import COMMITTED_STACKS, PROJECT_ROOT, committed_config, engine_config

STACKS = COMMITTED_STACKS
COMMITTED = {stack: committed_config(stack) for stack in STACKS}
K8S_VERSION = kubernetes_validate.latest_version()
SCHEMAS = istio_schema.IstioSchemas.load()
DEEP = re.compile(r'"__deep_(\d+)__"')  # a value nested this deep, spliced into the JSON the engine hands over

STRINGS = [
    "",
    " ",
    "\t",
    "²",
    "８０８０",
    "ſhop.example.com",
    "bücher.example.com",
    "a\x00b",
    "a\r\nSet-Cookie: x",
    "\x7f",
    "x" * 70_000,
    "-",
    "web-",
    "Web",
    "we.b",
    "a" * 64,
    "a" * 254,
    "app=web",
    "10.0.0.300",
    "10.0.0.0/33",
    "/api/{id}",
    "*",
    "web-edge-guard",
    "default",
    "/dev/zero",
    "certs",
    "8080",
    "0",
    "-1",
    "1e400",
    "true",
    "null",
    "{client_cert_present}",
    "cluster.local/ns/a/sa/b",
    "__deep_40__",
    "__deep_5000__",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),  # JSON has no NaN; the engine would not pass one
    st.sampled_from(STRINGS),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(STRINGS[:20]) | st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if len(prefix) < 8:
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in children:
            yield from paths(child, (*prefix, key))


@st.composite
def mutated_stacks(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    """A committed stack, changed in one to three places: a value replaced, a key removed or added, a list entry
    repeated. Returned as the engine hands config to the program: JSON strings."""
    stack = draw(st.sampled_from(STACKS))
    config = copy.deepcopy(COMMITTED[stack])
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from([p for p in paths(config) if p]))
        parent = config
        for key in path[:-1]:
            parent = parent[key]
        operation = draw(st.sampled_from(["replace", "replace", "remove", "repeat", "add"]))
        target = parent[path[-1]]
        if operation == "remove" and isinstance(parent, dict):
            del parent[path[-1]]
        elif operation == "repeat" and isinstance(target, list) and target:
            target.append(copy.deepcopy(target[0]))
        elif operation == "add" and isinstance(target, dict):
            target[draw(st.sampled_from(STRINGS[:24]) | st.text(max_size=8))] = draw(values)
        else:
            parent[path[-1]] = draw(values)
    as_engine = engine_config(config)
    return stack, {k: DEEP.sub(lambda m: "[" * int(m[1]) + "1" + "]" * int(m[1]), v) for k, v in as_engine.items()}


def verdict(stack: str, config: dict[str, str]) -> tuple[str, list[str]]:
    """("refused" or "accepted", broken promises). A traceback is left to propagate: it is the worst breach."""
    stack_settings, findings = preflight.check_stack(config, PROJECT_ROOT, stack)
    # The namespace itself is the key of a finding about the config as a whole (no section at all).
    broken = [f"finding without a gke-mtls key: {f}" for f in findings if f.key.partition(":")[0] != "gke-mtls"]
    recording = offline.run_program(stack, config)
    if stack_settings is None:
        broken += [] if errors(findings) else ["refused without an error"]
        broken += [f"registered although refused: {r.type} {r.name}" for r in recording.cloud_resources()]
        return "refused", broken
    if recording.error is not None:
        return "accepted", [*broken, f"accepted by preflight but the program failed: {recording.error!r}"[:500]]
    return "accepted", broken + registered_problems(recording)


def registered_problems(recording: Any) -> list[str]:
    """What the real APIs would refuse among the registered objects."""
    problems = []
    urns: set[tuple[str, str]] = set()
    objects: set[tuple[str, str, str]] = set()
    for resource in recording.cloud_resources():
        if (resource.type, resource.name) in urns:
            problems.append(f"two resources named {resource.type} {resource.name}")
        urns.add((resource.type, resource.name))
        if resource.type.startswith("kubernetes:"):
            problems += _kubernetes_problems(resource, objects)
        problems += _gcp_problems(resource)
    return problems


def _kubernetes_problems(resource: Any, objects: set[tuple[str, str, str]]) -> list[str]:
    inputs = resource.inputs
    metadata = inputs.get("metadata") or {}
    name, namespace = str(metadata.get("name", "")), str(metadata.get("namespace", ""))
    kind = resource.type.rsplit(":", 1)[-1]
    what = f"{kind} {namespace}/{name}"
    found = []
    if (kind, namespace, name) in objects and kind != "ServicePatch":
        found.append(f"two objects are {what}")
    objects.add((kind, namespace, name))
    is_service = kind in ("Service", "ServicePatch")
    if not (SERVICE_NAME.matches(name) if is_service else len(name) <= 253 and re.fullmatch(DNS1123_SUBDOMAIN, name)):
        found.append(f"{what}: the name is not a Kubernetes name")
    if not (len(namespace) <= 63 and re.fullmatch(DNS1123_LABEL, namespace)):
        found.append(f"{what}: the namespace is not a Kubernetes namespace")
    for field in ("labels", "annotations"):
        for key, value in (metadata.get(field) or {}).items():
            if label_key_problem(key):
                found.append(f"{what}: {field} key {key!r}: {label_key_problem(key)}")
            if field == "labels" and label_value_problem(value):
                found.append(f"{what}: label value {value!r}: {label_value_problem(value)}")
    document = {"apiVersion": inputs.get("apiVersion"), "kind": inputs.get("kind"), "metadata": metadata}
    document |= {k: v for k, v in inputs.items() if k not in ("apiVersion", "kind", "metadata")}
    if "istio.io" in resource.type:
        found += [f"{what}: {e}" for e in SCHEMAS.admit(document).errors]
    elif kind == "Ingress":
        try:
            kubernetes_validate.validate(document, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            found.append(f"{what}: {exc.message}")
    if kind == "BackendConfig":
        spec = inputs.get("spec") or {}
        for header in spec.get("customRequestHeaders", {}).get("headers", []):
            if not _rfc7230_field(header):
                found.append(f"{what}: header {header[:40]!r} is not an RFC 7230 field")
        found += [f"{what}: {p}" for p in _health_check_problems(spec.get("healthCheck") or {}, "requestPath")]
    return found


def _gcp_problems(resource: Any) -> list[str]:
    inputs = resource.inputs
    found = []
    if resource.type in (
        "gcp:compute/managedSslCertificate:ManagedSslCertificate",
        "gcp:certificatemanager/certificate:Certificate",
    ):
        for domain in (inputs.get("managed") or {}).get("domains", []):
            if not (domain.isascii() and len(domain) <= 253 and re.fullmatch(DNS1123_SUBDOMAIN, domain.lower())):
                found.append(f"certificate domain {domain[:40]!r} is not an ASCII DNS name")
    if resource.type == "gcp:logging/metric:Metric" and len(inputs.get("name", "")) > 100:
        found.append("log metric name longer than Cloud Logging's 100 characters")
    for header in inputs.get("customRequestHeaders") or []:
        if not _rfc7230_field(header):
            found.append(f"{resource.type}: header {header[:40]!r} is not an RFC 7230 field")
    for added in (inputs.get("headerAction") or {}).get("requestHeadersToAdds") or []:
        if not _rfc7230_field(f"{added.get('headerName')}:{added.get('headerValue')}"):
            found.append(f"{resource.type}: header {added.get('headerName')!r} is not an RFC 7230 field")
    if resource.type in ("gcp:compute/healthCheck:HealthCheck", "gcp:compute/regionHealthCheck:RegionHealthCheck"):
        probes = [inputs[k] for k in ("httpHealthCheck", "httpsHealthCheck", "http2HealthCheck") if k in inputs]
        found += [f"health check: {p}" for p in _health_check_problems(inputs, None)]
        found += [f"health check: {p}" for probe in probes for p in _health_check_problems(probe, "requestPath")]
    if resource.type == "gcp:monitoring/alertPolicy:AlertPolicy":
        for channel in inputs.get("notificationChannels") or []:
            if not _CHANNEL.fullmatch(channel):
                found.append(f"alert policy: notification channel {channel[:60]!r} has no valid project ID or number")
    if resource.type == "gcp:networksecurity/authzPolicy:AuthzPolicy":
        operations = [
            op for rule in inputs.get("httpRules") or [] for op in (rule.get("to") or {}).get("operations", [])
        ]
        methods = sum(len(op.get("methods") or []) for op in operations)
        if methods > 10:
            found.append(f"authorization policy: {methods} methods; Google's AuthzPolicy takes at most 10")
    return found


# Resource Manager's project ID (6 to 30 lowercase ASCII letters, digits or hyphens, starting with a letter, not ending
# with a hyphen) or a project number: Monitoring's projects/[PROJECT_ID_OR_NUMBER]/notificationChannels/[CHANNEL_ID].
_CHANNEL = re.compile(r"projects/([a-z][a-z0-9-]{4,28}[a-z0-9]|[1-9][0-9]*)/notificationChannels/[^/]+")
# RFC 3986's path-abempty: "/" segments of pchar = unreserved / pct-encoded / sub-delims / ":" / "@".
_PCHAR = r"(?:[A-Za-z0-9._~-]|%[0-9A-Fa-f]{2}|[!$&'()*+,;=]|[:@])"
_RFC3986_PATH = re.compile(rf"(?:/{_PCHAR}*)+")


def _health_check_problems(check: dict, path_key: str | None) -> list[str]:
    """compute v1 HealthCheck: timeoutSec no greater than checkIntervalSec; a request path that complies with RFC 3986
    (the same facts for a BackendConfig's health check, which ingress-gce copies into one)."""
    problems = []
    timeout, interval = check.get("timeoutSec"), check.get("checkIntervalSec")
    if timeout is not None and interval is not None and timeout > interval:
        problems.append(f"timeoutSec {timeout} is greater than checkIntervalSec {interval}")
    if path_key is not None and path_key in check and not _RFC3986_PATH.fullmatch(str(check[path_key])):
        problems.append(f"request path {str(check[path_key])[:60]!r} is not an RFC 3986 path")
    return problems


def _rfc7230_field(text: str) -> bool:
    """Visible ASCII, spaces and tabs: what RFC 7230 lets a header line hold, written here apart from the program."""
    return all(c == "\t" or " " <= c <= "~" for c in text)


def as_json(config: dict[str, str]) -> str:
    """A failing case, short enough to paste into a bug report."""
    return json.dumps(config)[:2000]
