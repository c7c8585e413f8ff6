"""Policies Istio would silently ignore because another one came first, and resources that would share a name."""

from __future__ import annotations

from components.core.findings import Finding, error
from components.mesh.manifests import workload_name
from components.mesh.settings import KEY, MeshSettings, policy_key, workload_key


def duplicate_findings(mesh: MeshSettings) -> list[Finding]:
    return [*_peer_authentication_duplicates(mesh), *_name_duplicates(mesh)]


def _peer_authentication_duplicates(mesh: MeshSettings) -> list[Finding]:
    root = mesh.root_namespace
    found = []
    namespace_wide: dict[str, str] = {root: f"{KEY}.mode"}
    for ns in mesh.namespaces:
        namespace_wide.setdefault(ns, f"{KEY}.namespaces.{ns}")
        if ns == root:
            found.append(
                error(
                    "mesh.duplicate-policy",
                    f"{KEY}.namespaces.{ns}",
                    f"{ns} is the root namespace, "
                    f"so this is a second mesh-wide policy beside {KEY}.mode; Istio keeps only the "
                    "oldest and silently ignores the other. Set the mesh-wide mode in `mode` only.",
                )
            )
    by_selector: dict[tuple[str, frozenset[tuple[str, str]]], str] = {}
    for i, w in enumerate(mesh.workloads):
        key = workload_key(i)
        if not w.selector:
            earlier = namespace_wide.setdefault(w.namespace, key)
            if earlier != key:
                what = "mesh-wide" if w.namespace == root else "namespace-wide"
                found.append(
                    error(
                        "mesh.duplicate-policy",
                        key,
                        f"a second {what} policy for {w.namespace} (the "
                        f"first is {earlier}); Istio keeps only the oldest and silently ignores the other. "
                        "Keep one.",
                    )
                )
        elif w.namespace != root:  # a selector in the root namespace is ignored anyway (mesh.root-selector)
            earlier = by_selector.setdefault((w.namespace, frozenset(w.selector.items())), key)
            if earlier != key:
                found.append(
                    error(
                        "mesh.duplicate-policy",
                        key,
                        f"selects the same workload as {earlier}; Istio applies only the oldest. Merge the two.",
                    )
                )
    return found


def _name_duplicates(mesh: MeshSettings) -> list[Finding]:
    found = []
    names: dict[tuple[str, str], str] = {}
    for i, w in enumerate(mesh.workloads):
        key = workload_key(i)
        earlier = names.setdefault((w.namespace, workload_name(w)), key)
        if earlier != key:
            found.append(
                error(
                    "mesh.duplicate-name",
                    key,
                    f"would be named {workload_name(w)!r} in {w.namespace} like {earlier}; set a distinct `name`.",
                )
            )
    policies: dict[tuple[str, str], str] = {}
    for i, p in enumerate(mesh.authorization):
        key = policy_key(i)
        earlier = policies.setdefault((p.namespace, p.name), key)
        if earlier != key:
            found.append(
                error(
                    "mesh.duplicate-name",
                    key,
                    f"{p.name!r} in {p.namespace} is already {earlier}; names must be unique per namespace.",
                )
            )
    found += [
        error(
            "mesh.duplicate-name",
            f"{KEY}.denyByDefault",
            f"{ns} already has a policy named 'allow-nothing'; rename it.",
        )
        for ns in mesh.deny_by_default
        if (ns, "allow-nothing") in policies
    ]
    return found
