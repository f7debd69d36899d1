"""Garbage-collector settings for a long-running engine holding big fleets.

A sweep of 100,000 targets allocates hundreds of thousands of short-lived
objects; with CPython's default generation-0 threshold (700) the collector
runs thousands of times per sweep and re-scans the long-lived fleet state
each time it reaches the older generations. Freezing what start-up built and
raising the thresholds keeps collections rare without turning them off.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 50_000


def tune_gc() -> None:
    """Call once start-up has built its long-lived state."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
