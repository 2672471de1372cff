"""Request body limits, enforced while the body streams, before anything else runs.

`RequestLimits` is pure ASGI middleware and the outermost layer of the app: a declared
Content-Length over the limit is answered 413 before the app sees the request, and a body
without one (chunked) is counted as it arrives, so no layer inside (authentication, the
Idempotency-Key buffer, a gateway callback) ever holds more than the limit, and nothing past
the limit is read. A body that is still incomplete when the body-read deadline passes is
answered 408: a client trickling bytes cannot hold a request open for ever.

Gateway callbacks and browser returns keep their own, smaller cap
(`max_callback_bytes`); everything else gets `max_request_bytes`.

The refusals are Starlette `HTTPException`s raised from `receive`, so that whichever layer
reads the body turns them into the same problem+json answer (FastAPI re-raises an
`HTTPException` from its body parser, where any other error would become a 400); one that
reaches this middleware unanswered is answered here.
"""

from __future__ import annotations

import logging

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

        async def limited_receive() -> Message:
            nonlocal received, body_done
            if body_done:
                return await receive()  # waiting for a disconnect: no deadline
            with anyio.move_on_after(max(deadline - anyio.current_time(), 0)):
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise RequestTooLarge(limit)
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
        except (RequestTooLarge, RequestBodyTimeout) as exc:
            if started:
                log.warning("request limit hit after the response started: %s", exc.detail)
                return
            await _answer(scope, send, exc)


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
