"""The allowed clients as the load balancer's authorization policies (Network Security AuthzPolicy on the forwarding
rule): ALLOW policies, so a request whose certificate names none of the clients is refused with 403 before it reaches
the backend. Only where Google documents principals for the load balancer (components/core/load_balancer.py): the
regional external Application Load Balancer.

Limits, the strictest of Google's generated networksecurity v1 types as read: 5 httpRules per policy and 1 source per
rule (Cloud SDK 528 and google-cloud-network-security 0.13.4), 5 path matches per operation (Cloud SDK 528), 10 paths
and 10 methods per policy (0.13.4), 5 principals per source (pulumi-gcp 10.2's AuthzPolicy docs), so at most 25
principals per policy, within the regional load balancers' 50 (0.13.4). Principals match exactly, and only in a
certificate the trust config validated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.core.edge_backend import AllowedClient, load_balancer_paths
from components.core.load_balancer import Capabilities

MAX_RULES, MAX_PRINCIPALS, MAX_POLICY_PATHS, MAX_POLICY_METHODS = 5, 5, 10, 10
PRINCIPAL_SELECTORS = {"uriSan": "CLIENT_CERT_URI_SAN", "dnsSan": "CLIENT_CERT_DNS_NAME_SAN"}


def mesh_only(capabilities: Capabilities, explicitly_off: bool) -> str:
    """What the plan says once when the load balancer leaves the allowed clients to the mesh."""
    if explicitly_off:
        why = "is false"
    else:
        quote = capabilities.principals.source.quote
        why = f'is off by default: the {capabilities.name} takes no principals (Google: "{quote}")'
    return (
        f"{why}, so only the mesh enforces the platform stack's allowedClients; the load balancer lets every validated "
        "client through."
    )


def principal(client: AllowedClient) -> dict[str, Any]:
    selector = PRINCIPAL_SELECTORS["uriSan" if client.uri_san is not None else "dnsSan"]
    return {"principal_selector": selector, "principal": {"exact": client.identity}}


def http_rules(clients: Sequence[AllowedClient]) -> list[dict[str, Any]]:
    """One rule per set of paths and methods, with the clients allowed them as its principals (5 at most each)."""
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[dict[str, Any]]] = {}
    for client in clients:
        groups.setdefault((client.paths, client.methods), []).append(principal(client))
    rules = []
    for (paths, methods), principals in groups.items():
        operation: dict[str, Any] = {}
        if paths:
            operation["paths"] = [match for path in paths for match in load_balancer_paths(path)]
        if methods:
            operation["methods"] = list(methods)
        for start in range(0, len(principals), MAX_PRINCIPALS):
            rule: dict[str, Any] = {"from_": {"sources": [{"principals": principals[start : start + MAX_PRINCIPALS]}]}}
            if operation:
                rule["to"] = {"operations": [operation]}
            rules.append(rule)
    return rules


def policies(clients: Sequence[AllowedClient]) -> list[list[dict[str, Any]]]:
    """The rules, packed into as few policies as the per-policy limits allow. ALLOW policies on one forwarding rule
    let a request in when any of them matches."""
    packed: list[list[dict[str, Any]]] = []
    for rule in http_rules(clients):
        current = packed[-1] if packed else None
        if current is None or not _fits([*current, rule]):
            packed.append([rule])
        else:
            current.append(rule)
    return packed


def _fits(rules: list[dict[str, Any]]) -> bool:
    operations = [op for rule in rules for op in rule.get("to", {}).get("operations", [])]
    paths = sum(len(op.get("paths", [])) for op in operations)
    methods = sum(len(op.get("methods", [])) for op in operations)
    return len(rules) <= MAX_RULES and paths <= MAX_POLICY_PATHS and methods <= MAX_POLICY_METHODS
