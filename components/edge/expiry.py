"""Every certificate an edge holds, with the days it has left: the trust config's anchors, intermediates and
allowlisted certificates (during a rotation, the new CAs too), and a self-managed server certificate."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from components.edge.certificates import TrustConfig
from components.edge.pem import LoadedCertificate


@dataclass(frozen=True)
class Held:
    role: str  # trust anchor, intermediate CA, allowlisted, server
    key: str  # the config key that names it
    source: str
    subject: str
    not_after: dt.datetime
    days_left: int

    @property
    def expired(self) -> bool:
        return self.days_left < 0


def held(trusts: Iterable[TrustConfig], server: Iterable[LoadedCertificate], now: dt.datetime) -> list[Held]:
    """Each certificate once, soonest to expire first."""
    seen: set[tuple[str, bytes]] = set()
    found: list[Held] = []

    def add(role: str, group: Iterable[LoadedCertificate]) -> None:
        for loaded in group:
            if (loaded.key, loaded.fingerprint) in seen:
                continue
            seen.add((loaded.key, loaded.fingerprint))
            not_after = loaded.certificate.not_valid_after_utc
            days = (not_after - now).days if not_after >= now else -((now - not_after).days + 1)
            found.append(Held(role, loaded.key, loaded.source, loaded.subject, not_after, days))

    for trust in trusts:
        add("trust anchor", trust.anchors)
        add("intermediate CA", trust.intermediates)
        add("allowlisted", trust.allowlisted)
    add("server", server)
    return sorted(found, key=lambda h: (h.not_after, h.key))
