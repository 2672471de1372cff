"""Request limits over real loopback HTTP: body size (declared and streamed), the body-read
deadline, the header deadline and the header size cap, on the server `payhub serve` runs.

The long form (`PAYHUB_PROOF=1`, `make proof`) streams more bytes at the limit."""

from __future__ import annotations

import os
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.hub import HubUnderTest, database_url, make_hub
from tests.support.servers import serve_app

LONG = os.environ.get("PAYHUB_PROOF") == "1"
STREAM_BYTES = (512 if LONG else 64) * 1024 * 1024  # what a hostile client offers to send
LIMIT = 256 * 1024


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[HubUnderTest, str]]:
    th = make_hub(
        database_url("sqlite", tmp_path),
        max_request_bytes=LIMIT,
        request_body_timeout_seconds=0.5,
        header_timeout_seconds=0.5,
        max_header_bytes=8 * 1024,
    )
    with serve_app(th.app) as origin:
        yield th, origin


def _connect(origin: str) -> socket.socket:
    host, port = origin.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def _stream_until_answered(sock: socket.socket, head: bytes, chunk: bytes) -> tuple[int, bytes]:
    """Send `head`, then `chunk` again and again (up to STREAM_BYTES) until the server
    answers or stops reading; the bytes sent and the answer."""
    sock.sendall(head)
    sock.setblocking(False)
    sent = 0
    pending = b""
    try:
        while sent < STREAM_BYTES:
            readable, writable, _ = select.select([sock], [sock], [], 10)
            if readable:
                break
            if not writable:
                break  # the server stopped reading: the kernel buffers are full
            pending = pending or chunk
            try:
                n = sock.send(pending)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += n
            pending = pending[n:]
    finally:
        sock.setblocking(True)
        sock.settimeout(10)
    return sent, _read_response(sock)


def test_declared_content_length_over_the_limit_is_413_before_authentication(
    served: tuple[HubUnderTest, str],
) -> None:
    _, origin = served
    with httpx.Client(base_url=origin, timeout=10) as client:
        answer = client.post(
            "/v1/orders",
            content=b"x" * (LIMIT + 1),
            headers={"content-type": "application/json", "idempotency-key": "k1"},
        )
        assert answer.status_code == 413  # not 401: the body is refused before the key
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"].endswith("/request-too-large")
        callback = client.post("/callbacks/payos/acc_x", content=b"{" * (64 * 1024 + 1))
        assert callback.status_code == 413
        within = client.post("/v1/orders", content=b"x" * (LIMIT - 1))
        assert within.status_code == 401  # under the limit the request goes on to auth


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/v1/orders", "application/json"),
        ("/callbacks/payos/acc_x", "application/json"),
        ("/pay/nothing", "application/x-www-form-urlencoded"),
    ],
)
def test_streamed_chunked_body_is_cut_at_the_limit_and_not_read_further(
    served: tuple[HubUnderTest, str], path: str, media_type: str
) -> None:
    th, origin = served
    sock = _connect(origin)
    head = (
        f"POST {path} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n"
        f"content-type: {media_type}\r\nauthorization: Bearer {th.api_key}\r\n"
        "idempotency-key: streamed-1\r\n\r\n"
    ).encode()
    block = b"7" * 65536
    chunk = b"%x\r\n" % len(block) + block + b"\r\n"
    with sock:
        sent, response = _stream_until_answered(sock, head, chunk)
    assert _status(response) == 413
    assert b"application/problem+json" in response
    # The server stopped reading near the limit: what was sent beyond it sits in kernel
    # buffers (a few MiB on loopback), far from the STREAM_BYTES offered.
    assert sent < STREAM_BYTES // 2


def test_trickled_body_gets_408(served: tuple[HubUnderTest, str]) -> None:
    th, origin = served
    sock = _connect(origin)
    with sock:
        sock.sendall(
            b"POST /v1/orders HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            + f"authorization: Bearer {th.api_key}\r\ncontent-length: 400\r\n\r\n".encode()
        )
        answered = False
        for _ in range(400):  # one byte every 50 ms: 20 s for the whole body
            if select.select([sock], [], [], 0.05)[0]:
                answered = True
                break
            try:
                sock.send(b" ")
            except (BrokenPipeError, ConnectionResetError):
                break
        assert answered, "the body was accepted at a trickle"
        response = _read_response(sock)
    assert _status(response) == 408
    assert b"request-timeout" in response or b"application/problem+json" in response


@pytest.mark.parametrize("prefix", [b"", b"POST /v1/orders HTTP/1.1\r\nhost: x\r\n", b"GET /heal"])
def test_unfinished_headers_are_dropped(served: tuple[HubUnderTest, str], prefix: bytes) -> None:
    _, origin = served
    sock = _connect(origin)
    with sock:
        sock.sendall(prefix)
        sock.settimeout(20)
        try:
            data = sock.recv(1024)
        except ConnectionResetError:
            data = b""
    assert data == b""  # closed without an answer


def test_kept_alive_connection_then_unfinished_headers_are_dropped(
    served: tuple[HubUnderTest, str],
) -> None:
    _, origin = served
    sock = _connect(origin)
    with sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        assert _status(_read_response(sock)) == 200
        time.sleep(0.8)  # idle past the header deadline is the keep-alive's business
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        first = _read_response(sock)
        assert _status(first) == 200
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        sock.settimeout(20)
        rest = sock.recv(1024)
    assert rest == b""


def test_headers_over_the_cap_get_431(served: tuple[HubUnderTest, str]) -> None:
    _, origin = served
    sock = _connect(origin)
    with sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        for i in range(40):
            try:
                sock.sendall(f"x-filler-{i}: {'a' * 500}\r\n".encode())
            except (BrokenPipeError, ConnectionResetError):
                break
        response = _read_response(sock)
    assert _status(response) == 431


@pytest.mark.parametrize(
    ("method", "target", "body", "media_type"),
    [
        ("GET", "/v1/orders/ord%00x", b"", None),
        ("GET", "/v1/orders?status=%00", b"", None),
        ("POST", "/v1/orders", b'{"merchant_reference":"a\\u0000b"}', "application/json"),
        ("POST", "/pay/ord_x", b"gateway=payos&token=%00", "application/x-www-form-urlencoded"),
    ],
)
def test_nul_characters_outside_callbacks_are_a_400(
    tmp_path: Path, method: str, target: str, body: bytes, media_type: str | None
) -> None:
    """PostgreSQL cannot store NUL in text: refused up front, never a database error."""
    th = make_hub(database_url("postgres", tmp_path))
    headers = {**th.headers, **({"content-type": media_type} if media_type else {})}
    with serve_app(th.app) as origin, httpx.Client(base_url=origin, timeout=10) as client:
        answer = client.request(method, target, content=body or None, headers=headers)
        assert answer.status_code == 400, answer.text
        assert answer.json()["type"].endswith("/bad-request")
        back = client.get("/return/payos/pay%00x")
        assert back.status_code == 404  # a browser return with NUL: unknown payment
    th.hub.db.dispose()
