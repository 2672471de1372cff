"""Request body limits, enforced while the body streams, before anything else runs.

`RequestLimits` is pure ASGI middleware and the outermost layer of the app: a declared
Content-Length over the limit is answered 413 before the app sees the request, and a body
without one (chunked) is counted as it arrives, so no layer inside (authentication, the
Idempotency-Key buffer, a gateway callback) ever holds more than the limit, and nothing past
the limit is read. A body that is still incomplete when the body-read deadline passes is
answered 408: a client trickling bytes cannot hold a request open for ever.

Gateway callbacks and browser returns keep their own, smaller cap
(`max_callback_bytes`); everything else gets `max_request_bytes`.

Outside callbacks, a NUL character (in the path, the query string, or the body: a raw NUL,
a JSON `\\u0000`, a form's `%00`) is refused with 400: PostgreSQL cannot store NUL in text,
so it would otherwise surface as a database error (500) wherever the value is bound. The
callback pipeline takes NUL and stores it safely (services.inbound).

The refusals are Starlette `HTTPException`s raised from `receive`, so that whichever layer
reads the body turns them into the same problem+json answer (FastAPI re-raises an
`HTTPException` from its body parser, where any other error would become a 400); one that
reaches this middleware unanswered is answered here.
"""

from __future__ import annotations

import logging
from typing import Final

import anyio
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from payhub.api.problems import problem_for_http_error

log = logging.getLogger(__name__)

_CALLBACK_PREFIXES = ("/callbacks/", "/return/")
_CLOSE = {"connection": "close"}


class RequestTooLarge(HTTPException):
    """The body is larger than the route's limit (413); nothing past the limit was read."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes", headers=_CLOSE)


class RequestBodyTimeout(HTTPException):
    """The body did not arrive within the body-read deadline (408)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"request body not received within {seconds:g} s", headers=_CLOSE)


class RequestHasNul(HTTPException):
    """A NUL character outside a callback (400)."""

    def __init__(self) -> None:
        super().__init__(400, "NUL characters are not accepted", headers=_CLOSE)


_NUL_MARKS: Final = (b"\x00", b"\\u0000")
_FORM_NUL: Final = b"%00"


class RequestLimits:
    """Caps the body of every HTTP request and the time it may take to arrive."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_request_bytes: int,
        max_callback_bytes: int,
        body_timeout_seconds: float,
    ) -> None:
        self.app = app
        self.max_request_bytes = max_request_bytes
        self.max_callback_bytes = max_callback_bytes
        self.body_timeout_seconds = body_timeout_seconds

    def limit_for(self, path: str) -> int:
        return (
            self.max_callback_bytes
            if path.startswith(_CALLBACK_PREFIXES)
            else self.max_request_bytes
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        callback = scope["path"].startswith(_CALLBACK_PREFIXES)
        if not callback and _nul_in_target(scope):
            await _answer(scope, send, RequestHasNul())
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _answer(scope, send, RequestTooLarge(limit))
            return

        timeout = self.body_timeout_seconds
        deadline = anyio.current_time() + timeout
        received = 0
        body_done = False
        started = False
        nul_marks = () if callback else _nul_marks(scope)
        tail = b""  # the last bytes of the previous chunk: a mark may span two chunks

        async def limited_receive() -> Message:
            nonlocal received, body_done, tail
            if body_done:
                return await receive()  # waiting for a disconnect: no deadline
            with anyio.move_on_after(max(deadline - anyio.current_time(), 0)):
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise RequestTooLarge(limit)
                    if nul_marks:
                        window = tail + message.get("body", b"")
                        if any(mark in window for mark in nul_marks):
                            raise RequestHasNul
                        tail = window[-5:]
                    body_done = not message.get("more_body", False)
                return message
            raise RequestBodyTimeout(timeout)

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except (RequestTooLarge, RequestBodyTimeout, RequestHasNul) as exc:
            if started:
                log.warning("request limit hit after the response started: %s", exc.detail)
                return
            await _answer(scope, send, exc)


def _nul_in_target(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    return "\x00" in scope["path"] or b"\x00" in query or _FORM_NUL in query


def _nul_marks(scope: Scope) -> tuple[bytes, ...]:
    for name, value in scope["headers"]:
        if name == b"content-type" and value.lower().startswith(
            b"application/x-www-form-urlencoded"
        ):
            return (*_NUL_MARKS, _FORM_NUL)
    return _NUL_MARKS


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            # The HTTP server refuses a malformed Content-Length before the app runs.
            return int(text) if text.isdigit() else None
    return None


async def _answer(scope: Scope, send: Send, exc: HTTPException) -> None:
    response = problem_for_http_error(exc)
    await response(scope, _no_receive, send)


async def _no_receive() -> Message:  # pragma: no cover - a JSONResponse never receives
    return {"type": "http.disconnect"}
