from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.alerting.matchers import parse_matchers
from tocsin.alerting.silences import Silence, SilenceError, Silences, SilenceState
from tocsin.clock import FakeClock

HOUR = 3600.0


@pytest.fixture
def silences(clock: FakeClock) -> Silences:
    ids = itertools.count(1)
    return Silences(clock, new_id=lambda: f"s{next(ids)}")


def test_state_follows_the_clock(silences: Silences, clock: FakeClock) -> None:
    t0 = clock.now()
    s = silences.add(parse_matchers('zone="z1"'), t0 + 2 * HOUR, starts_at=t0 + HOUR)
    table = [
        (t0, SilenceState.PENDING),
        (t0 + HOUR - 1, SilenceState.PENDING),
        (t0 + HOUR, SilenceState.ACTIVE),
        (t0 + 2 * HOUR - 1, SilenceState.ACTIVE),
        (t0 + 2 * HOUR, SilenceState.EXPIRED),
    ]
    for now, state in table:
        assert s.state(now) is state, now


def test_is_silenced_only_while_active(silences: Silences, clock: FakeClock) -> None:
    t0 = clock.now()
    a = silences.add(parse_matchers('zone="z1"'), t0 + HOUR, created_by="ops", comment="work")
    b = silences.add(parse_matchers('venue=~"v.*"'), t0 + 2 * HOUR)
    silences.add(parse_matchers('zone="z1"'), t0 + 3 * HOUR, starts_at=t0 + 2 * HOUR)
    labels = {"zone": "z1", "venue": "v1"}
    assert silences.is_silenced(labels, t0) == sorted([a.id, b.id])
    assert silences.is_silenced(labels, t0 + HOUR) == [b.id]
    assert silences.is_silenced(labels, t0 + 2 * HOUR + 1) == ["s3"]
    assert silences.is_silenced({"zone": "z2"}, t0) == []
    assert silences.mutes(labels, t0) is not None
    assert silences.mutes({"zone": "z2"}, t0) is None
    assert a.created_by == "ops"
    assert a.updated_at == t0


def test_start_in_the_past_means_now(silences: Silences, clock: FakeClock) -> None:
    s = silences.add(parse_matchers("a=b"), clock.now() + 10, starts_at=clock.now() - 100)
    assert s.starts_at == clock.now()


@pytest.mark.parametrize(
    ("matchers", "start", "end", "message"),
    [
        ("", 0, 10, "at least one matcher"),
        ('a=""', 0, 10, "must not match the empty string"),
        ('a=~".*"', 0, 10, "must not match the empty string"),
        ('a!="x"', 0, 10, "must not match the empty string"),
        ("a=b", 10, 5, "end time must not be before start time"),
    ],
)
def test_validation(
    silences: Silences, clock: FakeClock, matchers: str, start: float, end: float, message: str
) -> None:
    t0 = clock.now()
    with pytest.raises(SilenceError, match=message):
        silences.add(parse_matchers(matchers), t0 + end, starts_at=t0 + start)
    assert len(silences) == 0


def test_one_non_empty_matcher_is_enough(silences: Silences, clock: FakeClock) -> None:
    s = silences.add(parse_matchers('a="", b="x"'), clock.now() + 10)
    assert s.matches({"b": "x"})


def test_expire(silences: Silences, clock: FakeClock) -> None:
    t0 = clock.now()
    active = silences.add(parse_matchers("a=b"), t0 + HOUR)
    pending = silences.add(parse_matchers("a=b"), t0 + 3 * HOUR, starts_at=t0 + HOUR)
    clock.set(t0 + 60)
    done = silences.expire(active.id)
    assert (done.ends_at, done.state(clock.now())) == (t0 + 60, SilenceState.EXPIRED)
    never = silences.expire(pending.id)
    assert never.starts_at == never.ends_at == t0 + 60
    assert silences.is_silenced({"a": "b"}) == []
    assert silences.expire(active.id) == done  # already expired: unchanged
    with pytest.raises(SilenceError) as info:
        silences.expire("nope")
    assert info.value.not_found


def test_update_in_place_when_allowed(silences: Silences, clock: FakeClock) -> None:
    t0 = clock.now()
    s = silences.add(parse_matchers("a=b"), t0 + HOUR)
    clock.set(t0 + 10)
    longer = silences.update(s.id, ends_at=t0 + 2 * HOUR, comment="extended")
    assert longer.id == s.id
    assert (longer.ends_at, longer.comment, longer.updated_at) == (
        t0 + 2 * HOUR,
        "extended",
        t0 + 10,
    )
    assert len(silences) == 1


def test_update_that_changes_matchers_replaces(silences: Silences, clock: FakeClock) -> None:
    t0 = clock.now()
    s = silences.add(parse_matchers("a=b"), t0 + HOUR)
    clock.set(t0 + 10)
    new = silences.update(s.id, matchers=parse_matchers("a=c"))
    assert new.id != s.id
    assert silences.get(s.id).state(clock.now()) is SilenceState.EXPIRED
    assert silences.is_silenced({"a": "c"}) == [new.id]
    assert silences.is_silenced({"a": "b"}) == []


def test_query(silences: Silences, clock: FakeClock) -> None:
    t0 = clock.now()
    a = silences.add(parse_matchers("a=b"), t0 + HOUR)
    p = silences.add(parse_matchers("a=c"), t0 + 2 * HOUR, starts_at=t0 + HOUR)
    assert silences.query(state=SilenceState.ACTIVE) == [a]
    assert silences.query(state=SilenceState.PENDING) == [p]
    assert silences.query(labels={"a": "c"}) == [p]
    assert silences.query(state=SilenceState.ACTIVE, now=t0 + HOUR + 1) == [p]


def test_export_restore_round_trip(silences: Silences, clock: FakeClock) -> None:
    t0 = clock.now()
    silences.add(parse_matchers('a="b", c=~"d|e", f!="g", h!~"i"'), t0 + HOUR, comment="x")
    data = silences.export()
    other = Silences(clock)
    other.restore(data)
    assert other.export() == data
    [s] = other.query()
    assert isinstance(s, Silence)
    assert s.matches({"a": "b", "c": "e", "f": "x"})


def test_gc_forgets_old_expired(silences: Silences, clock: FakeClock) -> None:
    t0 = clock.now()
    silences.add(parse_matchers("a=b"), t0 + 10)
    silences.add(parse_matchers("a=c"), t0 + HOUR)
    assert silences.gc(retention=100, now=t0 + 50) == 0
    assert silences.gc(retention=100, now=t0 + 110) == 1
    assert len(silences) == 1


@settings(max_examples=60, deadline=None)
@given(
    specs=st.lists(
        st.tuples(
            st.sampled_from(
                ['zone="z1"', 'zone="z2"', 'venue=~"v.*"', 'zone="z1", sev!="info"', 'sev="crit"']
            ),
            st.integers(min_value=-5, max_value=5),
            st.integers(min_value=1, max_value=10),
            st.sampled_from(["keep", "expire", "rematch", "extend"]),
        ),
        max_size=12,
    ),
    labels=st.fixed_dictionaries(
        {},
        optional={
            "zone": st.sampled_from(["z1", "z2", "z3"]),
            "venue": st.sampled_from(["v1", "w1"]),
            "sev": st.sampled_from(["info", "crit"]),
        },
    ),
    at=st.integers(min_value=-2, max_value=12),
)
def test_index_agrees_with_a_full_scan(
    specs: list[tuple[str, int, int, str]], labels: dict[str, str], at: int
) -> None:
    clock = FakeClock(start=1000.0)
    sils = Silences(clock)
    for matchers, start, length, action in specs:
        end = 1000 + max(start, 0) + length
        s = sils.add(parse_matchers(matchers), end, starts_at=1000 + start)
        if action == "expire":
            sils.expire(s.id)
        elif action == "rematch":
            sils.update(s.id, matchers=parse_matchers('zone="z3"'))
        elif action == "extend":
            sils.update(s.id, ends_at=s.ends_at + 5)
    if at % 3 == 0:
        restored = Silences(clock)
        restored.restore(sils.export())
        sils = restored
    now = 1000.0 + at
    sils.gc(retention=3, now=now)
    brute = sorted(
        s.id for s in sils.query() if s.state(now) is SilenceState.ACTIVE and s.matches(labels)
    )
    assert sils.is_silenced(labels, now) == brute


def test_refused_update_changes_nothing(silences: Silences, clock: FakeClock) -> None:
    t0 = clock.now()
    s = silences.add(parse_matchers("a=b"), t0 + HOUR)
    clock.set(t0 + 100)
    with pytest.raises(SilenceError, match="end time must not be before start time"):
        silences.update(s.id, ends_at=t0 + 50)  # would end before the replacement starts
    assert silences.query() == [s]
    assert silences.is_silenced({"a": "b"}) == [s.id]
