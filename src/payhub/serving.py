"""How payhub's HTTP server (uvicorn) is configured: timeouts and header limits.

uvicorn has a keep-alive timeout, but it runs only between requests and stops at the first
byte of the next one; nothing times out a client that connects and never sends its headers,
or sends half of them: each such connection is held for ever (a slowloris). Its h11 parser
caps the size of incomplete headers (`h11_max_incomplete_event_size`), its httptools parser
does not. So the HTTP protocol classes here add both, for either parser:

- the request line and headers must be complete within `header_timeout_seconds` of the
  connection opening, or of the first byte of the next request on a kept-alive connection;
  otherwise the connection is closed;
- they may take at most `max_header_bytes`; more is answered 431 and the connection closed.

Body limits and the body-read deadline are the app's (`payhub.api.limits`).
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from payhub.settings import Settings

_HEADERS_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\ncontent-length: 26\r\nconnection: close\r\n\r\n"
    b"request headers too large\n"
)


def _guarded(base: type[Any], timeout: float, max_bytes: int) -> type[asyncio.Protocol]:
    """`base` (one of uvicorn's HTTP protocols) with a header deadline and size cap."""

    class HeaderGuardedProtocol(base):  # type: ignore[misc]
        _header_timer: asyncio.TimerHandle | None = None
        _header_bytes = 0

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            self._arm_header_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_header_timer()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            waiting = self._awaiting_headers()
            super().data_received(data)
            if not self._awaiting_headers():
                self._disarm_header_timer()
                self._header_bytes = 0
                return
            # Still no complete request line and headers: count what they have taken.
            self._header_bytes = (self._header_bytes if waiting else 0) + len(data)
            if self._header_bytes > max_bytes and not self.transport.is_closing():
                self.transport.write(_HEADERS_TOO_LARGE)
                self.transport.close()
                return
            self._arm_header_timer()

        def _awaiting_headers(self) -> bool:
            return self.cycle is None or bool(self.cycle.response_complete)

        def _arm_header_timer(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(timeout, self._headers_timed_out)

        def _disarm_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_timed_out(self) -> None:
            self._header_timer = None
            if self._awaiting_headers() and not self.transport.is_closing():
                self.transport.close()

        def on_response_complete(self) -> None:
            # Idle between requests is the keep-alive timeout's; the deadline restarts at
            # the next request's first byte (data_received).
            self._disarm_header_timer()
            self._header_bytes = 0
            super().on_response_complete()

    HeaderGuardedProtocol.__name__ = f"HeaderGuarded{base.__name__}"
    return HeaderGuardedProtocol


def http_protocol(settings: Settings, *, parser: str = "httptools") -> type[asyncio.Protocol]:
    """uvicorn's `parser` ("httptools" or "h11") protocol with payhub's header limits."""
    base = HttpToolsProtocol if parser == "httptools" else H11Protocol
    return _guarded(base, settings.header_timeout_seconds, settings.max_header_bytes)


def server_config(
    app: Any, settings: Settings, *, host: str, port: int, parser: str = "httptools", **extra: Any
) -> uvicorn.Config:
    """The uvicorn configuration `payhub serve`, the bench and the test servers share."""
    options: dict[str, Any] = {
        "timeout_keep_alive": settings.keep_alive_seconds,
        "limit_concurrency": settings.max_concurrency,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        **extra,
    }
    return uvicorn.Config(
        app, host=host, port=port, http=http_protocol(settings, parser=parser), **options
    )
