"""The mesh's settings, `gke-mtls:mesh`, each key declared once; and the rules that relate several of them.

What the settings mean for Istio (duplicates, identity without mTLS, the edge's port) is the analysis's job.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, IPvAnyNetwork

from components.core.findings import Finding, error
from components.core.names import (
    Labels,
    Namespace,
    NotificationChannel,
    Port,
    ResourceName,
    ServiceName,
    Syntax,
    word,
)
from components.core.settings import Omittable, SettingsModel, config_key
from components.mesh.istio_api import PRINCIPAL, TARGET_GROUPS, Action, Mode

# From PERMISSIVE to STRICT: `observe` stays PERMISSIVE and records, in a dry-run policy, every request STRICT would
# refuse; `enforce` is STRICT.
Stage = Literal["observe", "enforce"]
STAGE_MODES = {"observe": "PERMISSIVE", "enforce": "STRICT"}

KEY = config_key("mesh")
PortKey = str  # "8080": any string here; the analysis reports one that is not a port, with its key
ProviderName = Annotated[str, word("a provider name")]
Principal = Annotated[
    str,
    Syntax(
        PRINCIPAL.pattern,
        "a principal is <trust-domain>/ns/<namespace>/sa/<service-account>, e.g. cluster.local/ns/shop/sa/checkout "
        "(no spiffe:// prefix, no wildcard)",
        max_length=320,
    ),
]


def workload_key(index: int) -> str:
    return f"{KEY}.workloads[{index}]"


def policy_key(index: int) -> str:
    return f"{KEY}.authorization[{index}]"


def caller_key(index: int) -> str:
    return f"{KEY}.callers[{index}]"


EDGE_BACKEND_KEY = f"{KEY}.edgeBackend"
AMBIENT_KEY = f"{KEY}.ambient"
TargetKind = Literal["Service", "Gateway", "GatewayClass", "ServiceEntry"]  # TARGET_GROUPS's kinds


class WorkloadPolicy(SettingsModel):
    """A PeerAuthentication for one workload (with `selector`) or one namespace (without)."""

    namespace: Namespace = Field(description="Namespace of the workload.", examples=["my-namespace"])
    selector: Labels = Field(
        {},
        description="Pod labels that pick the workload (selector.matchLabels).",
        examples=[{"app": "my-special-app"}],
    )
    mode: Mode = Field(
        "UNSET", description="mTLS mode of the workload; UNSET inherits the namespace's.", examples=["PERMISSIVE"]
    )
    ports: dict[PortKey, Mode] = Field(
        {}, description="Per container port modes (portLevelMtls); needs a selector.", examples=[{"8080": "DISABLE"}]
    )
    name: Omittable[ResourceName] = Field(
        None,
        description="metadata.name of the PeerAuthentication; default: made from the selector.",
        examples=["my-special-app"],
    )
    service: Omittable[ServiceName] = Field(
        None,
        description="The Kubernetes Service in front of the workload: its DISABLE ports then get a DestinationRule "
        "with `tls.mode: DISABLE` for that Service. Auto mTLS already sends plaintext to a DISABLE workload or port, "
        "so it is needed only where a DestinationRule sets client TLS for the host, such as `meshWideIstioMutual`.",
        examples=["my-special-app"],
    )
    service_ports: dict[PortKey, Port] = Field(
        {},
        description="Service port for each container port in `ports`, where they differ.",
        examples=[{"8080": 80}],
    )
    stage: Omittable[Stage] = Field(
        None,
        description="Migration stage of this workload instead of `mode`: observe (PERMISSIVE, and a dry-run policy "
        "records what STRICT would refuse) or enforce (STRICT). Needs a selector.",
        examples=["observe"],
    )


class PolicyTarget(SettingsModel):
    """What a policy is bound to instead of pods (Istio's `targetRefs`), which sidecars and ztunnel ignore: a Service
    or ServiceEntry of a namespace of `ambient` with a `waypoint`, that waypoint's Gateway, or another gateway of the
    Gateway API; from the root namespace, GatewayClass istio-waypoint."""

    kind: TargetKind = Field(
        description="Service or ServiceEntry (enforced by the waypoint it uses: its namespace needs one in "
        "`ambient`), Gateway (that gateway or waypoint: the stack checks the waypoint it declares, and the edge "
        "backend's gateway) or GatewayClass (istio-waypoint: every waypoint; from the root namespace only).",
        examples=["Service"],
    )
    name: ResourceName = Field(description="Its name, in the policy's namespace.", examples=["productpage"])
    group: Omittable[str] = Field(
        None,
        description='Its API group; default: the kind\'s (`""` for a Service, gateway.networking.k8s.io for a '
        "Gateway or GatewayClass, networking.istio.io for a ServiceEntry).",
        examples=[""],
    )

    @property
    def api_group(self) -> str:
        return self.group if self.group is not None else TARGET_GROUPS[self.kind][0]


class AuthorizationSettings(SettingsModel):
    """An AuthorizationPolicy; `rules` use Istio's own field names."""

    name: ResourceName = Field(description="metadata.name.", examples=["httpbin-policy"])
    namespace: Namespace = Field(
        description="Namespace of the policy (the root namespace makes it mesh-wide).", examples=["default"]
    )
    selector: Labels = Field(
        {}, description="Pod labels the policy applies to; none: the whole namespace.", examples=[{"app": "httpbin"}]
    )
    target_refs: tuple[PolicyTarget, ...] = Field(
        (),
        description="Instead of `selector`: what the policy is bound to (Istio's targetRefs). In an ambient "
        "namespace this is how a waypoint enforces it, with HTTP attributes and the callers' own identities.",
        examples=[[{"kind": "Service", "name": "productpage"}]],
        max_length=16,
    )
    action: Action = Field("ALLOW", description="What a matching request gets.", examples=["ALLOW"])
    provider: Omittable[ProviderName] = Field(
        None, description="Extension provider, only with CUSTOM.", examples=["ext-authz"]
    )
    rules: Omittable[tuple[Any, ...]] = Field(
        None,
        description="Istio rules: from.source, to.operation, when (checked by the analysis, with Istio's field names).",
        examples=[[{"from": [{"source": {"principals": ["cluster.local/ns/default/sa/sleep"]}}]}]],
    )


class EdgeBackendSettings(SettingsModel):
    """What the edge load balancer's backend reaches: a workload port, or the Istio ingress gateway."""

    namespace: Omittable[Namespace] = Field(
        None,
        description="Namespace of the workload behind the GKE backend service (with `istioIngressGateway`: of the "
        "gateway's pods).",
        examples=["default"],
    )
    selector: Labels = Field({}, description="Its pod labels.", examples=[{"app": "web"}])
    port: Omittable[Port] = Field(None, description="The container port the load balancer sends to.", examples=[8080])
    istio_ingress_gateway: bool = Field(
        False,
        description="True when the backend is the Istio ingress gateway instead. No PeerAuthentication applies to a "
        "gateway; give `namespace`, `selector` and `port` of its pods to have the load balancer checked against the "
        "AuthorizationPolicies there.",
        examples=[False],
    )


class CallerSource(SettingsModel):
    """Where a caller's requests come from: a mesh identity, or plaintext from IP ranges."""

    principal: Omittable[Principal] = Field(
        None, description="Its mesh identity, when it has a sidecar.", examples=["cluster.local/ns/shop/sa/checkout"]
    )
    ip_blocks: tuple[IPvAnyNetwork, ...] = Field(
        (),
        description="Without a sidecar: the ranges its plaintext requests come from (pod or node CIDRs).",
        examples=[["10.8.0.0/14"]],
    )


class CallerTarget(SettingsModel):
    """What a caller calls: a workload's container ports."""

    namespace: Namespace = Field(description="Namespace of the workload called.", examples=["shop"])
    selector: Labels = Field(description="Its pod labels.", examples=[{"app": "payments"}])
    ports: tuple[Port, ...] = Field(description="The container ports called.", min_length=1, examples=[[8443]])


class CallerSettings(SettingsModel):
    """A client whose requests must get through: the analysis checks the mTLS mode and the AuthorizationPolicies
    it meets on every port it calls."""

    name: Annotated[str, word("a caller name")] = Field(
        description="What to call it in messages.", examples=["checkout"]
    )
    source: CallerSource = Field(alias="from", examples=[{"principal": "cluster.local/ns/shop/sa/checkout"}])
    target: CallerTarget = Field(
        alias="to", examples=[{"namespace": "shop", "selector": {"app": "payments"}, "ports": [8443]}]
    )


class PlaintextAlert(SettingsModel):
    """A Cloud Monitoring alert on plaintext requests or connections reaching what a migration has enforced,
    evaluated by PromQL over Istio's metrics in Managed Service for Prometheus."""

    notification_channels: tuple[NotificationChannel, ...] = Field(
        (), description="Where incidents are sent.", examples=[["projects/acme-dev/notificationChannels/1234567890"]]
    )


class AmbientNamespace(SettingsModel):
    """A namespace whose pods run in Istio's ambient mode: labelled `istio.io/dataplane-mode: ambient`, so ztunnel
    serves them instead of sidecars."""

    waypoint: Omittable[ResourceName] = Field(
        None,
        description="The waypoint the namespace's services use (its label `istio.io/use-waypoint`): a Gateway of "
        "class istio-waypoint of that name in the namespace, such as `istioctl waypoint apply --enroll-namespace` "
        "makes. None: ztunnel alone, which enforces L4 attributes only.",
        examples=["waypoint"],
    )


class MeshSettings(SettingsModel):
    """Istio mTLS and authorization for the cluster."""

    root_namespace: Namespace = Field(
        "istio-system", description="Istio's root namespace (meshConfig.rootNamespace).", examples=["istio-system"]
    )
    mode: Mode = Field("STRICT", description="Mesh-wide mTLS mode.", examples=["STRICT"])
    namespaces: dict[Namespace, Mode] = Field(
        {}, description="Namespace-wide modes.", examples=[{"legacy": "PERMISSIVE"}]
    )
    migration: dict[Namespace, Stage] = Field(
        {},
        description="Namespaces on their way from PERMISSIVE to STRICT, instead of a mode in `namespaces`: observe "
        "(PERMISSIVE, and a dry-run policy records every request STRICT would refuse) or enforce (STRICT).",
        examples=[{"legacy": "observe"}],
    )
    workloads: tuple[WorkloadPolicy, ...] = Field(
        (),
        description="Workload and namespace PeerAuthentications: a PeerAuthentication for one workload (with "
        "`selector`) or one namespace (without).",
        examples=[[{"namespace": "my-namespace", "selector": {"app": "my-special-app"}, "mode": "PERMISSIVE"}]],
    )
    authorization: tuple[AuthorizationSettings, ...] = Field(
        (),
        description="AuthorizationPolicies; `rules` use Istio's own field names.",
        examples=[
            [
                {
                    "name": "httpbin-policy",
                    "namespace": "default",
                    "selector": {"app": "httpbin"},
                    "rules": [{"to": [{"operation": {"methods": ["GET"]}}]}],
                }
            ]
        ],
    )
    deny_by_default: tuple[Namespace, ...] = Field(
        (),
        description="Namespaces that get an allow-nothing AuthorizationPolicy (spec: {}).",
        examples=[["default"]],
    )
    mesh_wide_istio_mutual: bool = Field(
        False,
        description="Also create the classic `*.local` ISTIO_MUTUAL DestinationRule. Not recommended: it breaks calls "
        "to services without a sidecar.",
        examples=[False],
    )
    plaintext_alert: Omittable[PlaintextAlert] = Field(
        None,
        description="Alert on plaintext reaching the namespaces and workloads at `enforce` (needs their Istio "
        "metrics in Managed Service for Prometheus).",
        examples=[{"notificationChannels": ["projects/acme-dev/notificationChannels/1234567890"]}],
    )
    callers: tuple[CallerSettings, ...] = Field(
        (),
        description="Clients whose requests must get through, checked against the modes and policies they meet; "
        "the edge's load balancer and Google's health checks are added when `edgeBackend` is set.",
        examples=[
            [
                {
                    "name": "prometheus",
                    "from": {"ipBlocks": ["10.8.0.0/14"]},
                    "to": {"namespace": "shop", "selector": {"app": "payments"}, "ports": [9090]},
                }
            ]
        ],
    )
    edge_backend: Omittable[EdgeBackendSettings] = Field(
        None,
        examples=[{"namespace": "default", "selector": {"app": "web"}, "port": 8080}],
    )
    ambient: dict[Namespace, AmbientNamespace] = Field(
        {},
        description="Namespaces whose pods run in Istio's ambient mode (ztunnel, and a waypoint where named), so the "
        "stack's policies are checked as ztunnel and the waypoint enforce them. The stack does not label them.",
        examples=[{"shop": {"waypoint": "waypoint"}}],
    )


def check(mesh: MeshSettings) -> list[Finding]:
    """The rules that relate several mesh keys; those of ambient namespaces are `validation/ambient.py`'s."""
    from components.mesh.validation import ambient  # it reads these models: imported here, not at the top

    return [*_callers(mesh), *_stages(mesh), *_edge_backend(mesh), *_targets(mesh), *ambient.settings_findings(mesh)]


def _targets(mesh: MeshSettings) -> list[Finding]:
    found = []
    for i, p in enumerate(mesh.authorization):
        key = f"{policy_key(i)}.targetRefs"
        if p.target_refs and p.selector:
            found.append(
                error(
                    "config.target-refs",
                    key,
                    "a policy applies either to pods (`selector`) or to what `targetRefs` names, not both (Istio "
                    "refuses both); keep one.",
                )
            )
        for j, target in enumerate(p.target_refs):
            if target.group is not None and target.group not in TARGET_GROUPS[target.kind]:
                found.append(
                    error(
                        "config.target-refs",
                        f"{key}[{j}].group",
                        f"a {target.kind} is of group {TARGET_GROUPS[target.kind][0]!r}, not {target.group!r}; "
                        "leave `group` out.",
                    )
                )
            if target.kind == "GatewayClass" and p.namespace != mesh.root_namespace:
                found.append(
                    error(
                        "config.target-refs",
                        f"{key}[{j}]",
                        f"istiod binds a policy to a GatewayClass only from the root namespace {mesh.root_namespace}; "
                        "move the policy there, or name the Gateway.",
                    )
                )
    return found


def _stages(mesh: MeshSettings) -> list[Finding]:
    found = [
        error(
            "config.migration",
            f"{KEY}.migration.{ns}",
            f"{ns} also has a mode in `namespaces`; the stage sets it (observe: PERMISSIVE, enforce: STRICT). "
            "Remove it from `namespaces`.",
        )
        for ns in mesh.migration
        if ns in mesh.namespaces
    ]
    enforced = [ns for ns, stage in mesh.migration.items() if stage == "enforce"]
    if mesh.plaintext_alert is not None and not enforced and not any(w.stage == "enforce" for w in mesh.workloads):
        found.append(
            error(
                "config.migration",
                f"{KEY}.plaintextAlert",
                "nothing is at `enforce`, so the alert would watch nothing; set it once a namespace or workload is.",
            )
        )
    if mesh.root_namespace in mesh.migration:
        found.append(
            error(
                "config.migration",
                f"{KEY}.migration.{mesh.root_namespace}",
                "the root namespace's mode is the mesh's: migrate namespace by namespace, then set `mode: STRICT`.",
            )
        )
    for i, w in enumerate(mesh.workloads):
        if w.stage is not None and (w.mode != "UNSET" or not w.selector):
            found.append(
                error(
                    "config.migration",
                    f"{workload_key(i)}.stage",
                    "a stage needs a selector and sets the workload's mode itself; remove `mode`, or the stage."
                    if w.selector
                    else "a stage needs a selector; for a whole namespace use `migration`.",
                )
            )
    return found


def _callers(mesh: MeshSettings) -> list[Finding]:
    return [
        error(
            "config.caller",
            f"{caller_key(i)}.from",
            "set either `principal` (a caller with a sidecar) or `ipBlocks` (plaintext from those ranges), not both "
            "and not neither.",
        )
        for i, c in enumerate(mesh.callers)
        if (c.source.principal is None) == (not c.source.ip_blocks)
    ]


def _edge_backend(mesh: MeshSettings) -> list[Finding]:
    backend = mesh.edge_backend
    if backend is None:
        return []
    workload_form = backend.namespace is not None or backend.port is not None or bool(backend.selector)
    if not backend.istio_ingress_gateway and not workload_form:
        return [
            error(
                "config.edge-backend",
                EDGE_BACKEND_KEY,
                "set the workload the load balancer sends to (`namespace`, `selector`, `port`), or "
                "`istioIngressGateway: true`.",
            )
        ]
    if workload_form and (backend.namespace is None or backend.port is None or not backend.selector):
        what = "the ingress gateway's pods need" if backend.istio_ingress_gateway else "a workload backend needs"
        return [
            error(
                "config.edge-backend",
                EDGE_BACKEND_KEY,
                f"{what} `namespace`, `selector` and `port` (the container port the load balancer sends to).",
            )
        ]
    return []
