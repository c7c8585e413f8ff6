"""What clients send meets what servers take: a DestinationRule sets client TLS for its hosts whatever the servers
take, and the classic `*.local` ISTIO_MUTUAL rule, said for what it really does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.core.findings import Finding, error, note
from components.mesh.analysis.exposure import OTHER_NAMESPACE, Exposure, Place
from components.mesh.analysis.modes import ANY_PORT
from components.mesh.analysis.transport import MTLS, PLAINTEXT, MeshView, sets_tls, tls_mode_at
from components.mesh.interchange.istio_objects import IstioObject, listed

MESH_WIDE_HOSTS = ("*", "*.local", "*.cluster.local", "*.svc.cluster.local")


def client_server_conflicts(view: MeshView, exposure: Exposure) -> list[Finding]:
    """A DestinationRule sets what clients send for its hosts, whatever the servers take: Istio mTLS toward a port
    that takes plaintext only, or plaintext toward a STRICT one, fails every call from a meshed client (reference
    sections 2.3 and 2.4; Istio's reachability tests expect exactly these failures)."""
    clients: list[str | None] = [None, *sorted(view.rules.by_namespace)]
    # rule -> server mode -> place title -> (place, its ports where they meet)
    hits: dict[IstioObject, dict[str, dict[str, tuple[Place, list[str]]]]] = {}
    setting_tls = [r for r in view.rules.rules if sets_tls(r)]
    for place in exposure.every_place() if setting_tls else ():
        if view.topology.gateway(place.namespace, place.labels or {}) is not None and place.labels:
            continue
        served = _served_ports(view, place)
        for port, mode in served.items():
            if mode not in ("STRICT", "DISABLE"):
                continue
            for client in clients:
                sent = view.sent_by_sidecar(client, place.namespace, place.labels, "" if port == ANY_PORT else port)
                rule = sent.by
                if rule is None or rule.kind != "DestinationRule":
                    continue
                if (sent.form, mode) in ((MTLS, "DISABLE"), (PLAINTEXT, "STRICT")):
                    _, ports = hits.setdefault(rule, {}).setdefault(mode, {}).setdefault(place.title, (place, []))
                    if port not in ports:
                        ports.append(port)
    meets = {
        rule: {
            mode: [
                (
                    title
                    if ports == [ANY_PORT] or set(ports) == set(_served_ports(view, place))
                    else f"{title}:{','.join(ports)}",
                    place,
                )
                for title, (place, ports) in by_title.items()
            ]
            for mode, by_title in by_mode.items()
        }
        for rule, by_mode in hits.items()
    }
    found = []
    for rule in view.rules.rules:
        for mode, places in meets.get(rule, {}).items():
            found.append(_meets(rule, mode, places, view))
    found += _mesh_wide_istio_mutual_notes(view, exposure, meets)
    return found


def _served_ports(view: MeshView, place: Place) -> dict[str, str]:
    """The modes of a place at the ports its Services send to: a DestinationRule reaches a pod through them, so a
    workload-wide mode stands for each of those ports (their port-level settings then read right). Without a known
    Service, with named target ports only, or with one the settings declare (which lists only the ports they name),
    the workload-wide mode stands for any port."""
    services = view.topology.services_of(place.namespace, place.labels) if place.labels is not None else []
    if any(service.origin.from_settings for service in services):
        return dict(place.modes)
    targets = {
        str(entry.get("targetPort", entry.get("port")))
        for service in services
        for entry in listed(service.spec.get("ports"))
        if isinstance(entry, dict)
    }
    numbered = {t for t in targets if t.isascii() and t.isdigit()}
    if ANY_PORT not in place.modes or not numbered or numbered != targets:
        return dict(place.modes)
    wide = place.modes[ANY_PORT]
    return {port: place.modes.get(port, wide) for port in sorted(numbered | (place.modes.keys() - {ANY_PORT}))}


def _place_name(where: str, place: Place) -> str:
    return "the mesh" if place.labels is None and place.namespace == OTHER_NAMESPACE else where


def _meets(rule: IstioObject, mode: str, places: list[tuple[str, Place]], view: MeshView) -> Finding:
    host = str(rule.spec.get("host"))
    wide = host.startswith("*")
    names = ", ".join(_place_name(w, p) for w, p in places)
    if mode == "DISABLE":
        to = f"to every {host} host" if wide else f"to {host}"
        unnamed = [
            policy.origin.key
            for _, place in places
            if place.labels is not None
            and (policy := view.peers.at(place.namespace, place.labels).policy) is not None
            and policy.origin.from_settings
            and not view.topology.services_of(place.namespace, place.labels)
        ]
        settings = f" (for {', '.join(unnamed)}: set its `service`, and the stack makes that rule)" if unnamed else ""
        return error(
            "mesh.istio-mutual-meets-disable",
            rule.origin.key,
            f"it makes every client send Istio mTLS {to}, but mTLS in {names} is DISABLE: those servers take "
            "plaintext only, so every call to them fails. Remove this rule (auto mTLS already picks mTLS or plaintext "
            f"per server), or add a DestinationRule with `tls: {{mode: DISABLE}}` for those hosts{settings}.",
        )
    if rule.origin.from_settings:
        fix = (
            "Make the workload PERMISSIVE and list its DISABLE ports in `ports` (the rule then covers only those), "
            "or make the STRICT ports PERMISSIVE"
        )
    else:
        fix = "Remove this rule (auto mTLS already sends plaintext to DISABLE ports), or make those ports PERMISSIVE"
    return error(
        "mesh.disable-meets-strict",
        rule.origin.key,
        f"it makes clients send plaintext to {host}, but mTLS in {names} is STRICT: those servers refuse plaintext, "
        f"so every call from a meshed client fails. {fix}.",
    )


def _mesh_wide_istio_mutual_notes(
    view: MeshView, exposure: Exposure, meets: Mapping[IstioObject, Mapping[str, Any]]
) -> list[Finding]:
    """With auto mTLS (on by default since Istio 1.5) the classic `*.local` ISTIO_MUTUAL rule adds nothing for
    servers with a sidecar; it forces mTLS where auto mTLS would send plaintext (reference sections 2.3 and 2.4)."""
    peers = view.peers
    found = []
    for rule in view.rules.rules:
        if rule.spec.get("host") not in MESH_WIDE_HOSTS or tls_mode_at(rule, None).mode != "ISTIO_MUTUAL":
            continue
        if rule in meets:
            continue
        permissive = [
            f"{place.title}{'' if port == ANY_PORT else ':' + port}"
            for ns in sorted(peers.namespaces() | {peers.root_namespace})
            for place in exposure.places(ns)
            for port, mode in place.modes.items()
            if mode == "PERMISSIVE"
        ]
        enforces = (
            f" It enforces nothing either: a DestinationRule only sets what clients send, so "
            f"{', '.join(permissive)} still take{'s' if len(permissive) == 1 else ''} plaintext from clients "
            "without a sidecar."
            if permissive
            else ""
        )
        found.append(
            note(
                "mesh.istio-mutual-dr",
                rule.origin.key,
                "auto mTLS (on by default since Istio 1.5) already sends mTLS to every server with a sidecar, "
                f"so this rule changes nothing for them.{enforces} What it does change: calls to "
                f"{rule.spec.get('host')} "
                "servers without a sidecar (non-injected namespaces, the Kubernetes API service) get mTLS and "
                "fail, and any more specific DestinationRule replaces it whole. Remove it unless auto mTLS is off "
                "in your mesh.",
            )
        )
    return found
