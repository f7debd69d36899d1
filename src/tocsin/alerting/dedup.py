"""Whether a flush of a group should notify an integration: a pure decision.

Alertmanager's rule (notify/dedup_stage): notify when

- nothing was sent yet and something fires;
- an alert fires that was not firing in the last notification;
- nothing fires now but something did last time (the group resolved);
- with `send_resolved`, an alert resolved that was not resolved last time;
- otherwise, when `repeat_interval` has passed since the last notification.

One difference, so that virtual-clock scenarios are exact: the repeat is due
when `now - last >= repeat_interval` (Alertmanager compares strictly and its
log stamp is taken after delivery, so its repeats land one group_interval
later than the interval when the two divide evenly). Documented in
docs/alerting.md.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass

from tocsin.alerting.nflog import LogEntry


@dataclass(frozen=True, slots=True)
class Decision:
    notify: bool
    reason: str


# The decisions are few and fixed: made once, not per flush.
_FIRST = Decision(True, "first notification for this group")
_NOTHING_YET = Decision(False, "nothing firing and nothing sent before")
_REFIRING = Decision(True, "first notification since the group resolved")
_NEW_FIRING = Decision(True, "new firing alerts")
_ALL_RESOLVED = Decision(True, "all alerts resolved")
_RESOLUTION_SENT = Decision(False, "nothing firing, resolution already sent")
_NEWLY_RESOLVED = Decision(True, "newly resolved alerts")
_REPEAT = Decision(True, "repeat interval passed")
_ALREADY_NOTIFIED = Decision(False, "already notified, repeat interval not passed")


def needs_update(
    entry: LogEntry | None,
    firing: Set[str],
    resolved: Set[str],
    *,
    send_resolved: bool,
    repeat_interval: float,
    now: float,
) -> Decision:
    """Decide for one integration of one group; `firing`/`resolved` are fingerprints."""
    if entry is None:
        return _FIRST if firing else _NOTHING_YET
    if not firing <= entry.firing:
        return _NEW_FIRING if entry.firing else _REFIRING
    if not firing:
        return _ALL_RESOLVED if entry.firing else _RESOLUTION_SENT
    if send_resolved and not resolved <= entry.resolved:
        return _NEWLY_RESOLVED
    if now - entry.timestamp >= repeat_interval:
        return _REPEAT
    return _ALREADY_NOTIFIED
