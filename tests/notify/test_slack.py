from __future__ import annotations

from typing import Any

import pytest

from tocsin.errors import ConfigError
from tocsin.notify import slack
from tocsin.notify.deps import IntegrationDeps
from tocsin.notify.types import DeliveryFailure, MemoryKeyValueStore

from .fakes import FakeSlack, check_blocks
from .support import alert, notification

TOKEN = "xoxb-test-token"


def bot_config(fake: FakeSlack, **extra: Any) -> dict[str, Any]:
    return {
        "app_token": TOKEN,
        "app_url": fake.url + "/api/chat.postMessage",
        "channel": "#alerts",
        "send_resolved": True,
        **extra,
    }


def texts(blocks: list[dict[str, Any]]) -> str:
    out = []
    for b in blocks:
        if "text" in b:
            out.append(b["text"]["text"])
        out += [f["text"] for f in b.get("fields", [])]
        out += [e["text"] for e in b.get("elements", []) if "text" in e and e["type"] == "mrkdwn"]
    return "\n".join(out)


async def test_incoming_webhook_posts_block_kit(deps: IntegrationDeps) -> None:
    async with FakeSlack() as fake:
        integ = slack.build({"api_url": fake.url + "/services/T0/B0/secret"}, deps)
        result = await integ.notify(notification())
        await integ.aclose()
    assert fake.problems == []
    assert result.status_code == 200
    body = fake.last.json
    assert body["text"] == "[slack.default.fallback:FIRING:1]"
    assert "[slack.default.title:FIRING:1]" in texts(body["blocks"])
    assert body["attachments"][0]["color"] == "danger"
    assert body["username"] == "[slack.default.username:FIRING:1]"
    assert "Authorization" not in fake.last.headers


async def test_incoming_webhook_error_is_permanent(deps: IntegrationDeps) -> None:
    async with FakeSlack() as fake:
        fake.script(404, "channel_not_found")
        integ = slack.build({"api_url": fake.url + "/services/T0/B0/secret"}, deps)
        with pytest.raises(DeliveryFailure) as err:
            await integ.notify(notification())
        await integ.aclose()
    assert not err.value.retryable
    assert "channel_not_found" in str(err.value)
    assert "secret" not in str(err.value)


async def test_bot_threads_updates_and_resolves(deps: IntegrationDeps) -> None:
    async with FakeSlack() as fake:
        integ = slack.build(bot_config(fake), deps)
        one = alert(zone="lobby")
        two = alert(zone="bar")
        await integ.notify(notification(one))
        await integ.notify(notification(one, two))
        resolved = notification(
            alert(zone="lobby", status="resolved"), alert(zone="bar", status="resolved")
        )
        await integ.notify(resolved)
        await integ.notify(notification(one))
        await integ.aclose()
    assert fake.problems == []
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in fake.requests)
    parent, second_parent = [m for m in fake.messages if m.thread_ts is None]
    replies = fake.thread(parent.ts)
    assert [r.body["attachments"][0]["color"] for r in replies] == ["danger", "good"]
    assert [r.channel for r in replies] == ["C0ALERTS", "C0ALERTS"]
    # The resolve recoloured the parent, and the next firing started a new thread.
    assert [u["attachments"][0]["color"] for u in parent.updates] == ["good"]
    assert second_parent.ts != parent.ts
    assert fake.thread(second_parent.ts) == []


async def test_thread_survives_a_restart_through_the_store(deps: IntegrationDeps) -> None:
    async with FakeSlack() as fake:
        first = slack.build(bot_config(fake), deps)
        await first.notify(notification())
        await first.aclose()
        again = slack.build(bot_config(fake), deps)  # same store, new integration
        await again.notify(notification(alert(zone="lobby"), alert(zone="bar")))
        await again.aclose()
    parent = fake.messages[0]
    assert [m.thread_ts for m in fake.messages] == [None, parent.ts]


async def test_groups_get_separate_threads(deps: IntegrationDeps) -> None:
    async with FakeSlack() as fake:
        integ = slack.build(bot_config(fake), deps)
        await integ.notify(notification(group_key="a"))
        await integ.notify(notification(group_key="b"))
        await integ.notify(notification(group_key="a"))
        await integ.aclose()
    a, b, reply = fake.messages
    assert (a.thread_ts, b.thread_ts, reply.thread_ts) == (None, None, a.ts)


async def test_stale_thread_falls_back_to_a_new_message(deps: IntegrationDeps) -> None:
    async with FakeSlack() as fake:
        integ = slack.build(bot_config(fake), deps)
        n = notification()
        key = integ._thread_key(n, "#alerts")
        await deps.store.set(key, '{"channel": "C0ALERTS", "ts": "1600000000.000001"}')
        result = await integ.notify(n)
        await integ.aclose()
    assert [m.thread_ts for m in fake.messages] == [None]
    assert result.detail == f"ts={fake.messages[0].ts}"
    assert await deps.store.get(key) == f'{{"channel": "C0ALERTS", "ts": "{fake.messages[0].ts}"}}'


@pytest.mark.parametrize(
    ("answer", "status", "retryable", "retry_after"),
    [
        ({"ok": False, "error": "channel_not_found"}, 200, False, None),
        ({"ok": False, "error": "internal_error"}, 200, True, None),
        ({"ok": False, "error": "ratelimited"}, 429, True, 12.0),
        ({"ok": False, "error": "msg_too_long"}, 200, False, None),
        ("<html>bad gateway</html>", 502, True, None),
    ],
)
async def test_web_api_errors(
    deps: IntegrationDeps, answer: Any, status: int, retryable: bool, retry_after: float | None
) -> None:
    async with FakeSlack() as fake:
        fake.script(status, answer, {"Retry-After": "12"} if retry_after else {})
        integ = slack.build(bot_config(fake), deps)
        with pytest.raises(DeliveryFailure) as err:
            await integ.notify(notification())
        await integ.aclose()
    assert err.value.retryable is retryable
    assert err.value.retry_after == retry_after


async def test_invalid_token_is_permanent(deps: IntegrationDeps) -> None:
    async with FakeSlack(token="xoxb-other") as fake:
        integ = slack.build(bot_config(fake), deps)
        with pytest.raises(DeliveryFailure, match="invalid_auth") as err:
            await integ.notify(notification())
        await integ.aclose()
    assert not err.value.retryable


async def test_token_file(deps: IntegrationDeps, tmp_path) -> None:
    (tmp_path / "token").write_text(TOKEN + "\n")
    async with FakeSlack() as fake:
        cfg = bot_config(fake, app_token_file=str(tmp_path / "token"))
        del cfg["app_token"]
        integ = slack.build(cfg, deps)
        await integ.notify(notification())
        await integ.aclose()
    assert fake.last.headers["Authorization"] == f"Bearer {TOKEN}"


async def test_fields_actions_and_limits_make_valid_blocks(deps: IntegrationDeps) -> None:
    cfg = {
        "api_url": "",
        "title": "{{ .CommonLabels.alertname }}",
        "title_link": "{{ .ExternalURL }}",
        "text": "x" * 5000,
        "pretext": "",
        "fields": [{"title": f"f{i}", "value": "{{ .Status }}"} for i in range(12)],
        "actions": [
            {
                "type": "button",
                "text": "Runbook " + "y" * 100,
                "url": "http://rb",
                "style": "danger",
            },
            {"type": "button", "text": "Silence", "url": "{{ .ExternalURL }}/silences"},
        ],
        "image_url": "http://img/x.png",
        "thumb_url": "http://img/t.png",
    }
    async with FakeSlack() as fake:
        cfg["api_url"] = fake.url + "/services/T0/B0/X"
        integ = slack.build(cfg, deps)
        await integ.notify(notification())
        await integ.aclose()
    assert fake.problems == []
    blocks = fake.last.json["blocks"]
    assert check_blocks(blocks) == []
    assert blocks[0]["text"]["text"] == "*<http://tocsin.local|ZoneDown>*"
    assert blocks[0]["accessory"]["image_url"] == "http://img/t.png"
    assert {"type": "image", "image_url": "http://img/x.png", "alt_text": "ZoneDown"} in blocks
    assert len(blocks[1]["text"]["text"]) == 3000
    assert [len(b["fields"]) for b in blocks if "fields" in b] == [10, 2]
    [actions] = [b for b in blocks if b["type"] == "actions"]
    assert [e.get("style") for e in actions["elements"]] == ["danger", None]
    assert actions["elements"][1]["url"] == "http://tocsin.local/silences"
    assert len(actions["elements"][0]["text"]["text"]) == 75


async def test_acknowledgement_is_shown(deps: IntegrationDeps) -> None:
    async with FakeSlack() as fake:
        integ = slack.build(bot_config(fake), deps)
        await integ.notify(notification())
        await integ.notify(notification(acknowledged_by="ana"))
        await integ.aclose()
    reply = fake.messages[1]
    assert reply.thread_ts == fake.messages[0].ts
    assert "Acknowledged by ana" in texts(reply.body["blocks"])


async def test_template_error_is_permanent(deps: IntegrationDeps) -> None:
    integ = slack.build({"api_url": "http://127.0.0.1:1/x", "title": "{{ .Nope }}"}, deps)
    with pytest.raises(DeliveryFailure, match="template error in title") as err:
        await integ.notify(notification())
    await integ.aclose()
    assert not err.value.retryable


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({}, "api_url"),
        ({"api_url": "http://x", "app_token": "t", "channel": "c"}, "api_url"),
        ({"app_token": "t"}, "channel"),
        ({"app_token": "t", "app_token_file": "/f", "channel": "c"}, "app_token"),
        ({"api_url": "http://x", "fields": "nope"}, "fields"),
    ],
)
def test_bad_config(deps: IntegrationDeps, config: dict, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        slack.build(config, deps)
    assert err.value.problems[0].field == field


async def test_memory_store_expires_on_the_clock(deps: IntegrationDeps, clock) -> None:
    store = MemoryKeyValueStore(clock.now)
    await store.set("k", "v", ttl=10)
    assert await store.get("k") == "v"
    clock.set(clock.now() + 10)
    assert await store.get("k") is None


async def test_update_message_edits_the_first_message(deps: IntegrationDeps) -> None:
    async with FakeSlack() as fake:
        integ = slack.build(bot_config(fake, update_message=True), deps)
        await integ.notify(notification(alert(zone="lobby")))
        await integ.notify(notification(alert(zone="lobby"), alert(zone="bar")))
        await integ.notify(notification(alert(zone="lobby", status="resolved")))
        await integ.notify(notification(alert(zone="lobby")))
        await integ.aclose()
    assert fake.problems == []
    first, second = fake.messages
    assert (first.thread_ts, second.thread_ts) == (None, None)
    assert [u["attachments"][0]["color"] for u in first.updates] == ["danger", "good"]
    assert second.updates == []


def test_update_message_needs_a_bot(deps: IntegrationDeps) -> None:
    with pytest.raises(ConfigError) as err:
        slack.build(
            {"api_url": "https://hooks.slack.com/services/T/B/X", "update_message": True}, deps
        )
    assert err.value.problems[0].field == "update_message"


async def test_api_url_workaround_with_authorization_is_a_bot(deps: IntegrationDeps) -> None:
    """Alertmanager's pre-app_token way: api_url is chat.postMessage, token in http_config."""
    async with FakeSlack() as fake:
        cfg = {
            "api_url": fake.url + "/api/chat.postMessage",
            "channel": "#alerts",
            "send_resolved": True,
            "http_config": {"authorization": {"credentials": TOKEN}},
        }
        integ = slack.build(cfg, deps)
        await integ.notify(notification())
        await integ.notify(notification(alert(zone="lobby", status="resolved")))
        await integ.aclose()
    assert fake.problems == []
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in fake.requests)
    parent, reply = fake.messages
    assert reply.thread_ts == parent.ts
    assert len(parent.updates) == 1


async def test_rate_limited_post_waits_for_retry_after(deps: IntegrationDeps, clock) -> None:
    from tocsin.notify.retry import MemoryAttemptSink, Retrier

    from .support import run_on_clock

    sink = MemoryAttemptSink()
    async with FakeSlack() as fake:
        fake.script(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "30"})
        integ = slack.build(bot_config(fake), deps)
        retrier = Retrier(clock, sink, random=lambda: 0.5)
        t0 = clock.now()
        out = await run_on_clock(
            clock, retrier.deliver("slack[0]", integ, notification(), t0 + 300)
        )
        await integ.aclose()
    assert out.ok
    assert [(a.ok, a.status_code) for a in sink.attempts] == [(False, 429), (True, 200)]
    assert sink.attempts[1].at - sink.attempts[0].at >= 30
    assert len(fake.messages) == 1
