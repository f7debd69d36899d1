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
        if firing:
            return Decision(True, "first notification for this group")
        return Decision(False, "nothing firing and nothing sent before")
    if not firing <= entry.firing:
        if not entry.firing:
            return Decision(True, "first notification since the group resolved")
        return Decision(True, "new firing alerts")
    if not firing:
        if entry.firing:
            return Decision(True, "all alerts resolved")
        return Decision(False, "nothing firing, resolution already sent")
    if send_resolved and not resolved <= entry.resolved:
        return Decision(True, "newly resolved alerts")
    if now - entry.timestamp >= repeat_interval:
        return Decision(True, "repeat interval passed")
    return Decision(False, "already notified, repeat interval not passed")
