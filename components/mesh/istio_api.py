"""Istio's API as the program writes and checks it: modes, actions, the fields of AuthorizationPolicy rules, the
identities they name, what `targetRefs` may bind, and the labels of ambient mode. Facts:
../shared/reference/istio-mesh-mtls.md, istio/istio pkg/config/security and pkg/config/constants, and istio.io's
ambient pages. The analysis, the settings and the rendering share them from here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Mode = Literal["STRICT", "PERMISSIVE", "DISABLE", "UNSET"]
Action = Literal["ALLOW", "DENY", "AUDIT", "CUSTOM"]

SOURCE_FIELDS = (
    "principals",
    "notPrincipals",
    "requestPrincipals",
    "notRequestPrincipals",
    "namespaces",
    "notNamespaces",
    "serviceAccounts",
    "notServiceAccounts",
    "ipBlocks",
    "notIpBlocks",
    "remoteIpBlocks",
    "notRemoteIpBlocks",
    "trustDomains",
    "notTrustDomains",
)
OPERATION_FIELDS = ("hosts", "notHosts", "ports", "notPorts", "methods", "notMethods", "paths", "notPaths")
CONDITION_FIELDS = ("key", "values", "notValues")
RULE_FIELDS = ("from", "to", "when")
# Condition keys the istiod webhook accepts (pkg/config/security/security.go ValidateAttribute).
CONDITION_KEYS = (
    "source.ip",
    "remote.ip",
    "source.namespace",
    "source.serviceAccount",
    "source.principal",
    "source.trustDomain",
    "request.auth.principal",
    "request.auth.audiences",
    "request.auth.presenter",
    "destination.ip",
    "destination.port",
    "connection.sni",
)
CONDITION_KEY_PREFIXES = (
    "request.headers[",
    "request.auth.claims[",
    "experimental.envoy.filters.",
    "request.experimental.inline.headers[",
)
# What only a peer certificate carries: the source fields of the concept page's "Dependency on mutual TLS" and of
# the proto (serviceAccounts, trustDomains), their negative forms, and the condition keys Kiali's mTLS check adds to
# the concept page's (connection.sni).
MTLS_SOURCE_FIELDS = ("principals", "namespaces", "serviceAccounts", "trustDomains")
MTLS_NEGATIVE_FIELDS = ("notPrincipals", "notNamespaces", "notServiceAccounts", "notTrustDomains")
MTLS_CONDITIONS = (
    "source.principal",
    "source.namespace",
    "source.serviceAccount",
    "source.trustDomain",
    "connection.sni",
)
PRINCIPAL = re.compile(r"[^/*]+/ns/[^/*]+/sa/[^/*]+")
DEFAULT_TRUST_DOMAIN = "cluster.local"


@dataclass(frozen=True)
class Identity:
    """What a principal names: `<trust-domain>/ns/<namespace>/sa/<service-account>` (SPIFFE, without spiffe://)."""

    trust_domain: str
    namespace: str
    service_account: str

    @property
    def principal(self) -> str:
        return f"{self.trust_domain}/ns/{self.namespace}/sa/{self.service_account}"


def identity_of(principal: str | None) -> Identity | None:
    """The identity a principal names, None for anything else (plaintext's "", a pattern with fewer parts)."""
    parts = (principal or "").split("/")
    if len(parts) == 5 and parts[1] == "ns" and parts[3] == "sa":
        return Identity(parts[0], parts[2], parts[4])
    return None


# --- targetRefs ---------------------------------------------------------------------------------------------------

GATEWAY_API_GROUP = "gateway.networking.k8s.io"
# The group of each kind a policy may be bound to (istiod's webhook: "targetRef must be to one of ..."); the core
# group is "" ("core" is accepted too).
TARGET_GROUPS = {
    "Service": ("", "core"),
    "Gateway": (GATEWAY_API_GROUP,),
    "GatewayClass": (GATEWAY_API_GROUP,),
    "ServiceEntry": ("networking.istio.io",),
}
# The label Istio puts on the pods it deploys for a Gateway of the Gateway API: a policy bound to the Gateway applies
# to the pods labelled with its name (pilot/pkg/model/policyattachment.go).
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"

# --- ambient (istio.io's ambient architecture page, "Ambient APIs"; pkg/config/constants/constants.go) ----------

DATAPLANE_MODE = "istio.io/dataplane-mode"
AMBIENT = "ambient"
OUT_OF_AMBIENT = "none"
USE_WAYPOINT = "istio.io/use-waypoint"
USE_WAYPOINT_NAMESPACE = "istio.io/use-waypoint-namespace"
NO_WAYPOINT = "none"
WAYPOINT_FOR = "istio.io/waypoint-for"
TRAFFIC_TYPES = ("service", "workload", "all", "none")
INGRESS_USE_WAYPOINT = "istio.io/ingress-use-waypoint"
SERVICE_ACCOUNT_ANNOTATION = "gateway.istio.io/service-account"
WAYPOINT_CLASS = "istio-waypoint"  # constants.WaypointGatewayClassName
AGENTGATEWAY_WAYPOINT_CLASS = "istio-agentgateway-waypoint"  # constants.AgentgatewayWaypointClassName
HBONE_PORT = 15008
