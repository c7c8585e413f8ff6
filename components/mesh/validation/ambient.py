"""What the mesh settings must not ask of a namespace they mark ambient (`gke-mtls:mesh.ambient`): what ztunnel
ignores there, DISABLE and a rule or action no waypoint would enforce, and a namespace no other key names. What
ztunnel reads of a policy is components/mesh/analysis/ztunnel.py's."""

from __future__ import annotations

from components.core.findings import Finding, error
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
        found += _unenforced(mesh, policy_key(i), p)
    return found


def _mode_changes(mesh: MeshSettings) -> list[Finding]:
    """Where ztunnel would enforce another mode than the sidecars, of the PeerAuthentications the stack applies
    (components/mesh/analysis/modes.py, which ports istiod's conversion): each at the key that sets the mode."""
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
    """What of a policy no waypoint would enforce: an HTTP attribute, trustDomains, or CUSTOM and AUDIT in a policy
    bound by selector (ztunnel's), or targetRefs to a Service of a namespace without a waypoint."""
    namespaces = sorted(mesh.ambient) if p.namespace == mesh.root_namespace else [p.namespace]
    ambient = [ns for ns in namespaces if ns in mesh.ambient]
    if not ambient:
        return []
    where = f"ambient namespace {', '.join(ambient)} ({AMBIENT_KEY}.{ambient[0]})"
    if p.target_refs:
        waypoint = mesh.ambient[p.namespace].waypoint if p.namespace in mesh.ambient else None
        services = [t.name for t in p.target_refs if t.kind == "Service"]
        if services and waypoint is None:
            return [
                error(
                    "config.ambient",
                    f"{key}.targetRefs",
                    f"it is bound to Service {', '.join(services)} of {where}, which has no waypoint to enforce it, "
                    "and ztunnel never enforces a policy bound by targetRefs: nothing would. Set "
                    f"{AMBIENT_KEY}.{p.namespace}.waypoint to the waypoint that serves it.",
                )
            ]
        return []
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
