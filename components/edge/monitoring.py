"""Where the edge's rejected client certificates show up: the load balancer's request logs."""

from __future__ import annotations

METRIC_LABEL = "status_details"


def metric_name(stack: str) -> str:
    return f"gke-mtls-{stack}-rejected-client-certificates"


def rejected_clients_filter(forwarding_rule_name: str) -> str:
    """Logs Explorer query (and log-based metric filter) for connections the edge closed over a client certificate."""
    return (
        'resource.type="http_load_balancer"\n'
        f'resource.labels.forwarding_rule_name="{forwarding_rule_name}"\n'
        'jsonPayload.statusDetails=~"^client_cert_"'
    )
