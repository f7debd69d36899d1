"""The store against real SQLite and PostgreSQL: events, states, key-value."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

from tocsin.clock import FakeClock
from tocsin.detect.types import SourceState, TargetState
from tocsin.storage import StorageError, Store

from .conftest import Backend, core_components


@dataclass
class Ev:
    at: float
    target_id: str | None
    new: str
    source: str = "fleet"
    kind: str = "target"
    old: str = "up"
    reason: str = "because"
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class St:
    target_id: str
    state: str = "up"
    source: str = "fleet"
    since: float = 1.0
    reason: str = "fine"
    last_observed: float | None = 2.0
    latency: float | None = 0.25
    labels: dict[str, str] = field(default_factory=dict)
    fields: dict[str, float] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)


def test_sqlite_runs_in_wal_mode(tmp_path: Any) -> None:
    s = Store(f"sqlite:///{tmp_path}/a/b/t.db")
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    s.close()


def test_events_are_appended_and_read_newest_first(store: Store) -> None:
    assert store.append_events([]) == 0
    n = store.append_events(
        [
            Ev(10.0, "a", "down", labels={"zone": "a"}),
            Ev(20.0, "b", "down"),
            Ev(30.0, "a", "up"),
            Ev(40.0, None, "source_degraded", kind="source", old="ok"),
        ]
    )
    assert n == 4
    all_events = store.events()
    assert [(e.at, e.target_id, e.new) for e in all_events] == [
        (40.0, None, "source_degraded"),
        (30.0, "a", "up"),
        (20.0, "b", "down"),
        (10.0, "a", "down"),
    ]
    assert all_events[-1].labels == {"zone": "a"}
    assert [e.at for e in store.events(target_id="a")] == [30.0, 10.0]
    assert [e.at for e in store.events(since=20.0)] == [40.0, 30.0, 20.0]
    assert [e.at for e in store.events(limit=1)] == [40.0]
    assert [e.at for e in store.events(kind="source")] == [40.0]
    assert [e.at for e in store.events(before_id=all_events[1].id)] == [20.0, 10.0]
    assert store.prune_events(before=25.0) == 2
    assert [e.at for e in store.events()] == [40.0, 30.0]


def test_events_limit_must_be_positive(store: Store) -> None:
    with pytest.raises(ValueError, match="limit must be at least 1"):
        store.events(limit=0)


def test_enum_values_are_stored_as_their_value(store: Store) -> None:
    store.append_events([Ev(1.0, "a", TargetState.DOWN, old=TargetState.UP)])  # type: ignore[arg-type]
    store.save_source_states(
        [
            type(
                "S",
                (),
                {
                    "source": "fleet",
                    "state": SourceState.MASS_CHANGE,
                    "since": 3.0,
                    "reason": "r",
                    "detail": {"targets": 7},
                },
            )()
        ]
    )
    e = store.events()[0]
    assert (e.old, e.new) == ("up", "down")
    [src] = store.load_source_states()
    assert (src.source, src.state, src.since, src.detail) == (
        "fleet",
        "mass_change",
        3.0,
        {"targets": 7},
    )


def test_target_states_bulk_upsert(store: Store, clock: FakeClock) -> None:
    rows = [
        St(
            f"z{i}",
            labels={"zone": f"z{i}", "venue": "v1"},
            detail={"bits": 2**63 + i},
            fields={"x": 1.5},
        )
        for i in range(5000)
    ]
    assert store.save_target_states(rows) == 5000
    first_save = clock.now()
    clock.set(first_save + 10)
    rows[0].state = "down"
    rows[0].reason = "3 of last 5 observations failed"
    rows[0].latency = None
    store.save_target_states([rows[0], St("new")])
    loaded = {r.target_id: r for r in store.load_target_states()}
    assert len(loaded) == 5001
    z0 = loaded["z0"]
    assert (z0.state, z0.reason, z0.latency) == ("down", "3 of last 5 observations failed", None)
    z9 = loaded["z4999"]
    assert (z9.labels, z9.fields, z9.detail) == (
        {"zone": "z4999", "venue": "v1"},
        {"x": 1.5},
        {"bits": 2**63 + 4999},
    )
    assert (z9.updated_at, z0.updated_at) == (first_save, first_save + 10)
    assert len(store.load_target_states(source="other")) == 0
    assert store.delete_target_states(["z0", "z1", "nope"]) == 2
    assert len(store.load_target_states()) == 4999


def test_kv(store: Store, clock: FakeClock) -> None:
    assert store.kv_get("alerting", "missing", default={"d": 1}) == {"d": 1}
    store.kv_put("alerting", "nflog", {"a": [1, 2, 3]})
    store.kv_put("alerting", "nflog", {"a": [4]})
    store.kv_put("alerting", "other", "text")
    store.kv_put("tsdb", "nflog", 5)
    assert store.kv_get("alerting", "nflog") == {"a": [4]}
    assert store.kv_items("alerting") == {"nflog": {"a": [4]}, "other": "text"}
    assert store.kv_delete("alerting", "other")
    assert not store.kv_delete("alerting", "other")
    assert store.kv_items("tsdb") == {"nflog": 5}


def test_state_survives_reopen(backend: Backend) -> None:
    first = backend.open()
    first.migrate(core_components())
    first.kv_put("ns", "k", [1])
    first.append_events([Ev(1.0, "a", "down")])
    first.close()
    second = backend.open()
    assert second.migrate(core_components()) == []
    assert second.kv_get("ns", "k") == [1]
    assert len(second.events()) == 1


def test_concurrent_writers(store: Store) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                store.append_events([Ev(float(i), f"t{n}", "down")])
                store.kv_put("threads", f"{n}", i)
                store.save_target_states([St(f"t{n}-{i}")])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.events(limit=1000)) == 160
    assert store.kv_items("threads") == {str(n): 19 for n in range(8)}
    assert len(store.load_target_states()) == 160


@pytest.mark.parametrize(
    ("url", "schema", "message"),
    [
        ("mysql://u@h/db", None, "unsupported database 'mysql'"),
        ("not a url", None, "bad database URL"),
        ("sqlite:///x.db", "s1", "only for PostgreSQL"),
        ("postgresql+psycopg://u:secret@h/db", "Bad-Name", "only for PostgreSQL, lower-case"),
    ],
)
def test_bad_urls(url: str, schema: str | None, message: str) -> None:
    with pytest.raises(StorageError, match=message) as info:
        Store(url, schema=schema)
    assert "secret" not in str(info.value)


def test_database_errors_become_storage_errors(backend: Backend) -> None:
    s = backend.open()  # not migrated: no tables
    with pytest.raises(StorageError, match="read kv"):
        s.kv_get("a", "b")


def test_engine_is_shared_for_other_modules(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM kv")).scalar() == 0


def test_in_memory_store_is_shared_and_thread_safe(clock: FakeClock) -> None:
    store = Store("sqlite://", clock=clock)
    store.migrate(core_components())
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(30):
                store.kv_put("mem", f"{n}-{i}", i)
                assert store.kv_get("mem", f"{n}-{i}") == i
                store.events(limit=5)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.kv_items("mem")) == 180
    store.close()
