"""Times on the wire, formatted the way Go's time.Time marshals to JSON."""

from __future__ import annotations

from datetime import UTC, datetime

ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339(t: float | None) -> str:
    """RFC 3339 in UTC with the fraction trimmed of trailing zeros.

    None (an unset time, such as the end of a still-firing alert) gives Go's
    zero time, which is what Alertmanager sends for it.
    """
    if t is None:
        return ZERO_TIME
    dt = datetime.fromtimestamp(t, UTC)
    # isoformat() (C) is several times cheaper than strftime(); it ends in
    # "+00:00" and carries six fraction digits whenever there is a fraction.
    text = dt.isoformat()[:-6]
    if dt.microsecond:
        text = text.rstrip("0")
    return text + "Z"
