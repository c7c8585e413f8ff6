"""`python -m mtls`: offline tools for a gke-mtls project; no cloud credentials needed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mtls import config_docs, offline, plan, stack_files


def _plan(args: argparse.Namespace) -> int:
    root = Path(args.project_root)
    try:
        config = stack_files.read_stack_config(root, args.stack)
    except stack_files.StackFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    placeholders = offline.Placeholders(backend_name=args.backend_name, backend_scheme=args.backend_scheme)
    recording = offline.run_program(args.stack, config, placeholders, project_root=root)
    for message in recording.messages("warning"):
        print(f"warning: {message}", file=sys.stderr)
    if recording.error is not None:
        for message in recording.messages("error"):
            print(f"error: {message}", file=sys.stderr)
        print(f"error: {recording.error}", file=sys.stderr)
        return 1
    print(plan.render(recording, placeholders))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mtls", description=__doc__)
    parser.add_argument("--project-root", default=str(offline.PROJECT_ROOT), help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("plan", help="print what a stack would create (the real program under the mock engine)")
    p.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    p.add_argument("--backend-name", default=offline.Placeholders.backend_name,
                   help="placeholder for the backend service name the StackReference would return")
    p.add_argument("--backend-scheme", default=offline.Placeholders.backend_scheme,
                   help="placeholder for that backend service's load-balancing scheme")
    p.set_defaults(run=_plan)

    d = commands.add_parser("docs", help="print the config key reference (markdown) that README.md embeds")
    d.set_defaults(run=lambda _args: print(config_docs.reference()) or 0)

    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
