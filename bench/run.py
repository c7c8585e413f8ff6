"""Benchmark: the program's evaluation at mesh scale against the engine's own floor.

    python bench/run.py [--sizes 10 100 1000] [--runs 5]

For each size it generates a stack config, runs the real program through the mock engine in a fresh process
several times, then the floor (the same resources registered directly through the same mocks), and prints one
table and a final `ratio@1000=X.XX` line. It also times the test suite, `python -m mtls plan --stack dev`, and the
commands that must stay light (`check --stack dev`, `--help`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fixtures import stack_config, write_certificates  # noqa: E402
from tests.conftest import engine_config  # noqa: E402


def measure(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return wall, usage.ru_maxrss / 1024  # Linux reports KiB


def run_child(mode: str, source: Path, workdir: Path, extra: list[str] | None = None) -> dict[str, float]:
    result = workdir / f"{mode}-result.json"
    _, rss = measure([sys.executable, str(ROOT / "bench" / "child.py"), mode, str(source), str(result), *(extra or [])])
    measured = json.loads(result.read_text())
    return {"seconds": measured["seconds"], "resources": measured["resources"], "rss": rss}


def bench_size(size: int, runs: int, workdir: Path, certificates: dict[str, list[str]]) -> dict[str, float]:
    config = workdir / f"stack-{size}.json"
    config.write_text(json.dumps(engine_config(stack_config(size, certificates))))
    floor_input = workdir / f"floor-{size}.json"
    run_child("program", config, workdir, [str(floor_input)])  # warm-up, and records what the floor registers
    program = [run_child("program", config, workdir) for _ in range(runs)]
    floor = [run_child("floor", floor_input, workdir) for _ in range(runs)]
    assert program[0]["resources"] == floor[0]["resources"], "the floor must register what the program does"
    return {
        "size": size,
        "resources": program[0]["resources"],
        "program": statistics.median(r["seconds"] for r in program),
        "floor": statistics.median(r["seconds"] for r in floor),
        "program_rss": max(r["rss"] for r in program),
        "floor_rss": max(r["rss"] for r in floor),
    }


def wall(command: list[str]) -> float:
    """Wall time of a command that must succeed; when it fails, its own output says why (no traceback here)."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stdout}{done.stderr}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gke-mtls-bench-") as tmp:
        workdir = Path(tmp)
        certificates = write_certificates(workdir / "certs")
        rows = [bench_size(size, args.runs, workdir, certificates) for size in args.sizes]
    print(
        f"{'workloads':>9} {'resources':>9} {'program s':>9} {'floor s':>8} {'ratio':>6} "
        f"{'program RSS MiB':>15} {'floor RSS MiB':>13} {'RSS ratio':>9}"
    )
    for r in rows:
        print(
            f"{r['size']:>9} {r['resources']:>9} {r['program']:>9.3f} {r['floor']:>8.3f} "
            f"{r['program'] / r['floor']:>6.2f} {r['program_rss']:>15.1f} {r['floor_rss']:>13.1f} "
            f"{r['program_rss'] / r['floor_rss']:>9.2f}"
        )
    by_size = {r["size"]: r for r in rows}
    if 100 in by_size and 1000 in by_size:
        growth = (by_size[1000]["program"] / by_size[100]["program"]) / (
            by_size[1000]["resources"] / by_size[100]["resources"]
        )
        print(f"growth 100->1000 relative to resources: {growth:.2f} (1.00 = linear)")
    suite = wall([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"])
    plan = statistics.median(wall([sys.executable, "-m", "mtls", "plan", "--stack", "dev"]) for _ in range(3))
    # The commands that do not load Pulumi; the target is "well under a second", interpreter start included.
    check = statistics.median(wall([sys.executable, "-m", "mtls", "check", "--stack", "dev"]) for _ in range(5))
    usage = statistics.median(wall([sys.executable, "-m", "mtls", "--help"]) for _ in range(5))
    print(f"test suite wall time: {suite:.1f} s")
    print(f"plan --stack dev wall time: {plan:.2f} s")
    print(f"check --stack dev wall time: {check:.2f} s, --help: {usage:.2f} s (target: well under 1 s)")
    if 1000 in by_size:
        print(f"ratio@1000={by_size[1000]['program'] / by_size[1000]['floor']:.2f}")


if __name__ == "__main__":
    main()
