"""One source's polling loop: sweep, detect, re-check, hand results on.

The loop itself is thin; `sweep_once` does one full round and is what tests
drive on a FakeClock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tocsin.clock import Clock
from tocsin.detect.detector import Detector
from tocsin.detect.events import SourceEvent, StateChange
from tocsin.errors import TocsinError
from tocsin.sources.types import Observation, Source, SweepResult

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Round:
    """Everything one sweep produced, for persistence, metrics and the tsdb."""

    sweep: SweepResult
    changes: list[StateChange] = field(default_factory=list)
    source_event: SourceEvent | None = None
    rechecked: list[Observation] = field(default_factory=list)
    # Targets the source stopped listing for `detection.forget_after`.
    forgotten: list[StateChange] = field(default_factory=list)


RoundSink = Callable[[Round], Awaitable[None]]


class SourcePoller:
    def __init__(self, source: Source, detector: Detector, sink: RoundSink, clock: Clock) -> None:
        self.source = source
        self.detector = detector
        self.sink = sink
        self.clock = clock
        self._stopping = asyncio.Event()

    async def sweep_once(self) -> Round:
        try:
            sweep = await self.source.sweep()
        except TocsinError as exc:
            # A source that raises instead of reporting is still a failed sweep:
            # detection must hold states, not mark targets down.
            now = self.clock.now()
            sweep = SweepResult(self.source.name, now, now, [], ok=False, error=str(exc))
        outcome = self.detector.observe_sweep(sweep, can_recheck=self.source.supports_recheck)
        rnd = Round(sweep, list(outcome.changes), outcome.source_event)
        rnd.forgotten = outcome.forgotten
        if outcome.recheck and self.source.supports_recheck:
            try:
                rnd.rechecked = await self.source.recheck(outcome.recheck)
            except TocsinError as exc:
                log.warning(
                    "re-check of %d targets on %s failed: %s",
                    len(outcome.recheck),
                    self.source.name,
                    exc,
                )
            if rnd.rechecked:
                rnd.changes.extend(self.detector.observe_recheck(self.source.name, rnd.rechecked))
        await self.sink(rnd)
        return rnd

    async def run(self) -> None:
        """Sweep every `interval` seconds, aligned to the start of each sweep."""
        while not self._stopping.is_set():
            started = self.clock.now()
            try:
                await self.sweep_once()
            except Exception:  # keep polling whatever one round did
                log.exception("sweep of source %s failed unexpectedly", self.source.name)
            delay = self.source.interval - (self.clock.now() - started)
            await self.clock.sleep(max(0.0, delay))

    def stop(self) -> None:
        self._stopping.set()
