"""Who still sends plaintext to what the stack migrates: the queries that answer it, and the verdict on their result.

Istio's standard metrics (https://istio.io/latest/docs/reference/config/metrics/) carry `connection_security_policy`:
`mutual_tls` or `none` where the destination reports. Their labels name workloads and namespaces, not ports. The
same PromQL runs on Google Cloud Managed Service for Prometheus through its Prometheus-compatible API. Cloud Service
Mesh's traffic logs go to `server-accesslog-stackdriver`, with `service_authentication_policy` (`MUTUAL_TLS`/`NONE`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from components.core.findings import Finding, error, note
from components.mesh.analysis.transport import Arrival
from components.mesh.settings import KEY, MeshSettings, workload_key

# Requests and connections that arrived without mTLS, as the destination's sidecar saw them.
PLAINTEXT = 'reporter="destination", connection_security_policy!="mutual_tls"'
WINDOW = "7d"  # long enough to see weekly jobs; change it in the query to suit
GROUPING = (
    "destination_workload_namespace, destination_app, destination_workload, source_workload_namespace, source_workload"
)
MAX_RESULT_BYTES = 50_000_000


@dataclass(frozen=True)
class Target:
    """A namespace, or an `app`-labelled workload, on its way to STRICT."""

    key: str
    stage: str
    namespace: str
    app: str | None = None

    @property
    def name(self) -> str:
        return f"{self.namespace}/{{app: {self.app}}}" if self.app else f"namespace {self.namespace}"


def targets(mesh: MeshSettings) -> list[Target]:
    found = [Target(f"{KEY}.migration.{ns}", stage, ns) for ns, stage in mesh.migration.items()]
    for i, w in enumerate(mesh.workloads):
        if w.stage is not None:
            # Istio's metrics carry the pod's `app` label (destination_app); other labels do not reach them.
            found.append(Target(f"{workload_key(i)}.stage", w.stage, w.namespace, w.selector.get("app")))
    return found


def _matcher(chosen: Sequence[Target]) -> str:
    namespaces = "|".join(sorted({t.namespace for t in chosen}))
    return f'{PLAINTEXT}, destination_workload_namespace=~"{namespaces}"'


def promql(chosen: Sequence[Target], window: str = WINDOW) -> str:
    """One instant query: plaintext HTTP requests and TCP connections by source and destination, tagged `protocol`."""
    parts = [
        f'label_replace(sum by ({GROUPING}) (increase({metric}{{{_matcher(chosen)}}}[{window}])), "protocol", '
        f'"{protocol}", "", "")'
        for metric, protocol in (("istio_requests_total", "http"), ("istio_tcp_connections_opened_total", "tcp"))
    ]
    return "\nor\n".join(parts)


def alert_query(chosen: Sequence[Target]) -> str:
    """Plaintext reaching what is at `enforce`, by source and destination: a regression (a new exception, a mode
    changed by hand), since STRICT refuses plaintext before Istio counts it."""
    by = "destination_workload_namespace, destination_workload, source_workload_namespace, source_workload"
    parts = []
    for target in chosen:
        where = f'destination_workload_namespace="{target.namespace}"'
        if target.app:
            where += f', destination_app="{target.app}"'
        for metric in ("istio_requests_total", "istio_tcp_connections_opened_total"):
            matcher = f"{PLAINTEXT}, {where}"
            parts.append(f"sum by ({by}) (rate({metric}{{{matcher}}}[5m])) > 0")
    return "\nor\n".join(parts)


def log_filter(chosen: Sequence[Target], project: str) -> str:
    namespaces = " OR ".join(f'"{ns}"' for ns in sorted({t.namespace for t in chosen}))
    return (
        f'logName="projects/{project}/logs/server-accesslog-stackdriver"\n'
        f"labels.destination_namespace=({namespaces})\n"
        'labels.service_authentication_policy!="MUTUAL_TLS"'
    )


def instructions(chosen: Sequence[Target], stack: str, project: str) -> str:
    """What `migration` prints without a result: the query, how to save its result, and the log filter."""
    covered = ", ".join(f"{t.name} ({t.stage})" for t in chosen)
    gmp = f"https://monitoring.googleapis.com/v1/projects/{project}/location/global/prometheus/api/v1/query"
    return "\n".join(
        [
            f"# Who still sends plaintext to {covered}: an instant PromQL query over Istio's standard metrics,",
            f"# counting plaintext requests and connections in the last {WINDOW}. Save it as plaintext.promql:",
            promql(chosen),
            "",
            "# Run it and save the JSON result, from your Prometheus:",
            "#   curl -s http://PROMETHEUS:9090/api/v1/query --data-urlencode query@plaintext.promql > result.json",
            "# or from Google Cloud Managed Service for Prometheus:",
            '#   curl -s -H "Authorization: Bearer $(gcloud auth print-access-token)" \\',
            f"#     {gmp} --data-urlencode query@plaintext.promql > result.json",
            f"# then: python -m mtls migration --stack {stack} --prometheus result.json",
            "",
            "# Cloud Service Mesh traffic logs in Cloud Logging (Logs Explorer): plaintext requests one by one:",
            log_filter(chosen, project),
            "",
            "# The dry-run policies of `observe` record the same requests in Envoy: RBAC statistics with",
            '# authz_dry_run_result="denied", the trace tags istio.authorization.dry_run.deny_policy.*, and for an',
            "# access log format %DYNAMIC_METADATA(envoy.filters.http.rbac:istio_dry_run_deny_shadow_engine_result)%.",
        ]
    )


# --- the result -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    labels: Mapping[str, str]
    value: float


def read_result(path: str) -> tuple[list[Sample], list[Finding]]:
    """A saved `/api/v1/query` response (https://prometheus.io/docs/prometheus/latest/querying/api/): status
    `success`, and `data.result` an instant vector of `{metric, value: [time, "number"]}`."""

    def problem(text: str) -> tuple[list[Sample], list[Finding]]:
        return [], [error("migration.file", path, f"{text} Save the JSON that /api/v1/query returns for the query.")]

    file = Path(path)
    try:
        if not file.is_file():
            return problem("is not a file.")
        if file.stat().st_size > MAX_RESULT_BYTES:
            return problem(
                f"is over {MAX_RESULT_BYTES // 1_000_000} MB; a vector of one line per caller is far smaller."
            )
        document = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return problem(f"cannot be read ({exc.__class__.__name__}).")
    except ValueError as exc:
        return problem(f"is not JSON ({exc}).")
    if not isinstance(document, dict) or document.get("status") != "success":
        status = document.get("status") if isinstance(document, dict) else None
        return problem(f"is not a successful Prometheus API response (status {status!r}).")
    data = document.get("data")
    kind = data.get("resultType") if isinstance(data, dict) else None
    if not isinstance(data, dict) or kind != "vector":
        return problem(f"holds a {kind!r} result; the query is an instant query, whose result is a 'vector'.")
    samples = []
    for i, item in enumerate(data.get("result") or []):
        metric = item.get("metric") if isinstance(item, dict) else None
        value = item.get("value") if isinstance(item, dict) else None
        counted = value[1] if isinstance(value, list) and len(value) == 2 else None
        try:
            number = float(counted) if counted is not None else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not isinstance(metric, dict) or math.isnan(number):
            return problem(f'result[{i}] is not a sample of the form {{metric: {{...}}, value: [time, "number"]}}.')
        if math.isinf(number):
            return problem(f"result[{i}] counts {counted!r}, not a finite number of requests or connections.")
        samples.append(Sample({str(k): str(v) for k, v in metric.items()}, number))
    return samples, []


def _concerns(target: Target, sample: Sample) -> bool:
    """Plaintext to the target: a result of a broader query may also hold mTLS samples, which never block."""
    labels = sample.labels
    return (
        labels.get("connection_security_policy") != "mutual_tls"
        and labels.get("destination_workload_namespace") == target.namespace
        and (target.app is None or labels.get("destination_app") == target.app)
    )


def _source(sample: Sample) -> str:
    workload, namespace = (
        sample.labels.get("source_workload", "unknown"),
        sample.labels.get("source_workload_namespace"),
    )
    if workload == "unknown" or not namespace or namespace == "unknown":
        return "clients without a sidecar (Istio names them `unknown`)"
    return f"{namespace}/{workload}"


def verdicts(chosen: Sequence[Target], samples: Sequence[Sample], arrivals: Sequence[Arrival]) -> list[Finding]:
    """For each target: ready for STRICT (no plaintext in the window), or blocked, naming who would break and
    whether a declared caller whose requests arrive as plaintext covers them."""
    found = []
    for target in chosen:
        seen = [s for s in samples if _concerns(target, s) and s.value > 0]
        if not seen:
            found.append(
                note(
                    "migration.ready",
                    target.key,
                    f"{target.name} is ready for STRICT: Istio's metrics show no plaintext request or connection "
                    f"to it in the window{'' if target.stage == 'observe' else ' (it is already at enforce)'}.",
                )
            )
            continue
        declared: dict[str, str] = {}  # caller -> why its sidecar sends plaintext ("" without a sidecar)
        for arrival in arrivals:
            if arrival.plaintext and arrival.caller.namespace == target.namespace:
                why = arrival.sent.why if arrival.caller.sidecar else ""
                declared.setdefault(arrival.caller.name, why)
        lines = []
        for s in sorted(seen, key=lambda s: -s.value):
            unit = "connections" if s.labels.get("protocol") == "tcp" else "requests"
            destination = s.labels.get("destination_workload", "?")
            lines.append(f"{_source(s)} -> {destination}: {round(s.value)} plaintext {unit}")
        names = ", ".join(
            f"{name} (its sidecar sends plaintext: {why})" if why else name for name, why in declared.items()
        )
        if not declared:
            cover = "None of them is declared in gke-mtls:mesh.callers"
        elif all(why for why in declared.values()):  # only sidecars, sending plaintext where a port or rule says so
            cover = f"Declared plaintext callers there: {names}"
        else:
            cover = (
                f"Declared plaintext callers there: {names} (give them a sidecar, or keep a PERMISSIVE exception for "
                "their ports)"
            )
        found.append(
            error(
                "migration.blocked",
                target.key,
                f"{target.name} is not ready for STRICT; these would break: {'; '.join(lines)}. {cover}.",
            )
        )
    return found
