"""Security headers on the hub's responses, as pure ASGI middleware.

Every response: `X-Content-Type-Options: nosniff`. Every HTML response: a Content Security
Policy that allows only the hub's own scripts, styles and fetches (no inline script or
style: the pages load theirs from `/static/`), `frame-ancestors 'none'` (no page can be
framed, so no clickjacking of the Pay buttons), `Referrer-Policy: no-referrer` (a
capability token in the URL never leaks to the next site). Every response under `/pay/`
and `/return/`, whose URLs carry capability tokens, and under `/console/` (an operator's
private pages): `Cache-Control: no-store`.

There is no `form-action`: the hosted checkout's form answers with a redirect to the
gateway's own page, which browsers check against `form-action` too.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; object-src 'none'; "
    "frame-ancestors 'none'"
)
CAPABILITY_PATHS = ("/pay/", "/return/")
NO_STORE_PATHS = (*CAPABILITY_PATHS, "/console")


def csp_allowing_images(origins: tuple[str, ...]) -> str:
    """`PAGE_CSP` with images also allowed from these origins (a merchant's logo host): the
    customer pages send it as their own CSP when the logo is not on the hub."""
    if not origins:
        return PAGE_CSP
    return PAGE_CSP.replace("img-src 'self' data:", "img-src 'self' data: " + " ".join(origins))


_NOSNIFF = (b"x-content-type-options", b"nosniff")
_CSP = (b"content-security-policy", PAGE_CSP.encode())
_HTML_HEADERS = (
    _CSP,
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
_NO_STORE = (b"cache-control", b"no-store")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = scope["path"].startswith(NO_STORE_PATHS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if not (no_store and name.lower() == b"cache-control")
                ]
                headers.append(_NOSNIFF)
                content_type = next(
                    (value for name, value in headers if name.lower() == b"content-type"), b""
                )
                if content_type.startswith(b"text/html"):
                    # A page that brings its own CSP (the API docs: with its script's
                    # hash) keeps it.
                    own_csp = any(n.lower() == b"content-security-policy" for n, _ in headers)
                    headers.extend(h for h in _HTML_HEADERS if not (own_csp and h is _CSP))
                if no_store:
                    headers.append(_NO_STORE)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
