"""Email over SMTP (aiosmtplib): STARTTLS or implicit TLS, AUTH, HTML and text.

SMTP reply codes decide retryability the way the protocol means them:
4xx is a transient failure worth retrying, 5xx is permanent.
"""

from __future__ import annotations

import base64
import ssl
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid, parseaddr
from typing import Any

import aiosmtplib

from tocsin.clock import Clock
from tocsin.notify.deps import IntegrationDeps
from tocsin.notify.fields import parse_config, problem, read_secret, render_text
from tocsin.notify.http import tls_context
from tocsin.notify.types import DeliveryFailure, DeliveryResult, Notification, Render, group_hash

IMPLICIT_TLS_PORT = 465


@dataclass(slots=True)
class EmailConfig:
    """email_configs fields; defaults are Alertmanager's (`require_tls` true)."""

    to: str = ""
    from_: str = ""
    smarthost: str = ""
    hello: str = "localhost"
    auth_username: str = ""
    auth_password: str = ""
    auth_password_file: str = ""
    auth_secret: str = ""
    auth_secret_file: str = ""
    auth_identity: str = ""
    require_tls: bool = True
    tls_config: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    html: str = '{{ template "email.default.html" . }}'
    text: str = ""
    send_resolved: bool = False
    timeout: float = 0.0
    force_implicit_tls: bool | None = None
    threading: dict[str, Any] = field(default_factory=dict)


def _split_hostport(smarthost: str, where: str) -> tuple[str, int]:
    host, sep, port = smarthost.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise problem(where, "smarthost", f"expected host:port, got {smarthost!r}")
    return host.strip("[]"), int(port)


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _smtp_failure(e: Exception) -> DeliveryFailure:
    if isinstance(e, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in e.recipients]
        who = ", ".join(f"{r.recipient} ({r.code} {r.message})" for r in e.recipients)
        return DeliveryFailure(
            f"email: all recipients refused: {who}",
            retryable=all(400 <= c < 500 for c in codes),
            status_code=codes[0] if codes else None,
        )
    if isinstance(e, aiosmtplib.SMTPResponseException):
        return DeliveryFailure(
            f"email: server said {e.code} {e.message}",
            retryable=400 <= e.code < 500,
            status_code=e.code,
        )
    if isinstance(e, aiosmtplib.SMTPTimeoutError | aiosmtplib.SMTPServerDisconnected):
        return DeliveryFailure(f"email: {type(e).__name__}: {e}", retryable=True)
    if isinstance(e, aiosmtplib.SMTPConnectError):
        return DeliveryFailure(f"email: cannot connect: {e}", retryable=True)
    if isinstance(e, ssl.SSLError):
        return DeliveryFailure(f"email: TLS failed: {e}", retryable=False)
    if isinstance(e, OSError):
        return DeliveryFailure(f"email: {e}", retryable=True)
    return DeliveryFailure(f"email: {type(e).__name__}: {e}", retryable=False)


class EmailIntegration:
    kind = "email"

    def __init__(self, config: EmailConfig, deps: IntegrationDeps, where: str) -> None:
        for name in ("to", "from_", "smarthost"):
            if not getattr(config, name):
                raise problem(where, name.rstrip("_"), "is required")
        for name in ("auth_password", "auth_secret"):
            if getattr(config, name) and getattr(config, f"{name}_file"):
                raise problem(where, name, f"{name} and {name}_file are mutually exclusive")
        self.host, self.port = _split_hostport(config.smarthost, where)
        if config.force_implicit_tls is None:
            self.implicit_tls = self.port == IMPLICIT_TLS_PORT
        else:
            self.implicit_tls = config.force_implicit_tls
        self.thread_by_date: str | None = None
        if config.threading.get("enabled"):
            self.thread_by_date = config.threading.get("thread_by_date") or "none"
            if self.thread_by_date not in ("none", "daily"):
                raise problem(where, "threading.thread_by_date", "must be none or daily")
        self.config = config
        self.render: Render = deps.render
        self.render_html: Render = deps.html
        self.clock: Clock = deps.clock
        self.hostname = deps.hostname
        self.send_resolved = config.send_resolved
        self.timeout = config.timeout or None
        self.tls = tls_context(config.tls_config, where)
        self.server_name = config.tls_config.get("server_name") or self.host

    def _r(self, text: str, n: Notification, name: str) -> str:
        return render_text(self.render, text, n, "email", name)

    def message(self, n: Notification) -> EmailMessage:
        c = self.config
        headers = {
            "Subject": '{{ template "email.default.subject" . }}',
            "To": c.to,
            "From": c.from_,
        }
        # Header names are case-insensitive; the config's spelling wins.
        for name, value in c.headers.items():
            for known in [k for k in headers if k.lower() == name.lower()]:
                del headers[known]
            headers[name] = value
        msg = EmailMessage()
        for name, value in headers.items():
            msg[name] = _one_line(self._r(value, n, f"headers.{name}"))
        msg["Message-Id"] = make_msgid(domain=self.hostname)
        msg["Date"] = formatdate(self.clock.now(), usegmt=True)
        if self.thread_by_date is not None:
            # Every mail of a group refers to one made-up root message, so
            # mail clients show the group as one conversation (per day if asked).
            root = group_hash(n.group_key)[:32]
            if self.thread_by_date == "daily":
                root += "." + time.strftime("%Y%m%d", time.gmtime(self.clock.now()))
            msg["In-Reply-To"] = msg["References"] = f"<{root}@{self.hostname}>"
        text = self._r(c.text, n, "text")
        html = render_text(self.render_html, c.html, n, "email", "html")
        if text:
            msg.set_content(text)
            if html:
                msg.add_alternative(html, subtype="html")
        elif html:
            msg.set_content(html, subtype="html")
        else:
            raise DeliveryFailure("email: both html and text rendered empty", retryable=False)
        return msg

    async def notify(self, n: Notification) -> DeliveryResult:
        msg = self.message(n)
        # The envelope follows the `to`/`from` fields, whatever the headers say.
        sender = parseaddr(_one_line(self._r(self.config.from_, n, "from")))[1]
        to = _one_line(self._r(self.config.to, n, "to"))
        recipients = [addr for _, addr in getaddresses([to]) if addr]
        if not sender or not recipients:
            raise DeliveryFailure("email: From or To has no address", retryable=False)
        smtp = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            local_hostname=self.config.hello,
            use_tls=self.implicit_tls,
            start_tls=False,
            tls_context=self.tls,
            timeout=self.timeout or 30.0,
        )
        try:
            await smtp.connect()
        except Exception as e:
            raise _smtp_failure(e) from e
        try:
            await self._secure_and_auth(smtp)
            errors, reply = await smtp.send_message(msg, sender=sender, recipients=recipients)
        except DeliveryFailure:
            raise
        except Exception as e:
            raise _smtp_failure(e) from e
        finally:
            try:
                await smtp.quit()
            except Exception:
                smtp.close()
        detail = f"{reply}"
        if errors:
            refused = ", ".join(f"{a} ({r.code})" for a, r in errors.items())
            detail += f"; refused: {refused}"
        return DeliveryResult(status_code=250, detail=detail)

    async def _secure_and_auth(self, smtp: aiosmtplib.SMTP) -> None:
        c = self.config
        # Extensions are only known after EHLO, and change after STARTTLS.
        await smtp.ehlo()
        if not self.implicit_tls:
            if smtp.supports_extension("starttls"):
                await smtp.starttls(tls_context=self.tls, server_hostname=self.server_name)
                await smtp.ehlo()
            elif c.require_tls:
                raise DeliveryFailure(
                    f"email: {self.host} does not offer STARTTLS and require_tls is true",
                    retryable=False,
                )
        if not c.auth_username:
            return
        if not smtp.supports_extension("auth"):
            raise DeliveryFailure(
                f"email: {self.host} does not offer AUTH but auth_username is set",
                retryable=False,
            )
        methods = set(smtp.supported_auth_methods)
        if (c.auth_secret or c.auth_secret_file) and "cram-md5" in methods:
            secret = read_secret(
                c.auth_secret or None, c.auth_secret_file or None, "email", "auth_secret"
            )
            await smtp.auth_crammd5(c.auth_username, secret)
            return
        password = read_secret(
            c.auth_password or None, c.auth_password_file or None, "email", "auth_password"
        )
        if c.auth_identity and "plain" in methods:
            # aiosmtplib's PLAIN has no authorization identity; send it by hand.
            raw = f"{c.auth_identity}\0{c.auth_username}\0{password}".encode()
            reply = await smtp.execute_command(b"AUTH", b"PLAIN", base64.b64encode(raw))
            if reply.code != 235:
                raise aiosmtplib.SMTPAuthenticationError(reply.code, reply.message)
            return
        await smtp.login(c.auth_username, password)

    async def aclose(self) -> None:
        return None


def build(data: Any, deps: IntegrationDeps, where: str = "email_configs") -> EmailIntegration:
    config = parse_config(EmailConfig, data, where, renames={"from": "from_"})
    return EmailIntegration(config, deps, where)
