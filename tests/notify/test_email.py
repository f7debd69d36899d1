from __future__ import annotations

import email
import email.policy
from pathlib import Path
from typing import Any

import pytest

from tests.support import free_port
from tocsin.errors import ConfigError
from tocsin.notify import email as email_notify
from tocsin.notify.deps import IntegrationDeps
from tocsin.notify.types import DeliveryFailure

from .smtp_server import SmtpServer, make_cert
from .support import notification


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_cert(tmp_path_factory.mktemp("tls"))


def config(server: SmtpServer, **extra: Any) -> dict[str, Any]:
    return {
        "to": "venue-it@example.com, Ops <ops@example.com>",
        "from": "tocsin <tocsin@example.com>",
        "smarthost": server.smarthost,
        "require_tls": False,
        "text": "{{ .Status }}: {{ .CommonLabels.zone }}",
        **extra,
    }


def parse(raw: bytes) -> email.message.EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


async def test_plain_smtp_multipart_message(deps: IntegrationDeps) -> None:
    with SmtpServer() as server:
        integ = email_notify.build(
            config(server, headers={"X-Venue": "{{ .GroupLabels.venue }}"}), deps
        )
        result = await integ.notify(notification())
    assert result.status_code == 250
    [got] = server.handler.received
    assert got.mail_from == "tocsin@example.com"
    assert got.rcpt_tos == ["venue-it@example.com", "ops@example.com"]
    assert not got.tls
    msg = parse(got.data)
    assert msg["Subject"] == "[email.default.subject:FIRING:1]"
    assert msg["To"] == "venue-it@example.com, Ops <ops@example.com>"
    assert msg["From"] == "tocsin <tocsin@example.com>"
    assert msg["X-Venue"] == "v1"
    assert msg["Date"].datetime.timestamp() == 1_700_000_000
    assert msg["Message-Id"].endswith("@tocsin.test>")
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None
    assert text.get_content().strip() == "firing: lobby"
    assert html is not None
    assert "[email.default.html:FIRING:1]" in html.get_content()


async def test_configured_subject_header_overrides_default(deps: IntegrationDeps) -> None:
    with SmtpServer() as server:
        integ = email_notify.build(
            config(server, headers={"subject": "Zone {{ .CommonLabels.zone }}\n down"}, html=""),
            deps,
        )
        await integ.notify(notification())
    msg = parse(server.handler.received[0].data)
    assert msg["Subject"] == "Zone lobby down"
    assert msg.get_content_type() == "text/plain"


async def test_require_tls_without_starttls_is_permanent(deps: IntegrationDeps) -> None:
    with SmtpServer() as server:
        integ = email_notify.build(config(server, require_tls=True), deps)
        with pytest.raises(DeliveryFailure, match="does not offer STARTTLS") as err:
            await integ.notify(notification())
    assert not err.value.retryable
    assert server.handler.received == []


async def test_starttls_and_auth(deps: IntegrationDeps, cert: tuple[Path, Path]) -> None:
    with SmtpServer(cert=cert, users={"alice": "s3cret"}) as server:
        integ = email_notify.build(
            config(
                server,
                require_tls=True,
                auth_username="alice",
                auth_password="s3cret",
                tls_config={"ca_file": str(cert[0])},
            ),
            deps,
        )
        await integ.notify(notification())
    [got] = server.handler.received
    assert got.tls
    assert got.login == "alice"


async def test_password_file(
    deps: IntegrationDeps, cert: tuple[Path, Path], tmp_path: Path
) -> None:
    (tmp_path / "pw").write_text("s3cret\n")
    with SmtpServer(cert=cert, users={"alice": "s3cret"}) as server:
        integ = email_notify.build(
            config(
                server,
                auth_username="alice",
                auth_password_file=str(tmp_path / "pw"),
                tls_config={"ca_file": str(cert[0])},
            ),
            deps,
        )
        await integ.notify(notification())
    assert server.handler.received[0].login == "alice"


async def test_wrong_password_is_permanent(deps: IntegrationDeps, cert: tuple[Path, Path]) -> None:
    with SmtpServer(cert=cert, users={"alice": "s3cret"}) as server:
        integ = email_notify.build(
            config(
                server,
                auth_username="alice",
                auth_password="wrong",
                tls_config={"ca_file": str(cert[0])},
            ),
            deps,
        )
        with pytest.raises(DeliveryFailure, match="535") as err:
            await integ.notify(notification())
    assert not err.value.retryable
    assert err.value.status_code == 535


async def test_untrusted_certificate_is_permanent(
    deps: IntegrationDeps, cert: tuple[Path, Path]
) -> None:
    with SmtpServer(cert=cert) as server:
        integ = email_notify.build(config(server), deps)
        with pytest.raises(DeliveryFailure, match="TLS") as err:
            await integ.notify(notification())
    assert not err.value.retryable


@pytest.mark.parametrize(
    ("to", "code", "retryable"), [("refuse@x.org", 550, False), ("later@x.org", 451, True)]
)
async def test_refused_recipients(
    deps: IntegrationDeps, to: str, code: int, retryable: bool
) -> None:
    with SmtpServer() as server:
        integ = email_notify.build(config(server, to=to), deps)
        with pytest.raises(DeliveryFailure) as err:
            await integ.notify(notification())
    assert err.value.retryable is retryable
    assert err.value.status_code == code


async def test_partly_refused_recipients_are_reported(deps: IntegrationDeps) -> None:
    with SmtpServer() as server:
        integ = email_notify.build(config(server, to="a@x.org, refuse@x.org"), deps)
        result = await integ.notify(notification())
    assert server.handler.received[0].rcpt_tos == ["a@x.org"]
    assert "refuse@x.org (550)" in result.detail


async def test_connection_refused_is_retryable(deps: IntegrationDeps) -> None:
    integ = email_notify.build(
        {"to": "a@x.org", "from": "b@x.org", "smarthost": f"127.0.0.1:{free_port()}"}, deps
    )
    with pytest.raises(DeliveryFailure) as err:
        await integ.notify(notification())
    assert err.value.retryable


@pytest.mark.parametrize(
    ("cfg", "field"),
    [
        ({"from": "a@x", "smarthost": "h:25"}, "to"),
        ({"to": "a@x", "smarthost": "h:25"}, "from"),
        ({"to": "a@x", "from": "b@x", "smarthost": "h"}, "smarthost"),
        ({"to": "a@x", "from": "b@x", "smarthost": "h:25", "headers": []}, "headers"),
    ],
)
def test_bad_config(deps: IntegrationDeps, cfg: dict, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        email_notify.build(cfg, deps)
    assert err.value.problems[0].field == field


async def test_plain_auth_with_identity(deps: IntegrationDeps, cert: tuple[Path, Path]) -> None:
    with SmtpServer(cert=cert, users={"alice": "s3cret"}) as server:
        integ = email_notify.build(
            config(
                server,
                auth_username="alice",
                auth_password="s3cret",
                auth_identity="ops",
                tls_config={"ca_file": str(cert[0])},
            ),
            deps,
        )
        await integ.notify(notification())
    assert server.handler.received[0].login == "alice"


def test_password_and_file_exclude_each_other(deps: IntegrationDeps) -> None:
    cfg = {"to": "a@x", "from": "b@x", "smarthost": "h:25", "auth_password": "p",
           "auth_password_file": "/f"}  # fmt: skip
    with pytest.raises(ConfigError, match="mutually exclusive"):
        email_notify.build(cfg, deps)


async def test_envelope_follows_to_even_when_header_is_overridden(deps: IntegrationDeps) -> None:
    with SmtpServer() as server:
        integ = email_notify.build(
            config(server, to="real@example.com", headers={"To": "everyone@example.com"}), deps
        )
        await integ.notify(notification())
    [got] = server.handler.received
    assert got.rcpt_tos == ["real@example.com"]
    assert parse(got.data)["To"] == "everyone@example.com"


async def test_partial_refusal_is_in_the_attempt_detail(deps: IntegrationDeps, clock) -> None:
    from tocsin.notify.retry import MemoryAttemptSink, Retrier

    sink = MemoryAttemptSink()
    with SmtpServer() as server:
        integ = email_notify.build(config(server, to="a@x.org, refuse@x.org"), deps)
        out = await Retrier(clock, sink).deliver(
            "email[0]", integ, notification(), clock.now() + 60
        )
    assert out.ok
    assert "refuse@x.org (550)" in sink.attempts[0].detail


async def test_force_implicit_tls(deps: IntegrationDeps, cert: tuple[Path, Path]) -> None:
    with SmtpServer(cert=cert, implicit_tls=True) as server:
        integ = email_notify.build(
            config(
                server,
                force_implicit_tls=True,
                require_tls=True,
                tls_config={"ca_file": str(cert[0])},
            ),
            deps,
        )
        await integ.notify(notification())
    assert server.handler.received[0].tls


@pytest.mark.parametrize(("by_date", "suffix"), [("none", ""), ("daily", ".20231114")])
async def test_threading_headers_tie_a_group_together(
    deps: IntegrationDeps, by_date: str, suffix: str
) -> None:
    with SmtpServer() as server:
        integ = email_notify.build(
            config(server, threading={"enabled": True, "thread_by_date": by_date}), deps
        )
        await integ.notify(notification(group_key="g1"))
        await integ.notify(notification(group_key="g1"))
        await integ.notify(notification(group_key="g2"))
    first, second, other = (parse(r.data) for r in server.handler.received)
    assert first["In-Reply-To"] == second["In-Reply-To"] == first["References"]
    assert first["In-Reply-To"] != other["In-Reply-To"]
    assert first["In-Reply-To"].endswith(f"{suffix}@tocsin.test>")
    assert first["Message-Id"] != second["Message-Id"]
