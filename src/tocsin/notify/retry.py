"""Delivery policy in one place: timeouts, backoff with jitter, deadlines,
per-receiver rate limits, and a record of every attempt.

Integrations only say whether a failure is worth retrying (DeliveryError's
`retryable`); the Retrier decides when and whether to try again. It keeps
trying a retryable failure until the deadline (the route's group interval:
after that the next flush sends fresher news anyway), then gives up. Every
attempt, good or bad, goes to an AttemptSink, and the last one of a delivery
is marked `final`, so a give-up is always recorded, never silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random as _random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from tocsin import ratelimit
from tocsin.clock import Clock, SystemClock
from tocsin.errors import DeliveryError
from tocsin.notify.types import DeliveryFailure, DeliveryResult, Integration, Notification

log = logging.getLogger(__name__)
T = TypeVar("T")

# Errors the Retrier itself records (not the integration's).
RATE_LIMITED = "rate limit: no send slot left before the deadline"
CANCELLED = "cancelled before the delivery finished"


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """Exponential backoff: `initial * multiplier**(n-1)`, capped, then jittered.

    `jitter` spreads each delay uniformly over +/- that fraction so that many
    groups failing together do not retry in lockstep.
    """

    initial: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 60.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.multiplier < 1 or self.max_delay < self.initial:
            raise ValueError("backoff needs initial > 0, multiplier >= 1, max_delay >= initial")
        if not 0 <= self.jitter <= 1:
            raise ValueError("backoff jitter must be between 0 and 1")

    def delay(self, failures: int, rnd: float) -> float:
        """The wait after the `failures`-th failed attempt; `rnd` is in [0, 1)."""
        base = min(self.max_delay, self.initial * self.multiplier ** max(0, failures - 1))
        return base * (1 - self.jitter + 2 * self.jitter * rnd)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `burst` sends at once, refilled at `per_second`."""

    per_second: float
    burst: int = 1

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("rate limit needs per_second > 0 and burst >= 1")


class TokenBucket(ratelimit.TokenBucket):
    """The shared token bucket, sized by a receiver's RateLimit."""

    def __init__(self, limit: RateLimit, clock: Clock) -> None:
        super().__init__(limit.per_second, clock, burst=limit.burst)
        self.limit = limit


class RateLimiter:
    """One token bucket per receiver: `limits[name]`, else `default` (None: unlimited)."""

    def __init__(
        self,
        clock: Clock,
        default: RateLimit | None = None,
        limits: Mapping[str, RateLimit] | None = None,
    ) -> None:
        self._clock = clock
        self._default = default
        self._limits = dict(limits or {})
        self._buckets: dict[str, TokenBucket] = {}

    def configure(self, limits: Mapping[str, RateLimit]) -> None:
        """Replace the per-receiver limits (a reload). A receiver whose limit
        is unchanged keeps its bucket, and so the sends it has used up."""
        self._limits = dict(limits)
        for name, bucket in list(self._buckets.items()):
            if self._limits.get(name, self._default) != bucket.limit:
                del self._buckets[name]

    def limit(self, receiver: str) -> RateLimit | None:
        """The limit `receiver` sends under (None: unlimited)."""
        return self._limits.get(receiver, self._default)

    def _bucket(self, receiver: str) -> TokenBucket | None:
        bucket = self._buckets.get(receiver)
        if bucket is None:
            limit = self._limits.get(receiver, self._default)
            if limit is None:
                return None
            bucket = self._buckets[receiver] = TokenBucket(limit, self._clock)
        return bucket

    async def acquire(self, receiver: str, deadline: float) -> bool:
        """Wait for a send slot; False if none comes before `deadline`."""
        bucket = self._bucket(receiver)
        if bucket is None:
            return True
        return await bucket.acquire(max_wait=deadline - self._clock.now())


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One try at delivering one notification through one integration."""

    receiver: str
    integration: str
    group_key: str
    attempt: int
    at: float
    duration: float
    ok: bool
    retryable: bool
    error: str
    status_code: int | None
    final: bool
    detail: str = ""


class AttemptSink(Protocol):
    """Where attempts go: history storage, /metrics counters, logs."""

    async def record(self, attempt: DeliveryAttempt) -> None: ...


@dataclass(slots=True)
class MemoryAttemptSink:
    attempts: list[DeliveryAttempt] = field(default_factory=list)

    async def record(self, attempt: DeliveryAttempt) -> None:
        self.attempts.append(attempt)


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """How a delivery ended. `skipped` explains a deliberate non-send."""

    receiver: str
    integration: str
    group_key: str
    ok: bool
    attempts: int
    error: str = ""
    skipped: str = ""


class Retrier:
    """Delivers notifications through integrations with the retry policy."""

    def __init__(
        self,
        clock: Clock,
        sink: AttemptSink,
        *,
        backoff: BackoffPolicy | None = None,
        limiter: RateLimiter | None = None,
        random: Callable[[], float] = _random.random,
        default_timeout: float = 30.0,
        max_in_flight: int = 64,
    ) -> None:
        self.clock = clock
        self.sink = sink
        self.backoff = backoff or BackoffPolicy()
        self.limiter = limiter
        self.random = random
        self.default_timeout = default_timeout
        # Bounds the attempts running at once per integration, so that when
        # thousands of groups flush together an attempt's timeout starts when
        # it really starts, not while it queues. Per integration, so a slow
        # service only holds up its own queue.
        self.max_in_flight = max_in_flight
        # Keyed by identity: integrations live as long as their config, and
        # need not be hashable.
        self._slots: dict[int, asyncio.Semaphore] = {}

    async def deliver_receiver(
        self, integrations: Mapping[str, Integration], n: Notification, deadline: float
    ) -> list[DeliveryOutcome]:
        """Fan out to every integration of a receiver at once, each with its own retries."""
        return list(
            await asyncio.gather(
                *(self.deliver(name, i, n, deadline) for name, i in integrations.items())
            )
        )

    async def deliver(
        self, name: str, integration: Integration, n: Notification, deadline: float
    ) -> DeliveryOutcome:
        """Try until success, a permanent failure, or `deadline` (Unix seconds)."""
        if not integration.send_resolved and (
            not n.alerts or any(a.status == "resolved" for a in n.alerts)
        ):
            n = n.without_resolved()
            if not n.alerts:
                return DeliveryOutcome(
                    n.receiver, name, n.group_key, ok=True, attempts=0,
                    skipped="only resolved alerts and send_resolved is false",
                )  # fmt: skip
        progress = [0]
        try:
            return await self._deliver(name, integration, n, deadline, progress)
        except asyncio.CancelledError:
            # Shutdown or a superseding flush: still leave a final record, so
            # the history never shows a delivery that just stopped.
            await self._record(n, name, progress[0], self.clock.now(), 0.0, None, CANCELLED, True)
            raise

    async def _deliver(
        self,
        name: str,
        integration: Integration,
        n: Notification,
        deadline: float,
        progress: list[int],
    ) -> DeliveryOutcome:
        attempt = 0
        while True:
            if self.limiter and not await self.limiter.acquire(n.receiver, deadline):
                now = self.clock.now()
                await self._record(n, name, attempt + 1, now, 0.0, None, RATE_LIMITED, True)
                return DeliveryOutcome(n.receiver, name, n.group_key, False, attempt, RATE_LIMITED)
            attempt += 1
            progress[0] = attempt
            failure: DeliveryError | None = None
            result: DeliveryResult | None = None
            async with self._slot(integration):
                start = self.clock.now()
                try:
                    result = await self._with_timeout(
                        integration.notify(n), self._timeout_for(integration, start, deadline)
                    )
                except DeliveryError as e:
                    failure = e
                except Exception as e:
                    # A bug in an integration: record it loudly, retrying won't help.
                    log.exception("integration %s of receiver %s crashed", name, n.receiver)
                    failure = DeliveryError(
                        f"internal error: {type(e).__name__}: {e}", retryable=False
                    )
                duration = self.clock.now() - start
            if failure is None:
                assert result is not None
                await self._record(n, name, attempt, start, duration, result, "", True)
                return DeliveryOutcome(n.receiver, name, n.group_key, True, attempt)
            delay = self._next_delay(attempt, failure)
            final = not failure.retryable or self.clock.now() + delay >= deadline
            await self._record(n, name, attempt, start, duration, failure, str(failure), final)
            if final:
                why = str(failure) if not failure.retryable else f"gave up at deadline: {failure}"
                log.warning("delivery to %s/%s failed: %s", n.receiver, name, why)
                return DeliveryOutcome(n.receiver, name, n.group_key, False, attempt, why)
            await self.clock.sleep(delay)

    def _slot(self, integration: Integration) -> asyncio.Semaphore:
        slot = self._slots.get(id(integration))
        if slot is None:
            slot = self._slots[id(integration)] = asyncio.Semaphore(self.max_in_flight)
        return slot

    def _timeout_for(self, integration: Integration, now: float, deadline: float) -> float:
        timeout = integration.timeout or self.default_timeout
        remaining = deadline - now
        # The first attempt always gets a fair chance, even with no time left.
        return min(timeout, remaining) if remaining > 1.0 else min(timeout, 1.0)

    def _next_delay(self, attempt: int, failure: DeliveryError) -> float:
        delay = self.backoff.delay(attempt, self.random())
        hint = getattr(failure, "retry_after", None)
        return max(delay, hint) if hint is not None else delay

    async def _with_timeout(self, work: Awaitable[T], seconds: float) -> T:
        """Await `work`, failing retryably after `seconds` on the injected clock."""
        if isinstance(self.clock, SystemClock):
            # Same outcome, a fifth of the cost: no second task, no asyncio.wait.
            try:
                async with asyncio.timeout(seconds) as scope:
                    return await work
            except TimeoutError:
                if not scope.expired():
                    raise
                raise DeliveryFailure(f"timed out after {seconds:g}s", retryable=True) from None
        task = asyncio.ensure_future(work)
        timer = asyncio.ensure_future(self.clock.sleep(seconds))
        try:
            await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            task.cancel()
            raise
        finally:
            timer.cancel()
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise DeliveryFailure(f"timed out after {seconds:g}s", retryable=True)

    async def _record(
        self,
        n: Notification,
        name: str,
        attempt: int,
        at: float,
        duration: float,
        outcome: DeliveryResult | DeliveryError | None,
        error: str,
        final: bool,
    ) -> None:
        record = DeliveryAttempt(
            receiver=n.receiver,
            integration=name,
            group_key=n.group_key,
            attempt=attempt,
            at=at,
            duration=duration,
            ok=isinstance(outcome, DeliveryResult),
            retryable=bool(getattr(outcome, "retryable", False)) or outcome is None,
            error=error,
            status_code=getattr(outcome, "status_code", None),
            final=final,
            detail=outcome.detail if isinstance(outcome, DeliveryResult) else "",
        )
        try:
            await self.sink.record(record)
        except Exception:
            log.exception("could not record delivery attempt %s", record)
