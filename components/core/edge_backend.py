"""What the GKE side tells the edge about its backend, declared once for both: the health check, and the clients the
edge lets through by their certificate's identity. On the standalone-NEG path the platform stack exports these
(with the NEG) and the edge stack builds its backend service and authorization policy from them.

Facts: ../shared/reference/gcp-edge-mtls.md section 5 (header variables); Google's auth-policy reference
(networksecurity v1 AuthzPolicy, principals with principalSelector).
"""

from __future__ import annotations

import base64
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from components.core.findings import quoted
from components.core.names import Port, Syntax, is_host_label
from components.core.settings import Omittable, SettingsModel

# Compute's health checks take a request path that "must comply with RFC3986" (compute v1 HTTPHealthCheck and its
# HTTPS and HTTP/2 kin): segments of pchar (unreserved, sub-delims, ':' and '@') or %XX escapes. The path is also
# excluded in the mesh guard's `notPaths`, where `*` (a sub-delim) is a wildcard that could exempt every path, so it
# is refused too; so is a query ('?'), which Envoy's path match leaves out.
RequestPath = Annotated[
    str,
    Syntax(
        r"/(?:[A-Za-z0-9\-._~!$&'()+,;=:@/]|%[0-9A-Fa-f]{2})*",
        "a path starts with / and holds only what RFC 3986 allows in a path: ASCII letters, digits, "
        "-._~!$&'()+,;=:@ and /, or a %XX escape of two hex digits; no spaces, braces, '*' or query ('?')",
    ),
]
# Istio's exact (`/charge`) and prefix (`/api/*`) forms: the two that a load balancer's path match can mirror.
CLIENT_PATH = Syntax(
    r"/[!-~]*",
    "a path is exact (/charge) or a prefix ending in * (/api/*), in visible ASCII without '?', '#', braces or "
    "another '*'",
    max_length=1024,
)
METHODS = ("GET", "PUT", "POST", "HEAD", "PATCH", "DELETE", "OPTIONS")  # the ones an AuthzPolicy takes
MAX_PATHS = 5  # AuthzPolicy paths: "Limited to 5 matches" per operation (Cloud SDK 528's networksecurity v1)
SPIFFE_SCHEME = "spiffe://"
# The load balancer's variables that carry a client's identity (custom-headers docs): the SPIFFE ID as it is,
# other URI SANs and the DNS SANs each Base64-encoded and comma-separated.
SPIFFE_ID, URI_SANS, DNS_SANS = "client_cert_spiffe_id", "client_cert_uri_sans", "client_cert_dnsname_sans"
CHAIN_VERIFIED = "client_cert_chain_verified"


class HealthCheck(SettingsModel):
    """The load balancer's health check of the pods."""

    request_path: RequestPath = Field("/", description="HTTP path probed.", examples=["/healthz"])
    port: Omittable[Port] = Field(
        None, description="Container port probed; default: the serving port.", examples=[8080]
    )
    type: Literal["HTTP", "HTTPS", "HTTP2"] = Field("HTTP", description="Protocol of the probe.", examples=["HTTP"])
    check_interval_sec: Annotated[int, Field(ge=1, le=300)] = Field(
        15, description="Seconds between probes.", examples=[15]
    )
    timeout_sec: Annotated[int, Field(ge=1, le=300)] = Field(
        5, description="Seconds before a probe fails; at most checkIntervalSec.", examples=[5]
    )
    healthy_threshold: Annotated[int, Field(ge=1, le=10)] = Field(
        1, description="Successes to become healthy.", examples=[1]
    )
    unhealthy_threshold: Annotated[int, Field(ge=1, le=10)] = Field(
        2, description="Failures to become unhealthy.", examples=[2]
    )

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> HealthCheck:
        # compute v1 HealthCheck: "It is invalid for timeoutSec to have greater value than checkIntervalSec."
        if self.timeout_sec > self.check_interval_sec:
            raise PydanticCustomError(
                "config.range",
                f"is {self.timeout_sec}, longer than checkIntervalSec ({self.check_interval_sec}), which Compute "
                "refuses for a health check. Make timeoutSec at most checkIntervalSec.",
                {"at": ".timeoutSec"},
            )
        return self


def _client_uri(uri: str) -> str:
    problem = uri_problem(uri)
    if problem is not None:
        raise PydanticCustomError("config.client-identity", f"{quoted(uri)}: {problem}")
    return uri


def uri_problem(uri: str) -> str | None:
    """Why `uri` cannot be a certificate's URI SAN as written, or None (RFC 3986 absolute URI; SPIFFE ID rules for
    spiffe://)."""
    scheme, colon, rest = uri.partition(":")
    if not (colon and scheme[:1].isalpha() and all(c.isalnum() or c in "+-." for c in scheme) and scheme.isascii()):
        return "is not an absolute URI: write it with its scheme, such as spiffe://acme.com/ns/shop/sa/checkout."
    if not rest or any(not ("!" <= c <= "~") for c in rest) or any(c in '<>"{}|\\^`' for c in rest):
        return 'holds a character a URI does not (spaces, controls, non-ASCII, <>"{}|\\^`); percent-encode it.'
    if len(uri.encode()) > 2048:
        return "is over 2048 bytes, more than the load balancer passes on."
    if uri.startswith(SPIFFE_SCHEME):
        trust_domain, _, path = uri[len(SPIFFE_SCHEME) :].partition("/")
        segments = path.split("/") if path else []
        if not trust_domain or any(not (c.islower() or c.isdigit() or c in ".-_") for c in trust_domain):
            return "has no valid SPIFFE trust domain (lowercase letters, digits, '.', '-' and '_')."
        if any(s in ("", ".", "..") or not all(c.isalnum() or c in ".-_" for c in s) for s in segments):
            return "is not a SPIFFE ID: path segments are letters, digits, '.', '-' and '_', none empty, '.' or '..'."
    elif not uri.startswith(scheme.lower() + ":"):
        return "has an uppercase scheme; certificates carry it in lowercase, and the match is exact."
    return None


def _client_dns_name(name: str) -> str:
    labels = name.split(".")
    if not name.isascii() or len(name) > 253 or not all(is_host_label(label) for label in labels):
        message = (
            f"{quoted(name)}: is not a DNS name as a certificate carries it: labels of letters, digits and hyphens "
            "(1 to 63 characters each, not starting or ending with a hyphen), at most 253 characters, ASCII (the "
            "xn-- form of an internationalized name), no wildcard."
        )
        raise PydanticCustomError("config.client-identity", message)
    return name


def _client_path(path: str) -> str:
    body = path[:-1] if path.endswith("*") else path
    if any(c in "?#{}*" for c in body):
        message = (
            f"{quoted(path)}: {CLIENT_PATH.explanation}. A load balancer matches the path with its query, the mesh "
            "without, so only these two forms mean the same at both."
        )
        raise PydanticCustomError("config.client-path", message)
    return path


def load_balancer_paths(path: str) -> list[dict[str, str]]:
    """A path as the load balancer's matches. It matches the path with the query and the mesh without, so an exact
    path also matches itself followed by a query."""
    if path.endswith("*"):
        return [{"prefix": path[:-1]}]
    return [{"exact": path}, {"prefix": path + "?"}]


def _once_each(methods: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(methods))


ClientUri = Annotated[str, AfterValidator(_client_uri)]
ClientDnsName = Annotated[str, AfterValidator(_client_dns_name)]
ClientPath = Annotated[str, CLIENT_PATH, AfterValidator(_client_path)]
Method = Literal["GET", "PUT", "POST", "HEAD", "PATCH", "DELETE", "OPTIONS"]


class AllowedClient(SettingsModel):
    """A client the edge lets through, by an identity in its certificate (give `uriSan` or `dnsSan`), to some
    paths and methods. The load balancer checks it (standalone-NEG path), and so does the mesh (both paths)."""

    uri_san: Omittable[ClientUri] = Field(
        None,
        description="A URI SAN of the client's certificate: a SPIFFE ID or another URI, matched exactly.",
        examples=["spiffe://acme.com/ns/shop/sa/checkout"],
    )
    dns_san: Omittable[ClientDnsName] = Field(
        None, description="A DNS SAN of the client's certificate, matched exactly.", examples=["billing.acme.com"]
    )
    paths: Annotated[tuple[ClientPath, ...], Field(max_length=MAX_PATHS)] = Field(
        (), description="Paths it may call: exact, or a prefix ending in *; default: every path.", examples=[["/api/*"]]
    )
    # A set, written as a list: a repeat is dropped, so that the policies stay within Google's 10 methods.
    methods: Annotated[tuple[Method, ...], AfterValidator(_once_each)] = Field(
        (),
        description="HTTP methods it may use (each counts once); default: every method.",
        examples=[["GET", "POST"]],
    )

    @model_validator(mode="after")
    def _one_identity_and_few_paths(self) -> AllowedClient:
        if (self.uri_san is None) == (self.dns_san is None):
            which = "not both" if self.uri_san is not None else "neither is set"
            raise PydanticCustomError("config.client-identity", f"give exactly one of `uriSan` and `dnsSan` ({which}).")
        matches = sum(len(load_balancer_paths(path)) for path in self.paths)
        if matches > MAX_PATHS:
            raise PydanticCustomError(
                "config.client-path",
                f"the paths make {matches} load-balancer path matches (an exact path makes two: itself, and itself "
                f"with a query); an authorization rule takes at most {MAX_PATHS}. Use fewer exact paths or a prefix.",
            )
        return self

    @property
    def identity(self) -> str:
        identity = self.uri_san if self.uri_san is not None else self.dns_san
        assert identity is not None  # check_allowed_clients refuses an entry with neither
        return identity

    @property
    def variable(self) -> str:
        """The load balancer's header variable that carries this identity."""
        if self.uri_san is None:
            return DNS_SANS
        return SPIFFE_ID if self.uri_san.startswith(SPIFFE_SCHEME) else URI_SANS

    @property
    def header_values(self) -> tuple[str, ...]:
        """Istio `when` values matching the variable's expansion when it carries this identity. A SPIFFE ID comes
        as it is; other SANs come Base64-encoded in a comma-separated list (Base64 has no comma), so the identity is
        matched as the whole list, its first or its last entry. An identity in the middle of three or more is not
        matched: the request is refused, never let through by mistake."""
        if self.variable == SPIFFE_ID:
            return (self.identity,)
        encoded = base64.b64encode(self.identity.encode()).decode()
        return (encoded, f"{encoded},*", f"*,{encoded}")


class NegBackend(SettingsModel):
    """What the platform stack exports for the edge stack's backend service (its `negBackend` output)."""

    port: Port = Field(description="The container port the NEG's endpoints serve.")
    health_check: HealthCheck = Field(HealthCheck())
    log_sample_rate: Annotated[float, Field(ge=0.0, le=1.0)] = Field(1.0)
    headers: dict[str, str] = Field({}, description="Custom request headers (name: value with variables).")
    allowed_clients: tuple[AllowedClient, ...] = Field(())
    # Set for a regional external load balancer: where the mesh lets its requests in from (absent in exports of
    # earlier versions, which served the global load balancers only).
    proxy_only_subnet_range: Omittable[str] = Field(None)
