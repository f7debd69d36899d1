from __future__ import annotations

import pickle

import pytest

from tocsin.detect.labels import LabelInterner, LabelMap, SharedValues, TupleMap, as_dict


def test_tuple_map_reads_like_the_dict_it_stands_for() -> None:
    m = TupleMap((("zone", "venue"), "Lobby", "v1"))
    d = {"zone": "Lobby", "venue": "v1"}
    assert m == d
    assert d == m
    assert dict(m) == d
    assert m == TupleMap((("venue", "zone"), "v1", "Lobby"))  # order does not matter
    assert m != {"zone": "Lobby"}
    assert list(m) == ["zone", "venue"]
    assert len(m) == 2
    assert m["venue"] == "v1"
    assert m.get("region") is None
    assert "zone" in m
    assert tuple(m.values()) == ("Lobby", "v1")
    assert list(m.items()) == list(d.items())
    assert repr(m) == repr(d)
    with pytest.raises(KeyError):
        m["region"]
    assert not TupleMap(((),))
    assert pickle.loads(pickle.dumps(m)) == d


def test_interner_shares_names_and_values() -> None:
    interner = LabelInterner()
    a = interner.labels(("zone", "region"), ["Lobby", "".join(["eu", "-north"])])
    b = interner.labels(("zone", "region"), ["Bar", "".join(["eu", "-north"])])
    assert a.tuple[0] is b.tuple[0]
    assert a["region"] is b["region"]
    assert as_dict(a.tuple) == {"zone": "Lobby", "region": "eu-north"}


def test_intern_takes_a_label_map_as_is_and_checks_everything_else() -> None:
    made = LabelInterner().labels(("zone",), ["Lobby"])
    other = LabelInterner()
    assert other.intern(made) is made.tuple
    assert other.intern({"zone": "Lobby"}) == made.tuple
    with pytest.raises(TypeError):
        other.intern(TupleMap((("volume",), 1.0)))  # type: ignore[arg-type]
    assert isinstance(made, LabelMap)


def test_shared_values_stop_remembering_values_that_never_repeat() -> None:
    table: SharedValues[str, str] = SharedValues()
    for i in range(5000):
        table.share(f"id-{i}")
    assert len(table._table) == 1024
    first = "".join(["re", "peat"])
    assert table.share(first) is first
    assert table.share("".join(["re", "peat"])) is not first  # table full, misses win
