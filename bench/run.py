"""Benchmark: the program's evaluation at mesh scale against the engine's own floor, the preflight, and the commands
that must stay light.

    python bench/run.py [--sizes 10 100 1000] [--pairs 7] [--no-suite]

For each size it generates a stack config and runs, in fresh processes, the real program through the mock engine and
the floor (the same resources registered directly through the same mocks) in pairs: one right after the other, the
order alternating from pair to pair. A change of load on the machine (another developer's tests) then moves both
runs of a pair rather than a block of one kind, so each pair gives a ratio, and the table reports the median of those
ratios with their range. The last line is `ratio@1000=X.XX`, that median at 1,000 workloads.

It also times the preflight alone at 1,000 workloads in a fresh process (as a run pays it: Istio's schemas loaded
cold), the test suite, `plan --stack dev`, and the commands that must stay light, each as its own time over a bare
interpreter start measured beside it.
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

BARE = [sys.executable, "-c", "pass"]


def measure(command: list[str]) -> float:
    """Peak RSS in MiB of one child process that must succeed."""
    process = subprocess.Popen(command, cwd=ROOT)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return usage.ru_maxrss / 1024  # Linux reports KiB


def run_child(mode: str, source: Path, workdir: Path, extra: list[str] | None = None) -> dict[str, float]:
    result = workdir / f"{mode}-result.json"
    rss = measure([sys.executable, str(ROOT / "bench" / "child.py"), mode, str(source), str(result), *(extra or [])])
    measured = json.loads(result.read_text())
    return {"seconds": measured["seconds"], "cpu": measured["cpu"], "resources": measured["resources"], "rss": rss}


def bench_size(size: int, pairs: int, workdir: Path, certificates: dict[str, list[str]]) -> dict[str, float]:
    config = workdir / f"stack-{size}.json"
    config.write_text(json.dumps(engine_config(stack_config(size, certificates))))
    floor_input = workdir / f"floor-{size}.json"
    run_child("program", config, workdir, [str(floor_input)])  # warm-up, and records what the floor registers
    program, floor = [], []
    for pair in range(pairs):
        if pair % 2 == 0:
            program.append(run_child("program", config, workdir))
            floor.append(run_child("floor", floor_input, workdir))
        else:
            floor.append(run_child("floor", floor_input, workdir))
            program.append(run_child("program", config, workdir))
    assert program[0]["resources"] == floor[0]["resources"], "the floor must register what the program does"
    ratios = sorted(p["seconds"] / f["seconds"] for p, f in zip(program, floor, strict=True))
    cpu_ratios = sorted(p["cpu"] / f["cpu"] for p, f in zip(program, floor, strict=True))
    return {
        "size": size,
        "resources": program[0]["resources"],
        "program": statistics.median(r["seconds"] for r in program),
        "floor": statistics.median(r["seconds"] for r in floor),
        "ratio": statistics.median(ratios),
        "low": ratios[0],
        "high": ratios[-1],
        "cpu_ratio": statistics.median(cpu_ratios),
        "program_rss": max(r["rss"] for r in program),
        "floor_rss": max(r["rss"] for r in floor),
    }


def preflight_seconds(size: int, runs: int, workdir: Path) -> tuple[float, float]:
    """The whole preflight of the generated stack in a fresh process, as the program pays it: median wall and CPU
    seconds."""
    config = workdir / f"stack-{size}.json"
    measured = [run_child("preflight", config, workdir) for _ in range(runs)]
    return statistics.median(m["seconds"] for m in measured), statistics.median(m["cpu"] for m in measured)


def wall(command: list[str], codes: tuple[int, ...] = (0,)) -> float:
    """Wall time of a command that must end with one of `codes`; when not, its own output says why."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in codes:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stdout}{done.stderr}")
    return seconds


def light_commands(workdir: Path, runs: int) -> dict[str, float]:
    """Each command's own time: its wall time less that of a bare interpreter started right before it (median)."""
    istio = workdir / "peer-authentication.yaml"
    istio.write_text(
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: shop}\n"
        "spec: {mtls: {mode: STRICT}}\n"
    )
    mtls = [sys.executable, "-m", "mtls"]
    commands: dict[str, tuple[list[str], tuple[int, ...]]] = {
        "--help": ([*mtls, "--help"], (0,)),
        "check --stack dev": ([*mtls, "check", "--stack", "dev"], (0,)),
        "cert": ([*mtls, "cert", "--role", "anchor", "certs/dev/root-ca.pem"], (0,)),
        "client --stack dev": ([*mtls, "client", "--stack", "dev", "certs/dev/root-ca.pem"], (0, 1)),
        "docs": ([*mtls, "docs"], (0,)),
        "validate (one file)": ([*mtls, "validate", str(istio)], (0,)),
    }
    own: dict[str, list[float]] = {name: [] for name in commands}
    bare: list[float] = []
    for _ in range(runs):
        for name, (command, codes) in commands.items():
            start = wall(BARE)
            bare.append(start)
            own[name].append(wall(command, codes) - start)
    return {"bare interpreter": statistics.median(bare), **{n: statistics.median(t) for n, t in own.items()}}


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--pairs", type=int, default=7, help="program/floor pairs per size; default: 7")
    parser.add_argument("--no-suite", action="store_true", help="skip timing the test suite")
    args = parser.parse_args()
    print(f"load average at the start: {load()}")
    with tempfile.TemporaryDirectory(prefix="gke-mtls-bench-") as tmp:
        workdir = Path(tmp)
        certificates = write_certificates(workdir / "certs")
        rows = [bench_size(size, args.pairs, workdir, certificates) for size in args.sizes]
        preflight = preflight_seconds(max(args.sizes), 5, workdir)
        light = light_commands(workdir, 5)
    print(
        f"{'workloads':>9} {'resources':>9} {'program s':>9} {'floor s':>8} {'ratio':>6} {'range':>11} "
        f"{'CPU ratio':>9} {'program RSS MiB':>15} {'floor RSS MiB':>13} {'RSS ratio':>9}"
    )
    for r in rows:
        print(
            f"{r['size']:>9} {r['resources']:>9} {r['program']:>9.3f} {r['floor']:>8.3f} {r['ratio']:>6.2f} "
            f"{r['low']:>5.2f}-{r['high']:<5.2f} {r['cpu_ratio']:>9.2f} {r['program_rss']:>15.1f} "
            f"{r['floor_rss']:>13.1f} {r['program_rss'] / r['floor_rss']:>9.2f}"
        )
    print(
        f"(times: medians of {args.pairs} runs; ratio: median of the pairwise ratios of wall time, range: "
        "lowest-highest; CPU ratio: the same of CPU time)"
    )
    by_size = {r["size"]: r for r in rows}
    if 100 in by_size and 1000 in by_size:
        growth = (by_size[1000]["program"] / by_size[100]["program"]) / (
            by_size[1000]["resources"] / by_size[100]["resources"]
        )
        print(f"growth 100->1000 relative to resources: {growth:.2f} (1.00 = linear)")
    print(
        f"preflight at {max(args.sizes)} workloads, fresh process: {preflight[0]:.3f} s wall, {preflight[1]:.3f} s CPU "
        "(target at 1000: 0.3 s)"
    )
    if not args.no_suite:
        suite = wall([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"])
        print(f"test suite wall time: {suite:.1f} s")
    plan = statistics.median(wall([sys.executable, "-m", "mtls", "plan", "--stack", "dev"]) for _ in range(3))
    print(f"plan --stack dev wall time: {plan:.2f} s")
    print(
        f"bare interpreter start: {light.pop('bare interpreter'):.3f} s; the light commands' own time over it "
        "(target: well under 0.5 s):"
    )
    for name, seconds in light.items():
        print(f"  {name}: {seconds:.3f} s")
    print(f"load average at the end: {load()}")
    if 1000 in by_size:
        print(f"ratio@1000={by_size[1000]['ratio']:.2f}")


if __name__ == "__main__":
    main()
