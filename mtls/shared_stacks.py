"""What the project's other stack files would do that collides with this stack: create the same Kubernetes objects
in the same cluster, or ask for the same domain. A project often holds alternatives of one environment (only one of
them deployed at a time), as the committed examples are, so these are notes: what would fail if two were deployed
together, and how to keep them apart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtls import stack_files

if TYPE_CHECKING:
    from components.core.findings import Finding
    from components.stack.settings import StackSettings

SHOWN = 3  # objects named in a note; the rest are counted
ALTERNATIVES = "That is fine for alternatives of one environment, deployed one at a time; otherwise"


def findings(project_root: Path, stack: str, settings: StackSettings | None = None) -> list[Finding]:
    """A note for each domain other stacks also ask for, and one when other stacks write to the same cluster and
    would create some of the same objects. Stack files that cannot be read are left to their own check."""
    from components.core.findings import note

    files = {name: _read(project_root, name) for name in stack_files.stack_names(project_root)}
    mine = _values(files.get(stack))
    if mine is None:
        return []
    others = {name: raw for name, config in files.items() if name != stack and (raw := _values(config)) is not None}
    found: list[Finding] = []
    for i, domain in enumerate(_domains(mine)):
        sharing = [name for name, raw in others.items() if domain in _domains(raw)]
        if sharing:
            found.append(
                note(
                    "stack.shared-domain",
                    f"gke-mtls:edge.domains[{i}]",
                    f"{domain} is also a domain of {_stacks(sharing)}. DNS sends its clients to one load balancer, "
                    f"so only one of these stacks can serve it. {ALTERNATIVES} give each stack its own domains.",
                )
            )
    cluster = _cluster(mine)
    same_cluster = [name for name, raw in others.items() if cluster is not None and _cluster(raw) == cluster]
    if cluster is None or not same_cluster:
        return found
    mine_objects = _objects(project_root, files[stack], settings)
    sharing, shared = [], []
    for name in same_cluster:
        theirs = set(_objects(project_root, files[name], None))
        if common := [o for o in mine_objects if o in theirs]:
            sharing.append(name)
            shared += [o for o in common if o not in shared]
    if shared:
        listed = ", ".join(f"{kind} {namespace}/{name}" for kind, namespace, name in shared[:SHOWN])
        more = f" and {len(shared) - SHOWN} more" if len(shared) > SHOWN else ""
        found.append(
            note(
                "stack.shared-objects",
                f"gke-mtls:cluster.{cluster[0]}",
                f"{_stacks(sharing)} {'writes' if len(sharing) == 1 else 'write'} to the same cluster ({cluster[1]}) "
                f"and would also create objects this stack creates: {listed}{more}. Of two such stacks, the second "
                f"to run `pulumi up` fails on the objects that already exist. {ALTERNATIVES} let one stack own each "
                "object.",
            )
        )
    return found


def _stacks(names: list[str]) -> str:
    return f"stack {names[0]}" if len(names) == 1 else f"stacks {', '.join(names[:-1])} and {names[-1]}"


def _read(project_root: Path, stack: str) -> dict[str, str] | None:
    """A stack file's config, or None when it cannot be read (its own check says why)."""
    try:
        return stack_files.read_stack_config(project_root, stack)
    except stack_files.StackFileError:
        return None


def _values(config: dict[str, str] | None) -> dict[str, Any] | None:
    """The project's keys as plain values."""
    if config is None:
        return None
    values: dict[str, Any] = {}
    for key, text in config.items():
        if key.startswith("gke-mtls:"):
            try:
                values[key.partition(":")[2]] = json.loads(text)
            except json.JSONDecodeError:
                values[key.partition(":")[2]] = text
    return values


def _domains(values: dict[str, Any]) -> list[str]:
    edge = values.get("edge")
    domains = edge.get("domains") if isinstance(edge, dict) else None
    return [d.lower().rstrip(".") for d in domains if isinstance(d, str)] if isinstance(domains, list) else []


def _cluster(values: dict[str, Any]) -> tuple[str, str] | None:
    """The cluster a stack writes to, as its kubeconfig context names it (or its kubeconfig file, without one)."""
    cluster = values.get("cluster")
    if not isinstance(cluster, dict) or not ("mesh" in values or "gkeBackend" in values):
        return None
    if isinstance(cluster.get("context"), str):
        return "context", cluster["context"]
    if isinstance(cluster.get("kubeconfig"), str):
        return "kubeconfig", cluster["kubeconfig"]
    return None


def _objects(
    project_root: Path, config: dict[str, str] | None, settings: StackSettings | None
) -> list[tuple[str, str, str]]:
    """The Kubernetes objects a stack creates: its Istio resources and the GKE side's; none if its settings fail."""
    from components.gke.objects import created_objects
    from components.stack.istio_resources import for_stack
    from components.stack.settings import parse_stack

    if settings is None and config is not None:
        settings, _ = parse_stack(config, project_root)
    if settings is None:
        return []
    made = [(m.kind, m.namespace, m.name) for m in for_stack(settings)]
    return made + (created_objects(settings.gke_backend) if settings.gke_backend is not None else [])
