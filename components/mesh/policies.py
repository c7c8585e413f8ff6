"""Rules on one policy at a time: what Istio refuses or ignores in a PeerAuthentication or an AuthorizationPolicy."""

from __future__ import annotations

from components.core.findings import Finding, error, warning
from components.mesh.settings import AuthorizationSettings, WorkloadPolicy
from components.mesh.syntax import label_findings, port_problem, rule_findings


def workload_findings(key: str, w: WorkloadPolicy, root_namespace: str) -> list[Finding]:
    found = label_findings(w.selector, key)
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
    if w.selector and w.namespace == root_namespace:
        found.append(
            error(
                "mesh.root-selector",
                key,
                f"a PeerAuthentication with a selector in the root "
                f"namespace {root_namespace} is ignored by Istio; put it in the workload's own namespace.",
            )
        )
    disabled = w.mode == "DISABLE" or "DISABLE" in w.ports.values()
    if disabled and w.selector and w.service is None:
        found.append(
            error(
                "mesh.disable-needs-service",
                key,
                "DISABLE on a workload or port also needs a client "
                "side DestinationRule (auto mTLS only reads mesh and namespace policies, so meshed "
                "clients would keep sending mTLS and fail); set `service` to the Service in front of "
                "the workload, or use PERMISSIVE.",
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
    if p.action == "ALLOW" and p.rules is not None and any(r == {} for r in p.rules):
        found.append(
            warning(
                "mesh.allow-all",
                f"{key}.rules",
                "an empty rule `{}` in an ALLOW policy allows every request; list who may call, or drop the policy.",
            )
        )
    return found
