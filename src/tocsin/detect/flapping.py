"""Weighted percent state change, as Nagios computes it for flap detection.

Over the last `window` results there are `window - 1` places where the state
may change. Each change counts with a weight rising linearly from 0.75 (the
oldest) to 1.25 (the newest), and the sum is expressed as a percentage of
`window - 1`. A history shorter than the window is scored against the full
window, so a young target cannot look flappy from two results.

Results are bits of an int (newest at bit 0, 1 = failed); a change between
results i and i+1 is bit i of `bits ^ (bits >> 1)`. Per-chunk lookup tables
turn the changes into a score without a Python loop over bits.
"""

from __future__ import annotations

_CHUNK = 8


class FlapScorer:
    """Scores a history's changes for one window size."""

    __slots__ = ("_tables", "window")

    def __init__(self, window: int = 21) -> None:
        if window < 3:
            raise ValueError("flap window must hold at least 3 results")
        self.window = window
        slots = window - 1
        # Change at bit i (0 = between the two newest results) is position
        # slots - i counted from the oldest, so its weight is:
        weights = [
            (0.75 + (slots - 1 - i) * 0.5 / (slots - 1)) * 100.0 / slots for i in range(slots)
        ]
        tables: list[list[float]] = []
        for start in range(0, slots, _CHUNK):
            chunk = weights[start : start + _CHUNK]
            table = [0.0] * (1 << len(chunk))
            for value in range(1, len(table)):
                low = value & -value
                table[value] = table[value ^ low] + chunk[low.bit_length() - 1]
            tables.append(table)
        self._tables = tuple(tables)

    def percent(self, bits: int, count: int) -> float:
        """Weighted percent change over the newest min(count, window) results."""
        usable = count if count < self.window else self.window
        if usable < 2:
            return 0.0
        changes = (bits ^ (bits >> 1)) & ((1 << (usable - 1)) - 1)
        if not changes:
            return 0.0
        total = 0.0
        for table in self._tables:
            total += table[changes & 0xFF]
            changes >>= _CHUNK
            if not changes:
                break
        return total
