"""Rules on the mesh settings one entry at a time: what Istio refuses in a PeerAuthentication or an
AuthorizationPolicy as written in the settings, and what a settings entry promises that its objects would not keep.
The analysis of the objects together is `analysis.py`'s."""

from __future__ import annotations

from typing import Any

from components.core.findings import Finding, error, quoted, warning
from components.mesh.interchange.istio_objects import listed
from components.mesh.rendering.manifests import OBSERVE_NAME, workload_name
from components.mesh.settings import (
    EDGE_BACKEND_KEY,
    AuthorizationSettings,
    MeshSettings,
    WorkloadPolicy,
    policy_key,
    workload_key,
)
from components.mesh.validation import webhook
from components.mesh.validation.syntax import label_findings, port_problem, rule_findings


def settings_findings(mesh: MeshSettings) -> list[Finding]:
    found = []
    for i, w in enumerate(mesh.workloads):
        found += workload_findings(workload_key(i), w)
    for i, p in enumerate(mesh.authorization):
        found += authorization_findings(policy_key(i), p)
    if mesh.edge_backend is not None:
        found += label_findings(mesh.edge_backend.selector, EDGE_BACKEND_KEY)
    return found


def workload_findings(key: str, w: WorkloadPolicy) -> list[Finding]:
    found = label_findings(w.selector, key)
    observe = f"{workload_name(w)}-{OBSERVE_NAME}"
    if w.stage == "observe" and len(observe) > 253:
        found.append(
            error(
                "mesh.name",
                f"{key}.name",
                f"the observe policy would be named {quoted(observe)}; Kubernetes takes names of at most 253 "
                f"characters. Shorten the name to {253 - len(OBSERVE_NAME) - 1} characters or fewer.",
            )
        )
    for port in [*w.ports, *w.service_ports]:
        problem = port_problem(port)
        if problem:
            found.append(error("mesh.port", f"{key}.ports.{port}", problem))
    if w.ports and not w.selector:
        found.append(
            error(
                "mesh.port-without-selector",
                f"{key}.ports",
                "port-level mTLS needs a selector: "
                "Istio rejects portLevelMtls on a namespace-wide policy. Add the workload's labels.",
            )
        )
    return found


def authorization_findings(key: str, p: AuthorizationSettings) -> list[Finding]:
    found = label_findings(p.selector, key)
    if p.action in ("DENY", "CUSTOM") and not p.rules:
        found.append(
            error(
                "mesh.deny-without-rules",
                f"{key}.rules",
                f"{p.action} without rules never matches "
                "anything (Istio rejects it); add the rules it should apply to, or `[{}]` for every request.",
            )
        )
    if p.action == "CUSTOM" and p.provider is None:
        found.append(
            error(
                "mesh.custom-provider",
                f"{key}.provider",
                "CUSTOM needs the name of an extension provider from meshConfig.extensionProviders.",
            )
        )
    if p.action != "CUSTOM" and p.provider is not None:
        found.append(
            error(
                "mesh.custom-provider",
                f"{key}.provider",
                f"applies only to action CUSTOM, not {p.action}; remove it.",
            )
        )
    for i, rule in enumerate(p.rules or ()):
        found += rule_findings(rule, f"{key}.rules[{i}]")
        if p.action == "CUSTOM":
            found += custom_identity_findings(rule, f"{key}.rules[{i}]")
    if p.action == "ALLOW" and p.rules is not None and any(r == {} for r in p.rules):
        found.append(
            warning(
                "mesh.allow-all",
                f"{key}.rules",
                "an empty rule `{}` in an ALLOW policy allows every request; list who may call, or drop the policy.",
            )
        )
    return found


def custom_identity_findings(rule: Any, key: str) -> list[Finding]:
    """istiod refuses peer and request identities in a CUSTOM rule: the external authorizer is asked before they
    are known."""
    if not isinstance(rule, dict):
        return []
    found = []
    fix = "match them in an ALLOW or DENY policy, which runs after CUSTOM, or inside your authorizer"
    for i, entry in enumerate(listed(rule.get("from"))):
        source = entry.get("source") if isinstance(entry, dict) else None
        if not isinstance(source, dict):
            continue
        for field in webhook.CUSTOM_UNSUPPORTED_SOURCES:
            if source.get(field):
                found.append(
                    error(
                        "mesh.custom-identity",
                        f"{key}.from[{i}].source.{field}",
                        f"CUSTOM policies cannot use {field} (istiod refuses it); {fix}.",
                    )
                )
    for i, condition in enumerate(rule.get("when") or [] if isinstance(rule.get("when"), list) else []):
        name = condition.get("key") if isinstance(condition, dict) else None
        if isinstance(name, str) and webhook.custom_unsupported_condition(name):
            found.append(
                error(
                    "mesh.custom-identity",
                    f"{key}.when[{i}].key",
                    f"CUSTOM policies cannot use {name} (istiod refuses it); {fix}.",
                )
            )
    return found
