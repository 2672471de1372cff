"""A loopback HTTP proxy between the hub and a gateway simulator that can lose answers.

The simulators cannot produce every failure shape: "the gateway did the work, but its
answer never reached us" (a proxy timing out, a connection reset after the request was
read) is the one that makes an attempt's outcome unknown. `AnswerLosingProxy` is an ASGI
app, served with `tests.support.servers.serve_app` like the hub and the simulators: it
forwards every request to the simulator and passes the answer back, except for the next
request(s) a test marked, whose answer it replaces with a 502 after the simulator has
processed them. Nothing of payhub is mocked; the hub's gateway account simply points at
the proxy instead of the simulator.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import httpx

_HOP_BY_HOP = {b"host", b"content-length", b"connection", b"transfer-encoding"}


@dataclass
class AnswerLosingProxy:
    upstream: str  # the simulator's origin, e.g. http://127.0.0.1:8101
    seen: list[str] = field(default_factory=list)  # "METHOD /path" of every request
    _lose: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def lose_next_answer(self, method: str, path: str) -> None:
        """Forward the next `method` request to `path`, then answer 502 instead."""
        with self._lock:
            self._lose.append((method.upper(), path))

    def _take(self, method: str, path: str) -> bool:
        with self._lock:
            self.seen.append(f"{method} {path}")
            if (method, path) in self._lose:
                self._lose.remove((method, path))
                return True
            return False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        method, path = scope["method"], scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k.lower() not in _HOP_BY_HOP
        ]
        url = self.upstream + path + (f"?{query}" if query else "")
        async with httpx.AsyncClient(timeout=30) as client:
            upstream = await client.request(method, url, content=body, headers=headers)
        if self._take(method, path):
            status, content = 502, b"<html><body>502 Bad Gateway</body></html>"
            out_headers = [(b"content-type", b"text/html")]
        else:
            status, content = upstream.status_code, upstream.content
            out_headers = [
                (k.encode("latin-1"), v.encode("latin-1"))
                for k, v in upstream.headers.items()
                if k.lower().encode("latin-1") not in _HOP_BY_HOP
                and k.lower() != "content-encoding"
            ]
        out_headers.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": out_headers})
        await send({"type": "http.response.body", "body": content})
