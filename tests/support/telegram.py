"""A local server speaking the Telegram Bot API's `sendMessage`, for tests.

`POST /bot<token>/sendMessage` with JSON or form fields `chat_id` and `text`. Answers have the
Bot API's shapes (https://core.telegram.org/bots/api#making-requests): `{"ok": true,
"result": Message}`; a wrong token `401 {"ok": false, "error_code": 401, "description":
"Unauthorized"}`; an unknown chat `400 ... "Bad Request: chat not found"`; a scripted flood
limit `429 ... "Too Many Requests: retry after N", "parameters": {"retry_after": N}}`.
It records every message delivered, and the most sends it ever saw in flight per chat.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass(frozen=True)
class SentMessage:
    chat_id: str
    text: str
    message_id: int


@dataclass
class FakeTelegram:
    token: str
    chats: set[str] = field(default_factory=set)
    delay: float = 0.0  # seconds each send takes (to overlap concurrent workers)
    messages: list[SentMessage] = field(default_factory=list)
    requests: int = 0
    flood: list[int] = field(default_factory=list)  # retry_after of the next 429 answers
    max_in_flight: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _in_flight: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/bot{token}/sendMessage", self._send, methods=["POST"])])

    def texts(self, chat_id: str) -> list[str]:
        return [m.text for m in self.messages if m.chat_id == chat_id]

    async def _send(self, request: Request) -> JSONResponse:
        with self._lock:
            self.requests += 1
        if request.path_params["token"] != self.token:
            return _error(401, "Unauthorized")
        if request.headers.get("content-type", "").startswith("application/json"):
            fields: dict[str, Any] = await request.json()
        else:
            fields = dict(await request.form())
        chat_id, text = str(fields.get("chat_id", "")), str(fields.get("text", ""))
        if not text:
            return _error(400, "Bad Request: message text is empty")
        if chat_id not in self.chats:
            return _error(400, "Bad Request: chat not found")
        with self._lock:
            if self.flood:
                seconds = self.flood.pop(0)
                return _error(
                    429,
                    f"Too Many Requests: retry after {seconds}",
                    parameters={"retry_after": seconds},
                )
            self._in_flight[chat_id] += 1
            self.max_in_flight[chat_id] = max(self.max_in_flight[chat_id], self._in_flight[chat_id])
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            with self._lock:
                message = SentMessage(chat_id, text, len(self.messages) + 1)
                self.messages.append(message)
        finally:
            with self._lock:
                self._in_flight[chat_id] -= 1
        return JSONResponse(
            {
                "ok": True,
                "result": {
                    "message_id": message.message_id,
                    "from": {
                        "id": 7000000001,
                        "is_bot": True,
                        "first_name": "payhub test bot",
                        "username": "payhub_test_bot",
                    },
                    "chat": {
                        "id": int(chat_id) if chat_id.lstrip("-").isdigit() else 0,
                        "type": "private",
                    },
                    "date": int(time.time()),
                    "text": text,
                },
            }
        )


def _error(code: int, description: str, **extra: Any) -> JSONResponse:
    return JSONResponse(
        {"ok": False, "error_code": code, "description": description, **extra},
        status_code=code,
    )
