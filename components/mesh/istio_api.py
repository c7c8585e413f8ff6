"""Istio's security API as the program writes and checks it: modes, actions, and the fields of AuthorizationPolicy
rules. Facts: ../shared/reference/istio-mesh-mtls.md and istio/istio pkg/config/security."""

from __future__ import annotations

import re
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
