"""The fuzzed contract, longer: as tests/program/test_fuzzed_contract.py, but many more cases, counted instead of
stopping at the first failure.

    python bench/fuzz.py [--cases 10000] [--seed 20261128] [--failures failures.jsonl]

Prints how many mutations were refused and accepted, and how many ended in a traceback or were accepted with an
object the real APIs would refuse; each of those is written to --failures. Exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402

from tests.program import contract  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--failures", default="fuzz-failures.jsonl")
    args = parser.parse_args()
    counts: collections.Counter[str] = collections.Counter()
    failures: list[dict[str, object]] = []

    @seed(args.seed)
    @settings(
        max_examples=args.cases,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(contract.mutated_stacks())
    def run(case: tuple[str, dict[str, str]]) -> None:
        stack, config = case
        counts["cases"] += 1
        try:
            outcome, broken = contract.verdict(stack, config)
        except BaseException as exc:
            counts["traceback"] += 1
            failures.append({"stack": stack, "config": config, "traceback": traceback.format_exc(limit=4)})
            if isinstance(exc, KeyboardInterrupt):
                raise
            return
        counts[outcome] += 1
        if broken:
            counts["accepted but invalid" if outcome == "accepted" else "refused badly"] += 1
            failures.append({"stack": stack, "config": config, "broken": broken})

    started = time.perf_counter()
    run()
    elapsed = time.perf_counter() - started
    with open(args.failures, "w", encoding="utf-8") as out:
        for failure in failures:
            out.write(json.dumps(failure)[:20_000] + "\n")
    print(f"seed {args.seed}: {counts['cases']} cases in {elapsed:.0f} s")
    for what in ("refused", "accepted", "traceback", "accepted but invalid", "refused badly"):
        print(f"  {what}: {counts[what]}")
    print(f"failures written to {args.failures}" if failures else "no failure")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
