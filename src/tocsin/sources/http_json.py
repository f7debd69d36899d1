"""Generic HTTP-JSON batch source: a vendor's paginated status list.

Pagination styles: none, page (with concurrent fetching once `total` is
known), cursor, link (RFC 8288 `Link: <...>; rel="next"`). Pages are cached
by URL with their ETag: on 304 the page's mapped observations are reused
without parsing anything.
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from random import random as _random
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
from yarl import URL

from tocsin.clock import Clock
from tocsin.errors import SourceError
from tocsin.sources.backoff import Backoff
from tocsin.sources.base import BaseSource
from tocsin.sources.config import HttpJsonSourceConfig, template_fields
from tocsin.sources.estimate import estimate_calls_per_hour, http_json_pages
from tocsin.sources.headers import resolve_headers
from tocsin.sources.http_client import HttpClient, HttpResponse
from tocsin.sources.jpath import compile_expression
from tocsin.sources.mapping import ItemMapper
from tocsin.sources.retry import Retrier, error_for_status
from tocsin.sources.token_bucket import TokenBucket
from tocsin.sources.types import CircuitState, Observation


@dataclass(slots=True)
class _Page:
    """A fetched page, mapped; kept in the ETag cache as is."""

    observations: list[Observation]
    count: int  # items on the page (mapped or not)
    next_cursor: str | None
    next_page: int | None
    next_link: str | None
    total: int | None
    newest_seen: float | None = None  # latest item last_seen, for staleness


class _EtagCache:
    """URL -> (ETag, page), least recently used dropped beyond `size`."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[str, tuple[str, _Page]] = OrderedDict()

    def get(self, url: str) -> tuple[str, _Page] | None:
        hit = self._data.get(url)
        if hit is not None:
            self._data.move_to_end(url)
        return hit

    def put(self, url: str, etag: str, page: _Page) -> None:
        if self.size <= 0:
            return
        self._data[url] = (etag, page)
        self._data.move_to_end(url)
        while len(self._data) > self.size:
            self._data.popitem(last=False)

    def drop(self, url: str) -> None:
        self._data.pop(url, None)

    def __len__(self) -> int:
        return len(self._data)


def _as_int(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SourceError(f"{what} gave {value!r}, not a number", retryable=False)
    try:
        return int(value)
    except ValueError:
        raise SourceError(f"{what} gave {value!r}, not a number", retryable=False) from None


class HttpJsonSource(BaseSource):
    def __init__(
        self,
        cfg: HttpJsonSourceConfig,
        clock: Clock,
        *,
        session: aiohttp.ClientSession | None = None,
        random: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(cfg, clock)
        self.cfg: HttpJsonSourceConfig = cfg
        self.supports_recheck = cfg.recheck_url is not None
        self._http = HttpClient(
            clock=clock,
            headers=resolve_headers(cfg),
            timeout=cfg.timeout,
            concurrency=cfg.concurrency,
            budget_per_minute=cfg.budget_per_minute,
            max_budget_wait=cfg.interval,
            session=session,
        )
        b = cfg.backoff
        self._backoff = Backoff(
            b.initial, b.max, b.multiplier, b.jitter, random if random is not None else _random
        )
        self._mapper = ItemMapper(cfg.mapping, cfg.labels)
        p = cfg.pagination
        self._pagination = p
        self._items = compile_expression(cfg.items)
        self._next_cursor = compile_expression(p.next_cursor) if p.next_cursor else None
        self._next_page = compile_expression(p.next_page) if p.next_page else None
        self._total = compile_expression(p.total) if p.total else None
        self._recheck_item = compile_expression(cfg.recheck_item)
        self._url_vars = template_fields(cfg.url)
        self._etags = _EtagCache(cfg.etag_cache_size if cfg.etag else 0)
        self._last_pages: int | None = None
        self._recheck_window = (0.0, 0)  # (window start, rechecks spent in it)
        self._sweep_newest: float | None = None

    @property
    def requests_total(self) -> int:
        return self._http.requests_total

    @property
    def bucket(self) -> TokenBucket | None:
        return self._http.bucket

    async def close(self) -> None:
        await self._http.close()

    def _retrier(self) -> Retrier:
        return Retrier(self._clock, self._backoff, self.cfg.backoff.retries, self.cfg.interval)

    # ------------------------------------------------------------ URLs

    def page_url(self, *, page: int | None = None, cursor: str | None = None) -> str:
        p = self._pagination
        values: dict[str, Any] = {
            "page": page if page is not None else p.start_page,
            "page_size": p.page_size,
            "cursor": quote(cursor or "", safe=""),
            "offset": ((page if page is not None else p.start_page) - p.start_page) * p.page_size,
        }
        url = URL(self.cfg.url.format(**values) if self._url_vars else self.cfg.url)
        query: dict[str, Any] = {k: str(v) for k, v in self.cfg.params.items()}
        style = p.style
        if style != "none" and p.size_param and "page_size" not in self._url_vars:
            query[p.size_param] = str(p.page_size)
        if style == "page" and "page" not in self._url_vars and "offset" not in self._url_vars:
            query[p.page_param] = str(values["page"])
        if style == "cursor" and cursor and "cursor" not in self._url_vars:
            query[p.cursor_param] = cursor
        if query:
            url = url.update_query(query)
        return str(url)

    # ------------------------------------------------------------ pages

    async def _fetch_page(self, url: str, at_page: str) -> tuple[_Page, bool]:
        """The page and whether it came from the ETag cache (HTTP 304)."""
        what = f"{self.name} {at_page}"

        async def attempt() -> tuple[_Page, bool]:
            cached = self._etags.get(url)
            extra = {"If-None-Match": cached[0]} if cached is not None else None
            resp = await self._http.request(url, extra_headers=extra, what=what)
            if resp.status == 304:
                if cached is None:
                    raise SourceError(f"{what}: 304 without a cached page", retryable=True)
                return cached[1], True
            err = error_for_status(
                resp.status, what, resp.headers.get("Retry-After"), self._clock.now()
            )
            if err is not None:
                raise err
            page = self._parse(resp, what, cached[1] if cached is not None else None)
            etag = resp.headers.get("ETag")
            if etag:
                self._etags.put(url, etag, page)
            else:
                self._etags.drop(url)
            return page, False

        return await self._retrier().run(what, attempt)

    def _parse(self, resp: HttpResponse, what: str, old: _Page | None = None) -> _Page:
        try:
            doc = orjson.loads(resp.body)
        except orjson.JSONDecodeError as exc:
            raise SourceError(f"{what}: malformed JSON ({exc})", retryable=True) from None
        try:
            items = self._items(doc)
        except Exception as exc:
            raise SourceError(f"{what}: items expression failed: {exc}", retryable=False) from None
        if items is None:
            # Not an empty page: a page without the list (an error body sent
            # with 200, say) must not read as "the fleet is gone".
            raise SourceError(
                f"{what}: items ({self.cfg.items!r}) not found in the page", retryable=True
            )
        if not isinstance(items, list):
            raise SourceError(
                f"{what}: items ({self.cfg.items!r}) gave {type(items).__name__}, not a list",
                retryable=False,
            )
        at = self._clock.now()
        mapper = self._mapper.map
        if old is not None and old.observations:
            # Same URL, new version: items mostly keep their place on the page.
            before = old.observations
            n = len(before)
            observations = [
                mapper(item, at, like=before[i] if i < n else None) for i, item in enumerate(items)
            ]
        else:
            observations = [mapper(item, at) for item in items]
        cursor = self._next_cursor(doc) if self._next_cursor else None
        if cursor is not None and not isinstance(cursor, str | int):
            raise SourceError(f"{what}: next_cursor gave {cursor!r}", retryable=False)
        return _Page(
            observations,
            len(items),
            str(cursor) if cursor not in (None, "") else None,
            _as_int(self._next_page(doc), f"{what}: next_page") if self._next_page else None,
            resp.next_link,
            _as_int(self._total(doc), f"{what}: total") if self._total else None,
            self._mapper.newest_seen(items),
        )

    def _take(self, fetched: tuple[_Page, bool], out: list[Observation]) -> _Page:
        """Add the page's observations to `out`, restamped if reused from cache."""
        page, reused = fetched
        if page.newest_seen is not None and (
            self._sweep_newest is None or page.newest_seen > self._sweep_newest
        ):
            self._sweep_newest = page.newest_seen
        obs = page.observations
        if not reused:
            out.extend(obs)
            return page
        at = self._clock.now()
        out.extend(
            Observation(o.target_id, o.up, at, o.labels, o.latency, o.fields, o.error) for o in obs
        )
        return page

    # ------------------------------------------------------------ sweep

    async def _collect(self, out: list[Observation]) -> None:
        self._sweep_newest = None
        await self._collect_pages_of_style(out)
        stale_after = self.cfg.mapping.stale_after
        if stale_after is not None and out:
            self._check_fresh(stale_after)

    def _check_fresh(self, stale_after: float) -> None:
        """Fail the sweep when the vendor serves old data (frozen status)."""
        newest = self._sweep_newest
        if newest is None:
            raise SourceError(
                f"{self.name}: no item has a usable last_seen ({self.cfg.mapping.last_seen!r})",
                retryable=False,
            )
        age = self._clock.now() - newest
        if age > stale_after:
            raise SourceError(
                f"{self.name}: data is stale: newest last_seen is {age:.0f}s old "
                f"(stale_after {stale_after:g}s)",
                retryable=True,
            )

    async def _collect_pages_of_style(self, out: list[Observation]) -> None:
        style = self._pagination.style
        if style == "none":
            self._take(await self._fetch_page(self.page_url(), "page"), out)
            self._last_pages = 1
        elif style == "page":
            await self._collect_pages(out)
        elif style == "cursor":
            await self._collect_cursor(out)
        else:
            await self._collect_links(out)

    def _too_many(self, n: int) -> SourceError:
        return SourceError(
            f"{self.name}: pagination did not end after max_pages={n} pages", retryable=False
        )

    async def _collect_pages(self, out: list[Observation]) -> None:
        p = self._pagination
        page_no = p.start_page
        first = self._take(
            await self._fetch_page(self.page_url(page=page_no), f"page {page_no}"), out
        )
        fetched = 1
        if self._total is not None and first.total is not None:
            pages = max(1, math.ceil(first.total / p.page_size))
            if pages > p.max_pages:
                raise self._too_many(p.max_pages)
            await self._collect_concurrently(out, range(page_no + 1, page_no + pages))
            self._last_pages = pages
            return
        page = first
        while True:
            if self._next_page is not None:
                nxt = page.next_page
            else:  # no hint from the API: a full page means there may be more
                nxt = page_no + 1 if page.count >= p.page_size else None
            if nxt is None:
                break
            if nxt <= page_no:
                raise SourceError(
                    f"{self.name}: next_page {nxt} does not advance past page {page_no}",
                    retryable=False,
                )
            if fetched >= p.max_pages:
                raise self._too_many(p.max_pages)
            page_no = nxt
            page = self._take(
                await self._fetch_page(self.page_url(page=page_no), f"page {page_no}"), out
            )
            fetched += 1
        self._last_pages = fetched

    async def _collect_concurrently(self, out: list[Observation], numbers: range) -> None:
        """Fetch pages in parallel (bounded by the concurrency limit). The first
        failure cancels the pages not yet fetched: the sweep has failed anyway,
        and a struggling API should not get the rest of the burst."""
        tasks = [
            asyncio.ensure_future(self._fetch_page(self.page_url(page=n), f"page {n}"))
            for n in numbers
        ]
        if not tasks:
            return
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for task in tasks:
                task.cancel()  # no-op for finished ones; covers our own cancellation
            await asyncio.gather(*tasks, return_exceptions=True)
        failure: BaseException | None = None
        for task in tasks:
            if task.cancelled():
                continue
            exc = task.exception()
            if exc is not None:
                failure = failure or exc
            else:
                self._take(task.result(), out)
        if failure is not None:
            if isinstance(failure, SourceError):
                raise failure
            raise SourceError(f"{self.name}: {failure!r}", retryable=False) from failure

    async def _collect_cursor(self, out: list[Observation]) -> None:
        p = self._pagination
        cursor: str | None = None
        seen: set[str] = set()
        fetched = 0
        while True:
            if fetched >= p.max_pages:
                raise self._too_many(p.max_pages)
            label = f"cursor {cursor!r}" if cursor else "first page"
            page = self._take(await self._fetch_page(self.page_url(cursor=cursor), label), out)
            fetched += 1
            cursor = page.next_cursor
            if cursor is None or page.count == 0:
                break
            if cursor in seen:
                raise SourceError(f"{self.name}: cursor {cursor!r} repeats", retryable=False)
            seen.add(cursor)
        self._last_pages = fetched

    async def _collect_links(self, out: list[Observation]) -> None:
        p = self._pagination
        url: str | None = self.page_url()
        seen: set[str] = set()
        fetched = 0
        while url is not None:
            if fetched >= p.max_pages:
                raise self._too_many(p.max_pages)
            seen.add(url)
            page = self._take(await self._fetch_page(url, f"page {fetched + 1}"), out)
            fetched += 1
            url = page.next_link
            if url is not None and url in seen:
                raise SourceError(f"{self.name}: Link next {url} repeats", retryable=False)
        self._last_pages = fetched

    # ------------------------------------------------------------ recheck

    def _recheck_allowance(self, wanted: int) -> int:
        start, spent = self._recheck_window
        now = self._clock.now()
        if now - start >= self.interval:
            start, spent = now, 0
        granted = max(0, min(wanted, self.cfg.recheck_limit - spent))
        self._recheck_window = (start, spent + granted)
        return granted

    async def recheck(self, target_ids: Sequence[str]) -> list[Observation]:
        now = self._clock.now()
        if self.cfg.recheck_url is None:
            return [Observation(t, None, now, error="recheck not supported") for t in target_ids]
        if self.breaker.state is CircuitState.OPEN:  # probing is the sweep's job
            return [Observation(t, None, now, error="circuit open") for t in target_ids]
        granted = self._recheck_allowance(len(target_ids))
        checked = await asyncio.gather(*(self._recheck_one(t) for t in target_ids[:granted]))
        refused = [
            Observation(t, None, now, error=f"recheck limit {self.cfg.recheck_limit} reached")
            for t in target_ids[granted:]
        ]
        return [*checked, *refused]

    async def _recheck_one(self, target_id: str) -> Observation:
        assert self.cfg.recheck_url is not None
        url = self.cfg.recheck_url.format(id=quote(target_id, safe=""))
        what = f"{self.name} recheck {target_id}"

        async def attempt() -> Any:
            resp = await self._http.request(url, what=what)
            err = error_for_status(
                resp.status, what, resp.headers.get("Retry-After"), self._clock.now()
            )
            if err is not None:
                raise err
            try:
                return orjson.loads(resp.body)
            except orjson.JSONDecodeError as exc:
                raise SourceError(f"{what}: malformed JSON ({exc})", retryable=True) from None

        try:
            doc = await self._retrier().run(what, attempt)
            item = self._recheck_item(doc)
        except Exception as exc:
            return Observation(target_id, None, self._clock.now(), self.cfg.labels, error=str(exc))
        return self._mapper.map(item, self._clock.now(), force_id=target_id)

    # ------------------------------------------------------------ estimate

    def pages_per_sweep(self) -> int:
        """Pages one sweep costs: as last measured, else from expected_items."""
        return http_json_pages(self.cfg, self._last_pages)

    def estimate_calls_per_hour(self) -> float:
        return estimate_calls_per_hour(self.cfg, measured_pages=self._last_pages)
