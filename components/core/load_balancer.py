"""Where Google's load balancers reach a backend from: the facts both the GKE side and the mesh build rules on."""

from __future__ import annotations

# Source ranges of the GFE proxies and health checkers of the global external and classic Application Load
# Balancers, for zonal NEG backends (https://cloud.google.com/load-balancing/docs/firewall-rules, 2026-11).
FRONT_END_RANGES = ("130.211.0.0/22", "35.191.0.0/16")
