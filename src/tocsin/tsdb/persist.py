"""SQL persistence of the tsdb: series, flush segments, chunks, rollups.

Tables (created by the `tsdb` migration in `db_migrations.py`; the
definitions below are what the queries use and must match it):

- `tsdb_series(id, labels)`: every series ever flushed; `id` is the head ref.
- `tsdb_segments(id, mint, maxt, count, data)`: one row per flush, all
  samples appended since the previous flush (the write-ahead part).
- `tsdb_chunks(series_id, block_start, mint, maxt, count, data)`: one row per
  series per closed 2h block, written by compaction.
- `tsdb_rollups(series_id, resolution_ms, block_start, mint, maxt, data)`.
- `tsdb_meta(key, value)`: `compacted_until` (ms; blocks before it are chunks).

Everything goes through a SQLAlchemy Core engine: SQLite by default,
PostgreSQL works unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from tocsin.tsdb.chunks import decode_columns, encode_columns

metadata = sa.MetaData()

series_t = sa.Table(
    "tsdb_series",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("labels", sa.Text, nullable=False, unique=True),
)
segments_t = sa.Table(
    "tsdb_segments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("mint", sa.BigInteger, nullable=False),
    sa.Column("maxt", sa.BigInteger, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)
chunks_t = sa.Table(
    "tsdb_chunks",
    metadata,
    sa.Column("series_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("block_start", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("mint", sa.BigInteger, nullable=False),
    sa.Column("maxt", sa.BigInteger, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Index("ix_tsdb_chunks_block", "block_start"),
)
rollups_t = sa.Table(
    "tsdb_rollups",
    metadata,
    sa.Column("series_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("resolution_ms", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("block_start", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("mint", sa.BigInteger, nullable=False),
    sa.Column("maxt", sa.BigInteger, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Index("ix_tsdb_rollups_block", "resolution_ms", "block_start"),
)
meta_t = sa.Table(
    "tsdb_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# Above this many series a chunk read scans the time range instead of an IN list.
_IN_LIST_MAX = 500

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def labels_json(labels: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(labels.items())), separators=(",", ":"), ensure_ascii=False)


def _bulk_insert(
    conn: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, object]]
) -> None:
    """INSERT many rows; straight to the driver where its paramstyle allows.

    SQLAlchemy's per-row parameter processing costs more than SQLite's insert
    itself for the 100k-row writes of a compaction.
    """
    if not rows:
        return
    names = list(rows[0])
    mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(conn.dialect.paramstyle)
    if mark is None:
        conn.execute(sa.insert(table), list(rows))
        return
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join([mark] * len(names))})"
    conn.exec_driver_sql(sql, [tuple(r[n] for n in names) for r in rows])


class ChunkStore:
    """Row-level reads and writes; no policy (that lives in `TSDB`)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    # -- meta -----------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(meta_t.c.value).where(meta_t.c.key == key)
            ).scalar_one_or_none()

    @staticmethod
    def _set_meta(conn: sa.Connection, key: str, value: str) -> None:
        done = conn.execute(sa.update(meta_t).where(meta_t.c.key == key).values(value=value))
        if done.rowcount == 0:
            conn.execute(sa.insert(meta_t).values(key=key, value=value))

    # -- series ---------------------------------------------------------------

    def load_series(self) -> Iterator[tuple[int, dict[str, str]]]:
        with self.engine.connect() as conn:
            for sid, text in conn.execute(sa.select(series_t.c.id, series_t.c.labels)):
                yield int(sid), json.loads(text)

    def delete_series(self, ids: Sequence[int]) -> None:
        with self.engine.begin() as conn:
            for i in range(0, len(ids), _IN_LIST_MAX):
                conn.execute(
                    sa.delete(series_t).where(series_t.c.id.in_(ids[i : i + _IN_LIST_MAX]))
                )

    def unreferenced_series(self) -> list[int]:
        used = sa.union(sa.select(chunks_t.c.series_id), sa.select(rollups_t.c.series_id))
        q = sa.select(series_t.c.id).where(series_t.c.id.not_in(used))
        with self.engine.connect() as conn:
            return [int(r) for r in conn.execute(q).scalars()]

    # -- flush segments -------------------------------------------------------

    def write_segment(
        self,
        new_series: Iterable[tuple[int, Mapping[str, str]]],
        refs: I64,
        ts: I64,
        vs: F64,
    ) -> None:
        """Persist new series and one batch of samples, atomically."""
        rows = [{"id": ref, "labels": labels_json(lb)} for ref, lb in new_series]
        with self.engine.begin() as conn:
            _bulk_insert(conn, series_t, rows)
            if len(refs):
                conn.execute(
                    sa.insert(segments_t).values(
                        mint=int(ts.min()),
                        maxt=int(ts.max()),
                        count=len(refs),
                        data=encode_columns(ref=refs, t=ts, v=vs),
                    )
                )

    def read_segments(self) -> Iterator[tuple[I64, I64, F64]]:
        q = sa.select(segments_t.c.data).order_by(segments_t.c.id)
        with self.engine.connect() as conn:
            for (blob,) in conn.execute(q):
                cols = decode_columns(blob)
                yield (
                    cols["ref"].astype(np.int64),
                    cols["t"].astype(np.int64),
                    cols["v"].astype(np.float64),
                )

    # -- chunks and rollups ---------------------------------------------------

    def write_block(
        self,
        block_start: int,
        chunks: Sequence[Mapping[str, object]],
        rollups: Sequence[Mapping[str, object]],
        compacted_until: int,
    ) -> None:
        """Write a closed block, advance `compacted_until`, drop covered segments."""
        with self.engine.begin() as conn:
            conn.execute(sa.delete(chunks_t).where(chunks_t.c.block_start == block_start))
            conn.execute(sa.delete(rollups_t).where(rollups_t.c.block_start == block_start))
            _bulk_insert(conn, chunks_t, chunks)
            _bulk_insert(conn, rollups_t, rollups)
            self._set_meta(conn, "compacted_until", str(compacted_until))
            conn.execute(sa.delete(segments_t).where(segments_t.c.maxt < compacted_until))

    def read_chunks(
        self, refs: Sequence[int] | None, mint: int, maxt: int, *, min_block: int | None = None
    ) -> Iterator[tuple[int, int, bytes]]:
        """(series_id, block_start, data) of chunks overlapping [mint, maxt]."""
        yield from self._read(chunks_t, refs, mint, maxt, min_block=min_block)

    def read_rollups(
        self, refs: Sequence[int] | None, res_ms: int, mint: int, maxt: int
    ) -> Iterator[tuple[int, int, bytes]]:
        yield from self._read(rollups_t, refs, mint, maxt, res_ms=res_ms)

    def _read(
        self,
        table: sa.Table,
        refs: Sequence[int] | None,
        mint: int,
        maxt: int,
        *,
        res_ms: int | None = None,
        min_block: int | None = None,
    ) -> Iterator[tuple[int, int, bytes]]:
        base = sa.select(table.c.series_id, table.c.block_start, table.c.data).where(
            table.c.maxt >= mint, table.c.mint <= maxt
        )
        if res_ms is not None:
            base = base.where(table.c.resolution_ms == res_ms)
        if min_block is not None:
            base = base.where(table.c.block_start >= min_block)
        base = base.order_by(table.c.block_start)
        with self.engine.connect() as conn:
            if refs is None or len(refs) > _IN_LIST_MAX:
                wanted = None if refs is None else set(refs)
                for sid, bs, blob in conn.execute(base):
                    if wanted is None or sid in wanted:
                        yield int(sid), int(bs), bytes(blob)
                return
            ids = list(refs)
            if ids:
                for sid, bs, blob in conn.execute(base.where(table.c.series_id.in_(ids))):
                    yield int(sid), int(bs), bytes(blob)

    def series_in_range(self, mint: int, maxt: int) -> set[int]:
        q = sa.select(chunks_t.c.series_id).where(chunks_t.c.maxt >= mint, chunks_t.c.mint <= maxt)
        with self.engine.connect() as conn:
            return {int(s) for s in conn.execute(q.distinct()).scalars()}

    def delete_chunks_before(self, t_ms: int) -> int:
        with self.engine.begin() as conn:
            return conn.execute(sa.delete(chunks_t).where(chunks_t.c.maxt < t_ms)).rowcount

    def delete_rollups_before(self, res_ms: int, t_ms: int) -> int:
        with self.engine.begin() as conn:
            return conn.execute(
                sa.delete(rollups_t).where(
                    rollups_t.c.resolution_ms == res_ms, rollups_t.c.maxt < t_ms
                )
            ).rowcount

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
                for t in (series_t, segments_t, chunks_t, rollups_t)
            }
