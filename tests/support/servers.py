"""Run ASGI apps as real servers on loopback for end-to-end tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from payhub.serving import server_config
from payhub.settings import Settings


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_app(app: Any, port: int | None = None, settings: Settings | None = None) -> Iterator[str]:
    """Serve `app` with uvicorn in a background thread, configured as `payhub serve` is
    (header timeout and size cap from `settings`, else the hub's, else the defaults);
    yields its origin URL."""
    port = port or free_port()
    hub = getattr(getattr(app, "state", None), "hub", None)
    settings = settings or (hub.settings if hub is not None else Settings())
    # Keep-alive longer than any pause in a test: uvicorn closing a pooled connection just as
    # the client reuses it surfaces as a ReadError in the client, not as a hub failure.
    config = server_config(
        app,
        settings,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_keep_alive=120,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"server on port {port} did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
