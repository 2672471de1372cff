"""Idempotency-Key handling for merchant POSTs, as ASGI middleware around /v1.

A claimed key is always settled: the response is stored, or, when the request ends in a
5xx, an exception or a cancellation, the claim is released so the client's retry runs.

A route whose response carries a secret says so with `SecretMembers` (a dependency naming
the members); the stored copy is redacted before it is written, so a replay returns the
same status with those members null and `<member>_redacted: true`.
"""

from __future__ import annotations

import logging
from typing import Any

from anyio import CancelScope, to_thread
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from payhub.api.problems import problem, status_for
from payhub.api.security import merchant_for_key
from payhub.domain.errors import DomainError
from payhub.services import idempotency
from payhub.services.context import Hub

log = logging.getLogger(__name__)

_SECRET_MEMBERS = "payhub.secret_response_members"
# Headers of a response that are not part of the answer to replay (the length is the
# replay's own; cookies are never stored).
_NOT_REPLAYED = frozenset({"content-length", "set-cookie", "date", "server"})


class SecretMembers:
    """Route dependency: these top-level members of the JSON response are secrets, shown
    once and never stored. `dependencies=[Depends(SecretMembers("secret"))]`."""

    def __init__(self, *members: str) -> None:
        self.members = members

    async def __call__(self, request: Request) -> None:
        # request.state is the ASGI scope's "state": the middleware around the route
        # reads the same dict after the response.
        setattr(request.state, _SECRET_MEMBERS, self.members)


def secret_members_of(request: Request) -> tuple[str, ...]:
    members = getattr(request.state, _SECRET_MEMBERS, ())
    return tuple(members)


class IdempotencyGate:
    """Pure ASGI gate: only merchant POSTs carrying an Idempotency-Key pay for the
    buffering middleware; gateway callbacks and everything else go straight through."""

    def __init__(self, app: ASGIApp, hub: Hub) -> None:
        self.app = app
        self.middleware = IdempotencyMiddleware(app, hub)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"].startswith("/v1/")
            and any(name == b"idempotency-key" for name, _ in scope["headers"])
        ):
            await self.middleware(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class IdempotencyMiddleware(BaseHTTPMiddleware):
    def __init__(self, app: Any, hub: Hub) -> None:
        super().__init__(app)
        self.hub = hub

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        key = request.headers.get("idempotency-key")
        if request.method != "POST" or not key or not request.url.path.startswith("/v1/"):
            return await call_next(request)
        token = request.headers.get("authorization", "").partition(" ")[2].strip()
        if not token.startswith(("sk_test_", "sk_live_")):
            return await call_next(request)  # customers' POSTs: auth fails or is handled there
        body = await request.body()
        try:
            caller = await to_thread.run_sync(merchant_for_key, self.hub, token)
            request.state.caller = caller
            stored = await to_thread.run_sync(
                idempotency.begin,
                self.hub,
                caller.merchant_id,
                key,
                "POST",
                request.url.path,
                body,
            )
        except DomainError as exc:
            return problem(
                status_for(exc), exc.code, exc.code.replace("-", " ").capitalize(), exc.detail
            )
        if stored is not None:
            replay = Response(stored.body, status_code=stored.status)
            for name, value in stored.headers:
                replay.headers.append(name, value)
            replay.headers["idempotent-replayed"] = "true"
            return replay
        try:
            response = await call_next(request)
            chunks = [chunk async for chunk in response.body_iterator]  # type: ignore[attr-defined]
        except BaseException:
            # The route raised (answered 500 by the server) or the request was cancelled:
            # nothing is stored, so release the claim. Kept, it would answer every retry
            # with 409 "in flight" until the key expired.
            with CancelScope(shield=True):
                await self._release(caller.merchant_id, key)
            raise
        content = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
        stored_copy = idempotency.redact_members(content, secret_members_of(request))
        headers = [(k, v) for k, v in response.headers.items() if k.lower() not in _NOT_REPLAYED]
        await to_thread.run_sync(
            lambda: idempotency.finish(
                self.hub,
                caller.merchant_id,
                key,
                response.status_code,
                stored_copy,
                headers,
            )
        )
        answer = Response(content, status_code=response.status_code)
        for name, value in headers:
            answer.headers.append(name, value)
        return answer

    async def _release(self, merchant_id: str, key: str) -> None:
        try:
            await to_thread.run_sync(idempotency.finish, self.hub, merchant_id, key, 500, b"")
        except Exception:
            log.exception("releasing an Idempotency-Key after a failed request failed")
