"""The backend service the edge fronts, as looked up in the cloud, and what the edge may do with it."""

from __future__ import annotations

from dataclasses import dataclass

# Schemes a global external target HTTPS proxy can serve. GKE Ingress ("gce" class) creates EXTERNAL
# (classic Application Load Balancer) backends, which support frontend mTLS.
GLOBAL_EXTERNAL_SCHEMES = ("EXTERNAL", "EXTERNAL_MANAGED")


@dataclass(frozen=True)
class BackendService:
    name: str
    self_link: str
    load_balancing_scheme: str


def scheme_problem(service: BackendService) -> str | None:
    """Why the edge cannot front this backend, or None. The forwarding rule must use the backend's scheme."""
    if service.load_balancing_scheme in GLOBAL_EXTERNAL_SCHEMES:
        return None
    return (
        f"backend service {service.name!r} has load-balancing scheme {service.load_balancing_scheme!r}, which a "
        f"global external HTTPS proxy cannot serve (it needs {' or '.join(GLOBAL_EXTERNAL_SCHEMES)}). "
        "Point gke-mtls:backend at a backend made by a 'gce' class Ingress (scheme EXTERNAL), not 'gce-internal' "
        "or 'gce-regional-external'."
    )
