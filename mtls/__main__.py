"""`python -m mtls`: offline tools for a gke-mtls project; no cloud credentials needed.

Only `plan` loads Pulumi. Istio's schemas load where Istio objects are checked: `validate`, `analyze`,
`import`, and the stack commands of a stack with a mesh (its generated objects get the cluster's verdict).
Each command imports what it uses when it runs, so that `--help` and the light commands start quickly
(tests/cli/test_light_commands.py pins what each loads).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.core.findings import Finding, Severity, error, errors, note, warning
from components.edge.roles import ROLES
from mtls import offline, stack_files

if TYPE_CHECKING:
    from components.edge import pem
    from components.stack.settings import StackSettings


def _project_root(args: argparse.Namespace) -> Path:
    """Where the stack files are: the project the Pulumi CLI would find from the current directory (or -C)."""
    if args.project_root is not None:
        return Path(args.project_root)
    return stack_files.find_project(Path(args.cwd or "."))


def _plan(args: argparse.Namespace) -> int:
    from mtls import plan, shared_stacks

    root = _project_root(args)
    stack_file = stack_files.read_stack(root, args.stack)
    config = stack_file.config
    notes = shared_stacks.findings(root, args.stack)
    if stack_file.environments:  # a key the file lacks may be there: said before the program stops on it
        notes += [f for f in _stack_findings(args)[1] if f.code == "stack.environment"]
    for finding in notes:
        print(f"{finding.severity.value}: {finding}", file=sys.stderr)
    project = config.get("gcp:project") or offline.Placeholders.project
    placeholders = offline.Placeholders(
        backend_name=args.backend_name, backend_scheme=args.backend_scheme, project=project
    )
    placeholders = offline.completed(config, placeholders, root)  # so the plan names what stood in
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


def _stack_findings(args: argparse.Namespace) -> tuple[StackSettings | None, list[Finding]]:
    """The stack's settings and findings; a key its file lacks but a Pulumi ESC environment may hold is said in one
    line (StackFileError)."""
    root = _project_root(args)
    stack_file = stack_files.read_stack(root, args.stack)

    from components.stack import preflight  # after the stack file: a file that cannot be read fails fast

    stack_settings, findings = preflight.check_stack(stack_file.config, root, args.stack)
    return stack_settings, stack_files.environment_findings(stack_file, findings)


def _report(name: str, findings: list[Finding], as_json: bool = False) -> int:
    """Findings on stdout, then a count (or one JSON object); exit 1 when an error stands."""
    counts = Counter(f.severity for f in findings)
    if as_json:
        _print_json(name, findings)
        return 1 if errors(findings) else 0
    for finding in findings:
        print(f"{finding.severity.value}: {finding}")
    summary = ", ".join(f"{counts[s]} {s.value}(s)" for s in Severity if counts[s] or s is not Severity.NOTE)
    print(f"{name}: {summary}" if findings else f"{name}: ok")
    return 1 if errors(findings) else 0


def _print_json(name: str, findings: list[Finding]) -> None:
    """One object, the shape mtls/report.schema.json gives: the findings and their counts."""
    counts = Counter(f.severity for f in findings)
    listed = [{"severity": f.severity.value, "code": f.code, "key": f.key, "message": f.message} for f in findings]
    print(json.dumps({"name": name, "findings": listed, **{f"{s.value}s": counts[s] for s in Severity}}, indent=2))


def _check(args: argparse.Namespace) -> int:
    from mtls import shared_stacks

    stack_settings, findings = _stack_findings(args)
    if stack_settings is not None:
        findings += shared_stacks.findings(_project_root(args), args.stack, stack_settings)
    return _report(args.stack, findings, args.json)


def _migration(args: argparse.Namespace) -> int:
    from components.mesh.analysis import migration
    from components.stack import istio_resources

    stack_settings, findings = _stack_findings(args)
    if stack_settings is None:
        return _report(f"{args.stack} (its settings)", findings, args.json)
    mesh = stack_settings.mesh
    chosen = migration.targets(mesh) if mesh is not None else []
    if not chosen:
        print(
            f"error: stack {args.stack!r} migrates nothing: give a namespace a stage in gke-mtls:mesh.migration "
            "(observe, then enforce), or a workload a `stage`.",
            file=sys.stderr,
        )
        return 2
    if args.prometheus is None:
        project = stack_files.read_stack_config(_project_root(args), args.stack).get("gcp:project", "PROJECT_ID")
        print(migration.instructions(chosen, args.stack, project))
        return 0
    samples, problems = migration.read_result(args.prometheus)
    if problems:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    arrivals = istio_resources.arrivals(stack_settings)
    return _report(f"{args.stack} migration", migration.verdicts(chosen, samples, arrivals), args.json)


def _read(path: str) -> tuple[list[pem.LoadedCertificate], list[Finding]]:
    from components.edge import pem

    return pem.read_pem_file(path, path, code="cert.file")


def _cert(args: argparse.Namespace) -> int:
    if args.role == MESH_CA:
        return _mesh_ca(args)
    from components.edge import certificates, pem

    now = dt.datetime.now(dt.UTC)
    failed = unreadable = False
    every: list[Finding] = []
    for path in args.files:
        loaded, findings = _read(path)
        unreadable |= any(f.code == "cert.file" for f in findings)
        findings += pem.one_per_file(loaded, path, path)
        for one in loaded:
            findings += [
                one.finding(v)
                for v in certificates.role_violations(one.certificate, args.role, now, args.expiry_warning_days)
            ]
        failed |= not loaded or bool(errors(findings))
        every += findings
        if not args.json:
            reasons = "; ".join(f"{f.severity.value} {f.code}: {f.message}" for f in findings)
            print(f"{path}: {reasons or 'ok'}")
    if args.json:
        _print_json(f"cert --role {args.role}", every)
    return 2 if unreadable else 1 if failed else 0


MESH_CA = "mesh-ca"  # an Istio cacerts folder, not a trust config entry


def _mesh_ca(args: argparse.Namespace) -> int:
    from components.mesh.validation import cacerts

    now = dt.datetime.now(dt.UTC)
    if len(args.files) != 1:
        print(
            "error: --role mesh-ca takes one folder, the cacerts folder (ca-cert.pem, ca-key.pem, ...).",
            file=sys.stderr,
        )
        return 2
    bundle, findings = cacerts.load(args.files[0], now, args.expiry_warning_days)
    if args.previous is not None:
        previous, found = cacerts.load(args.previous, now, args.expiry_warning_days)
        findings += [f for f in found if f.severity is Severity.ERROR]
        if bundle is not None and previous is not None:
            findings += cacerts.change_findings(bundle, previous, now)
    if any(f.code in ("meshca.folder", "meshca.missing", "meshca.file") for f in findings) and not args.json:
        for finding in findings:
            print(f"{finding.severity.value}: {finding}", file=sys.stderr)
        return 2
    return _report(f"{args.files[0]} (mesh CA)", findings, args.json)


def _passing_stack(args: argparse.Namespace) -> StackSettings | None:
    """The stack's settings when it passes preflight; otherwise its errors on stderr."""
    stack_settings, findings = _stack_findings(args)
    if stack_settings is None:
        for finding in errors(findings):
            print(f"error: {finding}", file=sys.stderr)
        print(
            f"error: stack {args.stack!r} does not pass preflight; fix it first (python -m mtls check).",
            file=sys.stderr,
        )
    return stack_settings


def _edge_stack(args: argparse.Namespace) -> StackSettings | None:
    """The stack's settings when it passes preflight and has an edge; otherwise says why on stderr."""
    stack_settings = _passing_stack(args)
    if stack_settings is None:
        return None
    if stack_settings.edge is None:
        print(f"error: stack {args.stack!r} has no gke-mtls:edge, so it holds no certificates.", file=sys.stderr)
        return None
    return stack_settings


def _rotation(args: argparse.Namespace) -> int:
    from components.edge import certificates, rotation

    stack_settings = _edge_stack(args)
    if stack_settings is None or stack_settings.edge is None:
        return 2
    edge = stack_settings.edge
    clients, problems = rotation.load_clients(args.clients, "clients")
    presented = _load_group(args.intermediates, problems)
    if errors(problems) or not clients:
        for problem in errors(problems):
            print(f"error: {problem.message} [{problem.code}]", file=sys.stderr)
        return 2
    clients = [rotation.Client(c.source, c.certificates + presented) for c in clients]
    trusts = stack_settings.trust_phases or {}
    phases = rotation.phases_ahead(edge)
    judged = rotation.verdicts(clients, trusts, phases, dt.datetime.now(dt.UTC))
    labels = [
        f"phase {phase}" + (" (this stack file)" if i == 0 else " (the next pulumi up)" if i == 1 else " (after that)")
        if phase != certificates.BEFORE
        else "no rotation (this stack file)"
        for i, phase in enumerate(phases)
    ]
    if args.json:
        found = [
            error("rotation.locked-out", label, f"locks out {name}: {reasons[0]}")
            if reasons
            else note("rotation.accepted", label, f"lets in {name}")
            for phase, label in zip(phases, labels, strict=True)
            for name, reasons in judged[phase].items()
        ]
        _print_json(f"{args.stack} rotation", found)
        return 1 if errors(found) else 0
    for phase, label in zip(phases, labels, strict=True):
        out = rotation.locked_out(judged[phase])
        verdict = f"locks out {len(out)} of {len(clients)} client(s)" if out else f"all {len(clients)} client(s) get in"
        print(f"{label}: {verdict}")
        for name, reasons in judged[phase].items():
            print(f"  refused: {name}: {reasons[0]}" if reasons else f"  accepted: {name}")
    return 1 if any(rotation.locked_out(judged[phase]) for phase in phases) else 0


def _expiry(args: argparse.Namespace) -> int:
    from components.edge import expiry

    stack_settings = _edge_stack(args)
    if stack_settings is None or stack_settings.edge is None:
        return 2
    edge = stack_settings.edge
    now = dt.datetime.now(dt.UTC)
    trusts = stack_settings.trust_phases or {}
    server = stack_settings.server_certificate.chain if stack_settings.server_certificate is not None else ()
    found: list[Finding] = []
    for held in expiry.held(trusts.values(), server, now):
        what = f"{held.role} {held.source} ({held.subject}): expires {held.not_after:%Y-%m-%d}"
        if held.expired:  # only an allowlisted one: preflight refuses the others
            found.append(warning("expiry.expired", held.key, f"{what}, {-held.days_left} day(s) ago."))
        elif held.days_left < edge.expiry_warning_days:
            found.append(warning("expiry.soon", held.key, f"{what}, in {held.days_left} day(s)."))
        else:
            found.append(note("expiry.days-left", held.key, f"{what}, in {held.days_left} day(s)."))
    return _report(f"{args.stack} expiry", found, args.json)


def _load_group(paths: list[str], problems: list[Finding]) -> tuple[pem.LoadedCertificate, ...]:
    group: list[pem.LoadedCertificate] = []
    for path in paths:
        loaded, found = _read(path)
        problems += found
        group += loaded
    return tuple(group)


def _client(args: argparse.Namespace) -> int:
    from components.edge import certificates, client_check

    problems: list[Finding] = []
    if args.stack:
        stack_settings = _passing_stack(args)
        if stack_settings is None:
            return 2
        if stack_settings.trust is None:
            print(f"error: stack {args.stack!r} has no gke-mtls:edge, so it has no trust config.", file=sys.stderr)
            return 2
        trust = stack_settings.trust
    else:
        trust = certificates.TrustConfig(
            _load_group(args.anchors, problems),
            _load_group(args.intermediates, problems),
            _load_group(args.allowlisted, problems),
        )
    presented = _load_group(args.chain, problems)
    if errors(problems) or not presented:
        for problem in errors(problems):
            print(f"error: {problem.message} [{problem.code}]", file=sys.stderr)
        return 2
    leaf, *rest = presented
    chain = [c.certificate for c in rest]
    reasons = client_check.check_client(leaf.certificate, chain, trust)
    warnings = client_check.client_warnings(leaf.certificate, chain, trust)
    if args.json:
        found = [error("client.rejected", leaf.key, r) for r in reasons]
        _print_json("client", found + [warning("client.warning", leaf.key, w) for w in warnings])
    else:
        for line in reasons or ["accepted"]:
            print(line)
        for line in warnings:
            print(line)
    return 1 if reasons else 0


def _render(args: argparse.Namespace) -> int:
    import yaml

    from components.stack import istio_resources

    class _PlainDumper(yaml.SafeDumper):
        """Writes a value shared by two rules twice, not as a YAML anchor and alias that readers trip over."""

        def ignore_aliases(self, data: object) -> bool:
            return True

    stack_settings, findings = _stack_findings(args)
    for finding in findings:
        print(f"{finding.severity.value}: {finding}", file=sys.stderr)
    if stack_settings is None:
        return 1
    if stack_settings.mesh is None:
        print(f"error: stack {args.stack!r} has no gke-mtls:mesh, so there is nothing to render.", file=sys.stderr)
        return 1
    documents = [m.document for m in istio_resources.for_stack(stack_settings)]
    text = yaml.dump_all(documents, Dumper=_PlainDumper, sort_keys=False, default_flow_style=False)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"error: {args.output}: cannot be written ({exc.strerror}); fix the path.", file=sys.stderr)
            return 2
        print(f"wrote {len(documents)} resources to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from components.mesh.interchange import istio_objects
    from components.mesh.validation import schema as istio_schema

    try:
        schemas = istio_schema.IstioSchemas.load()
    except istio_schema.CrdsMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    documents, unreadable = istio_objects.read_documents(args.files, code="validate.file")
    every: list[Finding] = list(unreadable)
    if not args.json:
        for problem in unreadable:
            print(f"{problem.key}: {problem.message}")
    failed = False
    checked = 0
    for document in documents:
        verdict = schemas.admit(document.body)
        body = document.body if isinstance(document.body, dict) else {}
        metadata = body.get("metadata")
        title = f"{body.get('kind', '?')} {_namespaced(metadata)}"
        skipped = schemas.skipped(document.body)
        if skipped is not None:  # a GitOps folder's Services and Deployments: a cluster accepts them
            every.append(note("validate.skipped", document.key, f"{title}: not checked: {skipped}."))
            if not args.json:
                print(f"{document.key} {title}: not checked ({skipped})")
            continue
        checked += 1
        every += [error("validate.invalid", document.key, f"{title}: {p}") for p in verdict.errors]
        every += [warning("validate.warning", document.key, f"{title}: {w}") for w in verdict.warnings]
        if not args.json:
            print(f"{document.key} {title}: " + ("; ".join(verdict.errors) if verdict.errors else "ok"))
            for w in verdict.warnings:
                print(f"  warning: {w}")
        failed |= bool(verdict.errors)
    if not checked and not unreadable:
        nothing = istio_schema.nothing_to_validate(args.files)
        every.append(nothing)
        failed = True
        if not args.json:
            print(f"{nothing.key}: {nothing.message}")
    if args.json:
        _print_json("validate", every)
    return 2 if unreadable else 1 if failed else 0


def _namespaced(metadata: Any) -> str:
    """`namespace/name`, so that two objects of one name (every namespace's `default`) can be told apart."""
    metadata = metadata if isinstance(metadata, dict) else {}
    name, namespace = metadata.get("name", "?"), metadata.get("namespace")
    return f"{namespace}/{name}" if namespace else f"{name} (no namespace)"


def _load_cluster(paths: list[str]) -> Any:
    """The Istio objects of YAML files or folders (`cluster_files.Loaded`), or None when Istio's CRDs are missing
    (said on standard error)."""
    from components.mesh.validation import schema as istio_schema
    from mtls import cluster_files

    try:
        return cluster_files.load(paths)
    except istio_schema.CrdsMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def _analyze(args: argparse.Namespace) -> int:
    from components.mesh.analysis import dataplane
    from components.mesh.analysis import engine as analysis
    from components.stack import istio_resources
    from mtls import cluster_files

    loaded = _load_cluster(args.paths)
    if loaded is None:
        return 2
    objects, findings, callers = loaded.objects, loaded.findings, []
    root_namespace = args.root_namespace
    name = " ".join(args.paths)
    if args.stack:
        stack_settings, stack_findings = _stack_findings(args)
        if stack_settings is None:
            return _report(f"{args.stack} (its settings)", stack_findings, args.json)
        if stack_settings.mesh is None:
            print(f"error: stack {args.stack!r} has no gke-mtls:mesh, so it adds nothing to analyse.", file=sys.stderr)
            return 2
        root_namespace = stack_settings.mesh.root_namespace
        stack_objects = istio_resources.objects(stack_settings)
        objects, conflicts = cluster_files.after_up(objects, stack_objects, args.stack)
        findings += conflicts
        callers = istio_resources.callers(stack_settings)
        name += f" after `pulumi up` of {args.stack}"
    findings += cluster_files.nothing_to_analyse(objects, findings, args.paths)
    moved, unknown = dataplane.what_if(args.ambient, objects)
    what_if = bool(args.ambient) or any(o.kind == "Namespace" and o.origin.from_settings for o in objects)
    findings += unknown + analysis.analyze(objects + moved, callers, root_namespace, every_verdict=what_if)
    if moved:  # a name --ambient refused is not said to be in ambient
        name += f" with {', '.join(o.name for o in moved)} in ambient"
    status = _report(name, findings, args.json)
    return 2 if loaded.unreadable or unknown else status


def _import(args: argparse.Namespace) -> int:
    import yaml

    from components.core.settings import parse
    from components.mesh import settings as mesh_settings
    from components.mesh.interchange import from_cluster
    from components.stack import preflight
    from components.stack.settings import StackSettings
    from mtls import cluster_files

    loaded = _load_cluster(args.paths)
    if loaded is None:
        return 2
    block, findings = from_cluster.mesh_settings(loaded.objects, args.root_namespace)
    findings = cluster_files.nothing_to_import(loaded, args.paths) + findings
    mesh, problems = parse(mesh_settings.MeshSettings, block, mesh_settings.KEY)
    if mesh is not None:
        problems += mesh_settings.check(mesh)
        problems += preflight.mesh_findings(StackSettings(None, None, None, None, mesh, None))
    for finding in [*loaded.findings, *findings, *problems]:
        print(f"{finding.severity.value}: {finding}", file=sys.stderr)
    sys.stdout.write(yaml.safe_dump({mesh_settings.KEY: block}, sort_keys=False, default_flow_style=False))
    if loaded.unreadable:
        return 2
    return 1 if errors([*loaded.findings, *findings, *problems]) else 0


def _graph(args: argparse.Namespace) -> int:
    from mtls import graph

    stack_settings, findings = _stack_findings(args)
    if stack_settings is None:
        return _report(f"{args.stack} (its settings)", findings)
    print(graph.mermaid(stack_settings), end="")
    return 0


def _docs(_args: argparse.Namespace) -> int:
    from mtls import docs

    print(docs.reference())
    print()
    print(docs.load_balancers())
    return 0


EXAMPLES = """examples:
  python -m mtls plan --stack dev
  python -m mtls check --stack dev --json
  python -m mtls client --stack dev alice.pem issuing-ca.pem
  python -m mtls analyze cluster.yaml --stack dev
  python -m mtls migration --stack dev --prometheus result.json
"""
CONVENTION = """
results go to standard output and diagnostics to standard error; every command exits 0 when clean, 1 when
findings or errors stand, and 2 for usage errors or input it cannot read."""


def _command(commands: Any, name: str, help: str, **options: Any) -> argparse.ArgumentParser:
    """A subcommand whose --help opens with what it does."""
    options.setdefault("description", help[0].upper() + help[1:] + ("" if help.endswith("?") else "."))
    parser: argparse.ArgumentParser = commands.add_parser(name, help=help, **options)
    return parser


def _stack_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")


def _json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object: the findings and their counts")


def _namespace(value: str) -> str:
    from components.core.names import NAMESPACE_NAME

    if not NAMESPACE_NAME.matches(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a namespace name: {NAMESPACE_NAME.explanation}")
    return value


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("gke-mtls")
    except metadata.PackageNotFoundError:  # run from a clone, not installed: read it from pyproject.toml
        import tomllib

        return str(tomllib.loads((offline.PROJECT_ROOT / "pyproject.toml").read_text())["project"]["version"])


class _VersionAction(argparse.Action):
    """`--version`, looked up only when asked for."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show program's version number and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        print(f"{parser.prog} {_version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mtls",
        description=__doc__,
        epilog=EXAMPLES + CONVENTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument(
        "-C",
        "--cwd",
        metavar="DIR",
        help="look for the Pulumi project (Pulumi.yaml) from DIR instead of the current directory, as pulumi -C does",
    )
    parser.add_argument("--project-root", help=argparse.SUPPRESS)  # the project's directory itself (tests)
    commands = parser.add_subparsers(dest="command", required=True)

    p = _command(commands, "plan", help="print what a stack would create (the real program under the mock engine)")
    _stack_option(p)
    p.add_argument(
        "--backend-name",
        default=offline.Placeholders.backend_name,
        help="placeholder for the backend service name the StackReference would return",
    )
    p.add_argument(
        "--backend-scheme",
        default=offline.Placeholders.backend_scheme,
        help="placeholder for that backend service's load-balancing scheme",
    )
    p.set_defaults(run=_plan)

    c = _command(commands, "check", help="run a stack's preflight checks (settings, certificate rules)")
    _stack_option(c)
    _json_option(c)
    c.set_defaults(run=_check)

    k = _command(
        commands,
        "cert",
        help="check single PEM files against GCP's rules for their role, or the mesh's CA bundle as istiod loads it",
    )
    k.add_argument(
        "--role",
        required=True,
        choices=[*ROLES, MESH_CA],
        help="the trust config list the files are meant for; mesh-ca: FILE is an Istio cacerts folder",
    )
    k.add_argument(
        "--previous", metavar="DIR", help="mesh-ca: the cacerts folder deployed now, to check the change against"
    )
    k.add_argument(
        "--expiry-warning-days", type=int, default=30, help="warn when a certificate expires sooner; default: 30"
    )
    k.add_argument("files", nargs="+", metavar="FILE", help="PEM files, one certificate each")
    _json_option(k)
    k.set_defaults(run=_cert)

    cl = _command(commands, "client", help="would this client chain pass the trust config under REJECT_INVALID?")
    source = cl.add_mutually_exclusive_group(required=True)
    source.add_argument("--stack", help="use the trust config of Pulumi.<stack>.yaml")
    # One file per flag, repeated for more: a list-taking flag would swallow LEAF.pem.
    source.add_argument(
        "--anchors", action="append", metavar="PEM", help="a trust anchor, instead of a stack (repeatable)"
    )
    cl.add_argument(
        "--intermediates", action="append", default=[], metavar="PEM", help="an intermediate CA (repeatable)"
    )
    cl.add_argument(
        "--allowlisted", action="append", default=[], metavar="PEM", help="an allowlisted certificate (repeatable)"
    )
    cl.add_argument(
        "chain",
        nargs="+",
        metavar="PEM",
        help="the client certificate first, then the intermediates it presents",
    )
    _json_option(cl)
    cl.set_defaults(run=_client)

    ro = _command(
        commands,
        "rotation",
        help="which clients a stack's trust config lets in now, and after each phase of its client CA rotation",
        description="Holds client certificates (leaf first, then its chain; files, or folders of .pem files) to the "
        "trust config the stack deploys and to each phase of its edge.trustRotation still to come, with the checks "
        "of `client`. Exit 1 when a phase would lock out one of them, 2 when a file cannot be read.",
    )
    _stack_option(ro)
    ro.add_argument(
        "--intermediates", action="append", default=[], metavar="PEM", help="an intermediate CA every client presents"
    )
    ro.add_argument("clients", nargs="+", metavar="CLIENT", help="client certificate files or folders")
    _json_option(ro)
    ro.set_defaults(run=_rotation)

    ex = _command(commands, "expiry", help="list every certificate a stack's edge holds, with its days left")
    _stack_option(ex)
    _json_option(ex)
    ex.set_defaults(run=_expiry)

    r = _command(commands, "render", help="write a stack's Istio manifests as YAML (one document per resource)")
    _stack_option(r)
    r.add_argument("--output", "-o", help="file to write; default: standard output")
    r.set_defaults(run=_render)

    v = _command(
        commands,
        "validate",
        help="check Istio YAML as a cluster would: the CRD schemas and CEL rules, then istiod's webhook rules",
    )
    v.add_argument("files", nargs="+", metavar="FILE.yaml", help="YAML files or folders; `List` documents are opened")
    _json_option(v)
    v.set_defaults(run=_validate)

    a = _command(
        commands,
        "analyze",
        help="analyse existing Istio YAML (files, folders, `kubectl get ... -o yaml` output), optionally with a stack",
        description="Validates each PeerAuthentication, AuthorizationPolicy and DestinationRule as the API server "
        "would, then runs the mesh analysis over the valid ones together. With --stack, adds what the stack would "
        "apply, so you see the cluster as it will be after `pulumi up`. With --ambient (or a stack's "
        "gke-mtls:mesh.ambient), says for each policy of those namespaces whether ztunnel and the waypoint leave it "
        "unchanged, or it stops matching, drops all traffic, denies more, is ignored or taken as PERMISSIVE, or "
        "needs a waypoint. Exit 1 when an error stands, 2 when a file cannot be read or --ambient names a namespace "
        "the input does not hold.",
    )
    a.add_argument("paths", nargs="+", metavar="PATH", help="YAML files or folders")
    a.add_argument("--stack", help="also apply Pulumi.<stack>.yaml's mesh, its callers and its edge backend")
    a.add_argument(
        "--root-namespace",
        default="istio-system",
        type=_namespace,
        help="Istio's root namespace (meshConfig.rootNamespace) when no --stack says it; default: istio-system",
    )
    a.add_argument(
        "--ambient",
        action="append",
        default=[],
        type=_namespace,
        metavar="NAMESPACE",
        help="what if this namespace moved to ambient: a verdict for each policy there (repeatable)",
    )
    _json_option(a)
    a.set_defaults(run=_analyze)

    im = _command(
        commands,
        "import",
        help="turn existing PeerAuthentications and AuthorizationPolicies into a gke-mtls:mesh settings block",
        description="Reads YAML files or folders like `analyze` and prints a gke-mtls:mesh block (YAML) to paste under "
        "`config:` in Pulumi.<stack>.yaml. What the settings cannot express is listed on standard error, with the "
        "findings of the block as the stack would check it. Exit 1 when the block still has errors to fix.",
    )
    im.add_argument("paths", nargs="+", metavar="PATH", help="YAML files or folders")
    im.add_argument(
        "--root-namespace",
        default="istio-system",
        type=_namespace,
        help="Istio's root namespace; default: istio-system",
    )
    im.set_defaults(run=_import)

    mi = _command(
        commands,
        "migration",
        help="who still sends plaintext to what the stack moves from PERMISSIVE to STRICT",
        description="Without --prometheus, prints the PromQL and the Cloud Logging filter that answer it, and how to "
        "save the query's result. With it, reads that saved /api/v1/query result and says, for each namespace and "
        "workload with a stage, 'ready for STRICT' or what would break. Exit 1 when something is blocked, 2 when "
        "the file cannot be used.",
    )
    _stack_option(mi)
    mi.add_argument("--prometheus", metavar="FILE", help="the saved JSON result of the printed query")
    _json_option(mi)
    mi.set_defaults(run=_migration)

    g = _command(
        commands,
        "graph",
        help="print a stack's mTLS topology as a Mermaid flowchart (GitHub renders it in Markdown)",
    )
    _stack_option(g)
    g.set_defaults(run=_graph)

    d = _command(commands, "docs", help="print the config key reference (markdown) that README.md embeds")
    d.set_defaults(run=_docs)

    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except stack_files.StackFileError as exc:  # every --stack command: a missing or broken Pulumi.<stack>.yaml
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
