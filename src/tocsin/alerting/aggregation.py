"""Aggregation groups and when they flush.

A group is one route plus the values of that route's `group_by` labels.
Timing is Alertmanager's:

- a new group waits `group_wait` before its first flush, except when the
  alert that creates it (or any alert joining it before that first flush)
  started more than `group_wait` ago: then it flushes at once;
- after a flush the next one is `group_interval` later (the timer is set
  when the flush starts, as in Alertmanager);
- a group whose receiver delivers digests flushes at the cron schedule's
  ticks instead, whatever the intervals say.

Due times are plain data (`next_flush`), kept in the store, so a restart
resumes the schedule instead of starting it over.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

from tocsin.alerting.digest import DigestSchedule
from tocsin.alerting.routing import Route


@dataclass(eq=False)
class AggregationGroup:
    key: str
    route: Route
    labels: Mapping[str, str]
    next_flush: float
    created_at: float
    digest: DigestSchedule | None = None
    has_flushed: bool = False
    fingerprints: set[str] = field(default_factory=set)
    flushing: bool = False

    @property
    def receiver(self) -> str:
        return self.route.receiver

    def first_due(self, starts_at: float, now: float) -> float:
        """When a group created now for an alert starting at `starts_at` flushes first."""
        if self.digest is not None:
            return self.digest.next_after(now)
        if starts_at + self.route.group_wait < now:
            return now  # the alert has waited long enough already
        return now + self.route.group_wait

    def start_flush(self, now: float) -> None:
        """Set the timer for the flush after this one, then mark as flushed."""
        if self.digest is not None:
            self.next_flush = self.digest.next_after(now)
        else:
            self.next_flush = now + self.route.group_interval
        self.has_flushed = True

    def repeat_interval(self) -> float:
        # A digest restates what still fires at every tick.
        return 0.0 if self.digest is not None else self.route.repeat_interval


class DueQueue:
    """Groups by due time; stale entries are skipped when popped."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str]] = []
        self._seq = itertools.count()

    def push(self, due: float, key: str) -> None:
        heapq.heappush(self._heap, (due, next(self._seq), key))

    def pop_due(self, now: float, groups: Mapping[str, AggregationGroup]) -> list[str]:
        """Keys of groups due at `now`. A group still flushing is skipped: the
        dispatcher queues it again when that flush ends."""
        out: list[str] = []
        seen: set[str] = set()
        while self._heap and self._heap[0][0] <= now:
            due, _, key = heapq.heappop(self._heap)
            g = groups.get(key)
            if g is None or g.next_flush != due or g.flushing or key in seen:
                continue
            seen.add(key)
            out.append(key)
        return out

    def next_due(self, groups: Mapping[str, AggregationGroup]) -> float | None:
        while self._heap:
            due, _, key = self._heap[0]
            g = groups.get(key)
            if g is None or g.next_flush != due or g.flushing:
                heapq.heappop(self._heap)
                continue
            return due
        return None

    def clear(self) -> None:
        self._heap.clear()
