"""Test helpers: a tiny stand-in for the Go template engine, sample groups,
and a way to run delivery on a FakeClock while real sockets do real I/O."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine
from typing import Any, TypeVar

from tocsin.clock import FakeClock
from tocsin.notify.types import Notification, NotifyAlert

T = TypeVar("T")

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)
_IF_STATUS = re.compile(
    r'\{\{\s*if eq \.Status "(\w+)"\s*\}\}(.*?)\{\{\s*else\s*\}\}(.*?)\{\{\s*end\s*\}\}', re.S
)


def stub_render(text: str, n: Notification) -> str:
    """Enough of Alertmanager's templating to test integrations without it.

    `{{ template "name" ... }}` becomes `[name:STATUS:FIRING]`, so a test sees
    which default template a field used and for what state. Anything it does
    not know raises, as a real template error would.
    """
    text = _IF_STATUS.sub(lambda m: m[2] if n.status == m[1] else m[3], text)

    def one(m: re.Match[str]) -> str:
        expr = m[1]
        if t := re.fullmatch(r'template "([^"]+)".*', expr):
            return f"[{t[1]}:{n.status.upper()}:{len(n.firing)}]"
        simple = {
            ".Status": n.status,
            ".Receiver": n.receiver,
            ".ExternalURL": n.external_url,
            ".Alerts.Firing | len": str(len(n.firing)),
            ".Alerts.Resolved | len": str(len(n.resolved)),
        }
        if expr in simple:
            return simple[expr]
        if d := re.fullmatch(r"\.(GroupLabels|CommonLabels|CommonAnnotations)\.(\w+)", expr):
            source = {
                "GroupLabels": n.group_labels,
                "CommonLabels": n.common_labels,
                "CommonAnnotations": n.common_annotations,
            }[d[1]]
            return source.get(d[2], "")
        raise ValueError(f"stub template cannot evaluate {{{{ {expr} }}}}")

    return _ACTION.sub(one, text)


def alert(name: str = "ZoneDown", status: str = "firing", **labels: str) -> NotifyAlert:
    all_labels = {"alertname": name, **labels}
    return NotifyAlert(
        labels=all_labels,
        annotations={"summary": f"{name} on {labels.get('zone', '?')}"},
        starts_at=1_700_000_000.5,
        ends_at=None if status == "firing" else 1_700_000_600.0,
        generator_url="http://tocsin.local/graph?g0.expr=up",
        fingerprint=f"{abs(hash(tuple(sorted(all_labels.items())))):016x}"[:16],
        status=status,  # type: ignore[arg-type]
    )


def notification(
    *alerts: NotifyAlert,
    receiver: str = "venue-it",
    group_key: str = '{}:{venue="v1"}',
    **kw: Any,
) -> Notification:
    alerts = alerts or (alert(zone="lobby", severity="critical"),)
    common = dict(alerts[0].labels)
    for a in alerts[1:]:
        common = {k: v for k, v in common.items() if a.labels.get(k) == v}
    return Notification(
        receiver=receiver,
        group_key=group_key,
        alerts=tuple(alerts),
        group_labels={"venue": "v1"},
        common_labels=common,
        common_annotations={},
        external_url="http://tocsin.local",
        **kw,
    )


async def run_on_clock(clock: FakeClock, work: Coroutine[Any, Any, T], step: float = 1.0) -> T:
    """Run `work` to completion, moving `clock` whenever it waits on nothing but time.

    The real wait below is for socket I/O to finish; logic time only moves
    through the FakeClock.
    """
    task = asyncio.ensure_future(work)
    for _ in range(100_000):
        done, _ = await asyncio.wait({task}, timeout=0.02)
        if done:
            return task.result()
        await clock.advance(step)
    task.cancel()
    raise AssertionError("work did not finish")
