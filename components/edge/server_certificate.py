"""The certificate the load balancer presents for edge.domains: which DNS authorizations a Google-managed Certificate
Manager certificate needs, and stable Pulumi names for them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

# A Pulumi name part per domain, short enough that the auto-name (name, '-', 7 random characters) fits the 64
# characters of a Certificate Manager name.
MAX_NAME_PART = 40


def authorized_domains(domains: Iterable[str]) -> list[str]:
    """One DNS authorization per domain, in order: `example.com`'s covers `*.example.com` too (Certificate Manager
    DnsAuthorization.domain: 'authorization for "example.com" can be used to issue certificates for "example.com"
    and "*.example.com"')."""
    return list(dict.fromkeys(domain.removeprefix("*.").lower() for domain in domains))


def name_part(domain: str) -> str:
    """`domain` as part of a Pulumi name: dots become '_' (which no host name holds, so two domains never share a
    part), and a long name is cut, with a hash of the whole."""
    part = domain.replace(".", "_")
    if len(part) <= MAX_NAME_PART:
        return part
    digest = hashlib.sha256(domain.encode()).hexdigest()[:8]
    return f"{part[: MAX_NAME_PART - 9]}-{digest}"
