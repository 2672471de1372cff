"""A local mail catcher for the demo (and the tests): a real SMTP server (aiosmtpd) on
loopback that keeps every message it receives, and a small web page listing them.

It is not a mail server: it accepts anything, delivers nothing, and keeps messages in
memory only, newest last.
"""

from __future__ import annotations

import email
import html
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route


@dataclass(frozen=True, slots=True)
class CaughtMail:
    received_at: datetime
    mail_from: str
    rcpt_to: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    def body(self, subtype: str = "plain") -> str | None:
        part = self.message.get_body(preferencelist=(subtype,))
        return None if part is None else str(part.get_content())


class _Keep:
    """aiosmtpd handler: parse and keep each message."""

    def __init__(self, catcher: MailCatcher) -> None:
        self.catcher = catcher

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        data = raw if isinstance(raw, bytes) else raw.encode("utf-8")
        message = email.message_from_bytes(data, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self.catcher.add(
            CaughtMail(
                received_at=datetime.now(UTC),
                mail_from=str(envelope.mail_from or ""),
                rcpt_to=tuple(str(r) for r in envelope.rcpt_tos),
                message=message,
            )
        )
        return "250 Message accepted for delivery"


class MailCatcher:
    """aiosmtpd on `host:port` in its own thread; `messages` are the mails received."""

    def __init__(self, host: str = "127.0.0.1", port: int = 2525, **smtp_options: Any) -> None:
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._messages: list[CaughtMail] = []
        self._smtp_options = smtp_options
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[CaughtMail]:
        with self._lock:
            return list(self._messages)

    def add(self, mail: CaughtMail) -> None:
        with self._lock:
            self._messages.append(mail)

    def start(self) -> MailCatcher:
        self._controller = Controller(
            _Keep(self), hostname=self.host, port=self.port, **self._smtp_options
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> MailCatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>payhub demo mail</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}
td,th{{padding:.3em .6em;text-align:left}} iframe{{width:100%;height:30em;border:1px solid #ccc}}
</style></head><body>{body}</body></html>"""


def mail_page(catcher: MailCatcher) -> Starlette:
    """The catcher's web page: `/` lists the mails (newest first), `/{n}` shows one."""

    async def index(request: Request) -> Response:
        mails = list(enumerate(catcher.messages))[::-1]
        rows = "".join(
            f"<tr><td>{m.received_at:%H:%M:%S}</td><td>{html.escape(', '.join(m.rcpt_to))}</td>"
            f'<td><a href="/{n}">{html.escape(m.subject or "(no subject)")}</a></td></tr>'
            for n, m in mails
        )
        body = (
            "<h1>Mail the demo sent</h1><p>payhub's local mail catcher: nothing here leaves "
            f"this machine. SMTP on {catcher.host}:{catcher.port}.</p>"
            + (
                f"<table><tr><th>at</th><th>to</th><th>subject</th></tr>{rows}</table>"
                if rows
                else "<p>No mail yet: buy something in the demo store and pay in the sandbox.</p>"
            )
        )
        return HTMLResponse(_PAGE.format(body=body))

    async def one(request: Request) -> Response:
        mails = catcher.messages
        n = int(request.path_params["n"])
        if not 0 <= n < len(mails):
            return HTMLResponse(_PAGE.format(body="<p>No such mail.</p>"), status_code=404)
        mail = mails[n]
        text = mail.body("plain") or ""
        rich = mail.body("html")
        shown = (
            f'<iframe sandbox="" srcdoc="{html.escape(rich, quote=True)}"></iframe>' if rich else ""
        )
        body = (
            f'<p><a href="/">all mail</a></p><h1>{html.escape(mail.subject)}</h1>'
            f"<p>From {html.escape(str(mail.message['From'] or mail.mail_from))} "
            f"to {html.escape(', '.join(mail.rcpt_to))}</p>{shown}"
            f"<h2>Text part</h2><pre>{html.escape(text)}</pre>"
        )
        return HTMLResponse(_PAGE.format(body=body))

    return Starlette(routes=[Route("/", index), Route("/{n:int}", one)])
