"""The notification log: what each integration was last told about each group.

One entry per (group key, receiver, integration): the fingerprints that were
firing and resolved in the last notification sent, and when. The dedup
decision reads it; a successful delivery writes it. Entries expire after a
retention (Alertmanager's default: 120 hours) so the log does not grow
without bound. Persistence is the caller's (see `persistence.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

DEFAULT_RETENTION = 120 * 3600.0

LogKey = tuple[str, str, str]  # group key, receiver, integration


@dataclass(frozen=True, slots=True)
class LogEntry:
    group_key: str
    receiver: str
    integration: str
    firing: frozenset[str]
    resolved: frozenset[str]
    timestamp: float
    expires_at: float

    @property
    def key(self) -> LogKey:
        return (self.group_key, self.receiver, self.integration)


class NotificationLog:
    """Entries by key, in memory; `persistence.AlertingState` saves them."""

    def __init__(self, retention: float = DEFAULT_RETENTION) -> None:
        self.retention = retention
        self._entries: dict[LogKey, LogEntry] = {}
        # (group key, receiver) -> integration -> entry, for per-group lookups.
        self._by_group: dict[tuple[str, str], dict[str, LogEntry]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[LogEntry]:
        return iter(list(self._entries.values()))

    def get(self, group_key: str, receiver: str, integration: str) -> LogEntry | None:
        return self._entries.get((group_key, receiver, integration))

    def for_receiver(self, group_key: str, receiver: str) -> list[LogEntry]:
        return list(self._by_group.get((group_key, receiver), {}).values())

    def _put(self, entry: LogEntry) -> None:
        self._entries[entry.key] = entry
        self._by_group.setdefault((entry.group_key, entry.receiver), {})[entry.integration] = entry

    def log(
        self,
        group_key: str,
        receiver: str,
        integration: str,
        firing: Iterable[str],
        resolved: Iterable[str],
        now: float,
    ) -> LogEntry:
        entry = LogEntry(
            group_key,
            receiver,
            integration,
            frozenset(firing),
            frozenset(resolved),
            now,
            now + self.retention,
        )
        self._put(entry)
        return entry

    def load(self, entries: Iterable[LogEntry]) -> None:
        for e in entries:
            self._put(e)

    def gc(self, now: float) -> list[LogKey]:
        """Drop expired entries; returns their keys."""
        old = [k for k, e in self._entries.items() if e.expires_at <= now]
        for k in old:
            del self._entries[k]
            group = self._by_group.get((k[0], k[1]))
            if group is not None:
                group.pop(k[2], None)
                if not group:
                    del self._by_group[(k[0], k[1])]
        return old
