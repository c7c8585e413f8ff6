"""Batch work over many objects, such as analysing a mesh of 10,000 workloads or reading a cluster dump."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Pauses CPython's cycle collector, as `timeit` does. The work inside makes no reference cycles, so nothing is
    left unfreed, but while it allocates the collector would rescan every long-lived object (all the settings) again
    and again: measured, that doubled the analysis of 10,000 workloads. Reference counting still frees memory."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
