"""Versioned migrations: ordered, recorded, transactional, extensible."""

from __future__ import annotations

import sys
import textwrap
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tocsin.storage import Component, Migration, MigrationError, Store
from tocsin.storage.migrate import discover

from .conftest import Backend


def _create_widgets(conn: Connection) -> None:
    md = sa.MetaData()
    sa.Table("widgets", md, sa.Column("id", sa.Integer, primary_key=True))
    md.create_all(conn)


def _add_widget_name(conn: Connection) -> None:
    conn.execute(sa.text("ALTER TABLE widgets ADD COLUMN name TEXT"))


def _broken(conn: Connection) -> None:
    conn.execute(sa.text("CREATE TABLE half_done (id INTEGER)"))
    conn.execute(sa.text("SELECT * FROM no_such_table"))


WIDGETS_V1 = Component("widgets", [Migration(1, "widgets table", _create_widgets)])
WIDGETS_V2 = Component(
    "widgets",
    [*WIDGETS_V1.migrations, Migration(2, "widget names", _add_widget_name)],
)


def tables(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


def core() -> list[Component]:
    return [c for c in discover() if c.name == "core"]


def test_core_migration_creates_tables_once(backend: Backend) -> None:
    store = backend.open()
    assert store.schema_versions() == {}
    assert store.migrate(core()) == ["core:1"]
    assert store.migrate(core()) == []
    assert store.schema_versions() == {"core": 1}
    assert tables(store) >= {"schema_migrations", "events", "target_state", "source_state", "kv"}


def test_default_applies_every_discovered_component(backend: Backend) -> None:
    store = backend.open()
    found = discover()
    applied = store.migrate()
    assert applied[0] == "core:1"
    # Every step of every discovered component, each component's steps in order.
    assert sorted(applied) == sorted(f"{c.name}:{m.version}" for c in found for m in c.migrations)
    assert store.schema_versions() == {c.name: len(c.migrations) for c in found}
    assert {"core", "tsdb"} <= {c.name for c in found}
    assert store.migrate() == []


def test_components_add_steps_later(backend: Backend) -> None:
    store = backend.open()
    assert store.migrate([*core(), WIDGETS_V1]) == ["core:1", "widgets:1"]
    assert store.migrate([*core(), WIDGETS_V2]) == ["widgets:2"]
    assert store.schema_versions() == {"core": 1, "widgets": 2}
    with store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO widgets (id, name) VALUES (1, 'w')"))


def test_failed_step_is_rolled_back_and_not_recorded(backend: Backend) -> None:
    store = backend.open()
    bad = Component("bad", [Migration(1, "oops", _broken)])
    with pytest.raises(MigrationError, match=r"migration bad:1 \(oops\) failed"):
        store.migrate([bad])
    assert "half_done" not in tables(store)
    assert "bad" not in store.schema_versions()


@pytest.mark.parametrize(
    ("components", "message"),
    [
        ([Component("x", [Migration(2, "skip", _create_widgets)])], "must be 1, 2, 3"),
        (
            [
                Component(
                    "x",
                    [Migration(1, "a", _create_widgets), Migration(1, "b", _create_widgets)],
                )
            ],
            "must be 1, 2, 3",
        ),
        ([WIDGETS_V1, WIDGETS_V1], "duplicate migration components"),
    ],
)
def test_inconsistent_lists_are_refused(
    backend: Backend, components: list[Component], message: str
) -> None:
    with pytest.raises(MigrationError, match=message):
        backend.open().migrate(components)


def test_concurrent_migrate_applies_each_step_once(backend: Backend) -> None:
    stores = [backend.open() for _ in range(4)]
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run(store: Store) -> None:
        try:
            results.append(store.migrate([*core(), WIDGETS_V2]))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(step for r in results for step in r) == ["core:1", "widgets:1", "widgets:2"]


def test_discover_finds_db_migrations_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = tmp_path / "fakeapp"
    (pkg / "alerting").mkdir(parents=True)
    (pkg / "plain").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "alerting" / "__init__.py").write_text("")
    (pkg / "plain" / "__init__.py").write_text("")
    (pkg / "alerting" / "db_migrations.py").write_text(
        textwrap.dedent(
            """
            from tocsin.storage import Migration
            COMPONENT = "alerting"
            MIGRATIONS = [Migration(1, "silences", lambda conn: None)]
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        found = discover("fakeapp")
    finally:
        for name in [m for m in sys.modules if m.startswith("fakeapp")]:
            del sys.modules[name]
    assert [(c.name, [m.version for m in c.migrations]) for c in found] == [("alerting", [1])]


def test_discover_rejects_malformed_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "fakeapp2"
    (pkg / "tsdb").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "tsdb" / "__init__.py").write_text("")
    (pkg / "tsdb" / "db_migrations.py").write_text("MIGRATIONS = []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(MigrationError, match=r"fakeapp2\.tsdb\.db_migrations must define"):
            discover("fakeapp2")
    finally:
        for name in [m for m in sys.modules if m.startswith("fakeapp2")]:
            del sys.modules[name]


def test_core_is_discovered_first() -> None:
    assert discover()[0].name == "core"


def test_example_in_the_docs_migrates(backend: Backend) -> None:
    import re

    text = (Path(__file__).parents[2] / "docs" / "storage.md").read_text()
    code = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "COMPONENT" in b)
    namespace: dict[str, object] = {}
    exec(compile(code, "docs/storage.md", "exec"), namespace)
    component = Component(str(namespace["COMPONENT"]), namespace["MIGRATIONS"])  # type: ignore[arg-type]
    store = backend.open()
    assert store.migrate([*core(), component]) == ["core:1", "maintenance:1", "maintenance:2"]
    with store.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO maintenance_windows (id, selector, starts_at, ends_at, comment) "
                "VALUES ('w1', '{}', 1, 2, 'new switch')"
            )
        )


def test_alerting_steps_end_at_the_tables_it_declares(backend: Backend) -> None:
    """A database made at version 1 with rows in it upgrades to the tables
    `alerting.tables.define` declares now, its rows kept."""
    from tocsin.alerting import db_migrations as steps
    from tocsin.alerting.tables import VERSION, define

    assert [m.version for m in steps.MIGRATIONS] == list(range(1, VERSION + 1))
    v1 = Component(steps.COMPONENT, steps.MIGRATIONS[:1])
    store = backend.open()
    store.migrate([*core(), v1])
    row = {
        "at": 1.0, "receiver": "team", "integration": "slack[0]", "group_key": "{}:{}",
        "attempt": 1, "duration": 0.1, "ok": True, "retryable": False, "error": "",
        "status_code": 200, "final": True,
    }  # fmt: skip
    old = define(sa.MetaData(), version=1)["attempts"]
    with store.engine.begin() as conn:
        conn.execute(old.insert(), [row])
    assert store.migrate([*core(), Component(steps.COMPONENT, steps.MIGRATIONS)]) == [
        f"alerting:{v}" for v in range(2, VERSION + 1)
    ]
    now = define(sa.MetaData())
    with store.engine.connect() as conn:
        inspector = sa.inspect(conn)
        for table in now.values():
            assert {c["name"] for c in inspector.get_columns(table.name)} == set(table.c.keys())
        [kept] = conn.execute(sa.select(now["attempts"])).mappings().all()
    assert kept["detail"] == ""
    assert kept["integration"] == "slack[0]"
