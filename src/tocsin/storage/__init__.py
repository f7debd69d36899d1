"""storage: event log, current state and key-value state on SQLite or PostgreSQL."""

from tocsin.storage.migrate import Component, Migration, MigrationError
from tocsin.storage.records import EventRow, SourceRow, TargetRow
from tocsin.storage.store import StorageError, Store

__all__ = [
    "Component",
    "EventRow",
    "Migration",
    "MigrationError",
    "SourceRow",
    "StorageError",
    "Store",
    "TargetRow",
]
