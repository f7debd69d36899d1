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

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[LogEntry]:
        return iter(list(self._entries.values()))

    def get(self, group_key: str, receiver: str, integration: str) -> LogEntry | None:
        return self._entries.get((group_key, receiver, integration))

    def for_receiver(self, group_key: str, receiver: str) -> list[LogEntry]:
        return [e for k, e in self._entries.items() if k[0] == group_key and k[1] == receiver]

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
        self._entries[entry.key] = entry
        return entry

    def load(self, entries: Iterable[LogEntry]) -> None:
        for e in entries:
            self._entries[e.key] = e

    def gc(self, now: float) -> list[LogKey]:
        """Drop expired entries; returns their keys."""
        old = [k for k, e in self._entries.items() if e.expires_at <= now]
        for k in old:
            del self._entries[k]
        return old
