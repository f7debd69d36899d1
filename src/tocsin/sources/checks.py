"""Per-target checks: HTTP (status, body, latency) and TCP (connect latency).

A failed check is data: the target is down (up=False) with the reason.
Confirmation against blips is detection's job (k of n), so checks are not
retried within a sweep. Only when every target of a source (two or more)
is unreachable at the connection level does the sweep count as a failure of
the source itself (likely the poller's own network), which feeds the
circuit breaker and lets detection hold states.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp

from tocsin.clock import Clock
from tocsin.errors import SourceError
from tocsin.sources.base import BaseSource
from tocsin.sources.concurrency import ConcurrencyLimit
from tocsin.sources.config import (
    ExpectConfig,
    HttpCheckSourceConfig,
    HttpCheckTarget,
    TcpCheckSourceConfig,
    TcpCheckTarget,
    parse_status_ranges,
)
from tocsin.sources.estimate import estimate_calls_per_hour
from tocsin.sources.headers import resolve_headers
from tocsin.sources.http_client import HttpClient
from tocsin.sources.request_timeout import within
from tocsin.sources.retry import error_for_exception
from tocsin.sources.token_bucket import BudgetExhausted, TokenBucket
from tocsin.sources.types import CircuitState, Observation


@dataclass(slots=True)
class _Outcome:
    observation: Observation
    unreachable: bool  # no connection at all (as opposed to a bad answer)


@dataclass(frozen=True, slots=True)
class _Expect:
    status: tuple[tuple[int, int], ...]
    contains: str | None
    regex: re.Pattern[str] | None

    @classmethod
    def of(cls, cfg: ExpectConfig) -> _Expect:
        regex = re.compile(cfg.body_regex) if cfg.body_regex is not None else None
        return cls(parse_status_ranges(cfg.status), cfg.body_contains, regex)

    def status_ok(self, status: int) -> bool:
        return any(low <= status <= high for low, high in self.status)

    def problem(self, status: int, body: str) -> str | None:
        if not self.status_ok(status):
            wanted = ",".join(f"{a}-{b}" if a != b else str(a) for a, b in self.status)
            return f"HTTP {status}, expected {wanted}"
        if self.contains is not None and self.contains not in body:
            return f"body does not contain {self.contains!r}"
        if self.regex is not None and self.regex.search(body) is None:
            return f"body does not match /{self.regex.pattern}/"
        return None


class _CheckSource(BaseSource):
    supports_recheck = True
    cfg: HttpCheckSourceConfig | TcpCheckSourceConfig
    _ids: dict[str, int]

    async def _run(self, index: int) -> _Outcome:
        raise NotImplementedError

    async def _collect(self, out: list[Observation]) -> None:
        outcomes = await asyncio.gather(*(self._run(i) for i in range(len(self._ids))))
        out.extend(o.observation for o in outcomes)
        if len(outcomes) >= 2 and all(o.unreachable for o in outcomes):
            raise SourceError(
                f"{self.name}: none of {len(outcomes)} targets reachable "
                "(likely a network problem on the poller's side)",
                retryable=True,
            )

    async def recheck(self, target_ids: Sequence[str]) -> list[Observation]:
        now = self._clock.now()
        if self.breaker.state is CircuitState.OPEN:
            return [Observation(t, None, now, error="circuit open") for t in target_ids]

        async def one(tid: str) -> Observation:
            index = self._ids.get(tid)
            if index is None:
                return Observation(tid, None, now, error="unknown target")
            return (await self._run(index)).observation

        return list(await asyncio.gather(*(one(t) for t in target_ids)))

    def estimate_calls_per_hour(self) -> float:
        return estimate_calls_per_hour(self.cfg)


def _unreachable(err: SourceError) -> bool:
    return not isinstance(err, BudgetExhausted)


class HttpCheckSource(_CheckSource):
    def __init__(
        self,
        cfg: HttpCheckSourceConfig,
        clock: Clock,
        *,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(cfg, clock)
        self.cfg: HttpCheckSourceConfig = cfg
        self._targets: list[HttpCheckTarget] = list(cfg.targets)
        self._ids = {t.id: i for i, t in enumerate(self._targets)}
        default = _Expect.of(cfg.expect)
        self._expect = [_Expect.of(t.expect) if t.expect else default for t in self._targets]
        self._labels = [{**cfg.labels, **t.labels} for t in self._targets]
        self._http = HttpClient(
            clock=clock,
            headers=resolve_headers(cfg),
            timeout=cfg.timeout,
            concurrency=cfg.concurrency,
            budget_per_minute=cfg.budget_per_minute,
            max_budget_wait=cfg.interval,
            session=session,
            follow_redirects=cfg.follow_redirects,
        )

    @property
    def requests_total(self) -> int:
        return self._http.requests_total

    @property
    def bucket(self) -> TokenBucket | None:
        return self._http.bucket

    async def close(self) -> None:
        await self._http.close()

    async def _run(self, index: int) -> _Outcome:
        target = self._targets[index]
        labels = self._labels[index]
        try:
            resp = await self._http.request(
                target.url, method=self.cfg.method, what=f"{self.name} {target.id}"
            )
        except SourceError as err:
            up = False if _unreachable(err) else None
            obs = Observation(target.id, up, self._clock.now(), labels, error=str(err))
            return _Outcome(obs, _unreachable(err))
        body = resp.body.decode("utf-8", errors="replace")
        problem = self._expect[index].problem(resp.status, body)
        obs = Observation(
            target.id,
            problem is None,
            self._clock.now(),
            labels,
            resp.seconds,
            {"status_code": float(resp.status)},
            problem,
        )
        return _Outcome(obs, False)


class TcpCheckSource(_CheckSource):
    def __init__(self, cfg: TcpCheckSourceConfig, clock: Clock) -> None:
        super().__init__(cfg, clock)
        self.cfg: TcpCheckSourceConfig = cfg
        self._targets: list[TcpCheckTarget] = list(cfg.targets)
        self._ids = {t.id: i for i, t in enumerate(self._targets)}
        self._labels = [{**cfg.labels, **t.labels} for t in self._targets]
        self._limit = ConcurrencyLimit(cfg.concurrency)
        self._bucket = TokenBucket(cfg.budget_per_minute, clock) if cfg.budget_per_minute else None
        self._requests = 0

    @property
    def requests_total(self) -> int:
        return self._requests

    @property
    def bucket(self) -> TokenBucket | None:
        return self._bucket

    async def _connect(self, host: str, port: int) -> float:
        started = time.perf_counter()
        _, writer = await asyncio.open_connection(host, port)
        seconds = time.perf_counter() - started
        writer.close()
        # The peer hanging up right away still counts as a connect.
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return seconds

    async def _run(self, index: int) -> _Outcome:
        target = self._targets[index]
        labels = self._labels[index]
        what = f"{self.name} {target.id} {target.host}:{target.port}"
        try:
            if self._bucket is not None:
                await self._bucket.acquire(self.interval)
            async with self._limit:
                self._requests += 1
                try:
                    seconds = await within(
                        self.cfg.timeout, self._connect(target.host, target.port), what
                    )
                except Exception as exc:
                    raise error_for_exception(exc, what) from exc
        except SourceError as err:
            up = False if _unreachable(err) else None
            obs = Observation(target.id, up, self._clock.now(), labels, error=str(err))
            return _Outcome(obs, _unreachable(err))
        return _Outcome(Observation(target.id, True, self._clock.now(), labels, seconds), False)
