"""Prometheus-style scraping of configured targets into the tsdb.

One loop per (job, target), each on its own schedule on the injected Clock,
spread over the interval by a hash of the target so a thousand targets do
not fire at once. Each scrape writes the samples, `up`,
`scrape_duration_seconds`, `scrape_samples_scraped`,
`scrape_samples_post_metric_relabeling` and `scrape_series_added`, and a
staleness marker for every series of the previous scrape that is gone (all
of them when the scrape fails or the target is removed).

Series are cached by their exact text in the exposition, so a steady target
costs one dict lookup per sample after its first scrape.

HTTP goes through one shared aiohttp session (the client chosen by
benchmark, docs/bench/sources.md); secrets and secret files are read again
at every scrape so that rotated credentials apply without a reload.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aiohttp
import numpy as np
import numpy.typing as npt

from tocsin.clock import Clock
from tocsin.tsdb.config import ScrapeConfig
from tocsin.tsdb.exposition import ExpositionError, iter_samples, parse_series
from tocsin.tsdb.relabel import Relabeler
from tocsin.tsdb.types import STALE_NAN, Labels

log = logging.getLogger(__name__)

ACCEPT = "text/plain;version=0.0.4;q=1,*/*;q=0.1"
_DROPPED = -1


class ScrapeAppender(Protocol):
    """What the scraper writes to; `TSDB` implements it."""

    @property
    def series_epoch(self) -> int: ...

    def refs(self, labels_list: Sequence[Labels]) -> npt.NDArray[np.int64]: ...

    def append_refs(self, refs: npt.NDArray[np.int64], t_ms: int, values: npt.ArrayLike) -> int: ...

    def append(self, labels: Labels, t_ms: int, value: float) -> None: ...


@dataclass
class TargetHealth:
    """What `/targets`-style views show for one scrape target."""

    job: str
    instance: str
    url: str
    labels: dict[str, str]
    health: str = "unknown"  # up | down | unknown
    last_scrape: float | None = None
    last_error: str | None = None
    last_duration: float | None = None
    samples: int = 0


class ScrapeFailure(Exception):
    """A scrape failed; the message is what `last_error` shows."""


def target_labels(cfg: ScrapeConfig, target: str, static: Mapping[str, str]) -> dict[str, str]:
    labels = {"job": cfg.job_name, "instance": target}
    labels.update(static)
    return {k: v for k, v in labels.items() if v != ""}


def merge_labels(scraped: dict[str, str], target: Mapping[str, str], honor: bool) -> dict[str, str]:
    """Attach target labels to a scraped series, resolving conflicts as Prometheus.

    honor_labels: scraped values win. Otherwise target labels win and the
    scraped value moves to `exported_<name>` (more prefixes if that is taken).
    """
    out = dict(scraped)
    if honor:
        for k, v in target.items():
            if not out.get(k):
                out[k] = v
        return out
    conflicts = []
    for k, v in target.items():
        existing = out.get(k, "")
        if existing:
            conflicts.append((k, existing))
        out[k] = v
    for k, v in conflicts:
        name = "exported_" + k
        while name in out:
            name = "exported_" + name
        out[name] = v
    return out


class ScrapeLoop:
    """Scrapes one target of one job."""

    def __init__(
        self,
        cfg: ScrapeConfig,
        target: str,
        static_labels: Mapping[str, str],
        appender: ScrapeAppender,
        session: aiohttp.ClientSession,
        clock: Clock,
        *,
        spread: bool = True,
    ) -> None:
        self.cfg = cfg
        self.target = target
        self.appender = appender
        self.session = session
        self.clock = clock
        self.labels = target_labels(cfg, target, static_labels)
        self.url = f"{cfg.scheme}://{target}{cfg.metrics_path}"
        self.health = TargetHealth(
            cfg.job_name, self.labels.get("instance", target), self.url, self.labels
        )
        self._relabel = Relabeler(cfg.metric_relabel_configs)
        self._cache: dict[str, int] = {}
        self._cache_epoch = -1
        self._prev: set[int] = set()
        self._last_t_ms = 0
        self._report_refs: npt.NDArray[np.int64] | None = None
        self._offset = (
            (zlib.crc32(f"{cfg.job_name}/{target}".encode()) % 10_000)
            / 10_000
            * cfg.scrape_interval
            if spread
            else 0.0
        )

    async def run(self) -> None:
        interval = self.cfg.scrape_interval
        next_at = self.clock.now() + self._offset
        while True:
            await self.clock.sleep(next_at - self.clock.now())
            try:
                await self.scrape_once()
            except Exception:  # a bug must not end this target's scraping for good
                log.exception("scrape %s %s crashed", self.cfg.job_name, self.url)
            next_at += interval
            now = self.clock.now()
            if next_at <= now:  # we fell behind: skip the missed slots
                next_at += ((now - next_at) // interval + 1) * interval

    async def scrape_once(self) -> bool:
        """One scrape at clock.now(). Returns whether it succeeded."""
        t = self.clock.now()
        t_ms = int(t * 1000)
        self._last_t_ms = t_ms
        started = time.perf_counter()
        scraped = post = added = 0
        try:
            text = await self._fetch()
            scraped, post, added = self._ingest(text, t_ms)
            ok, error = True, None
        except ScrapeFailure as exc:
            ok, error = False, str(exc)
            self._stale_all(t_ms)
        duration = time.perf_counter() - started
        self._report(t_ms, ok, duration, scraped, post, added)
        h = self.health
        h.health, h.last_scrape, h.last_error, h.last_duration = (
            "up" if ok else "down",
            t,
            error,
            duration,
        )
        h.samples = post
        if error:
            log.info("scrape %s %s failed: %s", self.cfg.job_name, self.url, error)
        return ok

    def stop(self) -> None:
        """The target is gone: mark all its series stale now."""
        # Never at the same instant as the last scrape, which would be a duplicate.
        t_ms = max(int(self.clock.now() * 1000), self._last_t_ms + 1)
        self._stale_all(t_ms)
        if self._report_refs is not None:
            self.appender.append_refs(
                self._report_refs, t_ms, np.full(len(self._report_refs), STALE_NAN)
            )

    async def _fetch(self) -> str:
        cfg = self.cfg
        headers = {
            "Accept": ACCEPT,
            "User-Agent": "tocsin-scraper",
            "X-Prometheus-Scrape-Timeout-Seconds": f"{cfg.scrape_timeout:g}",
        }
        if cfg.basic_auth is not None:
            ba = cfg.basic_auth
            password = (
                ba.password.get_secret_value()
                if ba.password is not None
                else _read_secret(ba.password_file)
            )
            # Built here rather than with aiohttp.BasicAuth, which refuses a
            # ':' in the username and encodes latin-1; Prometheus sends UTF-8.
            token = base64.b64encode(f"{ba.username}:{password}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {token}"
        elif cfg.authorization is not None:
            az = cfg.authorization
            cred = (
                az.credentials.get_secret_value()
                if az.credentials is not None
                else _read_secret(az.credentials_file)
            )
            headers["Authorization"] = f"{az.type} {cred}"
        params = [(k, v) for k, values in cfg.params.items() for v in values]
        try:
            # The timeout covers connecting, waiting and reading the whole body.
            async with self.session.get(
                self.url,
                params=params,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=cfg.scrape_timeout),
            ) as resp:
                if resp.status != 200:
                    raise ScrapeFailure(f"server returned HTTP status {resp.status}")
                body = await resp.read()
                charset = resp.charset or "utf-8"
        except TimeoutError:
            raise ScrapeFailure(f"scrape timed out after {cfg.scrape_timeout:g}s") from None
        except aiohttp.ClientError as exc:
            raise ScrapeFailure(f"request failed: {exc!r}") from None
        try:
            return body.decode(charset)
        except (LookupError, UnicodeDecodeError) as exc:
            raise ScrapeFailure(f"cannot decode the body as {charset}: {exc}") from None

    def _ingest(self, text: str, t_ms: int) -> tuple[int, int, int]:
        """Parse and append; returns (scraped, after relabelling, new series)."""
        app = self.appender
        if self._cache_epoch != app.series_epoch:
            self._cache.clear()
            self._cache_epoch = app.series_epoch
        cache = self._cache
        refs: list[int] = []
        values: list[float] = []
        timed: list[tuple[int, int, float]] = []
        misses: list[tuple[str, float, int | None]] = []
        scraped = 0
        try:
            for series, value, ts in iter_samples(text):
                scraped += 1
                ref = cache.get(series)
                if ref is None:
                    misses.append((series, value, ts))
                elif ref != _DROPPED:
                    if ts is None or not self.cfg.honor_timestamps:
                        refs.append(ref)
                        values.append(value)
                    else:
                        timed.append((ref, ts, value))
            added = self._resolve(misses, refs, values, timed)
        except ExpositionError as exc:
            raise ScrapeFailure(f"invalid exposition format: {exc}") from None
        limit = self.cfg.sample_limit
        if limit and len(refs) + len(timed) > limit:
            raise ScrapeFailure(f"sample limit exceeded ({len(refs) + len(timed)} > {limit})")
        ref_arr = np.asarray(refs, dtype=np.int64)
        app.append_refs(ref_arr, t_ms, np.asarray(values, dtype=np.float64))
        timed_refs = {r for r, _, _ in timed}
        for r, ts, v in timed:
            app.append_refs(np.array([r], dtype=np.int64), ts, np.array([v]))
        current = set(refs) | timed_refs
        gone = self._prev - current
        if gone:
            app.append_refs(
                np.fromiter(gone, dtype=np.int64, count=len(gone)),
                t_ms,
                np.full(len(gone), STALE_NAN),
            )
        self._prev = current
        return scraped, len(current), added

    def _resolve(
        self,
        misses: list[tuple[str, float, int | None]],
        refs: list[int],
        values: list[float],
        timed: list[tuple[int, int, float]],
    ) -> int:
        """Parse, label and relabel series not in the cache; returns how many are new."""
        if not misses:
            return 0
        labelled: list[dict[str, str]] = []
        kept: list[tuple[str, float, int | None]] = []
        for series, value, ts in misses:
            try:
                parsed = parse_series(series)
            except ExpositionError as exc:
                raise ExpositionError(0, f"{exc} (series {series[:200]!r})") from None
            lb: dict[str, str] | None = merge_labels(parsed, self.labels, self.cfg.honor_labels)
            if self._relabel and lb is not None:
                lb = self._relabel.apply(lb)
            if lb is None:
                self._cache[series] = _DROPPED
                continue
            labelled.append({k: v for k, v in lb.items() if v != ""})
            kept.append((series, value, ts))
        new_refs = self.appender.refs(labelled).tolist()
        for (series, value, ts), ref in zip(kept, new_refs, strict=True):
            self._cache[series] = ref
            if ts is None or not self.cfg.honor_timestamps:
                refs.append(ref)
                values.append(value)
            else:
                timed.append((ref, ts, value))
        return len(set(new_refs) - self._prev)

    def _stale_all(self, t_ms: int) -> None:
        if self._prev:
            gone = np.fromiter(self._prev, dtype=np.int64, count=len(self._prev))
            self.appender.append_refs(gone, t_ms, np.full(len(gone), STALE_NAN))
            self._prev = set()

    def _report(
        self, t_ms: int, ok: bool, duration: float, scraped: int, post: int, added: int
    ) -> None:
        if self._report_refs is None or self._cache_epoch != self.appender.series_epoch:
            names = (
                "up",
                "scrape_duration_seconds",
                "scrape_samples_scraped",
                "scrape_samples_post_metric_relabeling",
                "scrape_series_added",
            )
            self._report_refs = self.appender.refs([{**self.labels, "__name__": n} for n in names])
        values = np.array([1.0 if ok else 0.0, duration, scraped, post, added])
        self.appender.append_refs(self._report_refs, t_ms, values)


def _read_secret(path: str | None) -> str:
    if path is None:
        return ""
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ScrapeFailure(f"cannot read secret file {path}: {exc.strerror}") from None


class ScrapeManager:
    """Runs a scrape loop per configured target; `apply` reloads the config."""

    def __init__(
        self,
        appender: ScrapeAppender,
        clock: Clock,
        *,
        session: aiohttp.ClientSession | None = None,
        spread: bool = True,
    ) -> None:
        self.appender = appender
        self.clock = clock
        self._own_session = session is None
        # Made on first apply: an aiohttp session belongs to a running loop.
        self._session = session
        self.spread = spread
        self._loops: dict[tuple[str, str], tuple[ScrapeLoop, asyncio.Task[None]]] = {}

    def apply(self, configs: Sequence[ScrapeConfig]) -> None:
        """Start loops for new targets, stop (with stale markers) removed ones.

        A target whose job config changed is restarted with the new config.
        """
        wanted: dict[tuple[str, str], tuple[ScrapeConfig, dict[str, str]]] = {}
        for cfg in configs:
            for sc in cfg.static_configs:
                for target in sc.targets:
                    wanted[(cfg.job_name, target)] = (cfg, sc.labels)
        for key in list(self._loops):
            loop, _task = self._loops[key]
            want = wanted.get(key)
            if (
                want is None
                or want[0] != loop.cfg
                or target_labels(want[0], key[1], want[1]) != loop.labels
            ):
                self._stop(key)
        for key, (cfg, labels) in wanted.items():
            if key not in self._loops:
                loop = ScrapeLoop(
                    cfg, key[1], labels, self.appender, self.session, self.clock, spread=self.spread
                )
                task = asyncio.create_task(loop.run(), name=f"scrape {cfg.job_name} {key[1]}")
                self._loops[key] = (loop, task)

    @property
    def session(self) -> aiohttp.ClientSession:
        """The HTTP session every loop shares; made on first use if not given."""
        if self._session is None:
            # No pool limit: like Prometheus, every target keeps its own
            # connection, and a pool cap would make scrapes queue and time out.
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        return self._session

    def _stop(self, key: tuple[str, str]) -> None:
        loop, task = self._loops.pop(key)
        task.cancel()
        loop.stop()

    def targets(self) -> list[TargetHealth]:
        return [loop.health for loop, _ in self._loops.values()]

    async def close(self) -> None:
        tasks = [t for _, t in self._loops.values()]
        for key in list(self._loops):
            self._stop(key)
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None
