"""The verdict headers at the URL map of an EXTERNAL_MANAGED edge: whatever a client sent under their names is
dropped, and the load balancer's own values are set (header actions do not exist on the classic load balancer)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def header_action(headers: Mapping[str, str]) -> dict[str, Any]:
    """Sorted by name: the headers come from a stack output, whose keys come back in any order."""
    return {
        "request_headers_to_removes": sorted(headers),
        "request_headers_to_adds": [
            {"header_name": name, "header_value": value, "replace": True} for name, value in sorted(headers.items())
        ],
    }
