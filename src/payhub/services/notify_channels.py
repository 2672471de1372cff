"""The two ways a notification leaves: SMTP (aiosmtplib) and the Telegram Bot API
(`sendMessage`). Each send ends in one `SendOutcome`: sent, retry (maybe after a time the
other side named, Telegram's `parameters.retry_after`) or failed for good with a reason.

Nothing here logs or returns a secret: the bot token is part of the Bot API's URL, so the
URL is never put in a reason, and httpx's own request log line is masked (`_MaskBotToken`).
"""

from __future__ import annotations

import logging
import re
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from types import TracebackType
from typing import Literal

import aiosmtplib
import httpx

from payhub.errors import OutboundRefused
from payhub.secret import Secret
from payhub.services.notify_render import RenderedMessage

SmtpSecurity = Literal["tls", "starttls", "none"]
SECURITIES: tuple[str, ...] = ("tls", "starttls", "none")


@dataclass(frozen=True, slots=True)
class SendOutcome:
    result: Literal["sent", "retry", "failed"]
    reason: str | None = None
    retry_after_seconds: float | None = None

    @classmethod
    def sent(cls) -> SendOutcome:
        return cls("sent")


# --- e-mail ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SmtpServer:
    host: str
    port: int
    security: SmtpSecurity
    user: str | None
    password: Secret | None
    sender_address: str
    sender_name: str | None
    timeout: float

    @property
    def destination(self) -> str:
        return f"smtp:{self.host}:{self.port}"


def build_email(
    server: SmtpServer, to: str, message: RenderedMessage, *, reference: str
) -> EmailMessage:
    """A MIME message: text, plus the HTML alternative when the template has one."""
    email = EmailMessage()
    email["Subject"] = message.subject
    email["From"] = (
        str(Address(display_name=server.sender_name, addr_spec=server.sender_address))
        if server.sender_name
        else server.sender_address
    )
    email["To"] = to
    email["Date"] = formatdate(localtime=False, usegmt=True)
    domain = server.sender_address.rpartition("@")[2] or "payhub.local"
    email["Message-ID"] = make_msgid(idstring=reference, domain=domain)
    email["X-Payhub-Notification"] = reference
    email.set_content(message.text)
    if message.html:
        email.add_alternative(message.html, subtype="html")
    return email


class SmtpConnection:
    """One connection to the merchant's SMTP server, for a batch of messages."""

    def __init__(self, server: SmtpServer) -> None:
        """Connects by name, after the caller checked the name with the outbound policy
        (aiosmtplib verifies TLS on the host it connects to, so it is not pinned to the
        checked address: see docs/security.md)."""
        self.server = server
        self._client = aiosmtplib.SMTP(
            hostname=server.host,
            port=server.port,
            use_tls=server.security == "tls",
            start_tls=server.security == "starttls",
            timeout=server.timeout,
            tls_context=ssl.create_default_context(),
        )

    async def __aenter__(self) -> SmtpConnection:
        await self._client.connect()
        if self.server.user:
            password = self.server.password.reveal() if self.server.password else ""
            await self._client.login(self.server.user, password)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._client.is_connected:
                await self._client.quit()
        except (aiosmtplib.SMTPException, OSError):
            self._client.close()

    async def send(self, email: EmailMessage) -> SendOutcome:
        try:
            await self._client.send_message(email)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refused.code for refused in exc.recipients]
            if codes and all(code >= 500 for code in codes):
                return SendOutcome("failed", f"recipient refused ({codes[0]})")
            return SendOutcome("retry", "recipient deferred")
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500:
                return SendOutcome("failed", f"SMTP {exc.code}: {exc.message[:200]}")
            return SendOutcome("retry", f"SMTP {exc.code}: {exc.message[:200]}")
        return SendOutcome.sent()


def smtp_failure(exc: BaseException) -> SendOutcome:
    """What a failure to connect or log in means for every message of the batch."""
    if isinstance(exc, OutboundRefused):
        return SendOutcome("retry", f"SMTP host refused by outbound policy ({exc.rule})")
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return SendOutcome("retry", f"SMTP authentication failed ({exc.code})")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return SendOutcome("retry", f"SMTP {exc.code}: {exc.message[:200]}")
    if isinstance(exc, aiosmtplib.SMTPException | OSError | TimeoutError):
        return SendOutcome("retry", f"SMTP server unreachable ({type(exc).__name__})")
    raise exc


# --- Telegram -------------------------------------------------------------------------------

_BOT_PATH = re.compile(r"/bot[^/\s]+/")


class _MaskBotToken(logging.Filter):
    """httpx logs each request's URL; a Bot API URL carries the token: mask it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(
                _BOT_PATH.sub("/bot***/", str(arg)) if "/bot" in str(arg) else arg
                for arg in (record.args if isinstance(record.args, tuple) else (record.args,))
            )
        record.msg = _BOT_PATH.sub("/bot***/", str(record.msg))
        return True


logging.getLogger("httpx").addFilter(_MaskBotToken())


@dataclass(frozen=True, slots=True)
class TelegramBot:
    api_url: str
    token: Secret
    timeout: float

    def destination(self, chat_id: str) -> str:
        return f"telegram:{chat_id}"


async def send_telegram(
    http: httpx.AsyncClient, bot: TelegramBot, chat_id: str, text: str
) -> SendOutcome:
    """`sendMessage` to one chat; the Bot API's answer classified."""
    url = f"{bot.api_url.rstrip('/')}/bot{bot.token.reveal()}/sendMessage"
    body = {"chat_id": chat_id, "text": text[:4096], "disable_web_page_preview": True}
    try:
        response = await http.post(url, json=body, timeout=bot.timeout)
    except httpx.HTTPError as exc:
        return SendOutcome("retry", f"Telegram unreachable ({type(exc).__name__})")
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        return SendOutcome("retry", f"Telegram answered {response.status_code} without JSON")
    if answer.get("ok") is True and response.is_success:
        return SendOutcome.sent()
    code = answer.get("error_code", response.status_code)
    description = str(answer.get("description") or "")[:200]
    reason = f"Telegram {code}: {description}" if description else f"Telegram {code}"
    parameters = answer.get("parameters")
    retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
    if response.status_code == 429 or code == 429:
        seconds = float(retry_after) if isinstance(retry_after, int | float) else 30.0
        return SendOutcome("retry", reason, retry_after_seconds=max(seconds, 0.0))
    if response.status_code >= 500:
        return SendOutcome("retry", reason)
    # 400 "chat not found", 401 bad token, 403 "bot was blocked": failed, with the reason.
    return SendOutcome("failed", reason)
