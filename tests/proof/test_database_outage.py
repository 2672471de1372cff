"""Callbacks while the database is unreachable get each gateway's own "try again" answer
(VNPay RspCode 99, a 5xx for PayOS, MoMo and ToyyibPay), never a generic 500 page; once the
database is back, the same callback is recorded and answered normally.

The outage is real: the SQLite file is moved away and a directory put in its place (the
tests run as root, so permissions would not stop it), or the PostgreSQL database is
renamed after its connections are ended. The hub's pools are emptied, so every request
must connect again. No mock."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import make_url

from payhub.gateways.base import ApplyOutcome, Environment, GatewayConfig, Reply
from payhub.gateways.registry import entry
from tests.support.hub import HubUnderTest, connect_gateway, database_url, make_hub
from tests.support.postgres import _conninfo
from tests.support.servers import serve_app

GATEWAYS = ("payos", "vnpay", "momo", "toyyibpay")
# One plausible-looking but unsigned callback per gateway: with the database up they are
# rejected (and recorded); down, nothing can be recorded, so the gateway must retry.
CALLBACKS: dict[str, tuple[str, str, bytes, str]] = {
    "payos": (
        "POST",
        "",
        json.dumps({"data": {"orderCode": 1}, "signature": "a"}).encode(),
        "application/json",
    ),
    "vnpay": ("GET", "vnp_TxnRef=pay_x&vnp_SecureHash=ab", b"", ""),
    "momo": (
        "POST",
        "",
        json.dumps({"orderId": "x", "signature": "a"}).encode(),
        "application/json",
    ),
    "toyyibpay": (
        "POST",
        "",
        b"status=1&order_id=x&refno=y&hash=ab",
        "application/x-www-form-urlencoded",
    ),
}


def _reply(gateway: str, outcome: ApplyOutcome) -> Reply:
    config = GatewayConfig(credentials={}, base_url="", environment=Environment.SIMULATOR)
    return entry(gateway).adapter(config, httpx.AsyncClient()).notification_reply(outcome)


@contextmanager
def unreachable(th: HubUnderTest) -> Iterator[None]:
    url = make_url(th.hub.settings.database_url)
    th.hub.db.engine.dispose()
    th.hub.db.read_engine.dispose()
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        aside = path.with_name(path.name + ".away")
        os.replace(path, aside)
        path.mkdir()
        try:
            yield
        finally:
            th.hub.db.engine.dispose()
            th.hub.db.read_engine.dispose()
            path.rmdir()
            os.replace(aside, path)
        return
    name = url.database or ""
    with psycopg.connect(_conninfo(url, "postgres"), autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        admin.execute(
            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(name), sql.Identifier(name + "_away")
            )
        )
        try:
            yield
        finally:
            th.hub.db.engine.dispose()
            th.hub.db.read_engine.dispose()
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name + "_away",),
            )
            admin.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(name + "_away"), sql.Identifier(name)
                )
            )


def _send(client: httpx.Client, th: HubUnderTest, gateway: str) -> httpx.Response:
    method, query, body, content_type = CALLBACKS[gateway]
    path = f"/callbacks/{gateway}/{th.accounts[gateway]}"
    headers = {"content-type": content_type} if content_type else {}
    return client.request(
        method, f"{path}?{query}" if query else path, content=body or None, headers=headers
    )


def _inbound_rows(th: HubUnderTest) -> int:
    with th.hub.db.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM inbound_requests")).scalar_one())


@pytest.fixture(params=["sqlite", "postgres"])
def served(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[HubUnderTest, httpx.Client]]:
    th = make_hub(database_url(request.param, tmp_path))
    for gateway in GATEWAYS:
        connect_gateway(th, gateway, "http://127.0.0.1:9")
    with serve_app(th.app) as origin, httpx.Client(base_url=origin, timeout=60) as client:
        yield th, client
    th.hub.db.dispose()


def test_callbacks_get_the_gateways_retry_reply_while_the_database_is_unreachable(
    served: tuple[HubUnderTest, httpx.Client],
) -> None:
    th, client = served
    with unreachable(th):
        for gateway in GATEWAYS:
            answer = _send(client, th, gateway)
            expected = _reply(gateway, ApplyOutcome.ERROR)
            assert (answer.status_code, answer.content) == (expected.status_code, expected.body)
        assert (
            _reply("vnpay", ApplyOutcome.ERROR).body == b'{"RspCode":"99","Message":"Unknow error"}'
        )
    before = _inbound_rows(th)
    for gateway in GATEWAYS:  # back up: the gateways' retries are recorded and answered
        answer = _send(client, th, gateway)
        assert answer.status_code < 500
        assert (answer.status_code, answer.content) != (
            _reply(gateway, ApplyOutcome.ERROR).status_code,
            _reply(gateway, ApplyOutcome.ERROR).body,
        )
    assert _inbound_rows(th) == before + len(GATEWAYS)


def test_callbacks_with_the_account_cached_still_get_the_retry_reply(
    served: tuple[HubUnderTest, httpx.Client],
) -> None:
    """The account (and its adapter) were loaded just before the outage: the pipeline
    gets as far as recording, which fails."""
    th, client = served
    for gateway in GATEWAYS:
        assert _send(client, th, gateway).status_code < 500  # loads and caches the account
    with unreachable(th):
        for gateway in GATEWAYS:
            answer = _send(client, th, gateway)
            expected = _reply(gateway, ApplyOutcome.ERROR)
            assert (answer.status_code, answer.content) == (expected.status_code, expected.body)
