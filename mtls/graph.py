"""`graph`: a stack's mTLS intent as a Mermaid flowchart, for a reviewer: clients and the load balancer (its client
validation and trust anchors), the backend, namespaces and workloads with each port's effective mode (a lock for
STRICT, open for PERMISSIVE, crossed for DISABLE), and who may call whom.

GitHub renders Mermaid in Markdown and comments (```mermaid blocks).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from components.mesh.analysis.callers import LOAD_BALANCER, Caller
from components.mesh.analysis.modes import ANY_PORT
from components.mesh.analysis.transport import MTLS, OWN_TLS, PLAINTEXT, MeshView
from components.mesh.interchange.istio_objects import IstioObject, labels_text
from components.stack import istio_resources
from components.stack.settings import StackSettings

ICONS = {"STRICT": "🔒", "PERMISSIVE": "🔓", "DISABLE": "🚫"}
# Beyond this many workloads in a namespace, the namespace is one node that counts its workloads by mode.
MAX_WORKLOADS_SHOWN = 12


def _text(label: str) -> str:
    """A Mermaid label in double quotes: quotes and angle brackets as entities, lines joined with <br/>."""
    return label.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;").replace("\n", "<br/>")


def _modes(modes: Mapping[str, str]) -> str:
    other = modes[ANY_PORT]
    ports = [f"{ICONS.get(m, '?')} {p}" for p, m in sorted(modes.items()) if p != ANY_PORT]
    return " · ".join([f"{ICONS.get(other, '?')} {other}", *ports])


class _Graph:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ids: dict[str, str] = {}

    def node(self, key: str, label: str, shape: str = "[]") -> str:
        if key not in self.ids:
            self.ids[key] = f"n{len(self.ids)}"
            self.lines.append(f'  {self.ids[key]}{shape[0]}"{_text(label)}"{shape[1]}')
        return self.ids[key]

    def edge(self, source: str, target: str, label: str, dotted: bool = False) -> None:
        arrow = "-.->" if dotted else "-->"
        self.lines.append(f'  {source} {arrow}|"{_text(label)}"| {target}')


def mermaid(settings: StackSettings) -> str:
    graph = _Graph()
    edge = settings.edge
    backend_node = None
    if edge is not None and settings.trust is not None:
        clients = graph.node("clients", "clients with a certificate", "()")
        anchors = [a.subject for a in settings.trust.anchors]
        lb = graph.node(
            "lb",
            f"load balancer: {edge.client_validation}\ntrust anchors: {', '.join(anchors)}",
        )
        graph.edge(clients, lb, f"TLS {edge.ssl_policy.min_tls_version.removeprefix('TLS_').replace('_', '.')}+")
        backend = settings.backend
        where = (
            f"stack {backend.stack}" if backend is not None and backend.stack else (backend.name if backend else "?")
        )
        backend_node = graph.node("backend", f"backend service ({where})")
        graph.edge(lb, backend_node, "verified requests, with the mTLS headers")
    if settings.mesh is not None:
        _mesh(graph, settings, backend_node)
    return "flowchart LR\n" + "\n".join(graph.lines) + "\n"


def _mesh(graph: _Graph, settings: StackSettings, backend_node: str | None) -> None:
    mesh = settings.mesh
    assert mesh is not None
    objects = istio_resources.objects(settings)
    view = MeshView(objects, mesh.root_namespace)
    peers = view.peers
    callers = istio_resources.callers(settings)
    workloads: dict[str, dict[tuple[tuple[str, str], ...], Mapping[str, str]]] = defaultdict(dict)
    for pa in peers.workload:
        in_force = peers.at(pa.namespace, pa.selector)
        if in_force.policy is pa:
            workloads[pa.namespace][tuple(pa.selector.items())] = in_force.all()
    targets = [(c.namespace, c.selector) for c in callers]
    targets += [(p.namespace, p.selector) for p in objects if p.kind == "AuthorizationPolicy" and p.selector]
    for namespace, selector in targets:
        workloads[namespace].setdefault(tuple(selector.items()), peers.at(namespace, selector).all())
    mesh_mode = peers.base(mesh.root_namespace)
    graph.lines.append(f'  subgraph mesh["mesh: {ICONS.get(mesh_mode, "?")} {mesh_mode}"]')
    for namespace in sorted(set(workloads) | peers.namespaces() - {mesh.root_namespace}):
        base = peers.base(namespace)
        title = _text(f"{namespace}: {ICONS.get(base, '?')} {base}")
        graph.lines.append(f'  subgraph ns_{len(graph.lines)}["{title}"]')
        shown = workloads.get(namespace, {})
        if len(shown) > MAX_WORKLOADS_SHOWN:
            by_mode: dict[str, int] = defaultdict(int)
            for workload_modes in shown.values():
                by_mode[workload_modes[ANY_PORT]] += 1
            summary = ", ".join(f"{n} {ICONS.get(m, '?')} {m}" for m, n in sorted(by_mode.items()))
            graph.node(f"ns:{namespace}", f"{len(shown)} workloads (grouped): {summary}")
        else:
            for pairs, modes in shown.items():
                graph.node(f"w:{namespace}:{pairs}", f"{labels_text(dict(pairs))}\n{_modes(modes)}")
        graph.lines.append("  end")
    graph.lines.append("  end")
    for caller in callers:
        _caller_edges(graph, caller, view, backend_node)
    for policy in objects:
        if policy.kind == "AuthorizationPolicy" and not policy.dry_run and policy.selector:
            _policy_edges(graph, policy)


def _target(graph: _Graph, namespace: str, selector: Mapping[str, str]) -> str:
    key = f"w:{namespace}:{tuple(selector.items())}"
    title = f"{namespace}/{labels_text(selector)}"
    return graph.ids.get(key) or graph.ids.get(f"ns:{namespace}") or graph.node(key, title)


def _caller_edges(graph: _Graph, caller: Caller, view: MeshView, backend: str | None) -> None:
    source = backend if caller.name == LOAD_BALANCER and backend else graph.node(f"c:{caller.name}", caller.name, "()")
    target = _target(graph, caller.namespace, caller.selector)
    for request in caller.requests:
        arrival = view.arrival(caller, request)  # what its sidecar, if any, sends to that port
        if arrival.decision is None:
            verdict = f"refused ({arrival.mode})"
        else:
            verdict = {True: "allowed", False: "denied", None: "allowed for some requests"}[arrival.decision.allowed]
        how = {PLAINTEXT: "plaintext", MTLS: "mTLS", OWN_TLS: "TLS"}.get(arrival.sent.form or "", "unknown TLS")
        graph.edge(source, target, f"{how} :{request.port} {verdict}", dotted=verdict != "allowed")


def _policy_edges(graph: _Graph, policy: IstioObject) -> None:
    """Who an ALLOW policy lets in by identity: one edge per principal or namespace it names."""
    if str(policy.spec.get("action") or "ALLOW") != "ALLOW":
        return
    target = _target(graph, policy.namespace, policy.selector)
    named: list[str] = []
    for rule in policy.spec.get("rules") or ():
        for entry in rule.get("from") or () if isinstance(rule, dict) else ():
            source = entry.get("source") if isinstance(entry, dict) else None
            for field in ("principals", "namespaces", "serviceAccounts"):
                values = source.get(field) if isinstance(source, dict) else None
                named += [str(v) for v in values or () if str(v) not in named]
    for identity in named:
        graph.edge(graph.node(f"id:{identity}", identity, "()"), target, f"mTLS, ALLOW {policy.name}")
