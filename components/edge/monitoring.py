"""Where the edge's rejected client certificates show up: the load balancer's request logs."""

from __future__ import annotations

from components.core.findings import Finding, error

METRIC_LABEL = "status_details"
# Cloud Logging limits a metric identifier to 100 characters (LogMetric.name in logging v2).
MAX_METRIC_NAME = 100
# The monitored resource of the series a log-based metric counts from global external and classic Application Load
# Balancer request logs (Google's "Cloud CDN logging and monitoring" page); an alert must restrict `resource.type`.
METRIC_RESOURCE_TYPE = "l7_lb_rule"
LOG_RESOURCE_TYPE = "http_load_balancer"
# A regional external Application Load Balancer logs to loadbalancing.googleapis.com/external_regional_requests, of
# monitored resource http_external_regional_lb_rule (https://cloud.google.com/logging/docs/api/platform-logs), which
# its log-based metrics keep.
REGIONAL_RESOURCE_TYPE = "http_external_regional_lb_rule"


def metric_name(stack: str) -> str:
    return f"gke-mtls-{stack}-rejected-client-certificates"


def check_stack_name(stack: str) -> list[Finding]:
    """The metric's name holds the stack's, so a long stack name would fail at `pulumi up`."""
    name = metric_name(stack)
    if len(name) <= MAX_METRIC_NAME:
        return []
    room = MAX_METRIC_NAME - len(metric_name(""))
    return [
        error(
            "config.metric-name",
            f"stack {stack}",
            f"the edge's log-based metric would be named {name[:40]}... ({len(name)} characters), and Cloud Logging "
            f"takes at most {MAX_METRIC_NAME}: use a stack name of at most {room} characters.",
        )
    ]


def alert_filter(metric: str, regional: bool = False) -> str:
    resource = REGIONAL_RESOURCE_TYPE if regional else METRIC_RESOURCE_TYPE
    return f'resource.type="{resource}" AND metric.type="logging.googleapis.com/user/{metric}"'


def rejected_clients_filter(forwarding_rule_name: str, regional: bool = False) -> str:
    """Logs Explorer query (and log-based metric filter) for connections the edge closed over a client certificate."""
    return (
        f'resource.type="{REGIONAL_RESOURCE_TYPE if regional else LOG_RESOURCE_TYPE}"\n'
        f'resource.labels.forwarding_rule_name="{forwarding_rule_name}"\n'
        'jsonPayload.statusDetails=~"^client_cert_"'
    )
