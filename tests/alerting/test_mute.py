from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tocsin.alerting.inhibit import Inhibitor, InhibitRule
from tocsin.alerting.matchers import parse_matchers
from tocsin.alerting.mute import MuteChain, Muter, TimeMuter
from tocsin.alerting.silences import Silences
from tocsin.alerting.timeintervals import TimeIntervals, make_interval, parse_time_range
from tocsin.clock import FakeClock

NIGHT = make_interval(times=[parse_time_range("00:00", "06:00")])
intervals = TimeIntervals({"night": [NIGHT]})
AT_NIGHT = datetime(2026, 11, 23, 3, 0, tzinfo=UTC).timestamp()
AT_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("mute", "active", "t", "muted"),
    [
        (["night"], [], AT_NIGHT, True),
        (["night"], [], AT_NOON, False),
        ([], ["night"], AT_NIGHT, False),
        ([], ["night"], AT_NOON, True),
        ([], [], AT_NIGHT, False),
    ],
)
def test_time_muter(mute: list[str], active: list[str], t: float, muted: bool) -> None:
    reason = TimeMuter(intervals, mute, active).mutes({"a": "b"}, t)
    assert (reason is not None) is muted


def test_time_muter_rejects_unknown_interval() -> None:
    with pytest.raises(KeyError):
        TimeMuter(intervals, ["weekends"])


def test_chain_returns_first_reason(clock: FakeClock) -> None:
    silences = Silences(clock)
    silences.add(parse_matchers('zone="z1"'), clock.now() + 3600)
    inhibitor = Inhibitor(
        [InhibitRule(tuple(parse_matchers("a=src")), tuple(parse_matchers("a=tgt")))]
    )
    inhibitor.set_firing([{"a": "src"}])
    muters: list[Muter] = [silences, inhibitor, TimeMuter(intervals, ["night"])]
    chain = MuteChain(muters)
    now = clock.now()
    assert chain.mutes({"zone": "z1"}, now) == silences.mutes({"zone": "z1"}, now)
    reason = chain.mutes({"a": "tgt"}, now)
    assert reason is not None
    assert reason.startswith("inhibited by")
    assert chain.mutes({"a": "other"}, AT_NOON) is None
    assert chain.mutes({"a": "other"}, AT_NIGHT) == "muted by time interval night"
