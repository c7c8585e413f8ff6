"""Counts the client certificates the edge rejects, by GCP's statusDetails, and optionally alerts on them."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from mtls.edge_monitoring import METRIC_LABEL, metric_name, rejected_clients_filter
from mtls.settings import RejectedClientsAlert


@dataclass(frozen=True)
class EdgeMonitoringArgs:
    stack: str
    forwarding_rule_name: pulumi.Output[str]
    alert: RejectedClientsAlert | None


class EdgeMonitoring(pulumi.ComponentResource):
    log_query: pulumi.Output[str]

    def __init__(self, name: str, args: EdgeMonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-mtls:edge:EdgeMonitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.log_query = args.forwarding_rule_name.apply(rejected_clients_filter)
        metric = gcp.logging.Metric(
            f"{name}-rejected-clients",
            name=metric_name(args.stack),
            description="Client certificates the gke-mtls edge rejected, by statusDetails",
            filter=self.log_query,
            metric_descriptor={
                "metric_kind": "DELTA",
                "value_type": "INT64",
                "unit": "1",
                "display_name": "Rejected client certificates",
                "labels": [{"key": METRIC_LABEL, "value_type": "STRING", "description": "GCP's statusDetails"}],
            },
            label_extractors={METRIC_LABEL: "EXTRACT(jsonPayload.statusDetails)"},
            # delete_before_replace: the API needs a fixed metric name, so a replacement cannot coexist with the old.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        if args.alert is not None:
            gcp.monitoring.AlertPolicy(
                f"{name}-rejected-clients-alert",
                display_name=f"gke-mtls {args.stack}: clients rejected at the mTLS edge",
                combiner="OR",
                conditions=[
                    {
                        "display_name": f"more than {args.alert.threshold} rejected client certificates",
                        "condition_threshold": {
                            "filter": metric.name.apply(lambda n: f'metric.type="logging.googleapis.com/user/{n}"'),
                            "comparison": "COMPARISON_GT",
                            "threshold_value": args.alert.threshold,
                            "duration": "0s",
                            "aggregations": [
                                {
                                    "alignment_period": f"{args.alert.window_seconds}s",
                                    "per_series_aligner": "ALIGN_SUM",
                                    "cross_series_reducer": "REDUCE_SUM",
                                    "group_by_fields": [f"metric.label.{METRIC_LABEL}"],
                                }
                            ],
                        },
                    }
                ],
                notification_channels=list(args.alert.notification_channels),
                documentation={
                    "content": "Clients are failing the edge's certificate check. `statusDetails` says why (for "
                    "example client_cert_chain_invalid_eku); check a client with `python -m mtls client`.",
                    "mime_type": "text/markdown",
                },
                opts=child,
            )
        self.register_outputs({"logQuery": self.log_query})
