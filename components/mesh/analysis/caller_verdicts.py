"""Verdicts on the callers: each one's requests, as they arrive at each port (`transport.py`), against the port's
mode and the AuthorizationPolicies there, enforced and dry run."""

from __future__ import annotations

from collections.abc import Sequence

from components.core.findings import Finding, error, warning
from components.core.load_balancer import FRONT_END_RANGES
from components.mesh.analysis import ztunnel
from components.mesh.analysis.authorization import Decision, action_of, decide
from components.mesh.analysis.callers import HEALTH_CHECKS, LOAD_BALANCER
from components.mesh.analysis.transport import Arrival, MeshView, describe
from components.mesh.interchange.istio_objects import IstioObject, labels_text


def caller_findings(arrivals: Sequence[Arrival], view: MeshView) -> list[Finding]:
    found = []
    for arrival in arrivals:
        caller, request, decision = arrival.caller, arrival.request, arrival.decision
        if decision is None:
            deciding = view.peers.deciding(caller.namespace, caller.selector, request.port)
            found.append(_refused(arrival, deciding, view.ambient_pods(caller.namespace, caller.selector)))
        elif decision.allowed is False:
            if arrival.plaintext:
                carry = "carry no principal"
                if caller.sidecar:
                    carry = f"arrive as plaintext ({arrival.sent.why}) and so {carry}"
            elif arrival.waypoint is not None and decision is arrival.at_waypoint:
                carry = f"go through {arrival.waypoint.title} with the principal {caller.requests[0].principal}"
            elif arrival.waypoint is not None:
                carry = (
                    f"go through {arrival.waypoint.title}, which presents its own identity {request.principal} to "
                    "ztunnel (a waypoint does not pass on its callers' identities)"
                )
            else:
                carry = f"carry the principal {request.principal}"
            hint = _admit_hint(arrival, decision)
            if (
                arrival.waypoint is not None
                and decision is not arrival.at_waypoint
                and action_of(decision.by[0]) == "ALLOW"
            ):
                hint = (
                    f"Allow the waypoint's identity {request.principal} in that policy "
                    f"({ztunnel.AUTO_ALLOW_WAYPOINT}), and check the caller at the waypoint instead: bind a policy "
                    "that names it to the waypoint with targetRefs (its Service or Gateway), where the caller's own "
                    "identity is seen (istio.io, Use Layer 4 security policy)."
                )
            found.append(
                error(
                    "mesh.caller-denied",
                    caller.key,
                    f"{caller.name}'s requests to {caller.where(request.port)} {carry}; {decision.because}. {hint}",
                )
            )
    return found


def observed_callers(arrivals: Sequence[Arrival], view: MeshView) -> list[Finding]:
    """Istio records a dry-run DENY match without enforcing it: a caller that matches one is refused once the
    policy, or the STRICT mode it stands for, is enforced (Istio's dry-run task). ztunnel gets no dry-run policy by
    default (`ztunnel.py`): the ambient verdicts say so instead."""
    found = []
    for arrival in arrivals:
        caller, request = arrival.caller, arrival.request
        if arrival.refused or view.ambient_pods(caller.namespace, caller.selector):
            continue
        applying = view.dry_run.applying_to(caller.namespace, caller.selector)
        decision = decide([p for p in applying if action_of(p) == "DENY"], request)
        if decision.allowed is False:
            policy = decision.by[0]
            deciding = view.peers.deciding(caller.namespace, caller.selector, request.port)
            if policy.origin.from_settings and deciding and not policy.origin.key.startswith(deciding.origin.key):
                continue  # a stage's policy, on a port whose mode an exception decides: enforce leaves it open
            found.append(
                warning(
                    "mesh.caller-observed",
                    caller.key,
                    f"{caller.name}'s requests to {caller.where(request.port)} match the dry-run policy "
                    f"{policy.namespace}/{policy.name} ({policy.origin.key}): Istio only records them now, and "
                    "refuses them once it is enforced (for a migration stage: at `enforce`). Give the caller a "
                    f'sidecar, or keep `ports: {{"{request.port}": PERMISSIVE}}` for that workload.',
                )
            )
    return found


def _refused(arrival: Arrival, deciding: IstioObject | None, ambient: bool = False) -> Finding:
    caller, port, sent = arrival.caller, arrival.request.port, arrival.sent
    exception = f'add `ports: {{"{port}": PERMISSIVE}}` to the gke-mtls:mesh.workloads entry of that workload'
    source = f" ({describe(deciding)})" if deciding is not None else ""
    if arrival.mode == "DISABLE":  # Istio mTLS, which a DestinationRule sets, to a port that takes plaintext only
        return error(
            "mesh.caller-refused",
            caller.key,
            f"{caller.name}'s sidecar sends Istio mTLS to {caller.where(port)} ({sent.why}), but mTLS there is "
            f"DISABLE{source}: that port takes plaintext only, so every request fails. Add a more specific "
            "DestinationRule with `tls: {mode: DISABLE}` for its Service (for a workload of gke-mtls:mesh.workloads, "
            "set its `service`), or make the port PERMISSIVE.",
        )
    if caller.name == LOAD_BALANCER:
        labels = labels_text(caller.selector)
        return error(
            "mesh.edge-backend-strict",
            caller.key,
            f"the edge load balancer sends requests (and health checks) straight to port {port} of {labels} in "
            f"{caller.namespace} without an Istio client certificate, but mTLS there is STRICT, so every request would "
            "be refused. Either route the edge through the Istio ingress gateway (and set `istioIngressGateway: true` "
            "here), or add a port-level exception to gke-mtls:mesh.workloads for this workload: "
            f'`ports: {{"{port}": PERMISSIVE}}` (the edge\'s mTLS then guards that port).',
        )
    what, send = ("probe", "send") if caller.name == HEALTH_CHECKS else ("request", "sends")
    if caller.sidecar:
        fix = (
            "Remove that DestinationRule's `tls.mode: DISABLE` for this host (auto mTLS then sends mTLS), or make the "
            "port PERMISSIVE"
            if sent.by is not None and sent.by.kind == "DestinationRule"
            else f"Make the port PERMISSIVE, or the namespace's mode PERMISSIVE: {exception}"
        )
        return error(
            "mesh.caller-refused",
            caller.key,
            f"{caller.name}'s sidecar sends plaintext to {caller.where(port)} ({sent.why}), but mTLS there is "
            f"STRICT{source}, so every {what} is refused. {fix}.",
        )
    return error(
        "mesh.caller-refused",
        caller.key,
        f"{caller.name} {send} plaintext to {caller.where(port)}, but mTLS there is STRICT{source}, so every "
        f"{what} is "
        f"refused. "
        + (
            "Put the caller in the mesh (an ambient namespace, or a sidecar) and declare its `principal`"
            if ambient
            else "Give the caller a sidecar (and declare its `principal`)"
        )
        + f", or {exception}.",
    )


def _admit_hint(arrival: Arrival, decision: Decision) -> str:
    caller, request = arrival.caller, arrival.request
    edge = caller.name.startswith(LOAD_BALANCER) or caller.name == HEALTH_CHECKS
    # a regional load balancer sends from its proxy-only subnet, the health checks from Google's front ends
    ranges = ", ".join(str(s) for s in request.sources) if request.sources else ", ".join(FRONT_END_RANGES)
    if decision.by and action_of(decision.by[0]) == "DENY":  # a rule added to a DENY policy would refuse more
        if edge:
            leave_out = f"`notIpBlocks: [{ranges}]` in its `from` source"
        elif request.principal:
            leave_out = f'`notPrincipals: ["{request.principal}"]` in its `from` source'
        elif request.sources:
            leave_out = f"`notIpBlocks: [{', '.join(str(s) for s in request.sources)}]` in its `from` source"
        else:
            leave_out = f'`notPorts: ["{request.port}"]` in its operation'
        return (
            "A DENY policy refuses what its rules match, so a rule added to it would refuse more: narrow the rule "
            f"that matches them so that it leaves them out (for example {leave_out}), or remove it"
            + ("." if edge else ", or remove the caller from gke-mtls:mesh.callers if it is meant to be refused.")
        )
    port = request.port
    if edge:
        return (
            "gke-mtls lets them in with its `edge-load-balancer` policy when its own ALLOW policies cover the "
            f"backend; for a policy from elsewhere, add a rule with `ipBlocks: [{ranges}]` "
            f'on port "{port}" to it.'
        )
    return "Add a rule that matches it, or remove it from gke-mtls:mesh.callers if it is meant to be refused."
