"""The page shell every sandbox page shares: it says plainly that this is payhub's sandbox.

Sandbox pages are served under `PAGE_CSP` (`SandboxPageHeaders`): no script at all, the one
inline stylesheet allowed by its hash, never framed, nosniff, no referrer.
"""

from __future__ import annotations

import base64
import hashlib
import html

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SANDBOX_BANNER = "payhub local sandbox — this is not the real {gateway}; no money moves."
PAGE_STYLE = """
body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;
color:#1c2430}
.banner{background:#fff3cd;border:1px solid #e0c36a;padding:.6rem .8rem;border-radius:.4rem;
font-size:.9rem}
.card{border:1px solid #d5dbe3;border-radius:.6rem;padding:1rem 1.2rem;margin-top:1rem}
.amount{font-size:1.8rem;font-weight:700}
button{font-size:1rem;padding:.6rem 1rem;margin:.3rem .3rem 0 0;border-radius:.4rem;
border:1px solid #8894a4;cursor:pointer}
button.primary{background:#1f6feb;color:#fff;border-color:#1f6feb}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem} dt{color:#5b6675}
code{word-break:break-all}
"""
_STYLE_HASH = base64.b64encode(hashlib.sha256(PAGE_STYLE.encode()).digest()).decode()
PAGE_CSP = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src 'self' data:; "
    "base-uri 'none'; frame-ancestors 'none'"
)


def page(gateway: str, title: str, body_html: str) -> str:
    """The common page shell of every simulator page (body_html must already be escaped)."""
    banner = html.escape(SANDBOX_BANNER.format(gateway=gateway))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · {html.escape(gateway)} sandbox</title>
<style>{PAGE_STYLE}</style></head>
<body><div class="banner" role="note">{banner}</div>
<h1>{html.escape(title)}</h1>
{body_html}
</body></html>"""


class SandboxPageHeaders:
    """ASGI middleware: nosniff on every sandbox response; the page CSP, no-referrer and
    no framing on its HTML pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"x-content-type-options", b"nosniff")]
                if any(
                    n.lower() == b"content-type" and v.startswith(b"text/html") for n, v in headers
                ):
                    headers += [
                        (b"content-security-policy", PAGE_CSP.encode()),
                        (b"referrer-policy", b"no-referrer"),
                        (b"x-frame-options", b"DENY"),
                    ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
