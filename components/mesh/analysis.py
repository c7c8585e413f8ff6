"""The mesh: Istio resources generated from the mesh settings, and the analysis run before any is applied.

Pure: plain dicts in, plain dicts and findings out. Facts: ../shared/reference/istio-mesh-mtls.md.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from components.core.findings import Finding, error, warning
from components.mesh.settings import AuthorizationSettings, MeshSettings, WorkloadPolicy

SECURITY = "security.istio.io/v1"
NETWORKING = "networking.istio.io/v1"

SOURCE_FIELDS = (
    "principals",
    "notPrincipals",
    "requestPrincipals",
    "notRequestPrincipals",
    "namespaces",
    "notNamespaces",
    "serviceAccounts",
    "notServiceAccounts",
    "ipBlocks",
    "notIpBlocks",
    "remoteIpBlocks",
    "notRemoteIpBlocks",
    "trustDomains",
    "notTrustDomains",
)
OPERATION_FIELDS = ("hosts", "notHosts", "ports", "notPorts", "methods", "notMethods", "paths", "notPaths")
CONDITION_FIELDS = ("key", "values", "notValues")
RULE_FIELDS = ("from", "to", "when")
# Condition keys the istiod webhook accepts (pkg/config/security/security.go ValidateAttribute).
CONDITION_KEYS = (
    "source.ip",
    "remote.ip",
    "source.namespace",
    "source.serviceAccount",
    "source.principal",
    "source.trustDomain",
    "request.auth.principal",
    "request.auth.audiences",
    "request.auth.presenter",
    "destination.ip",
    "destination.port",
    "connection.sni",
)
CONDITION_KEY_PREFIXES = ("request.headers[", "request.auth.claims[", "experimental.envoy.filters.")
# Fields and condition keys whose value comes from the peer certificate, so only mTLS carries them.
IDENTITY_FIELDS = ("principals", "notPrincipals", "namespaces", "notNamespaces")
IDENTITY_CONDITIONS = ("source.principal", "source.namespace")
PRINCIPAL = re.compile(r"[^/*]+/ns/[^/*]+/sa/[^/*]+")


# --- what is created ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Manifest:
    """One Istio resource, as applied to the cluster."""

    api_version: str
    kind: str
    name: str
    namespace: str
    spec: dict[str, Any]

    @property
    def document(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": self.spec,
        }

    @property
    def logical_name(self) -> str:
        """Unique per stack; Pulumi's name for it."""
        short = {"PeerAuthentication": "pa", "AuthorizationPolicy": "ap", "DestinationRule": "dr"}[self.kind]
        return f"{short}-{self.namespace}-{self.name}"


def _selector(labels: Iterable[tuple[str, str]]) -> dict[str, Any]:
    match_labels = dict(labels)
    return {"selector": {"matchLabels": match_labels}} if match_labels else {}


def workload_name(workload: WorkloadPolicy) -> str:
    if workload.name:
        return workload.name
    if not workload.selector:
        return "default"
    made = "-".join(v for _, v in workload.selector).lower()
    return re.sub(r"[^a-z0-9-]+", "-", made).strip("-")[:63] or "workload"


def manifests(mesh: MeshSettings) -> list[Manifest]:
    found = [Manifest(SECURITY, "PeerAuthentication", "default", mesh.root_namespace, {"mtls": {"mode": mesh.mode}})]
    found += [
        Manifest(SECURITY, "PeerAuthentication", "default", ns, {"mtls": {"mode": mode}})
        for ns, mode in mesh.namespaces
    ]
    for w in mesh.workloads:
        spec: dict[str, Any] = {**_selector(w.selector), "mtls": {"mode": w.mode}}
        if w.ports:
            spec["portLevelMtls"] = {port: {"mode": mode} for port, mode in w.ports}
        found.append(Manifest(SECURITY, "PeerAuthentication", workload_name(w), w.namespace, spec))
        found += _plaintext_destination_rule(w)
    for p in mesh.authorization:
        spec = {**_selector(p.selector), "action": p.action}
        if p.provider is not None:
            spec["provider"] = {"name": p.provider}
        if p.rules is not None:
            spec["rules"] = list(p.rules)
        found.append(Manifest(SECURITY, "AuthorizationPolicy", p.name, p.namespace, spec))
    found += [Manifest(SECURITY, "AuthorizationPolicy", "allow-nothing", ns, {}) for ns in mesh.deny_by_default]
    if mesh.mesh_wide_istio_mutual:
        found.append(
            Manifest(
                NETWORKING,
                "DestinationRule",
                "mesh-wide-istio-mutual",
                mesh.root_namespace,
                {"host": "*.local", "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}},
            )
        )
    return found


def _plaintext_destination_rule(w: WorkloadPolicy) -> list[Manifest]:
    """Auto mTLS reads only mesh and namespace policies, so a workload or port set to DISABLE still gets mTLS from
    meshed clients unless a DestinationRule turns it off for that host (istio/istio #32079)."""
    if w.service is None:
        return []
    spec: dict[str, Any] = {"host": f"{w.service}.{w.namespace}.svc.cluster.local"}
    service_ports = dict(w.service_ports)
    disabled_ports = [port for port, mode in w.ports if mode == "DISABLE"]
    if w.mode == "DISABLE":
        spec["trafficPolicy"] = {"tls": {"mode": "DISABLE"}}
    elif disabled_ports:
        spec["trafficPolicy"] = {
            "portLevelSettings": [
                {"port": {"number": service_ports.get(port, int(port))}, "tls": {"mode": "DISABLE"}}
                for port in disabled_ports
            ]
        }
    else:
        return []
    return [Manifest(NETWORKING, "DestinationRule", f"{w.service}-plaintext", w.namespace, spec)]


# --- analysis ----------------------------------------------------------------------------------------------------


class _Modes:
    """Effective mTLS modes, resolved the way istiod composes PeerAuthentications; indexed by namespace."""

    def __init__(self, mesh: MeshSettings):
        self.mesh_mode = mesh.mode
        self.namespace_mode: dict[str, str] = {}
        self.workloads: dict[str, list[WorkloadPolicy]] = defaultdict(list)
        for ns, mode in mesh.namespaces:
            self.namespace_mode.setdefault(ns, mode)
        for w in mesh.workloads:
            if w.selector:
                self.workloads[w.namespace].append(w)
            else:
                self.namespace_mode.setdefault(w.namespace, w.mode)

    def base(self, namespace: str) -> str:
        mode = self.namespace_mode.get(namespace, "UNSET")
        if mode == "UNSET":
            mode = self.mesh_mode
        return "PERMISSIVE" if mode == "UNSET" else mode

    def _workload(self, namespace: str, labels: dict[str, str]) -> WorkloadPolicy | None:
        for w in self.workloads.get(namespace, ()):
            if all(labels.get(k) == v for k, v in w.selector):
                return w  # the oldest wins in Istio; duplicates are reported separately
        return None

    def at(self, namespace: str, labels: dict[str, str], port: str | None) -> dict[str, str]:
        """Effective mode per port ('*' for the workload's other ports)."""
        base = self.base(namespace)
        w = self._workload(namespace, labels)
        own = base if w is None or w.mode == "UNSET" else w.mode
        modes = {"*": own}
        for p, mode in w.ports if w is not None else ():
            modes[p] = own if mode == "UNSET" else mode
        if port is not None:
            return {port: modes.get(port, own)}
        return modes

    def in_namespace(self, namespace: str) -> dict[str, str]:
        """Every mode some workload of the namespace may end up with, keyed by where it comes from."""
        modes = {f"namespace {namespace}": self.base(namespace)}
        for w in self.workloads.get(namespace, ()):
            for port, mode in self.at(namespace, dict(w.selector), None).items():
                modes[f"{w.key}" + ("" if port == "*" else f" port {port}")] = mode
        return modes


def analyze(mesh: MeshSettings) -> list[Finding]:
    findings: list[Finding] = []
    _check_policies(mesh, findings)
    modes = _Modes(mesh)
    for policy in mesh.authorization:
        findings += _check_authorization(policy, mesh, modes)
    if mesh.edge_backend is not None:
        findings += _check_edge_backend(mesh, modes)
    if mesh.mesh_wide_istio_mutual:
        findings.append(
            warning(
                "mesh.istio-mutual-dr",
                f"{mesh.key}.meshWideIstioMutual",
                "the `*.local` ISTIO_MUTUAL DestinationRule forces mTLS to every *.local endpoint, "
                "including pods without a sidecar (non-injected namespaces, the Kubernetes API service), "
                "whose calls then fail; and any more specific DestinationRule silently replaces it. Auto "
                "mTLS (on by default since Istio 1.5) already sends mTLS to every sidecar. Remove it "
                "unless auto mTLS is turned off in your mesh.",
            )
        )
    return findings


def _labels_findings(labels: Iterable[tuple[str, str]], key: str) -> list[Finding]:
    found = []
    for k, v in labels:
        if not k:
            found.append(
                error(
                    "mesh.label", f"{key}.selector", "a label key is empty; Istio rejects it (key must not be empty)."
                )
            )
        elif "*" in k:
            found.append(
                error("mesh.label", f"{key}.selector.{k}", "wildcards are not allowed in label keys; name the label.")
            )
        if "*" in v:
            found.append(
                error(
                    "mesh.label",
                    f"{key}.selector.{k}",
                    f"{v!r}: wildcards are not allowed in label values; list the exact value.",
                )
            )
        elif len(v) > 63:
            found.append(
                error(
                    "mesh.label",
                    f"{key}.selector.{k}",
                    f"the value is {len(v)} characters; label values are at most 63.",
                )
            )
    return found


def _port_problem(port: Any) -> str | None:
    text = str(port)
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        return f"{port!r} is not a port; use a number from 1 to 65535, written as a string."
    return None


def _check_policies(mesh: MeshSettings, findings: list[Finding]) -> None:
    root = mesh.root_namespace
    namespace_wide: dict[str, str] = {root: f"{mesh.key}.mode"}
    for ns, _ in mesh.namespaces:
        namespace_wide.setdefault(ns, f"{mesh.key}.namespaces.{ns}")
        if ns == root:
            findings.append(
                error(
                    "mesh.duplicate-policy",
                    f"{mesh.key}.namespaces.{ns}",
                    f"{ns} is the root namespace, "
                    f"so this is a second mesh-wide policy beside {mesh.key}.mode; Istio keeps only the "
                    "oldest and silently ignores the other. Set the mesh-wide mode in `mode` only.",
                )
            )
    by_selector: dict[tuple[str, frozenset], str] = {}
    names: dict[tuple[str, str], str] = {}
    for w in mesh.workloads:
        findings += _labels_findings(w.selector, w.key)
        for port, _mode in [*w.ports, *w.service_ports]:
            problem = _port_problem(port)
            if problem:
                findings.append(error("mesh.port", f"{w.key}.ports.{port}", problem))
        if w.ports and not w.selector:
            findings.append(
                error(
                    "mesh.port-without-selector",
                    f"{w.key}.ports",
                    "port-level mTLS needs a selector: "
                    "Istio rejects portLevelMtls on a namespace-wide policy. Add the workload's labels.",
                )
            )
        if not w.selector:
            earlier = namespace_wide.setdefault(w.namespace, w.key)
            if earlier != w.key:
                what = "mesh-wide" if w.namespace == root else "namespace-wide"
                findings.append(
                    error(
                        "mesh.duplicate-policy",
                        w.key,
                        f"a second {what} policy for {w.namespace} (the "
                        f"first is {earlier}); Istio keeps only the oldest and silently ignores the other. "
                        "Keep one.",
                    )
                )
        elif w.namespace == root:
            findings.append(
                error(
                    "mesh.root-selector",
                    w.key,
                    f"a PeerAuthentication with a selector in the root "
                    f"namespace {root} is ignored by Istio; put it in the workload's own namespace.",
                )
            )
        else:
            earlier = by_selector.setdefault((w.namespace, frozenset(w.selector)), w.key)
            if earlier != w.key:
                findings.append(
                    error(
                        "mesh.duplicate-policy",
                        w.key,
                        f"selects the same workload as {earlier}; Istio applies only the oldest. Merge the two.",
                    )
                )
        earlier_name = names.setdefault((w.namespace, workload_name(w)), w.key)
        if earlier_name != w.key:
            findings.append(
                error(
                    "mesh.duplicate-name",
                    w.key,
                    f"would be named {workload_name(w)!r} in {w.namespace} like {earlier_name}; set a distinct `name`.",
                )
            )
        disabled = w.mode == "DISABLE" or any(mode == "DISABLE" for _, mode in w.ports)
        if disabled and w.selector and w.service is None:
            findings.append(
                error(
                    "mesh.disable-needs-service",
                    w.key,
                    "DISABLE on a workload or port also needs a client "
                    "side DestinationRule (auto mTLS only reads mesh and namespace policies, so meshed "
                    "clients would keep sending mTLS and fail); set `service` to the Service in front of "
                    "the workload, or use PERMISSIVE.",
                )
            )
    seen_policies: dict[tuple[str, str], str] = {}
    for p in mesh.authorization:
        earlier = seen_policies.setdefault((p.namespace, p.name), p.key)
        if earlier != p.key:
            findings.append(
                error(
                    "mesh.duplicate-name",
                    p.key,
                    f"{p.name!r} in {p.namespace} is already {earlier}; names must be unique per namespace.",
                )
            )
    for ns in mesh.deny_by_default:
        if (ns, "allow-nothing") in seen_policies:
            findings.append(
                error(
                    "mesh.duplicate-name",
                    f"{mesh.key}.denyByDefault",
                    f"{ns} already has a policy named 'allow-nothing'; rename it.",
                )
            )


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_values(values: Any, key: str, field: str) -> list[Finding]:
    if not isinstance(values, list):
        return [error("mesh.rule", key, f"{field} must be a list of strings.")]
    found = []
    for i, value in enumerate(values):
        where = f"{key}[{i}]"
        if not isinstance(value, str):
            hint = ' (quote ports: "8080")' if field in ("ports", "notPorts") else ""
            found.append(error("mesh.rule", where, f"{value!r} must be a string{hint}."))
            continue
        if not value:
            found.append(error("mesh.rule", where, "empty values are not allowed."))
            continue
        inner = value[1:] if value.startswith("*") else value
        inner = inner[:-1] if inner.endswith("*") else inner
        templated = field in ("paths", "notPaths") and ("{*}" in value or "{**}" in value)
        if "*" in inner and not templated and value != "*":
            found.append(
                error(
                    "mesh.wildcard",
                    where,
                    f"{value!r}: Istio treats '*' only at the start or the end; in "
                    "the middle it is a literal character and this matches nothing you expect. Use a prefix "
                    "(`cluster.local/ns/default/*`) or suffix form.",
                )
            )
            continue
        if field in ("principals", "notPrincipals") and value != "*" and not value.startswith("*"):
            exact = not value.endswith("*")
            if exact and not PRINCIPAL.fullmatch(value):
                found.append(
                    error(
                        "mesh.principal",
                        where,
                        f"{value!r} is not a principal: write "
                        "<trust-domain>/ns/<namespace>/sa/<service-account>, e.g. "
                        "cluster.local/ns/default/sa/sleep (no spiffe:// prefix).",
                    )
                )
            elif value.startswith("spiffe://"):
                found.append(
                    error(
                        "mesh.principal",
                        where,
                        f"{value!r}: drop the spiffe:// prefix; Istio principals are "
                        "<trust-domain>/ns/<namespace>/sa/<service-account>.",
                    )
                )
        if field in ("methods", "notMethods") and value != value.upper():
            found.append(
                error(
                    "mesh.method",
                    where,
                    f"{value!r}: HTTP methods are matched case-sensitively; write {value.upper()!r}.",
                )
            )
        if field in ("ports", "notPorts") and _port_problem(value):
            found.append(error("mesh.port", where, _port_problem(value) or ""))
    return found


def _check_object(obj: Any, key: str, known: tuple[str, ...], what: str) -> list[Finding]:
    if not isinstance(obj, dict) or not obj:
        return [
            error("mesh.rule", key, f"{what} must be a non-empty object with Istio's field names: {', '.join(known)}.")
        ]
    return [
        error(
            "mesh.rule",
            f"{key}.{name}",
            f"is not a field of {what}{_did_you_mean(name, known)}; fields are {', '.join(known)}.",
        )
        for name in obj
        if name not in known
    ]


def _check_rule(rule: Any, key: str) -> list[Finding]:
    if not isinstance(rule, dict):
        return [error("mesh.rule", key, "a rule must be an object with `from`, `to` and/or `when`.")]
    found = [
        error(
            "mesh.rule",
            f"{key}.{name}",
            f"is not a rule field{_did_you_mean(name, RULE_FIELDS)}; fields are from, to, when.",
        )
        for name in rule
        if name not in RULE_FIELDS
    ]
    for part, inner, fields in (("from", "source", SOURCE_FIELDS), ("to", "operation", OPERATION_FIELDS)):
        if part not in rule:
            continue
        entries = rule[part]
        if not isinstance(entries, list) or not entries:
            found.append(error("mesh.rule", f"{key}.{part}", f"`{part}` must be a non-empty list of {{{inner}: ...}}."))
            continue
        for i, entry in enumerate(entries):
            entry_key = f"{key}.{part}[{i}]"
            found += _check_object(entry, entry_key, (inner,), f"a `{part}` entry")
            body = entry.get(inner) if isinstance(entry, dict) else None
            if body is None:
                continue
            found += _check_object(body, f"{entry_key}.{inner}", fields, inner)
            if isinstance(body, dict):
                for field, values in body.items():
                    if field in fields:
                        found += _check_values(values, f"{entry_key}.{inner}.{field}", field)
    for i, condition in enumerate(rule.get("when", []) if isinstance(rule.get("when", []), list) else [None]):
        where = f"{key}.when[{i}]"
        found += _check_object(condition, where, CONDITION_FIELDS, "a `when` condition")
        if not isinstance(condition, dict):
            continue
        name = condition.get("key")
        if not isinstance(name, str) or not (name in CONDITION_KEYS or name.startswith(CONDITION_KEY_PREFIXES)):
            found.append(
                error(
                    "mesh.rule",
                    f"{where}.key",
                    f"{name!r} is not a condition key Istio accepts{_did_you_mean(str(name), CONDITION_KEYS)}.",
                )
            )
        if "values" not in condition and "notValues" not in condition:
            found.append(error("mesh.rule", where, "set `values` or `notValues`."))
    return found


def _uses_identity(rules: Iterable[Any], action: str) -> list[str]:
    used = []
    for rule in rules:
        if not isinstance(rule, dict):
            continue
        for entry in rule.get("from", []) if isinstance(rule.get("from"), list) else []:
            source = entry.get("source", {}) if isinstance(entry, dict) else {}
            if not isinstance(source, dict):
                continue
            # DENY on `notPrincipals: ["*"]` matches exactly the requests without identity: the advisory's own fix.
            used += [
                f
                for f in IDENTITY_FIELDS
                if f in source and not (action == "DENY" and f.startswith("not") and source[f] == ["*"])
            ]
        for condition in rule.get("when", []) if isinstance(rule.get("when"), list) else []:
            if isinstance(condition, dict) and condition.get("key") in IDENTITY_CONDITIONS:
                used.append(condition["key"])
    return sorted(set(used))


def _check_authorization(p: AuthorizationSettings, mesh: MeshSettings, modes: _Modes) -> list[Finding]:
    found = _labels_findings(p.selector, p.key)
    if p.action in ("DENY", "CUSTOM") and not p.rules:
        found.append(
            error(
                "mesh.deny-without-rules",
                f"{p.key}.rules",
                f"{p.action} without rules never matches "
                "anything (Istio rejects it); add the rules it should apply to, or `[{}]` for every request.",
            )
        )
    if p.action == "CUSTOM" and p.provider is None:
        found.append(
            error(
                "mesh.custom-provider",
                f"{p.key}.provider",
                "CUSTOM needs the name of an extension provider from meshConfig.extensionProviders.",
            )
        )
    if p.action != "CUSTOM" and p.provider is not None:
        found.append(
            error(
                "mesh.custom-provider",
                f"{p.key}.provider",
                f"applies only to action CUSTOM, not {p.action}; remove it.",
            )
        )
    for i, rule in enumerate(p.rules or ()):
        found += _check_rule(rule, f"{p.key}.rules[{i}]")
    if p.action == "ALLOW" and p.rules is not None and any(r == {} for r in p.rules):
        found.append(
            warning(
                "mesh.allow-all",
                f"{p.key}.rules",
                "an empty rule `{}` in an ALLOW policy allows every request; list who may call, or drop the policy.",
            )
        )
    identity = _uses_identity(p.rules or (), p.action)
    if identity:
        exposed = _not_strict(p, mesh, modes)
        if exposed:
            where = ", ".join(f"{place} is {mode}" for place, mode in exposed.items())
            text = (
                f"relies on {', '.join(identity)}, which only mTLS carries, but {where}: plaintext requests there "
                "carry no identity, so this policy can be bypassed (ISTIO-SECURITY-2021-004). Make those STRICT, "
                "or match on something plaintext carries too."
            )
            make = error if mesh.mode == "STRICT" else warning
            found.append(make("mesh.identity-without-mtls", p.key, text))
    return found


def _identity_ports(rules: Iterable[Any]) -> set[str] | None:
    """The ports the identity-bearing rules are limited to (`to.operation.ports`), or None if any may match any port."""
    ports: set[str] = set()
    for rule in rules:
        if not isinstance(rule, dict) or not _uses_identity([rule], "ALLOW"):
            continue
        targets = rule.get("to")
        if not isinstance(targets, list) or not targets:
            return None
        for target in targets:
            operation = target.get("operation") if isinstance(target, dict) else None
            limited = operation.get("ports") if isinstance(operation, dict) else None
            if not isinstance(limited, list) or not limited:
                return None
            ports |= {str(port) for port in limited}
    return ports


def _not_strict(p: AuthorizationSettings, mesh: MeshSettings, modes: _Modes) -> dict[str, str]:
    if p.namespace == mesh.root_namespace:  # applies in every namespace
        namespaces = {ns for ns, _ in mesh.namespaces} | {w.namespace for w in mesh.workloads}
        candidates: dict[str, str] = {"namespaces without their own policy": modes.base("")}
        for ns in namespaces:
            candidates.update(modes.in_namespace(ns))
    elif p.selector:
        labels, ports = dict(p.selector), _identity_ports(p.rules or ())
        if ports is None:  # the identity rules may match on any port
            per_port = modes.at(p.namespace, labels, None)
        else:
            per_port = {port: modes.at(p.namespace, labels, port)[port] for port in sorted(ports)}
        candidates = {
            f"{p.namespace} {labels}" + ("" if port == "*" else f" port {port}"): mode
            for port, mode in per_port.items()
        }
    else:
        candidates = modes.in_namespace(p.namespace)
    return {place: mode for place, mode in candidates.items() if mode != "STRICT"}


def _check_edge_backend(mesh: MeshSettings, modes: _Modes) -> list[Finding]:
    backend = mesh.edge_backend
    assert backend is not None
    if backend.istio_ingress_gateway:
        return []
    found = _labels_findings(backend.selector, backend.key)
    assert backend.namespace is not None and backend.port is not None
    port = str(backend.port)
    mode = modes.at(backend.namespace, dict(backend.selector), port)[port]
    if mode == "STRICT":
        labels = ", ".join(f"{k}: {v}" for k, v in backend.selector)
        found.append(
            error(
                "mesh.edge-backend-strict",
                backend.key,
                f"the edge load balancer sends requests (and health checks) straight to port {port} of {{{labels}}} in "
                f"{backend.namespace} without an Istio client certificate, but mTLS there is STRICT, so every request "
                "would be refused. Either route the edge through the Istio ingress gateway (and set "
                "`istioIngressGateway: true` here), or add a port-level exception to gke-mtls:mesh.workloads for this "
                f'workload: `ports: {{"{port}": PERMISSIVE}}` (the edge\'s mTLS then guards that port).',
            )
        )
    return found
