"""What reaches a server port, decided per port as Istio decides it: what a client sends, and whether the server's
PeerAuthentication (none at a gateway) takes it. The one home of "what does a caller send to this port".

A client with a sidecar (pilot/pkg/networking/core/cluster_tls.go, pilot/pkg/xds/endpoints/mtls_checker.go of
istio/istio):
1. a DestinationRule that sets TLS for the host and port decides: DISABLE sends plaintext, ISTIO_MUTUAL Istio mTLS,
   SIMPLE or MUTUAL the user's own TLS;
2. otherwise auto mTLS, which a namespace (or mesh) mode of DISABLE turns off for every service of that namespace:
   the cluster's guess, `BestEffortInferServiceMTLSMode`, reads only namespace and mesh policies, so plaintext;
3. otherwise per endpoint: an endpoint without a sidecar gets plaintext (a gateway's pods carry no
   `security.istio.io/tlsMode` label: only the sidecar injection template sets it), and so does a port whose
   PeerAuthentication, the one that selects the pod (`NewMtlsPolicy(...).GetMutualTLSModeForPort(port)`), is
   DISABLE; every other endpoint gets Istio mTLS.
A client without a sidecar always sends plaintext. The server's sidecar refuses plaintext at STRICT and cannot read
Istio mTLS at DISABLE (it hands the TLS bytes to the application). A gateway applies no PeerAuthentication: istiod
builds its listeners from the Gateway's servers (pilot/pkg/networking/core/gateway.go); its authorization applies.

Pods of an ambient namespace (`dataplane.py`; a gateway's pods are never captured) are served by ztunnel. A client in
the mesh reaches them over HBONE, which is mTLS: ztunnel between ambient pods, whatever a DestinationRule says (it
reads none), and a sidecar through its HBONE endpoint (`supportTunnel`, pilot/pkg/xds/endpoints/endpoint_builder.go;
what a DestinationRule's TLS does there is not modelled). An ambient client's calls to a Service with a waypoint go
through the waypoint, which applies the policies bound to it by `targetRefs` with the client's identity, then reaches
ztunnel with its own; so do a gateway's where the Service asks for it (`istio.io/ingress-use-waypoint`, `dataplane.py`).
Sidecars and clients outside the mesh go straight to ztunnel, which applies the selector and namespace policies as it
reads them (`ztunnel.py`) and refuses plaintext only at STRICT.

Facts: ../shared/reference/istio-mesh-mtls.md section 2.3 (corrected 2026-12-06).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from components.mesh.analysis import ztunnel
from components.mesh.analysis.authorization import AuthorizationPolicies, Decision, Request, decide
from components.mesh.analysis.callers import Caller
from components.mesh.analysis.dataplane import DataPlanes, Waypoint
from components.mesh.analysis.modes import PeerAuthentications
from components.mesh.interchange.istio_objects import IstioObject, by_age, listed
from components.mesh.istio_api import (
    DEFAULT_TRUST_DOMAIN,
    GATEWAY_API_GROUP,
    GATEWAY_NAME_LABEL,
    TARGET_GROUPS,
    WAYPOINT_CLASS,
    identity_of,
)

PLAINTEXT = "plaintext"
MTLS = "Istio mTLS"
OWN_TLS = "TLS of its own"  # SIMPLE or MUTUAL: not an Istio identity; never judged here
CLUSTER_DOMAIN = "svc.cluster.local"
_ANY_SERVICE = "*any-service*"  # stands for a service of the namespace that no known Service names


def labels_select(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Every pod labelled `labels` carries all of `selector`'s labels."""
    return all(labels.get(k) == v for k, v in selector.items())


def describe(obj: IstioObject) -> str:
    return obj.origin.key if obj.origin.from_settings else f"{obj.title} ({obj.origin.key})"


def target_refs(policy: IstioObject) -> list[tuple[str, str, str]]:
    """(group, kind, name) of each object a policy is bound to by `targetRefs` (or the older `targetRef`)."""
    refs = [policy.spec.get("targetRef"), *listed(policy.spec.get("targetRefs"))]
    return [
        (str(r.get("group") or ""), str(r.get("kind") or ""), str(r.get("name") or ""))
        for r in refs
        if isinstance(r, dict)
    ]


# --- where servers are: Services and gateways -------------------------------------------------------------------


class Topology:
    """The Services in front of workloads (they name the hosts DestinationRules are written for) and the gateway
    pods, from the Services and Gateways of cluster files and from what the settings declare."""

    def __init__(self, objects: Iterable[IstioObject]):
        self.services: list[IstioObject] = []
        self.gateways: list[tuple[str | None, dict[str, str], IstioObject]] = []  # (namespace or any, selector, obj)
        for obj in objects:
            if obj.kind == "Service" and obj.selector:
                self.services.append(obj)
            elif obj.kind == "Gateway" and obj.api_version.startswith(GATEWAY_API_GROUP):
                self.gateways.append((obj.namespace, {GATEWAY_NAME_LABEL: obj.name}, obj))
            elif obj.kind == "Gateway" and obj.selector:
                # An Istio Gateway selects gateway pods in every namespace (PILOT_SCOPE_GATEWAY_TO_NAMESPACE is off
                # by default, pilot/pkg/features/pilot.go); the settings name the namespace of the pods they declare.
                self.gateways.append((obj.namespace if obj.origin.from_settings else None, obj.selector, obj))

    def gateway(self, namespace: str, labels: Mapping[str, str]) -> IstioObject | None:
        """The Gateway whose pods these are, when every pod labelled `labels` runs one."""
        return next(
            (
                obj
                for ns, selector, obj in self.gateways
                if ns in (None, namespace) and selector and labels_select(selector, labels)
            ),
            None,
        )

    @functools.cached_property
    def hosts(self) -> set[str]:
        return {service_host(s) for s in self.services}

    def services_of(self, namespace: str, labels: Mapping[str, str]) -> list[IstioObject]:
        return [s for s in self.services if s.namespace == namespace and labels_select(s.selector, labels)]


def is_headless(service: IstioObject) -> bool:
    """`clusterIP: None`: istiod gives it passthrough resolution and an ORIGINAL_DST cluster."""
    return service.spec.get("clusterIP") == "None"


def service_host(service: IstioObject) -> str:
    return f"{service.name}.{service.namespace}.{CLUSTER_DOMAIN}".lower()


def service_ports(service: IstioObject, port: str) -> list[int]:
    """The Service ports that send to container port `port` (a named targetPort cannot be resolved here)."""
    found = []
    for entry in listed(service.spec.get("ports")):
        if not isinstance(entry, dict) or not isinstance(entry.get("port"), int):
            continue
        target = entry.get("targetPort", entry["port"])
        if str(target) == port:
            found.append(entry["port"])
    if not found and service.origin.from_settings and port.isascii() and port.isdigit():
        found.append(int(port))  # `servicePorts` lists a Service port only where it differs from the container's
    return found


# --- DestinationRules -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientTls:
    """The TLS a DestinationRule sets for a client toward one server port: `mode` None leaves it to auto mTLS."""

    mode: str | None
    rule: IstioObject | None = None
    known: bool = True  # False: it depends on which Service or port the client calls


UNKNOWN = ClientTls(None, None, known=False)


def host_of(rule: IstioObject) -> str:
    """The host as istiod reads it: a short name is a service of the rule's own namespace
    (`ResolveShortnameToFQDN`, pilot/pkg/model/config.go)."""
    host = str(rule.spec.get("host") or "").lower()
    if host == "*" or "." in host:
        return host
    return f"{host}.{rule.namespace}.{CLUSTER_DOMAIN}"


def _specificity(pattern: str, host: str) -> int | None:
    """How closely a DestinationRule host matches `host` (higher wins), or None when it does not."""
    if pattern == host:
        return 1_000
    if pattern.startswith("*") and host.endswith(pattern[1:]):
        return len(pattern)
    return None


def tls_mode_at(rule: IstioObject, service_port: int | None) -> ClientTls:
    """`trafficPolicyTLSModeForPort` of pilot/pkg/xds/endpoints/mtls_checker.go: a port-level setting for the port
    wins over the rule's own; without the Service port, only a rule whose port-level settings agree can be read."""
    policy = rule.spec.get("trafficPolicy")
    policy = policy if isinstance(policy, dict) else {}
    tls = policy.get("tls")
    mode = str(tls.get("mode") or "DISABLE") if isinstance(tls, dict) else None  # proto3: an unset mode is DISABLE
    levels = [
        p for p in listed(policy.get("portLevelSettings")) if isinstance(p, dict) and isinstance(p.get("tls"), dict)
    ]
    if service_port is None:
        if any(str(p["tls"].get("mode") or "DISABLE") != mode for p in levels):
            return UNKNOWN
        return ClientTls(mode, rule if mode else None)
    for setting in levels:
        number = setting.get("port", {}).get("number") if isinstance(setting.get("port"), dict) else None
        if number == service_port:
            return ClientTls(str(setting["tls"].get("mode") or "DISABLE"), rule)
    return ClientTls(mode, rule if mode else None)


def sets_tls(rule: IstioObject) -> bool:
    policy = rule.spec.get("trafficPolicy")
    policy = policy if isinstance(policy, dict) else {}
    levels = [p for p in listed(policy.get("portLevelSettings")) if isinstance(p, dict)]
    return any(isinstance(p.get("tls"), dict) for p in [policy, *levels])


def _export_to(rule: IstioObject) -> set[str]:
    return {str(e) for e in listed(rule.spec.get("exportTo"))}


def _exported_to(rule: IstioObject, client: str | None) -> bool:
    """Exported to the client's namespace; with no client known, only a rule every namespace sees."""
    export = _export_to(rule)
    return not export or "*" in export or (client is not None and client in export)


def _most_specific(rules: Sequence[IstioObject], host: str) -> list[IstioObject]:
    """The rules, oldest first, for the pattern that matches `host` most closely (`MostSpecificHostMatch`)."""
    scored = [(score, rule) for rule in rules if (score := _specificity(host_of(rule), host)) is not None]
    best = max((score for score, _ in scored), default=None)
    return [rule for score, rule in scored if score == best]


def _merged(rules: Sequence[IstioObject]) -> IstioObject:
    """Of the rules merged for one host, the one whose top-level traffic policy applies: the oldest that has one."""
    return next((r for r in rules if isinstance(r.spec.get("trafficPolicy"), dict)), rules[0])


class DestinationRules:
    """The DestinationRule a client's sidecar uses for a host, as istiod indexes (`setDestinationRules`) and looks
    them up (`destinationRule`, pilot/pkg/model/push_context.go):
    1. the client's namespace, its rules visible there (for a client of the root namespace, only the root
       namespace's private rules, so that its `*.local` rules do not hide the services' own);
    2. the service's namespace, then 3. the root namespace: the rules exported beyond their own namespace.
    In each, the most specific host wins, and only then is `exportTo` checked against the client: a rule not
    exported to it sends the lookup to the next namespace, never to a less specific host. Rules for one host of one
    namespace are merged (`mergeDestinationRule`, destination_rule.go): the oldest top-level `trafficPolicy` wins.
    A rule with a `workloadSelector` applies to the client pods it selects only, which callers do not name, so it
    is left out."""

    def __init__(self, objects: Iterable[IstioObject], root_namespace: str):
        self.root_namespace = root_namespace
        self.by_namespace: dict[str, list[IstioObject]] = {}
        self.hosts_in: dict[str, list[IstioObject]] = {}  # rules that set TLS for one host, by its namespace
        self.local: dict[str, list[IstioObject]] = {}  # step 1
        self.exported: dict[str, list[IstioObject]] = {}  # steps 2 and 3
        self.root_private: list[IstioObject] = []
        for rule in by_age(o for o in objects if o.kind == "DestinationRule"):
            if rule.spec.get("workloadSelector"):
                continue
            self.by_namespace.setdefault(rule.namespace, []).append(rule)
            host = host_of(rule).split(".")
            if sets_tls(rule) and host[0] != "*" and len(host) > 2 and host[2] == "svc":
                self.hosts_in.setdefault(host[1], []).append(rule)
            export = _export_to(rule)
            if not export or {"*", ".", rule.namespace} & export:
                self.local.setdefault(rule.namespace, []).append(rule)
            if len(export) == 1 and export & {".", rule.namespace}:
                if rule.namespace == root_namespace:
                    self.root_private.append(rule)
            else:
                self.exported.setdefault(rule.namespace, []).append(rule)

    @property
    def rules(self) -> list[IstioObject]:
        return [r for rules in self.by_namespace.values() for r in rules]

    def for_host(self, client: str | None, host: str, service_namespace: str) -> IstioObject | None:
        """The rule whose traffic policy a client in namespace `client` (None: any client) uses for `host`."""
        if client is not None:
            found = _most_specific(
                self.root_private if client == self.root_namespace else self.local.get(client, []), host
            )
            if found:
                return _merged(found)
        for namespace in (service_namespace, self.root_namespace):
            found = [r for r in _most_specific(self.exported.get(namespace, []), host) if _exported_to(r, client)]
            if found:
                return _merged(found)
        return None

    def client_tls(
        self, client: str | None, namespace: str, labels: Mapping[str, str] | None, port: str, topology: Topology
    ) -> ClientTls:
        """What the DestinationRules make a client send to container port `port` of the pods labelled `labels`
        (None: any pod of the namespace that no known Service fronts)."""
        services = topology.services_of(namespace, labels) if labels is not None else []
        found: set[ClientTls] = set()
        if not services:
            rule = self.for_host(client, f"{_ANY_SERVICE}.{namespace}.{CLUSTER_DOMAIN}", namespace)
            wide = tls_mode_at(rule, None) if rule is not None else ClientTls(None)
            # A rule for a host of the namespace that no known Service names may be these pods' own.
            unplaced = [r for r in self.hosts_in.get(namespace, ()) if host_of(r) not in topology.hosts]
            if any(tls_mode_at(r, None).mode != wide.mode for r in unplaced):
                return UNKNOWN
            found.add(wide)
        for service in services:
            rule = self.for_host(client, service_host(service), namespace)
            ports: Sequence[int | None] = service_ports(service, port) or [None]
            found |= {tls_mode_at(rule, p) if rule is not None else ClientTls(None) for p in ports}
        return found.pop() if len(found) == 1 else UNKNOWN


# --- what is sent, what arrives ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """What a client sends to one server port, and why; `form` None when it cannot be told here."""

    form: str | None
    why: str = ""
    by: IstioObject | None = None


@dataclass(frozen=True)
class Arrival:
    """One caller's requests to one port, as the server sees them."""

    caller: Caller
    request: Request  # principal "" when they arrive as plaintext, None when not known
    sent: Sent
    mode: str | None  # the port's mTLS mode; None at a gateway, where no PeerAuthentication applies
    gateway: IstioObject | None
    decision: Decision | None  # the policies' verdict; None when the server cannot take them at all
    waypoint: Waypoint | None = None  # the waypoint the requests go through; `request` is then what ztunnel sees
    at_waypoint: Decision | None = None  # the verdict of the policies bound to the waypoint

    @property
    def refused(self) -> bool:
        """Plaintext at STRICT, or Istio mTLS at a port that takes plaintext only."""
        return self.decision is None

    @property
    def plaintext(self) -> bool:
        return self.sent.form == PLAINTEXT


def client_namespace(principal: str | None) -> str | None:
    identity = identity_of(principal)
    return identity.namespace if identity is not None else None


def trust_domain(principal: str | None) -> str:
    identity = identity_of(principal)
    return identity.trust_domain if identity is not None else DEFAULT_TRUST_DOMAIN


def _first_refusal(decisions: Sequence[Decision]) -> Decision:
    """Requests pass a waypoint, then ztunnel: the first that denies them decides."""
    for decision in decisions:
        if decision.allowed is False:
            return decision
    return Decision(None) if any(d.allowed is None for d in decisions) else Decision(True)


class MeshView:
    """One mesh's objects, indexed once, for everything that asks what reaches a port."""

    def __init__(self, objects: Sequence[IstioObject], root_namespace: str):
        self.root_namespace = root_namespace
        self.topology = Topology(objects)
        self.planes = DataPlanes(objects, self.topology.services)
        self.peers = PeerAuthentications(objects, root_namespace, self.planes.ambient)
        self.policies = AuthorizationPolicies.of(objects, root_namespace)
        self.dry_run = AuthorizationPolicies.of(objects, root_namespace, dry_run=True)
        self.rules = DestinationRules(objects, root_namespace)
        # What a waypoint enforces: the policies bound by targetRefs (gateways' too; only a waypoint's are asked for).
        self.attached = [o for o in objects if o.kind == "AuthorizationPolicy" and o.targets_gateways and not o.dry_run]

    def ambient_pods(self, namespace: str, labels: Mapping[str, str] | None) -> bool:
        """Pods ztunnel serves: of an ambient namespace, and not a gateway's (Istio deploys those with
        `istio.io/dataplane-mode: none`, pilot/pkg/config/kube/gatewaycommon/deploymentcontroller.go)."""
        if namespace not in self.planes.ambient:
            return False
        return labels is None or self.topology.gateway(namespace, labels) is None

    def server_mode(self, namespace: str, labels: Mapping[str, str], port: str) -> str | None:
        """The port's mTLS mode, or None at a gateway."""
        if self.topology.gateway(namespace, labels) is not None:
            return None
        return self.peers.at(namespace, labels).at(port)

    def sent_by_sidecar(self, client: str | None, namespace: str, labels: Mapping[str, str] | None, port: str) -> Sent:
        """What a client with a sidecar in namespace `client` (None: any) sends to container port `port` of the pods
        labelled `labels` (None: any pod of the namespace without a workload policy of its own)."""
        if self.planes.ambient and (client in self.planes.ambient or self.ambient_pods(namespace, labels)):
            return self._sent_in_ambient(client, namespace, labels, port)
        tls = self.rules.client_tls(client, namespace, labels, port, self.topology)
        if not tls.known:
            return Sent(None)
        if tls.mode is not None:
            form = {"DISABLE": PLAINTEXT, "ISTIO_MUTUAL": MTLS}.get(tls.mode, OWN_TLS)
            assert tls.rule is not None
            return Sent(form, f"{describe(tls.rule)} sets tls.mode {tls.mode}", tls.rule)
        if self.peers.base(namespace) == "DISABLE":
            policy = self.peers.deciding(namespace, {}, "")
            where = (
                "the mesh" if policy is None or policy.namespace == self.root_namespace else f"namespace {namespace}"
            )
            return Sent(PLAINTEXT, f"mTLS in {where} is DISABLE, which turns auto mTLS off for its services", policy)
        gateway = self.topology.gateway(namespace, labels) if labels is not None else None
        if gateway is not None:
            return Sent(PLAINTEXT, f"auto mTLS sends plaintext to gateway pods ({describe(gateway)})", gateway)
        modes = self.peers.at(namespace, labels or {})
        if modes.at(port) == "DISABLE":
            services = self.topology.services_of(namespace, labels) if labels is not None else []
            headless = [s for s in services if is_headless(s)]
            if headless and len(headless) < len(services):
                return Sent(None)  # it depends on which Service the client calls
            if headless:
                # An ORIGINAL_DST cluster gets one TLS setting for all its endpoints, no per-endpoint match
                # (cluster_tls.go); the guess for it (`BestEffortInferServiceMTLSMode`) reads the namespace's mode.
                return Sent(
                    MTLS,
                    f"{describe(headless[0])} is headless, so its clients' sidecars pick TLS once for all its pods, "
                    "not per port: Istio mTLS unless the namespace is DISABLE",
                    headless[0],
                )
            return Sent(PLAINTEXT, f"port {port} is DISABLE, so auto mTLS sends it plaintext", modes.policy)
        return Sent(MTLS)

    def _sent_in_ambient(self, client: str | None, namespace: str, labels: Mapping[str, str] | None, port: str) -> Sent:
        if client is not None and client in self.planes.ambient:
            if self.ambient_pods(namespace, labels):
                return Sent(MTLS, "ztunnel sends HBONE (mTLS) to an ambient pod, whatever a DestinationRule says")
            return Sent(None)  # ztunnel toward a sidecar or a gateway: not modelled here
        tls = self.rules.client_tls(client, namespace, labels, port, self.topology)
        if not tls.known or tls.mode is not None:
            return Sent(None)  # a DestinationRule's TLS toward an HBONE endpoint: not modelled here
        return Sent(MTLS, "a sidecar sends HBONE (mTLS) to an ambient pod")

    def waypoint_policies(self, waypoint: Waypoint, namespace: str, labels: Mapping[str, str]) -> list[IstioObject]:
        """The policies a waypoint applies to calls to the pods labelled `labels` (`ShouldAttachPolicy`,
        pilot/pkg/model/policyattachment.go): bound to the waypoint's Gateway, to a Service of those pods that uses
        it, or, from the root namespace, to GatewayClass istio-waypoint. A waypoint of another class (agentgateway)
        gets no AuthorizationPolicy from istiod."""
        if str(waypoint.gateway.spec.get("gatewayClassName") or "") != WAYPOINT_CLASS:
            return []
        services = {
            s.name for s in self.topology.services_of(namespace, labels) if self.planes.service_waypoint(s).waypoint
        }
        bound = {
            ("Gateway", waypoint.namespace, waypoint.name),
            ("GatewayClass", self.root_namespace, WAYPOINT_CLASS),
            *(("Service", namespace, name) for name in services),
        }
        return [
            policy
            for policy in self.attached
            if any(
                (kind, policy.namespace, name) in bound and group in TARGET_GROUPS[kind]
                for group, kind, name in target_refs(policy)
            )
        ]

    def unplaced_service_policies(self, namespace: str) -> list[IstioObject]:
        """Policies bound to a Service of `namespace` that neither the files nor the settings place: whose pods it
        fronts is not known here, so they may apply to any of the namespace's."""
        known = {s.name for s in self.topology.services if s.namespace == namespace}
        return [
            policy
            for policy in self.attached
            if policy.namespace == namespace
            and any(
                kind == "Service" and group in TARGET_GROUPS["Service"] and name not in known
                for group, kind, name in target_refs(policy)
            )
        ]

    def _at_waypoint(self, waypoint: Waypoint, namespace: str, labels: Mapping[str, str], request: Request) -> Decision:
        placed = self.waypoint_policies(waypoint, namespace, labels)
        decision = decide(placed, request)
        unplaced = [p for p in self.unplaced_service_policies(namespace) if p not in placed]
        if unplaced and decision.allowed is not False and decide(placed + unplaced, request).allowed is not True:
            return Decision(None)  # it depends on whether one of those Services fronts these pods
        return decision

    def _ambient_arrival(self, caller: Caller, request: Request) -> Arrival:
        namespace, labels, port = caller.namespace, caller.selector, request.port
        mode = self.peers.at(namespace, labels).at(port)
        waypoint = None
        if caller.sidecar:  # in the mesh: a sidecar, a gateway, or ztunnel when its namespace is ambient
            identity = identity_of(request.principal)
            sent = self.sent_by_sidecar(client_namespace(request.principal), namespace, labels, port)
            if identity is not None and sent.form == MTLS:
                waypoint = self.planes.waypoint_for(identity, namespace, frozenset(labels.items()))
        else:
            sent = Sent(PLAINTEXT, "from outside the mesh, straight to ztunnel")
        arriving = request if sent.form == MTLS else dataclasses.replace(request, principal=None)
        if sent.form == PLAINTEXT:
            arriving = dataclasses.replace(request, principal="")
        if sent.form == PLAINTEXT and mode == "STRICT":
            return Arrival(caller, arriving, sent, mode, None, None)
        decisions = []
        at_waypoint = None
        if waypoint is not None:
            at_waypoint = self._at_waypoint(waypoint, namespace, labels, arriving)
            decisions.append(at_waypoint)
            arriving = dataclasses.replace(arriving, principal=waypoint.principal(trust_domain(request.principal)))
        at_ztunnel = ztunnel.as_enforced(self.policies.applying_to(namespace, labels))
        decisions.append(decide(at_ztunnel, arriving))
        return Arrival(caller, arriving, sent, mode, None, _first_refusal(decisions), waypoint, at_waypoint)

    def arrival(self, caller: Caller, request: Request) -> Arrival:
        if self.planes.ambient and self.ambient_pods(caller.namespace, caller.selector):
            return self._ambient_arrival(caller, request)
        labels = caller.selector
        if caller.sidecar:
            sent = self.sent_by_sidecar(client_namespace(request.principal), caller.namespace, labels, request.port)
        else:
            sent = Sent(PLAINTEXT)
        arriving = request
        if sent.form == PLAINTEXT:
            arriving = dataclasses.replace(request, principal="")
        elif sent.form != MTLS:
            arriving = dataclasses.replace(request, principal=None)
        gateway = self.topology.gateway(caller.namespace, labels)
        mode = self.server_mode(caller.namespace, labels, request.port)
        refused = (sent.form == PLAINTEXT and mode == "STRICT") or (sent.form == MTLS and mode == "DISABLE")
        decision = None if refused else decide(self.policies.applying_to(caller.namespace, labels), arriving)
        return Arrival(caller, arriving, sent, mode, gateway, decision)

    def arrivals(self, callers: Iterable[Caller]) -> list[Arrival]:
        return [self.arrival(caller, request) for caller in callers for request in caller.requests]
