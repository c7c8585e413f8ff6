"""GCP's rules for the custom request headers a backend service adds: how the mTLS verdict reaches the application.

Facts: ../shared/reference/gcp-edge-mtls.md (custom headers, mTLS variables).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from components.core.findings import Finding, error, quoted

CLIENT_CERT_VARIABLES = (
    "client_cert_present",
    "client_cert_chain_verified",
    "client_cert_error",
    "client_cert_sha256_fingerprint",
    "client_cert_serial_number",
    "client_cert_spiffe_id",
    "client_cert_uri_sans",
    "client_cert_dnsname_sans",
    "client_cert_valid_not_before",
    "client_cert_valid_not_after",
    "client_cert_issuer_dn",
    "client_cert_subject_dn",
    "client_cert_leaf",
    "client_cert_chain",
)
DEFAULT_HEADERS = {
    "X-Client-Cert-Present": "{client_cert_present}",
    "X-Client-Cert-Chain-Verified": "{client_cert_chain_verified}",
    "X-Client-Cert-Error": "{client_cert_error}",
    "X-Client-Cert-Hash": "{client_cert_sha256_fingerprint}",
    "X-Client-Cert-Spiffe-Id": "{client_cert_spiffe_id}",
}
MAX_HEADERS = 16
MAX_HEADER_BYTES = 8 * 1024
RESERVED_HEADERS = ("x-user-ip", "cdn-loop")
HOP_BY_HOP = ("keep-alive", "transfer-encoding", "te", "connection", "trailer", "upgrade")
RESERVED_PREFIXES = ("x-google", "x-goog-", "x-gfe", "x-amz-")
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 7230 token
VARIABLE = re.compile(r"(?<!\{)\{([a-z_]+)\}(?!\})")


def header_findings(headers: Mapping[str, str], key: str) -> list[Finding]:
    """GCP's rules for custom request headers on a backend service (custom-headers docs)."""
    found: list[Finding] = []
    if len(headers) > MAX_HEADERS:
        found.append(
            error("header.count", key, f"{len(headers)} headers; a backend service takes at most {MAX_HEADERS}.")
        )
    size = sum(len(name) + len(value) for name, value in headers.items())
    if size > MAX_HEADER_BYTES:
        found.append(
            error(
                "header.size",
                key,
                f"the headers take {size} bytes; a backend service takes at most "
                f"{MAX_HEADER_BYTES} (names and values, before variables expand).",
            )
        )
    seen: dict[str, str] = {}
    for name, value in headers.items():
        where, lower = f"{key}.{name}", name.lower()
        if not TOKEN.fullmatch(name):
            found.append(
                error(
                    "header.name",
                    where,
                    f"{quoted(name)} is not a valid header name (an RFC 7230 token: letters, digits and "
                    "!#$%&'*+-.^_`|~).",
                )
            )
        elif lower in RESERVED_HEADERS:
            found.append(
                error("header.reserved", where, f"{name} is reserved by the load balancer; pick another name.")
            )
        elif lower in HOP_BY_HOP:
            found.append(
                error(
                    "header.hop-by-hop",
                    where,
                    f"{name} is a hop-by-hop header, which the load balancer does not forward; pick another name.",
                )
            )
        elif lower.startswith(RESERVED_PREFIXES):
            found.append(
                error(
                    "header.prefix",
                    where,
                    f"{name} starts with a prefix Google reserves (X-Google, "
                    "X-Goog-, X-GFE, X-Amz-); pick another name.",
                )
            )
        earlier = seen.setdefault(lower, name)
        if earlier != name:
            found.append(
                error("header.duplicate", where, f"{name} repeats {earlier} (header names are case-insensitive).")
            )
        outside = next((c for c in value if not (c == "\t" or " " <= c <= "~")), None)
        if outside is not None:
            kind = "the control character" if outside < " " or outside == "\x7f" else "the non-ASCII character"
            found.append(
                error(
                    "header.value",
                    where,
                    f"{quoted(value)} holds {kind} {outside!r}; a header value (RFC 7230) takes visible ASCII "
                    "characters, spaces and tabs only.",
                )
            )
        for variable in VARIABLE.findall(value):
            if variable.startswith("client_cert_") and variable not in CLIENT_CERT_VARIABLES:
                found.append(
                    error(
                        "header.variable",
                        where,
                        f"{{{variable}}} is not a variable the load balancer knows "
                        f"(it would expand to nothing); known ones are {', '.join(CLIENT_CERT_VARIABLES)}.",
                    )
                )
    return found


# The URL map of an Envoy-based load balancer (EXTERNAL_MANAGED) sets the headers too (custom-headers-regional and
# l7-internal/custom-headers docs): it cannot set these, and it refuses an empty value.
URL_MAP_RESERVED = ("host", "authority")


def url_map_header_findings(headers: Mapping[str, str], key: str) -> list[Finding]:
    found = []
    for name, value in headers.items():
        where = f"{key}.{name}"
        if name.lower() in URL_MAP_RESERVED:
            message = f"{name} is reserved on the EXTERNAL_MANAGED load balancer's URL map; pick another name."
            found.append(error("header.reserved", where, message))
        if not value.strip():
            message = "is empty; the EXTERNAL_MANAGED load balancer's URL map refuses an empty header value."
            found.append(error("header.value", where, message))
    return found
