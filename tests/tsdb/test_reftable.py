"""The index's ref hash table: probing, wrap-round, tombstones, rebuilds, collisions."""

from __future__ import annotations

import numpy as np
import pytest

from tocsin.tsdb import index as index_module
from tocsin.tsdb.index import SeriesIndex
from tocsin.tsdb.reftable import RefTable


def test_table_finds_every_live_ref_across_growth_wrap_and_removal() -> None:
    table = RefTable()
    # Few distinct hashes, several just below a power of two, so runs of
    # colliding refs wrap round the end of the table at every size.
    hashes = {ref: (ref % 7) + (1 << 20) - 4 for ref in range(5000)}
    live: set[int] = set()
    for ref, h in hashes.items():
        table.insert(ref, h)
        live.add(ref)
        if ref % 3 == 0:
            table.remove(ref - ref // 2)
            live.discard(ref - ref // 2)
    assert len(table) == len(live)
    for h in set(hashes.values()):
        assert sorted(table.candidates(h)) == sorted(r for r in live if hashes[r] == h)
    table.reset(np.array(sorted(live), dtype=np.int64), np.full(len(live), 9, dtype=np.uint32))
    assert sorted(table.candidates(9)) == sorted(live)
    assert table.candidates(hashes[1]) == []


def test_full_hash_collisions_are_told_apart_by_the_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(index_module, "_key_hash", lambda key: 42)
    idx = SeriesIndex()
    sets = [{"__name__": "up", "zone": f"z{i}"} for i in range(300)]
    sets += [{"__name__": "up"}, {"__name__": "up", "zone": "z1", "extra": "x"}, {"zone": "z1"}]
    refs = [idx.get_or_create(lb) for lb in sets]
    assert refs == list(range(len(sets)))
    assert [idx.ref(lb) for lb in sets] == refs
    assert idx.ref({"__name__": "up", "zone": "z1", "extra": "y"}) is None
    idx.remove(refs[:200])
    assert [idx.ref(lb) for lb in sets] == [None] * 200 + refs[200:]


def test_churn_against_a_dict() -> None:
    idx = SeriesIndex()
    want: dict[tuple[tuple[str, str], ...], int] = {}
    rng = np.random.default_rng(5)
    for step in range(40):
        for i in rng.integers(0, 3000, 200).tolist():
            lb = {"__name__": ("a", "b")[i % 2], "id": f"s{i}", "step": str(i % 5)}
            ref = idx.get_or_create(lb)
            assert want.setdefault(tuple(sorted(lb.items())), ref) == ref
        dead = rng.choice(sorted(want.values()), len(want) // 2, replace=False).tolist()
        idx.remove(dead)
        gone = set(dead)
        want = {k: r for k, r in want.items() if r not in gone}
        assert len(idx) == len(want), step
        for key, ref in want.items():
            assert idx.ref(dict(key)) == ref
            assert idx.labels(ref) == dict(key)


def test_series_with_more_labels_than_a_byte_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "_key_hash", lambda key: 42)
    idx = SeriesIndex()
    big = {f"l{i:03d}": "v" for i in range(300)}
    bigger = {**big, "l999": "v"}
    a, b = idx.get_or_create(big), idx.get_or_create(bigger)
    assert a != b
    assert (idx.ref(big), idx.ref(bigger)) == (a, b)
    assert idx.ref({f"l{i:03d}": "v" for i in range(299)}) is None
