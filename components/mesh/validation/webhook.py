"""istiod's validating webhook for the three kinds this project writes and reads: AuthorizationPolicy,
PeerAuthentication and DestinationRule.

Istio keeps these rules in Go (`pkg/config/validation` of istio/istio, release 1.30), not in its CRDs; the
facts are carried over here, not the code. Messages keep istiod's wording so they can be searched for.
The input is a document that already passed the CRD's structural schema (types are right). istiod decodes it
with jsonpb, so an object or map that is present counts as set (a non-nil field in Go), while an empty list is
the same as no list (`set` below). Istio's Go test tables sometimes build a non-nil empty slice, which YAML cannot
carry; tests/mesh/validation/istio_webhook marks those cases.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from components.core.findings import EXCERPT
from components.core.names import is_host_label, label_key_problem, label_value_problem
from components.mesh.interchange.istio_objects import DRY_RUN, go_bool

_WILDCARD_LABEL = re.compile(r"(?:\*|(?:\*|\*-)?[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)\Z")
_PATH_LITERAL = re.compile(r"[a-zA-Z0-9\-._~%!$&'()+,;:@=]+\Z")
# Annotations istiod keeps for itself (pkg/config/constants): its webhook refuses any object that carries them.
_INTERNAL_ANNOTATIONS = (
    ("internal.istio.io/webhook-always-reject", "rejecting"),
    ("internal.istio.io/parent-namespace", "this may not be set by users"),
    ("internal.istio.io/parents", "this may not be set by users"),
)
_TOPOLOGY_LABELS = ("topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone")
_MS = 1_000_000  # nanoseconds


@dataclass
class Verdict:
    """What istiod answers: errors refuse the object, warnings are printed by kubectl and let it through."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def extend(self, other: Verdict) -> None:
        self.errors += other.errors
        self.warnings += other.warnings


def check(document: Mapping[str, Any]) -> Verdict:
    """istiod's verdict on one structurally valid document; kinds it has no rules for here pass."""
    kind = document.get("kind")
    metadata = document.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    # kubectl sends an object without a namespace to the default namespace, and istiod reads it from the request.
    name, namespace = str(metadata.get("name", "")), str(metadata.get("namespace") or "default")
    spec = document.get("spec") or {}
    annotations = metadata.get("annotations")
    annotations = annotations if isinstance(annotations, dict) else {}
    verdict = Verdict()
    if DRY_RUN in annotations:
        problem = _dry_run_problem(kind, spec, annotations[DRY_RUN], name, namespace)
        if problem:
            verdict.errors.append(excerpted(problem))
            return verdict  # istiod stops at the annotation
    for annotation, why in _INTERNAL_ANNOTATIONS:  # validateMetadata, after the dry-run check
        if annotation in annotations:
            verdict.errors.append(f'"{annotation}" annotation found, {why}')
            return verdict
    rules: dict[str, Callable[[Mapping[str, Any], str, str], Verdict]] = {
        "AuthorizationPolicy": authorization_policy,
        "PeerAuthentication": peer_authentication,
        "DestinationRule": destination_rule,
    }
    if kind in rules:
        verdict.extend(rules[kind](spec, name, namespace))
    return Verdict([excerpted(e) for e in verdict.errors], [excerpted(w) for w in verdict.warnings])


_LONG_WORD = re.compile(rf"\S{{{EXCERPT + 40},}}")


def excerpted(message: str) -> str:
    """istiod's wording quotes the bad value whole; a value of a million characters is cut to an excerpt here, once
    for every message, and the rest of the sentence stays searchable."""
    return _LONG_WORD.sub(lambda m: f"{m[0][:EXCERPT]}… ({len(m[0])} characters)", message)


def _dry_run_problem(kind: Any, spec: Mapping[str, Any], value: Any, name: str, namespace: str) -> str | None:
    if kind != "AuthorizationPolicy":
        return f"{namespace}/{name} has unsupported annotation {DRY_RUN}, please remove the annotation"
    action = spec.get("action", "ALLOW")
    if action not in ("ALLOW", "DENY"):
        return (
            f"the annotation {DRY_RUN} currently only supports action ALLOW/DENY, found action {action} in "
            f"{namespace}/{name}"
        )
    if go_bool(str(value)) is None:
        return (
            f"{namespace}/{name} has annotation {DRY_RUN} with invalid value ({value}): "
            f'strconv.ParseBool: parsing "{value}": invalid syntax'
        )
    return None


# --- shared pieces -------------------------------------------------------------------------------------------


def set_(value: Any) -> bool:
    """Whether jsonpb leaves the field non-nil: anything present but an empty list."""
    return value is not None and value != []


def _workload_selector(selector: Any) -> Verdict:
    verdict = Verdict()
    if selector is None:
        return verdict
    labels = selector.get("matchLabels") or {}
    for key, value in labels.items():
        if key == "":
            verdict.errors.append(f'empty key is not supported in selector: "{key}={value}"')
        if "*" in key or "*" in str(value):
            verdict.errors.append(f'wildcard is not supported in selector: "{key}={value}"')
    if not labels:
        verdict.warnings.append("workload selector specified without labels")
    return verdict


def _target_refs(spec: Mapping[str, Any]) -> list[str]:
    errors = []
    selectors = sum(
        1
        for present in (spec.get("selector") is not None, "targetRef" in spec, bool(spec.get("targetRefs")))
        if present
    )
    if selectors > 1:
        errors.append("only one of targetRefs or workloadSelector can be set")
    refs = ([spec["targetRef"]] if "targetRef" in spec else []) + list(spec.get("targetRefs") or [])
    allowed = {
        ("core", "Service"),
        ("networking.istio.io", "ServiceEntry"),
        ("gateway.networking.k8s.io", "Gateway"),
        ("gateway.networking.k8s.io", "GatewayClass"),
    }
    for ref in refs:
        if not ref.get("name"):
            errors.append("targetRef name must be set")
        if ref.get("namespace"):
            errors.append("targetRef namespace must not be set; cross namespace referencing is not supported")
        group, kind = ref.get("group", ""), ref.get("kind", "")
        if (group or "core", kind) not in allowed:
            errors.append(
                "targetRef must be to one of [core/v1/Service networking.istio.io/v1/ServiceEntry "
                "gateway.networking.k8s.io/v1/Gateway gateway.networking.k8s.io/v1/GatewayClass] "
                f"but was {group}/{kind}"
            )
    return errors


def parse_duration(text: Any) -> int | None:
    """Nanoseconds of a Go (`1m30s`) or protobuf JSON (`90.5s`) duration, or None when it is neither."""
    if not isinstance(text, str):
        return None
    units = {
        "ns": 1,
        "us": 1_000,
        "µs": 1_000,
        "μs": 1_000,
        "ms": _MS,
        "s": 1_000 * _MS,
        "m": 60_000 * _MS,
        "h": 3_600_000 * _MS,
    }
    body = text.strip()
    sign = -1 if body.startswith("-") else 1
    body = body.lstrip("+-")
    if body == "0":
        return 0
    parts = re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)", body)
    if not parts or "".join(n + u for n, u in parts) != body:
        return None
    try:
        total = sum(Decimal(n) * units[u] for n, u in parts)
    except InvalidOperation:
        return None
    return sign * int(total)


def _duration(value: Any) -> str | None:
    """istiod's ValidateDuration: at least 1ms, whole milliseconds."""
    nanos = parse_duration(value)
    if nanos is None:
        return f"invalid duration {value!r}"
    if nanos < _MS:
        return "duration must be greater than 1ms"
    if nanos % _MS:
        return "only durations to ms precision are supported"
    return None


def _percent(value: Any) -> str | None:
    if value is not None and not 0 <= value <= 100:
        return f"percentage {value} is not in range 0..100"
    return None


def _port(number: Any) -> str | None:
    whole = isinstance(number, (int, float)) and not isinstance(number, bool) and float(number).is_integer()
    if whole and 1 <= number <= 65535:
        return None
    return f"port number {number} must be in the range 1..65535"


def _wildcard_domain(domain: str) -> str | None:
    if len(domain) > 255:
        return f'domain name "{domain}" too long (max 255)'
    if not domain:
        return "empty domain name not allowed"
    first, _, rest = domain.partition(".")
    if not (len(first) <= 63 and _WILDCARD_LABEL.match(first)):
        return f'domain name "{domain}" invalid (label "{first}" invalid)'
    if "." in domain:
        return _dns1123_labels(rest)
    return None


def _dns1123_labels(domain: str) -> str | None:
    parts = domain.split(".")
    if re.fullmatch(r"[+-]?\d+", parts[-1]):
        return f'domain name "{domain}" invalid (top level domain "{parts[-1]}" cannot be all-numeric)'
    for i, label in enumerate(parts):
        if i == len(parts) - 1 and label == "":
            return None
        if not is_host_label(label):
            return f'domain name "{domain}" invalid (label "{label}" invalid)'
    return None


def _ip_address(text: str) -> bool:
    """Go's netip.ParseAddr: dotted quads without leading zeros, IPv6 with an optional zone."""
    address, _, zone = text.partition("%")
    if "%" in text and (not zone or ":" not in address):
        return False
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def prefix_problem(text: str) -> str | None:
    """Go's netip.ParsePrefix: an address without zone, `/`, and a decimal length within the address's bits."""
    address, _, bits = text.rpartition("/")
    if "%" in address:
        return f'netip.ParsePrefix("{text}"): IPv6 zones cannot be present in a prefix'
    if not _ip_address(address):
        return f'netip.ParsePrefix("{text}"): ParseAddr("{address}"): unable to parse IP'
    if not re.fullmatch(r"0|[1-9][0-9]*", bits):
        return f'netip.ParsePrefix("{text}"): bad bits after slash: "{bits}"'
    if int(bits) > ipaddress.ip_address(address).max_prefixlen:
        return f'netip.ParsePrefix("{text}"): prefix length out of range'
    return None


def ip_problems(values: Iterable[str]) -> list[str]:
    """security.ValidateIPs: each value an IP address or a CIDR range."""
    problems = []
    for value in values:
        if "/" in value:
            reason = prefix_problem(value)
            if reason:
                problems.append(f"bad CIDR range ({value}): {reason}")
        elif not _ip_address(value):
            problems.append(f"bad IP address ({value})")
    return problems


def port_problems(values: Iterable[str]) -> list[str]:
    """security.ValidatePorts: decimal ASCII digits, at most 65535."""
    problems = []
    for value in values:
        if not re.fullmatch(r"[0-9]+", value):
            problems.append(f'bad port ({value}): strconv.ParseUint: parsing "{value}": invalid syntax')
        elif int(value) > 65535:
            reason = f'strconv.ParseUint: parsing "{value}": value out of range' if int(value) >= 2**32 else "<nil>"
            problems.append(f"bad port ({value}): {reason}")
    return problems


def _empty(key: str, values: Iterable[str]) -> str | None:
    return f"empty value not allowed, found in {key}" if any(v == "" for v in values) else None


def service_account_problem(key: str, values: list[str]) -> str | None:
    """security.CheckServiceAccount: `name` or `namespace/name`, no wildcard, 16 values of 320 characters."""
    if len(values) > 16:
        return "may not have more than 16 values"
    expected = "expected format 'serviceAccount' or 'namespace/serviceAccount'"
    for value in values:
        if value == "":
            return f"empty value not allowed, found in {key}"
        if "*" in value:
            return f"wildcard not allowed, found in {key}"
        if value.count("/") > 1:
            return f'{expected}, found "{value}" in {key}'
        if len(value) > 320:
            return f'value cannot exceed 320 characters, found "{value}" in {key}'
        namespace, slash, account = value.partition("/")
        if slash and not namespace:
            return f'{expected}, found empty namespace "{value}" in {key}'
        if slash and not account:
            return f'{expected}, found empty serviceAccount "{value}" in {key}'
    return None


def path_template_problem(key: str, paths: Iterable[str]) -> str | None:
    """security.CheckValidPathTemplate: `{*}` segments, one `{**}` last, literals of RFC 3986 pchar."""
    for path in paths:
        templated = "{*}" in path or "{**}" in path
        stripped = path.strip("/")
        seen_any = False
        for glob in stripped.split("/"):
            if glob in ("{*}", "{**}"):
                if seen_any:
                    return f"invalid or unsupported path {stripped}, found in {key}. {{**}} is not the last operator"
                seen_any = glob == "{**}"
                continue
            if "{" in glob or "}" in glob:
                return (
                    f"invalid or unsupported path {stripped}, found in {key}. "
                    "Contains '{' or '}' beyond a supported path template"
                )
            if templated and not _PATH_LITERAL.match(glob):
                return (
                    f"invalid or unsupported path {stripped}, found in {key}. "
                    f"Contains segment {glob} with invalid string literal"
                )
    return None


def map_key_problem(key: str) -> str | None:
    opening = key.find("[")
    if key.endswith("]") and 0 < opening < len(key) - 2:
        return None
    return f"bad key ({key}): should have format a[b]"


def attribute_problem(key: str, values: list[str]) -> str | None:
    """security.ValidateAttribute: the `when` keys istiod knows and what their values must look like."""
    empty = _empty(key, values)
    if empty:
        return empty
    if key.startswith(
        ("request.headers", "request.experimental.inline.headers", "request.auth.claims", "experimental.envoy.filters.")
    ):
        return map_key_problem(key)
    if key in ("source.ip", "remote.ip", "destination.ip"):
        problems = ip_problems(values)
        return "; ".join(problems) or None
    if key == "source.serviceAccount":
        return service_account_problem(key, values)
    if key == "destination.port":
        return "; ".join(port_problems(values)) or None
    if key in (
        "source.namespace",
        "source.principal",
        "source.trustDomain",
        "request.auth.principal",
        "request.auth.audiences",
        "request.auth.presenter",
        "connection.sni",
    ):
        return None
    if key == "destination.namespace":
        return f"attribute {key} is replaced by the metadata.namespace"
    if key.startswith("destination.labels"):
        return f"attribute {key} is replaced by the workload selector"
    if key in ("destination.name", "destination.user"):
        return f"deprecated attribute {key}: only supported in v1alpha1"
    return f"unknown attribute: {key}"


# --- AuthorizationPolicy ---------------------------------------------------------------------------------------

# trustDomains (new in 1.30) is not in the Go source we could read; it is treated like the other peer identity
# fields, which is what its CRD description and Envoy's RBAC filter imply.
_SOURCE_FIELDS = (
    "principals",
    "requestPrincipals",
    "namespaces",
    "ipBlocks",
    "remoteIpBlocks",
    "notPrincipals",
    "notRequestPrincipals",
    "notNamespaces",
    "notIpBlocks",
    "notRemoteIpBlocks",
    "serviceAccounts",
    "notServiceAccounts",
    "trustDomains",
    "notTrustDomains",
)
_TCP_SOURCE_FIELDS = (
    "notPrincipals",
    "principals",
    "ipBlocks",
    "notIpBlocks",
    "namespaces",
    "notNamespaces",
    "remoteIpBlocks",
    "notRemoteIpBlocks",
    "serviceAccounts",
    "notServiceAccounts",
    "trustDomains",
    "notTrustDomains",
)
_OPERATION_FIELDS = ("ports", "methods", "paths", "hosts", "notPorts", "notMethods", "notPaths", "notHosts")
DENY_ON_TCP_WARNING = (
    "configured AuthorizationPolicy will deny all traffic to TCP ports under its scope due to the use of only "
    "HTTP attributes in a DENY rule; it is recommended to explicitly specify the port"
)
# Identity fields CUSTOM (ext_authz) cannot see: they are checked before the provider is called.
CUSTOM_UNSUPPORTED_SOURCES = (
    "namespaces",
    "notNamespaces",
    "serviceAccounts",
    "notServiceAccounts",
    "principals",
    "notPrincipals",
    "requestPrincipals",
    "notRequestPrincipals",
)


def custom_unsupported_condition(key: str) -> bool:
    return key in ("source.namespace", "source.serviceAccount", "source.principal") or key.startswith("request.auth.")


def authorization_policy(spec: Mapping[str, Any], name: str, namespace: str) -> Verdict:
    errors: list[str] = _target_refs(spec)
    selector = _workload_selector(spec.get("selector"))
    errors += selector.errors
    warnings = list(selector.warnings)
    action = spec.get("action", "ALLOW")
    has_rules = set_(spec.get("rules"))
    rules = spec.get("rules") or []
    provider = spec.get("provider")
    if action == "CUSTOM":
        if not has_rules:
            errors.append(
                "CUSTOM action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` "
                "if you want it be triggered for every request"
            )
        elif not (provider or {}).get("name"):
            errors.append("`provider.name` must not be empty")
        for rule in rules:
            for source in (entry.get("source") for entry in (rule or {}).get("from") or [] if entry):
                for field_name in CUSTOM_UNSUPPORTED_SOURCES if source else ():
                    if source.get(field_name):
                        errors.append(f"From.{_go_name(field_name)} is currently not supported with CUSTOM action")
            for condition in (rule or {}).get("when") or []:
                if condition is None:
                    errors.append("when field cannot be nil")
                elif custom_unsupported_condition(condition.get("key", "")):
                    errors.append(f"{condition.get('key')} is currently not supported with CUSTOM action")
    if provider is not None and action != "CUSTOM":
        errors.append(f"`provider` must not be with non CUSTOM action, found {action}")
    if action == "DENY" and not has_rules:
        errors.append(
            "DENY action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you "
            "want it be triggered for every request"
        )
    for i, rule in enumerate(rules):
        if rule is None:
            errors.append(f"`rule` must not be nil, found at rule {i}")
            continue
        rule_errors, http_only = _rule(rule, i)
        errors += rule_errors
        if http_only and action == "DENY":
            warnings.append(DENY_ON_TCP_WARNING)
    prefix = f"invalid policy {name}.{namespace}: "
    return Verdict([prefix + e for e in errors], warnings)


# The order istiod checks source values in, so that the first message is the same.
_SOURCE_VALUE_ORDER = (
    "principals",
    "requestPrincipals",
    "namespaces",
    "serviceAccounts",
    "ipBlocks",
    "remoteIpBlocks",
    "notPrincipals",
    "notRequestPrincipals",
    "notNamespaces",
    "notServiceAccounts",
    "notIpBlocks",
    "notRemoteIpBlocks",
    "trustDomains",
    "notTrustDomains",
)


def _go_name(field: str) -> str:
    """The Go struct field istiod names in its messages: `notPaths` is NotPaths."""
    return field[0].upper() + field[1:]


def _parts(rule: Mapping[str, Any], part: str, inner: str, i: int, errors: list[str]) -> Iterator[Mapping[str, Any]]:
    """The `source`s of a rule's `from` (or `operation`s of its `to`), with istiod's error for each missing one."""
    for entry in rule.get(part) or []:
        if entry is None:
            errors.append(f"`{part}` must not be nil, found at rule {i}")
        elif entry.get(inner) is None:
            errors.append(f"`{part}.{inner}` must not be nil, found at rule {i}")
        else:
            yield entry[inner]


def _rule(rule: Mapping[str, Any], i: int) -> tuple[list[str], bool]:
    # istiod's "`from` must not be empty" needs a non-nil empty slice, which only Go code builds: `from: []` in
    # YAML decodes to no `from` at all.
    errors: list[str] = []
    tcp_in_from = tcp_in_to = from_exists = to_exists = False
    for source in _parts(rule, "from", "source", i, errors):
        from_exists = True
        identities = sum(
            len(source.get(f) or []) for f in ("principals", "notPrincipals", "namespaces", "notNamespaces")
        )
        if identities and sum(len(source.get(f) or []) for f in ("serviceAccounts", "notServiceAccounts")):
            errors.append(f"cannot set serviceAccounts with namespaces or principals, found at rule {i}")
        if not any(source.get(f) for f in _SOURCE_FIELDS):
            errors.append(f"`from.source` must not be empty, found at rule {i}")
        for f in ("ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"):
            errors += ip_problems(source.get(f) or [])
        for f in _SOURCE_VALUE_ORDER:
            values = source.get(f) or []
            check = service_account_problem if f.endswith(("serviceAccounts", "ServiceAccounts")) else _empty
            if problem := check(_go_name(f), values):
                errors.append(problem)
        if any(set_(source.get(f)) for f in _TCP_SOURCE_FIELDS):
            tcp_in_from = True
    for operation in _parts(rule, "to", "operation", i, errors):
        to_exists = True
        if not any(operation.get(f) for f in _OPERATION_FIELDS):
            errors.append(f"`to.operation` must not be empty, found at rule {i}")
        errors += port_problems(operation.get("ports") or [])
        errors += port_problems(operation.get("notPorts") or [])
        for f in _OPERATION_FIELDS:
            problem = _empty(_go_name(f), operation.get(f) or [])
            if problem:
                errors.append(problem)
        for f in ("paths", "notPaths"):
            problem = path_template_problem(_go_name(f), operation.get(f) or [])
            if problem:
                errors.append(problem)
        if set_(operation.get("ports")) or set_(operation.get("notPorts")):
            tcp_in_to = True
    for condition in rule.get("when") or []:
        key = condition.get("key", "")
        if key == "":
            errors.append("`key` must not be empty")
        elif not condition.get("values") and not condition.get("notValues"):
            errors.append(f"at least one of `values` or `notValues` must be set for key {key}")
        else:
            for field_name, label in (("values", "value"), ("notValues", "notValue")):
                problem = attribute_problem(key, list(condition.get(field_name) or []))
                if problem:
                    errors.append(f"invalid `{label}` for `key` {key}: {problem}")
    http_only = (from_exists and not to_exists and not tcp_in_from) or (to_exists and not tcp_in_to)
    return errors, http_only


# --- PeerAuthentication ----------------------------------------------------------------------------------------


def peer_authentication(spec: Mapping[str, Any], name: str, namespace: str) -> Verdict:
    errors = []
    selector = spec.get("selector")
    port_level = spec.get("portLevelMtls")
    if (selector is None or not selector.get("matchLabels")) and port_level:
        errors.append("mesh/namespace peer authentication cannot have port level mTLS")
    if port_level is not None and len(port_level) == 0:
        errors.append("port level mTLS, if defined, must have at least one element")
    for port in port_level or {}:
        number = int(port) if re.fullmatch(r"[0-9]+", str(port)) else None
        if number is None:
            errors.append(f"invalid port key {port!r}: not a port number")
        elif not 0 < number <= 65535:
            errors.append("port must be in range 1..65535")
    workload = _workload_selector(selector)
    return Verdict(errors + workload.errors, workload.warnings)


# --- DestinationRule -------------------------------------------------------------------------------------------


def destination_rule(spec: Mapping[str, Any], name: str, namespace: str) -> Verdict:
    verdict = Verdict()
    host_problem = _wildcard_domain(str(spec.get("host", "")))
    if host_problem:
        verdict.errors.append(host_problem)
    verdict.extend(_traffic_policy(namespace, spec.get("trafficPolicy")))
    seen: set[str] = set()
    for subset in spec.get("subsets") or []:
        if subset is None:
            verdict.errors.append("subset may not be null")
            continue
        subset_name = subset.get("name", "")
        if subset_name in seen:
            verdict.errors.append(f"duplicate subset names: {subset_name}")
        seen.add(subset_name)
        if not subset_name:
            verdict.errors.append("subset name cannot be empty")
        elif not is_host_label(subset_name):
            verdict.errors.append(f"subset name is invalid: {subset_name}")
        verdict.errors += label_problems(subset.get("labels") or {})
        verdict.extend(_traffic_policy(namespace, subset.get("trafficPolicy")))
    verdict.errors += _export_to(namespace, list(spec.get("exportTo") or []), spec.get("workloadSelector") is not None)
    verdict.extend(_workload_selector(spec.get("workloadSelector")))
    return verdict


def label_problems(labels: Mapping[str, Any]) -> list[str]:
    """labels.Instance.Validate: Kubernetes label keys and values, in istiod's words."""
    problems = []
    for key, value in labels.items():
        if label_key_problem(key):
            problems.append(f'invalid tag key: "{key}"')
        if label_value_problem(str(value)):
            problems.append(f'invalid tag value: "{value}"')
    return problems


def _export_to(namespace: str, export_to: list[str], with_selector: bool) -> list[str]:
    errors: list[str] = []
    if not export_to:
        return errors
    seen: set[str] = set()
    for entry in export_to:
        key = namespace if entry == "." else entry
        if key in seen:
            errors.append(
                f"duplicate entries in exportTo: . and current namespace {namespace}"
                if key != entry
                else f"duplicate entries in exportTo for entry {entry}"
            )
        elif key in (".", "*"):
            seen.add(key)
        elif key == "~":
            errors.append("exportTo ~ (none) is not allowed for Istio configuration objects")
        elif not is_host_label(key):
            errors.append("only .,*,~, or a valid DNS 1123 label is allowed as exportTo entry")
        else:
            seen.add(key)
    if with_selector and seen:
        if namespace in seen:
            if len(seen) > 1:
                errors.append("destination rule with workload selector cannot have multiple entries in exportTo")
        else:
            errors.append("destination rule with workload selector cannot have exportTo beyond current namespace")
    if "*" in seen and len(export_to) > 1:
        errors.append("cannot have both public (*) and non-public exportTo values for a resource")
    return errors


def _traffic_policy(namespace: str, policy: Any) -> Verdict:
    verdict = Verdict()
    if policy is None:
        return verdict
    fields = (
        "outlierDetection",
        "connectionPool",
        "loadBalancer",
        "tls",
        "portLevelSettings",
        "tunnel",
        "proxyProtocol",
    )
    if not any(set_(policy.get(f)) for f in fields):
        verdict.errors.append("traffic policy must have at least one field")
        return verdict
    if policy.get("tunnel") is not None and policy.get("proxyProtocol") is not None:
        verdict.errors.append("tunnel and proxyProtocol must not be set together")
        return verdict
    verdict.extend(_outlier_detection(policy.get("outlierDetection")))
    verdict.errors += _connection_pool(policy.get("connectionPool"))
    verdict.extend(_load_balancer(policy.get("loadBalancer"), policy.get("outlierDetection")))
    verdict.errors += client_tls_problems(namespace, policy.get("tls"))
    for port_policy in policy.get("portLevelSettings") or []:
        if port_policy is None:
            verdict.errors.append("traffic policy may not be null")
            continue
        if port_policy.get("port") is None:
            verdict.errors.append("portTrafficPolicy must have valid port")
        if not any(
            port_policy.get(f) is not None for f in ("outlierDetection", "connectionPool", "loadBalancer", "tls")
        ):
            verdict.errors.append("port traffic policy must have at least one field")
            continue
        verdict.extend(_outlier_detection(port_policy.get("outlierDetection")))
        verdict.errors += _connection_pool(port_policy.get("connectionPool"))
        verdict.extend(_load_balancer(port_policy.get("loadBalancer"), port_policy.get("outlierDetection")))
        verdict.errors += client_tls_problems(namespace, port_policy.get("tls"))
    tunnel = policy.get("tunnel")
    if tunnel is not None:
        verdict.errors += _tunnel(tunnel)
    proxy_protocol = policy.get("proxyProtocol")
    if proxy_protocol is not None and proxy_protocol.get("version", "V1") not in ("V1", "V2", 0, 1):
        verdict.errors.append(f"proxy protocol version is invalid: {proxy_protocol.get('version')}")
    return verdict


def _tunnel(tunnel: Mapping[str, Any]) -> list[str]:
    errors = []
    protocol = tunnel.get("protocol", "")
    if protocol not in ("", "CONNECT", "POST"):
        errors.append('tunnel protocol must be "CONNECT" or "POST"')
    target = str(tunnel.get("targetHost", ""))
    fqdn = (
        "empty domain name not allowed"
        if not target
        else (f'domain name "{target}" too long (max 255)' if len(target) > 255 else _dns1123_labels(target))
    )
    if fqdn and not _ip_address(target):
        errors.append(f"tunnel target host must be valid FQDN or IP address: {fqdn}; {target} is not a valid IP")
    port = _port(tunnel.get("targetPort", 0))
    if port:
        errors.append(f"tunnel target port is invalid: {port}")
    return errors


def _outlier_detection(outlier: Any) -> Verdict:
    verdict = Verdict()
    if outlier is None:
        return verdict
    for key in ("baseEjectionTime", "interval"):
        if outlier.get(key) is not None:
            problem = _duration(outlier[key])
            if problem:
                verdict.errors.append(problem)
    if outlier.get("consecutiveErrors", 0):
        verdict.warnings.append(
            "outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or "
            "consecutive5xxErrors instead"
        )
    if not outlier.get("splitExternalLocalOriginErrors") and (outlier.get("consecutiveLocalOriginFailures") or 0) > 0:
        verdict.errors.append(
            "outlier detection consecutive local origin failures is specified, but split external local origin "
            "errors is set to false"
        )
    for key in ("maxEjectionPercent", "minHealthPercent"):
        problem = _percent(outlier.get(key))
        if problem:
            verdict.errors.append(problem)
    return verdict


def _connection_pool(pool: Any) -> list[str]:
    errors: list[str] = []
    if pool is None:
        return errors
    http, tcp = pool.get("http"), pool.get("tcp")
    if http is None and tcp is None:
        return ["connection pool must have at least one field"]
    if http is not None:
        for key, message in (
            ("http1MaxPendingRequests", "http1 max pending requests"),
            ("http2MaxRequests", "http2 max requests"),
            ("maxRequestsPerConnection", "max requests per connection"),
            ("maxRetries", "max retries"),
        ):
            if http.get(key, 0) < 0:
                errors.append(f"{message} must be non-negative")
        if http.get("idleTimeout") is not None:
            errors += [p for p in [_duration(http["idleTimeout"])] if p]
        if http.get("h2UpgradePolicy") == "UPGRADE" and http.get("useClientProtocol"):
            errors.append("use client protocol must not be true when H2UpgradePolicy is UPGRADE")
        if http.get("maxConcurrentStreams", 0) < 0:
            errors.append("max concurrent streams must be non-negative")
    if tcp is not None:
        if tcp.get("maxConnections", 0) < 0:
            errors.append("max connections must be non-negative")
        for key in ("connectTimeout", "maxConnectionDuration"):
            if tcp.get(key) is not None:
                errors += [p for p in [_duration(tcp[key])] if p]
        idle = tcp.get("idleTimeout")
        if idle is not None and (parse_duration(idle) is None or abs(parse_duration(idle) or 0) >= _MS):
            errors += [p for p in [_duration(idle)] if p]  # 0s switches the timeout off
        keepalive = tcp.get("tcpKeepalive") or {}
        for key in ("time", "interval"):
            if keepalive.get(key) is not None:
                errors += [p for p in [_duration(keepalive[key])] if p]
    return errors


def _is_prime(x: int) -> bool:
    """Envoy's check, so the verdict matches Envoy's to the number."""
    if x != 0 and x < 4:
        return True
    if x & 1 == 0:
        return False
    return all(x % factor for factor in range(3, math.isqrt(x) + 1, 2))


def _load_balancer(settings: Any, outlier: Any) -> Verdict:
    verdict = Verdict()
    if settings is None:
        return verdict
    consistent = settings.get("consistentHash")
    if consistent is not None:
        cookie = consistent.get("httpCookie")
        if cookie is not None and not cookie.get("name"):
            verdict.errors.append("name required for HttpCookie")
        names: set[str] = set()
        for attribute in (cookie or {}).get("attributes") or ():
            name = attribute.get("name") or ""
            if not name:
                verdict.errors.append("cookie attribute name cannot be empty")
            elif name in names:
                verdict.errors.append(f"duplicate cookie attribute name: {name}")
            names.add(name)
        if consistent.get("minimumRingSize", 0):
            verdict.warnings.append(
                "consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash configuration instead"
            )
            if consistent.get("maglev") is not None or consistent.get("ringHash") is not None:
                verdict.errors.append("only one of MinimumRingSize or Maglev/Ringhash can be specified")
        maglev = consistent.get("maglev")
        if maglev is not None:
            size = int(maglev.get("tableSize", 0) or 0)
            if size == 0:
                verdict.errors.append("tableSize must be set for maglev")
            if size >= 5000011:
                verdict.errors.append("tableSize must be less than 5000011 for maglev")
            if not _is_prime(size):
                verdict.errors.append("tableSize must be a prime number for maglev")
    verdict.extend(locality_lb_problems(settings.get("localityLbSetting"), outlier))
    warmup = settings.get("warmup")
    if warmup is not None:
        if warmup.get("duration") is None:
            verdict.errors.append("duration is required")
        else:
            verdict.errors += [p for p in [_duration(warmup["duration"])] if p]
        if (warmup.get("minimumPercent") or 0) > 100:
            verdict.errors.append("minimumPercent value should be less than or equal to 100")
        if warmup.get("aggression") is not None and warmup["aggression"] < 1:
            verdict.errors.append("aggression should be greater than or equal to 1")
    return verdict


def locality_lb_problems(setting: Any, outlier: Any) -> Verdict:
    verdict = Verdict()
    if setting is None:
        return verdict
    distribute, failover = setting.get("distribute") or [], setting.get("failover") or []
    priority = setting.get("failoverPriority") or []
    if distribute and failover:
        verdict.errors.append("can not simultaneously specify 'distribute' and 'failover'")
        return verdict
    if failover:
        for label in priority:
            if label in _TOPOLOGY_LABELS:
                verdict.errors.append(
                    f"can not simultaneously set 'failover' and topology label '{label}' in 'failover_priority'"
                )
                return verdict
    sources = []
    for locality in distribute:
        sources.append(locality.get("from", ""))
        to = locality.get("to") or {}
        if any(not 0 < weight <= 100 for weight in to.values()):
            verdict.errors.append("locality weight must be in range [1, 100]")
            return verdict
        total = sum(to.values())
        if total != 100:
            verdict.errors.append(f"total locality weight {total} != 100")
            return verdict
        problem = _localities(list(to))
        if problem:
            verdict.errors.append(problem)
    problem = _localities(sources)
    if problem:
        verdict.errors.append(problem)
    if (failover or priority) and outlier is None:
        verdict.warnings.append("outlier detection policy must be provided for failover")
    for entry in failover:
        source, target = entry.get("from", ""), entry.get("to", "")
        if source == target:
            verdict.errors.append("locality lb failover settings must specify different regions")
        if "/" in source or "/" in target:
            verdict.errors.append("locality lb failover only specify region")
        if "*" in source or "*" in target:
            verdict.errors.append("locality lb failover region should not contain '*' wildcard")
    return verdict


def _localities(localities: list[str]) -> str | None:
    tree: dict[str, dict[str, dict[str, bool]]] = {}
    for locality in localities:
        stars = locality.count("*")
        if stars and (stars > 1 or not locality.endswith("*")):
            return f"locality {locality} wildcard '*' number can not exceed 1 and must be in the end"
        overlap = f"locality {locality} overlap with previous specified ones"
        if "*" in tree:
            return overlap
        items = locality.split("/", 2)
        if any(item == "" for item in items):
            return f"locality {locality} must not contain empty region/zone/subzone info"
        region = items[0]
        if len(items) == 1:
            if region in tree:
                return overlap
            tree[region] = {"*": {"*": True}}
        elif len(items) == 2:
            zones = tree.setdefault(region, {})
            if "*" in zones or items[1] in zones:
                return overlap
            zones[items[1]] = {"*": True}
        else:
            zones = tree.setdefault(region, {})
            if "*" in zones:
                return overlap
            subzones = zones.setdefault(items[1], {})
            if subzones.get("*") or subzones.get(items[2]):
                return overlap
            subzones[items[2]] = True
    return None


def client_tls_problems(namespace: str, tls: Any) -> list[str]:
    """agent.ValidateTLS for ClientTLSSettings (the upstream side of a DestinationRule)."""
    errors: list[str] = []
    if tls is None:
        return errors
    mode = tls.get("mode", "DISABLE")
    credential = tls.get("credentialName", "")
    if credential.startswith("configmap://"):
        parts = credential[len("configmap://") :].split("/")
        if len(parts) > 2 or not all(parts):
            errors.append(
                f'invalid configmap:// credentialName: invalid resource name "{credential}". Expected namespace/name'
            )
        elif (parts[0] if len(parts) == 2 else namespace) != namespace or not namespace:
            errors.append(
                f'invalid configmap:// credentialName: namespace must match the configuration namespace "{namespace}"'
            )
    if tls.get("insecureSkipVerify"):
        if mode == "SIMPLE" and (tls.get("caCertificates") or credential or set_(tls.get("subjectAltNames"))):
            errors.append(
                "cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true"
            )
        if mode == "MUTUAL" and (tls.get("caCertificates") or set_(tls.get("subjectAltNames"))):
            errors.append("cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true")
    if mode in ("SIMPLE", "MUTUAL") and credential:
        if any(tls.get(k) for k in ("clientCertificate", "caCertificates", "privateKey", "caCrl")):
            errors.append("cannot specify client certificates or CA certificate or CA CRL If credentialName is set")
        return errors
    if mode == "MUTUAL":
        if not tls.get("clientCertificate"):
            errors.append("client certificate required for mutual tls")
        if not tls.get("privateKey"):
            errors.append("private key required for mutual tls")
    return errors
