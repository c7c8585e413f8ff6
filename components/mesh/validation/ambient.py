"""What the mesh settings must not ask of a namespace they mark ambient (`gke-mtls:mesh.ambient`): what ztunnel
ignores there, DISABLE and a rule or action no waypoint would enforce, and a namespace no other key names. What
ztunnel reads of a policy is components/mesh/analysis/ztunnel.py's."""

from __future__ import annotations

from components.core.findings import Finding, closest, error, warning
from components.mesh.analysis import ztunnel
from components.mesh.analysis.modes import (
    ANY_PORT,
    DISABLE_IGNORED,
    TAKEN_AS_PERMISSIVE,
    WHY,
    ModeChange,
    PeerAuthentications,
    ztunnel_changes,
)
from components.mesh.interchange.istio_objects import from_manifests
from components.mesh.istio_api import GATEWAY_NAME_LABEL, WAYPOINT_CLASS
from components.mesh.rendering.manifests import manifests
from components.mesh.settings import (
    AMBIENT_KEY,
    KEY,
    AuthorizationSettings,
    MeshSettings,
    policy_key,
    workload_key,
)

WORKLOADS_KEY = f"{KEY}.workloads["


def _named_namespaces(mesh: MeshSettings) -> set[str]:
    named = {mesh.root_namespace, *mesh.namespaces, *mesh.migration, *mesh.deny_by_default}
    named |= {w.namespace for w in mesh.workloads} | {p.namespace for p in mesh.authorization}
    named |= {c.target.namespace for c in mesh.callers}
    if mesh.edge_backend is not None and mesh.edge_backend.namespace is not None:
        named.add(mesh.edge_backend.namespace)
    return named


def settings_findings(mesh: MeshSettings) -> list[Finding]:
    """Refuses what ztunnel would not enforce as the settings say in a namespace the stack marks ambient: a mode it
    takes otherwise (DISABLE is PERMISSIVE, or ignored), and a rule or action of a policy that no waypoint enforces
    (istio.io "Use Layer 4 security policy"; pilot/pkg/serviceregistry/ambient/authorization.go of istio/istio).
    Facts: components/mesh/analysis/modes.py and ztunnel.py."""
    found = []
    named = _named_namespaces(mesh)
    for ns, entry in mesh.ambient.items():
        if ns not in named:
            found.append(
                error(
                    "config.ambient",
                    f"{AMBIENT_KEY}.{ns}",
                    f"no other key of {KEY} names namespace {ns}, so marking it ambient changes nothing the stack "
                    "applies or checks: check the name, or remove it.",
                )
            )
        if entry.waypoint == "none":
            found.append(
                error(
                    "config.ambient",
                    f"{AMBIENT_KEY}.{ns}.waypoint",
                    "`none` is not a waypoint: Istio reserves it to opt out of one (istio.io/use-waypoint: none). "
                    "Name the waypoint's Gateway, or leave `waypoint` out.",
                )
            )
    found += _mode_changes(mesh)
    for i, p in enumerate(mesh.authorization):
        found += _unenforced(mesh, policy_key(i), p) + _bound_to_nothing(mesh, policy_key(i), p)
    return found


def _bound_to_nothing(mesh: MeshSettings, key: str, p: AuthorizationSettings) -> list[Finding]:
    """targetRefs that nothing the stack declares would enforce. Sidecars ignore a policy bound by targetRefs, and
    ztunnel never enforces one (`ShouldAttachPolicy`, pilot/pkg/model/policyattachment.go; authorization.go): only a
    waypoint applies a policy bound to a Service, ServiceEntry or GatewayClass istio-waypoint, and only the gateway
    or waypoint of that name one bound to a Gateway. istio/istio#57315 is what happens otherwise: the requests the
    policy should refuse get through."""
    found = []
    waypoint = mesh.ambient[p.namespace].waypoint if p.namespace in mesh.ambient else None
    services = [f"{t.kind} {t.name}" for t in p.target_refs if t.kind in ("Service", "ServiceEntry")]
    if services and p.namespace in mesh.ambient and waypoint is None:
        found.append(
            error(
                "config.ambient",
                f"{key}.targetRefs",
                f"it is bound to {', '.join(services)} of ambient namespace {p.namespace} "
                f"({AMBIENT_KEY}.{p.namespace}), which has no waypoint to enforce it, and ztunnel never enforces a "
                f"policy bound by targetRefs: nothing would. Set {AMBIENT_KEY}.{p.namespace}.waypoint to the waypoint "
                "that serves it.",
            )
        )
    elif services and p.namespace not in mesh.ambient:
        found.append(
            error(
                "config.ambient",
                f"{key}.targetRefs",
                f"it is bound to {', '.join(services)}, which only a waypoint enforces, and {p.namespace} is not in "
                f"{AMBIENT_KEY}: its sidecars ignore a policy bound by targetRefs (`ShouldAttachPolicy`, "
                "pilot/pkg/model/policyattachment.go), so nothing would enforce it and the requests it should refuse "
                f"get through (istio/istio#57315). Bind it to the pods with `selector`, or mark {p.namespace} ambient "
                f"with its waypoint ({AMBIENT_KEY}.{p.namespace}.waypoint).",
            )
        )
    gateways = _declared_gateways(mesh, p.namespace)
    for j, target in enumerate(p.target_refs):
        if target.kind == "Gateway" and target.name not in gateways:
            found.append(_undeclared_gateway(p.namespace, target.name, gateways, f"{key}.targetRefs[{j}]"))
        elif target.kind == "GatewayClass" and target.name != WAYPOINT_CLASS:
            found.append(
                error(
                    "config.ambient",
                    f"{key}.targetRefs[{j}]",
                    f"a waypoint applies a policy bound by GatewayClass only for class {WAYPOINT_CLASS}, and no "
                    f"gateway applies one bound by GatewayClass at all (`ShouldAttachPolicy`): nothing would enforce "
                    f"it. Bind it to GatewayClass {WAYPOINT_CLASS}, or to a Gateway.",
                )
            )
        elif target.kind == "GatewayClass" and not any(e.waypoint for e in mesh.ambient.values()):
            found.append(
                warning(
                    "config.ambient",
                    f"{key}.targetRefs[{j}]",
                    f"no namespace of {AMBIENT_KEY} has a waypoint, so no waypoint of class {WAYPOINT_CLASS} the stack "
                    "declares applies it, and sidecars and ztunnel ignore a policy bound by targetRefs: without a "
                    f"waypoint in the cluster nothing enforces it. Set the waypoint of an ambient namespace "
                    f"({AMBIENT_KEY}.<namespace>.waypoint).",
                )
            )
    return found


def _undeclared_gateway(namespace: str, name: str, gateways: list[str], key: str) -> Finding:
    """A Gateway the settings do not declare: a typo of the declared waypoint's name is refused; any other name may
    be an ingress gateway of the Gateway API the stack does not manage (a policy bound to it applies to the pods
    labelled with its name, `ShouldAttachPolicy`), so it is only warned about."""
    hint = closest(name, gateways)
    if hint is not None:
        return error(
            "config.ambient",
            key,
            f"the stack declares no Gateway {namespace}/{name}, and sidecars and ztunnel ignore a policy bound by "
            f"targetRefs: nothing would enforce it (istio/istio#57315). Did you mean {hint!r}?",
        )
    return warning(
        "config.ambient",
        key,
        f"the stack declares no Gateway {namespace}/{name}: neither the waypoint of {AMBIENT_KEY}.{namespace}.waypoint "
        f"nor the edge backend's gateway (its pods labelled {GATEWAY_NAME_LABEL}: {name}) is one, so nothing checks "
        "that it runs, and sidecars and ztunnel ignore a policy bound by targetRefs: without that gateway nothing "
        f"enforces the policy (istio/istio#57315). Name the waypoint in {AMBIENT_KEY}.{namespace}.waypoint, or make "
        "sure the gateway exists.",
    )


def _declared_gateways(mesh: MeshSettings, namespace: str) -> list[str]:
    """The names of the Gateways of `namespace` the settings declare: its waypoint, and the edge backend's gateway
    where its pods carry the Gateway API's name label (a policy bound to a Gateway applies to the pods so labelled)."""
    names = []
    if namespace in mesh.ambient and mesh.ambient[namespace].waypoint is not None:
        names.append(str(mesh.ambient[namespace].waypoint))
    backend = mesh.edge_backend
    gateway = backend is not None and backend.istio_ingress_gateway and backend.namespace == namespace
    if backend is not None and gateway and GATEWAY_NAME_LABEL in backend.selector:
        names.append(backend.selector[GATEWAY_NAME_LABEL])
    return names


def _mode_changes(mesh: MeshSettings) -> list[Finding]:
    """Where ztunnel would enforce another mode than the sidecars, of the PeerAuthentications the stack applies
    (components/mesh/analysis/modes.py, which ports istiod's conversion): each at the key that sets the mode."""
    if not mesh.ambient:
        return []
    applied = from_manifests(m for m in manifests(mesh) if m.kind == "PeerAuthentication")
    peers = PeerAuthentications(applied, mesh.root_namespace, frozenset(mesh.ambient))
    found = []
    for ns in sorted(mesh.ambient):  # the pods without a workload policy: the namespace's or the mesh's mode
        deciding = peers.deciding(ns, {}, "")
        key = deciding.origin.key if deciding is not None else f"{KEY}.mode"
        key += ".mode" if key.startswith(WORKLOADS_KEY) else ""
        found += [_mode_change(ns, change, key) for change in ztunnel_changes(peers, ns, {})]
    for i, w in enumerate(mesh.workloads):
        policy = peers.at(w.namespace, w.selector).policy if w.selector and w.namespace in mesh.ambient else None
        if policy is None or policy.origin.key != workload_key(i):
            continue
        for change in ztunnel_changes(peers, w.namespace, w.selector):
            where = "mode" if change.port == ANY_PORT else f"ports.{change.port}"
            found.append(_mode_change(w.namespace, change, f"{workload_key(i)}.{where}"))
    return found


def _mode_change(namespace: str, change: ModeChange, key: str) -> Finding:
    where = f"{namespace} runs ambient ({AMBIENT_KEY}.{namespace})"
    if change.kind == TAKEN_AS_PERMISSIVE:
        return error(
            "config.ambient",
            key,
            f"{where}, where ztunnel takes DISABLE as PERMISSIVE: {WHY[change.kind]}. Use PERMISSIVE, or take "
            f"{namespace} out of {AMBIENT_KEY} to run it without mTLS.",
        )
    if change.kind == DISABLE_IGNORED:
        return error(
            "config.ambient",
            key,
            f"{where}, where ztunnel ignores this DISABLE: {WHY[change.kind]}. Use PERMISSIVE for port {change.port}.",
        )
    return error(
        "config.ambient",
        key,
        f"{where}, where ztunnel would not enforce this STRICT: {WHY[change.kind]}. Set "
        f"{KEY}.namespaces.{namespace}: STRICT.",
    )


def _unenforced(mesh: MeshSettings, key: str, p: AuthorizationSettings) -> list[Finding]:
    """What of a policy bound by selector no waypoint would enforce in an ambient namespace (ztunnel's): an HTTP
    attribute, trustDomains, CUSTOM and AUDIT."""
    namespaces = sorted(mesh.ambient) if p.namespace == mesh.root_namespace else [p.namespace]
    ambient = [ns for ns in namespaces if ns in mesh.ambient]
    if not ambient:
        return []
    where = f"ambient namespace {', '.join(ambient)} ({AMBIENT_KEY}.{ambient[0]})"
    if p.target_refs:
        return []  # `_bound_to_nothing`'s
    bind = (
        f"Bind the policy to the waypoint with `targetRefs` (a Service it serves, or its Gateway; "
        f"{AMBIENT_KEY}.<namespace>.waypoint names it) instead of `selector`"
    )
    if p.action not in ztunnel.SUPPORTED_ACTIONS:
        return [
            error(
                "config.ambient",
                f"{key}.action",
                f"ztunnel enforces the policies of {where} that bind pods by selector, and it does not support "
                f"{p.action}: istiod would give it nothing of this policy. {bind}.",
            )
        ]
    found = []
    for j, rule in enumerate(p.rules or ()):
        unread = ztunnel.rule_at_ztunnel(j, rule, p.action).unread
        if unread:
            found.append(
                error(
                    "config.ambient",
                    f"{key}.rules[{j}]",
                    f"ztunnel enforces the policies of {where} that bind pods by selector, and it cannot read "
                    f"{', '.join(unread)}: istiod would "
                    + ("leave this rule out" if p.action == "ALLOW" else "enforce this rule without them")
                    + f", and no waypoint enforces a selector-bound policy. {bind}, or keep the rule to L4 "
                    "attributes (principals, namespaces, serviceAccounts, ipBlocks, ports).",
                )
            )
    return found
