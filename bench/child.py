"""One measured run in a fresh process: the real program, or the floor, through the same mock engine.

    python bench/child.py program CONFIG.json RESULT.json [DUMP.json]
    python bench/child.py floor RESOURCES.json RESULT.json
    python bench/child.py preflight CONFIG.json RESULT.json

Both first import the same Pulumi SDK modules, so the timed part is evaluation: what a preview pays on top of
starting Python and loading the providers' SDKs (with the mock engine's cheaper stack capture, which sends the same
frames as the SDK's). `preflight` times the settings preflight alone, as a run pays it
(Istio's schemas loaded cold). Each reports its wall time and its CPU time, which another process on the machine
moves less.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pulumi_gcp as gcp  # noqa: E402
import pulumi_kubernetes as k8s  # noqa: E402

# The SDK classes of the program's resource types. Their modules load lazily, on first attribute access.
SDK_CLASSES = (
    gcp.compute.GlobalAddress,
    gcp.certificatemanager.TrustConfig,
    gcp.networksecurity.ServerTlsPolicy,
    gcp.logging.Metric,
    gcp.monitoring.AlertPolicy,
    k8s.Provider,
    k8s.apiextensions.CustomResource,
    k8s.core.v1.ServicePatch,
    k8s.networking.v1.Ingress,
)

from mtls import offline  # noqa: E402


def main() -> None:
    mode, source, result = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    if mode == "program":
        config = json.loads(source.read_text())
        started, cpu = time.perf_counter(), time.process_time()
        recording = offline.run_program("bench", config, offline.Placeholders(), ROOT)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        if recording.error is not None:
            raise SystemExit(f"the program failed: {recording.error}")
        if len(sys.argv) > 4:  # what the floor registers: every resource a provider handles, as recorded
            resources = [
                {"type": r.type, "name": r.name, "inputs": r.inputs, "protect": r.protect, "provider": bool(r.provider)}
                for r in recording.resources
                if r.custom and not r.read
            ]
            Path(sys.argv[4]).write_text(
                json.dumps({"resources": resources, "invokes": [[i.token, i.args] for i in recording.invokes]})
            )
    elif mode == "preflight":
        from components.stack import preflight

        config = json.loads(source.read_text())
        started, cpu = time.perf_counter(), time.process_time()
        stack_settings, findings = preflight.check_stack(config, ROOT, "bench")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        if stack_settings is None:
            raise SystemExit(f"the preflight failed: {[str(f) for f in findings]}")
        result.write_text(json.dumps({"seconds": seconds, "cpu": cpu, "resources": 0}))
        return
    else:
        os.environ["BENCH_FLOOR_RESOURCES"] = str(source)
        started, cpu = time.perf_counter(), time.process_time()
        recording = offline.run_program("bench", {}, offline.Placeholders(), ROOT / "bench" / "floor")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        if recording.error is not None:
            raise SystemExit(f"the floor failed: {recording.error}")
    registered = sum(1 for r in recording.resources if r.custom and not r.read)
    result.write_text(json.dumps({"seconds": seconds, "cpu": cpu, "resources": registered}))


if __name__ == "__main__":
    main()
