"""The `query:` section reaches the query API and the rule engine of `tocsin run`."""

from __future__ import annotations

from pathlib import Path

from tests.runtime.harness import INTERVAL, harness

ZONES = 20 * 5


async def test_query_limits_come_from_the_config(tmp_path: Path) -> None:
    extra = "query: {max_samples: 150, lookback_delta: 40s, timeout: 30s}\n"
    async with harness(tmp_path, extra=extra) as h:
        assert h.runtime.rules is not None
        engine = h.runtime.rules.engine
        assert (engine.lookback_ms, engine.max_samples, engine.timeout) == (40_000, 150, 30.0)
        await h.round()
        t = h.clock.now()

        async def query(q: str, at: float) -> tuple[int, dict[str, object]]:
            resp = await h.api.get("/api/v1/query", params={"query": q, "time": at})
            return resp.status_code, resp.json()

        status, body = await query("count(tocsin_target_up)", t)
        assert status == 200, body
        assert body["data"] == {
            "resultType": "vector",
            "result": [{"metric": {}, "value": [t, str(ZONES)]}],
        }  # type: ignore[index]
        # 40s of lookback: the sample of the sweep 45s ago is too old (the default 5m is not).
        status, body = await query("count(tocsin_target_up)", t + 45)
        assert body["data"]["result"] == []  # type: ignore[index]

        await h.round()
        # Two sweeps of 100 zones are 200 samples: over the configured 150.
        status, body = await query(
            f"count_over_time(tocsin_target_up[{2 * INTERVAL}s])", h.clock.now()
        )
        assert status == 422
        assert body["errorType"] == "execution"
