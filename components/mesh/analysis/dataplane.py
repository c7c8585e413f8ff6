"""Which namespaces run Istio's ambient data plane, and which waypoint is in the path of calls to their pods: from the
Namespace, Service and Gateway objects of cluster files, and from what the settings or `--ambient` declare.

The labels (istio.io's ambient architecture page, "Ambient APIs"; pkg/config/constants/constants.go and
pilot/pkg/serviceregistry/ambient/waypoints.go of istio/istio @86c9f01fd):
- `istio.io/dataplane-mode: ambient` on a namespace has ztunnel capture its pods (the CNI's enablement selector,
  manifests/charts/istio-cni/values.yaml); `none` keeps a pod out; no other value means anything. A pod that gets a
  sidecar is never captured (cni/pkg/util/podutil.go `podHasSidecar`).
- `istio.io/use-waypoint: NAME` on a Service or namespace names the waypoint its service traffic goes through, the
  Service's own label first, `none` opting out (`GetUseWaypoint`). The waypoint is the Gateway NAME of the object's
  namespace, or of `istio.io/use-waypoint-namespace`, whose HBONE listener must then let that namespace attach
  (`allowedRoutes.namespaces.from`, Same by default). istio.io's table also shows `{namespace}/{name}` and `#none`;
  Kubernetes takes neither as a label value, and istiod reads the value as a name.
- `istio.io/waypoint-for` on the Gateway says what traffic it takes: `service` (the default), `workload`, `all` or
  `none`; service traffic goes through a waypoint of `service` or `all` only (`fetchWaypointForService`).
- The waypoint's pods run as the service account of the Gateway's `gateway.istio.io/service-account` annotation, else
  the Gateway's name for the waypoint classes (`GetDefaultName`, DisableNameSuffix, in
  pilot/pkg/config/kube/gatewaycommon), and ztunnel sees that identity: "waypoint proxies do not impersonate src
  identity" (istio.io "Use Layer 4 security policy").

Callers captured by ztunnel go through a waypoint; sidecars and clients outside the mesh reach the destination's
ztunnel directly (istio.io's ambient data-plane page; istio/istio#51445), and so does a gateway unless the Service, or
its namespace, is labelled `istio.io/ingress-use-waypoint: "true"`. The analysis takes calls as made to a Service, so
a waypoint serves them when it takes service traffic.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from components.core.findings import Finding, closest, error, quoted, warning
from components.core.names import label_value_problem
from components.mesh.interchange.istio_objects import IstioObject, Origin, go_bool, labels_text, listed
from components.mesh.istio_api import (
    AGENTGATEWAY_WAYPOINT_CLASS,
    AMBIENT,
    DATAPLANE_MODE,
    DEFAULT_TRUST_DOMAIN,
    GATEWAY_API_GROUP,
    HBONE_PORT,
    INGRESS_USE_WAYPOINT,
    NO_WAYPOINT,
    OUT_OF_AMBIENT,
    SERVICE_ACCOUNT_ANNOTATION,
    TRAFFIC_TYPES,
    USE_WAYPOINT,
    USE_WAYPOINT_NAMESPACE,
    WAYPOINT_CLASS,
    WAYPOINT_FOR,
    Identity,
)

SERVICE_TRAFFIC = ("service", "all")
WAYPOINT_CLASSES = (WAYPOINT_CLASS, AGENTGATEWAY_WAYPOINT_CLASS)  # their deployments are named as the Gateway
INJECTION_LABELS = {"istio-injection": "enabled", "istio.io/rev": None}  # None: any value injects


@dataclass(frozen=True)
class Waypoint:
    namespace: str
    name: str
    traffic: str  # istio.io/waypoint-for
    service_account: str
    gateway: IstioObject

    @property
    def title(self) -> str:
        return f"waypoint {self.namespace}/{self.name}"

    def principal(self, trust_domain: str = DEFAULT_TRUST_DOMAIN) -> str:
        return Identity(trust_domain, self.namespace, self.service_account).principal


@dataclass(frozen=True)
class Binding:
    """Where an `istio.io/use-waypoint` label leads: a waypoint, or why none (`why` is empty when no label asks)."""

    waypoint: Waypoint | None
    why: str = ""


NO_BINDING = Binding(None)


def _gateway_class(gateway: IstioObject) -> str:
    return str(gateway.spec.get("gatewayClassName") or "")


def _allows_from(gateway: IstioObject, namespace: str) -> bool:
    """The HBONE listener (port 15008) lets `namespace` attach (`makeAllowedRoutes`): All, or Selector (whose labels
    are not judged here); Same, the default, only the Gateway's own namespace."""
    if namespace == gateway.namespace:
        return True
    for listener in listed(gateway.spec.get("listeners")):
        if isinstance(listener, dict) and listener.get("protocol") == "HBONE" and listener.get("port") == HBONE_PORT:
            routes = listener.get("allowedRoutes")
            namespaces = routes.get("namespaces") if isinstance(routes, dict) else None
            origin = namespaces.get("from") if isinstance(namespaces, dict) else None
            return origin in ("All", "Selector")
    return False


class DataPlanes:
    """The data plane of each namespace and the waypoints in the path, indexed once."""

    def __init__(self, objects: Iterable[IstioObject], services: Sequence[IstioObject]):
        self.services = services
        self.namespace_objects: dict[str, list[IstioObject]] = {}
        self.labels: dict[str, dict[str, str]] = {}
        self.rivals: list[tuple[IstioObject, IstioObject]] = []  # (a Namespace of the files, an earlier one)
        # Files first, the later of two same-named documents winning, as `kubectl apply` of both would; then what
        # the settings or --ambient declare, which the analysis puts on top.
        namespaces = [o for o in objects if o.kind == "Namespace"]
        in_files: dict[str, IstioObject] = {}
        for obj in sorted(namespaces, key=lambda o: o.origin.from_settings):
            self.namespace_objects.setdefault(obj.name, []).append(obj)
            if obj.origin.from_settings:
                self.labels.setdefault(obj.name, {}).update(obj.labels)
                continue
            earlier = in_files.get(obj.name)
            if earlier is not None and dict(earlier.labels) != dict(obj.labels):
                self.rivals.append((obj, earlier))
            in_files[obj.name] = obj
            self.labels[obj.name] = dict(obj.labels)
        self.ambient = frozenset(ns for ns, labels in self.labels.items() if labels.get(DATAPLANE_MODE) == AMBIENT)
        self.gateways: dict[tuple[str, str], IstioObject] = {}
        self.gateway_classes: dict[str, IstioObject] = {}
        self.service_entries: dict[tuple[str, str], IstioObject] = {}
        for obj in objects:
            if obj.kind == "Gateway" and obj.api_version.startswith(GATEWAY_API_GROUP):
                self.gateways.setdefault((obj.namespace, obj.name), obj)
            elif obj.kind == "GatewayClass":
                self.gateway_classes.setdefault(obj.name, obj)
            elif obj.kind == "ServiceEntry":
                self.service_entries.setdefault((obj.namespace, obj.name), obj)

    @functools.cached_property
    def gateway_accounts(self) -> frozenset[tuple[str, str]]:
        """(namespace, service account) of the Gateway API's gateways and waypoints, whose pods ztunnel never
        captures."""
        return frozenset((ns, w.service_account) for ns, name in self.gateways if (w := self.waypoint(ns, name)))

    def captured(self, namespace: str, service_account: str) -> bool:
        """Pods running as this service account are ztunnel's, so their calls go through the waypoints in their way."""
        return namespace in self.ambient and (namespace, service_account) not in self.gateway_accounts

    def waypoint_for(self, caller: Identity, namespace: str, labels: frozenset[tuple[str, str]]) -> Waypoint | None:
        """The waypoint the calls of `caller` to the pods labelled `labels` go through: ztunnel's callers take the
        Service's waypoint; a gateway takes it only where `ingress_in_path` says; anything else reaches ztunnel
        directly."""
        if self.captured(caller.namespace, caller.service_account):
            return self.in_path(namespace, labels)
        if (caller.namespace, caller.service_account) in self.gateway_accounts:
            return self.ingress_in_path(namespace, labels)
        return None

    @functools.cache  # noqa: B019 - one analysis, then dropped
    def waypoint(self, namespace: str, name: str) -> Waypoint | None:
        gateway = self.gateways.get((namespace, name))
        if gateway is None:
            return None
        gateway_class = _gateway_class(gateway)
        default = name if gateway_class in WAYPOINT_CLASSES else f"{name}-{gateway_class}"
        # The Gateway's label, else its GatewayClass's, else service (pilot/pkg/serviceregistry/ambient/waypoints.go).
        klass = self.gateway_classes.get(gateway_class)
        traffic = klass.labels.get(WAYPOINT_FOR, "service") if klass is not None else "service"
        return Waypoint(
            namespace,
            name,
            gateway.labels.get(WAYPOINT_FOR, traffic),
            gateway.annotations.get(SERVICE_ACCOUNT_ANNOTATION) or default,
            gateway,
        )

    def binding(self, labels: Mapping[str, str], namespace: str) -> Binding | None:
        """What the `istio.io/use-waypoint` label among `labels` of an object in `namespace` binds it to: None when
        it has no such label."""
        name = labels.get(USE_WAYPOINT)
        if name is None:
            return None
        if name == NO_WAYPOINT:
            return NO_BINDING
        where = labels.get(USE_WAYPOINT_NAMESPACE) or namespace
        found = self.waypoint(where, name)
        if found is None:
            return Binding(None, f"no Gateway {where}/{name} is in the files (istiod reports WaypointIsNotReady)")
        if not _allows_from(found.gateway, namespace):
            return Binding(
                None,
                f"Gateway {where}/{name} lets only its own namespace attach: its HBONE listener (port {HBONE_PORT}) "
                "has no `allowedRoutes.namespaces.from: All` (istiod reports WaypointAttachmentDenied)",
            )
        return Binding(found)

    def namespace_binding(self, namespace: str) -> Binding:
        return self.binding(self.labels.get(namespace, {}), namespace) or NO_BINDING

    def service_waypoint(self, service: IstioObject) -> Binding:
        """The waypoint a Service's traffic goes through: its own label first, then its namespace's; one that does not
        take service traffic serves none."""
        found = self.binding(service.labels, service.namespace) or self.namespace_binding(service.namespace)
        if found.waypoint is not None and found.waypoint.traffic not in SERVICE_TRAFFIC:
            return Binding(
                None,
                f"{found.waypoint.title} takes {found.waypoint.traffic} traffic only ({WAYPOINT_FOR}), not a Service's",
            )
        return found

    def service_named(self, namespace: str, name: str, kind: str = "Service") -> Binding:
        """The waypoint of the Service (or ServiceEntry) `name`, which the files may not hold: then its namespace's."""
        if kind == "ServiceEntry":
            service = self.service_entries.get((namespace, name))
        else:
            service = next((s for s in self.services if (s.namespace, s.name) == (namespace, name)), None)
        if service is not None:
            return self.service_waypoint(service)
        found = self.namespace_binding(namespace)
        if found.waypoint is not None and found.waypoint.traffic not in SERVICE_TRAFFIC:
            return Binding(None, f"{found.waypoint.title} takes {found.waypoint.traffic} traffic only")
        return found

    @functools.cache  # noqa: B019 - one analysis, then dropped
    def in_path(self, namespace: str, labels: frozenset[tuple[str, str]]) -> Waypoint | None:
        """The waypoint that calls from ambient pods to the pods labelled `labels` of an ambient namespace go
        through, calls being made to a Service of theirs (the namespace's waypoint when no Service is known)."""
        if namespace not in self.ambient:
            return None
        pods = dict(labels)
        fronting = [s for s in self.services if s.namespace == namespace and _selects(s.selector, pods)]
        if not fronting:
            return self.namespace_binding(namespace).waypoint if self._takes_services(namespace) else None
        return next((w for s in fronting if (w := self.service_waypoint(s).waypoint) is not None), None)

    @functools.cache  # noqa: B019 - one analysis, then dropped
    def ingress_in_path(self, namespace: str, labels: frozenset[tuple[str, str]]) -> Waypoint | None:
        """The waypoint a gateway's calls to the pods labelled `labels` go through: that of a Service of theirs (the
        namespace's when no Service is known) labelled, or in a namespace labelled, `istio.io/ingress-use-waypoint:
        "true"` (`findServiceWaypoint`, pilot/pkg/xds/endpoints/endpoint_builder.go; ENABLE_INGRESS_WAYPOINT_ROUTING,
        on by default, pilot/pkg/features/ambient.go)."""
        if namespace not in self.ambient:
            return None
        pods = dict(labels)
        fronting = [s for s in self.services if s.namespace == namespace and _selects(s.selector, pods)]
        if not fronting:
            waypoint = self.namespace_binding(namespace).waypoint if self._takes_services(namespace) else None
            return waypoint if self._ingress_uses_waypoint({}, namespace) else None
        return next(
            (
                w
                for s in fronting
                if self._ingress_uses_waypoint(s.labels, namespace) and (w := self.service_waypoint(s).waypoint)
            ),
            None,
        )

    def _ingress_uses_waypoint(self, labels: Mapping[str, str], namespace: str) -> bool:
        """`ingressUseWaypointFromLabels` (pilot/pkg/serviceregistry/ambient/services.go): the Service's label, else
        its namespace's, read as Go's ParseBool reads it."""
        value = labels.get(INGRESS_USE_WAYPOINT, self.labels.get(namespace, {}).get(INGRESS_USE_WAYPOINT))
        return value is not None and go_bool(value) is True

    def _takes_services(self, namespace: str) -> bool:
        waypoint = self.namespace_binding(namespace).waypoint
        return waypoint is not None and waypoint.traffic in SERVICE_TRAFFIC

    def any_in_path(self, namespace: str) -> Waypoint | None:
        """A waypoint that some service traffic into `namespace` goes through."""
        if namespace not in self.ambient:
            return None
        if self._takes_services(namespace):
            return self.namespace_binding(namespace).waypoint
        return next(
            (w for s in self.services if s.namespace == namespace and (w := self.service_waypoint(s).waypoint)),
            None,
        )

    # --- what the files say wrong -------------------------------------------------------------------------------

    def problems(self) -> list[Finding]:
        found = [
            warning(
                "ambient.duplicate-namespace",
                obj.origin.key,
                f"a second Namespace {obj.name} beside {earlier.origin.key}, with other labels "
                f"({labels_text(obj.labels)} against {labels_text(earlier.labels)}); the cluster holds one, so the "
                "analysis reads this one's, the later document's. Export the namespace once.",
            )
            for obj, earlier in self.rivals
        ]
        for namespace, objects in self.namespace_objects.items():
            for obj in objects:
                if obj.origin.from_settings:
                    continue
                found += _label_problems(obj, namespace)
            found += self._injection(namespace, objects)
        in_namespaces = (o for os in self.namespace_objects.values() for o in os)
        for obj in [*self.services, *self.service_entries.values(), *in_namespaces]:
            namespace = obj.name if obj.kind == "Namespace" else obj.namespace
            bound = self.binding(obj.labels, namespace)
            if bound is not None and bound.waypoint is None and bound.why:
                found.append(_dangling(obj, namespace, bound.why, self.gateways))
        for gateway in self.gateways.values():
            traffic = gateway.labels.get(WAYPOINT_FOR)
            if traffic is not None and traffic not in TRAFFIC_TYPES:
                found.append(
                    error(
                        "ambient.label",
                        gateway.origin.key,
                        f"{WAYPOINT_FOR} of Gateway {gateway.namespace}/{gateway.name} is {quoted(traffic)}, which "
                        f"Istio does not define: write one of {', '.join(TRAFFIC_TYPES)} (service is the default).",
                    )
                )
        return found

    def _injection(self, namespace: str, objects: list[IstioObject]) -> list[Finding]:
        if namespace not in self.ambient:
            return []
        for obj in objects:
            for label, value in INJECTION_LABELS.items():
                if obj.labels.get(label) is not None and value in (None, obj.labels[label]):
                    return [
                        warning(
                            "ambient.sidecar-injection",
                            obj.origin.key,
                            f"namespace {namespace} is labelled for ambient and for sidecar injection ({label}: "
                            f"{obj.labels[label]}): pods that get a sidecar are not captured by ztunnel (istio-cni "
                            "skips them) and keep the sidecar's behaviour, which istioctl analyze reports as IST0123. "
                            f"Remove {label} and restart the pods to move them to ambient.",
                        )
                    ]
        return []


def _selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _label_problems(obj: IstioObject, namespace: str) -> list[Finding]:
    found = []
    mode = obj.labels.get(DATAPLANE_MODE)
    if mode is not None and mode not in (AMBIENT, OUT_OF_AMBIENT):
        hint = closest(mode.lower(), (AMBIENT, OUT_OF_AMBIENT)) or AMBIENT
        found.append(
            error(
                "ambient.label",
                obj.origin.key,
                f"{DATAPLANE_MODE} of namespace {namespace} is {quoted(mode)}, which Istio does not define: only "
                f"`{AMBIENT}` moves the namespace's pods to ztunnel (`{OUT_OF_AMBIENT}` keeps a pod out), so it stays "
                f"as it is. Write `{hint}`.",
            )
        )
    return found


def _dangling(obj: IstioObject, namespace: str, why: str, gateways: Mapping[tuple[str, str], IstioObject]) -> Finding:
    name = obj.labels[USE_WAYPOINT]
    what = f"namespace {namespace}" if obj.kind == "Namespace" else f"{obj.kind} {obj.namespace}/{obj.name}"
    if "/" in name or name.startswith("#") or label_value_problem(name):
        fix = (
            f"Kubernetes takes no {quoted(name)} as a label value: write the Gateway's name, with "
            f"{USE_WAYPOINT_NAMESPACE} for a waypoint of another namespace, or `{NO_WAYPOINT}` to opt out"
        )
    else:
        known = [n for ns, n in gateways if ns == (obj.labels.get(USE_WAYPOINT_NAMESPACE) or namespace)]
        hint = closest(name, known)
        fix = (
            f"did you mean {hint!r}? " if hint else ""
        ) + "Add the Gateway's YAML (`kubectl get gateways.gateway.networking.k8s.io -A -o yaml`), or fix the name"
    return error(
        "ambient.waypoint",
        obj.origin.key,
        f"{USE_WAYPOINT} of {what} names waypoint {quoted(name)}, but {why}: its traffic goes through no waypoint, "
        f"and no L7 policy is enforced for it. {fix[0].upper()}{fix[1:]}.",
    )


def what_if(names: Sequence[str], objects: Sequence[IstioObject]) -> tuple[list[IstioObject], list[Finding]]:
    """The namespaces `analyze --ambient` moves to ambient: a Namespace labelled so for each, which the analysis puts
    on top of what the files say (their waypoint labels stay); a name that no object is in is reported instead."""
    known = {obj.name if obj.kind == "Namespace" else obj.namespace for obj in objects}
    moved, found = [], []
    for name in dict.fromkeys(names):
        key = f"--ambient {name}"
        if name not in known:
            hint = closest(name, known)
            found.append(
                error(
                    "ambient.namespace",
                    key,
                    f"no object of the files (or of the stack) is in namespace {name}, so moving it to ambient "
                    "changes nothing: " + (f"did you mean {hint!r}?" if hint else "check the name."),
                )
            )
            continue
        labels = {DATAPLANE_MODE: AMBIENT}
        moved.append(IstioObject("Namespace", name, name, {}, Origin(key, True), labels=labels))
    return moved, found
