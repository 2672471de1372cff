"""services.retention.prune (and `payhub prune`): old inbound rows go unless a payment event
refers to them, expired idempotency keys go, attempt rows of finished webhook deliveries go;
what settled money, what is recent and what is still being delivered stays. Checked in SQL
on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest
from sqlalchemy import func, select, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from typer.testing import CliRunner

from payhub.cli import app as cli_app
from payhub.clock import FrozenClock
from payhub.gateways.base import InboundRequest as RawRequest
from payhub.services import idempotency
from payhub.services.inbound import receive_notification, receive_return
from payhub.services.retention import PruneReport, prune
from payhub.services.webhooks import create_endpoint, deliver_due, fan_out
from payhub.settings import get_settings
from payhub.store.inbound_log import TRIMMED_BODY_BYTES
from payhub.store.models import (
    Delivery,
    DeliveryAttempt,
    IdempotencyKey,
    InboundRequest,
    PaymentEvent,
)
from tests.services.conftest import Env
from tests.support.hub import MASTER_KEY, make_hub
from tests.support.servers import serve_app


def raw(body: bytes, path: str = "/callbacks/payos/x") -> RawRequest:
    return RawRequest(
        method="POST",
        path=path,
        query_string=b"",
        headers={"content-type": "application/json", "user-agent": "u" * 5000},
        body=body,
        remote_addr="203.0.113.7",
    )


@pytest.fixture(scope="module")
def receiver() -> Iterator[str]:
    """Merchant endpoints: `/ok` takes every event, `/down` answers 500 (kept retrying)."""

    async def hook(request: Request) -> Response:
        await request.body()
        return Response(status_code=200 if request.path_params["name"] == "ok" else 500)

    with serve_app(Starlette(routes=[Route("/{name}", hook, methods=["POST"])])) as url:
        yield url


@pytest.mark.anyio
async def test_prune_deletes_only_old_rows_nothing_refers_to(env: Env, receiver: str) -> None:
    clock = FrozenClock(env.hub.clock.now())
    env.hub.clock = clock
    account = env.th.accounts["payos"]
    # Long ago: a paid order (its notification settled money), a return, an unknown
    # account, a bad signature, an idempotency key, deliveries to a live and a dead endpoint.
    create_endpoint(env.hub, env.merchant_id, f"{receiver}/ok", ["order.paid"], actor="t")
    create_endpoint(env.hub, env.merchant_id, f"{receiver}/down", ["order.paid"], actor="t")
    _, payment_id = await env.paid_order("payos")
    await receive_return(env.hub, "payos", payment_id, raw(b"", f"/return/payos/{payment_id}"))
    await receive_notification(env.hub, "payos", "gwa_nosuch", raw(b"x" * 10_000))
    forged = b'{"code":"00","desc":"success","data":{"orderCode":1},"signature":"00"}'
    await receive_notification(env.hub, "payos", account, raw(forged))
    idempotency.begin(env.hub, env.merchant_id, "old-key", "POST", "/v1/orders", b"{}")
    assert fan_out(env.hub) == 2 and await deliver_due(env.hub) == 2
    assert env.count(DeliveryAttempt) == 2

    clock.advance(timedelta(days=91))  # past both retentions (30 and 90 days)
    await receive_notification(env.hub, "payos", "gwa_nosuch", raw(b"recent"))
    idempotency.begin(env.hub, env.merchant_id, "new-key", "POST", "/v1/orders", b"{}")
    kept_whole = env.one(InboundRequest, outcome="applied")
    trimmed = [r for r in env.rows(InboundRequest) if r["body_sha256"] is not None]
    assert len(trimmed) == 4  # the return, both unknown accounts, the bad signature
    assert all(len(r["body"]) <= TRIMMED_BODY_BYTES for r in trimmed)
    assert all(len(v) <= 256 for r in trimmed for v in r["headers"].values())
    assert kept_whole["body_sha256"] is None and kept_whole["body_size"] == len(kept_whole["body"])

    report = prune(env.hub)

    assert report == PruneReport(inbound_requests=3, idempotency_keys=1, delivery_attempts=1)
    left = {(r["outcome"], bytes(r["body"])) for r in env.rows(InboundRequest)}
    assert left == {("applied", bytes(kept_whole["body"])), ("unknown_account", b"recent")}
    with env.hub.db.engine.connect() as conn:
        orphaned = conn.execute(
            text(
                "select count(*) from payment_events e where e.inbound_request_id is not null"
                " and not exists (select 1 from inbound_requests r"
                " where r.id = e.inbound_request_id)"
            )
        ).scalar_one()
    assert orphaned == 0 and env.count(PaymentEvent) >= 1
    assert [r["key"] for r in env.rows(IdempotencyKey)] == ["new-key"]
    # The delivered event's attempt went; the one still retrying keeps its attempt.
    [pending] = env.rows(Delivery, state="pending")
    assert [a["delivery_id"] for a in env.rows(DeliveryAttempt)] == [pending["id"]]
    assert env.count(Delivery) == 2
    assert prune(env.hub) == PruneReport(0, 0, 0)
    env.assert_invariants()


def test_payhub_prune_reports_what_it_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    th = make_hub(url)
    th.hub.clock = FrozenClock(datetime.now(UTC) - timedelta(days=40))
    for _ in range(3):
        anyio.run(receive_notification, th.hub, "payos", "gwa_nosuch", raw(b"old"))
    th.hub.db.dispose()
    monkeypatch.setenv("PAYHUB_DATABASE_URL", url)
    monkeypatch.setenv("PAYHUB_MASTER_KEY", MASTER_KEY)
    try:
        get_settings.cache_clear()
        kept = CliRunner().invoke(cli_app, ["prune"], env={"PAYHUB_INBOUND_RETENTION_DAYS": "60"})
        get_settings.cache_clear()
        pruned = CliRunner().invoke(cli_app, ["prune"])
    finally:
        get_settings.cache_clear()
    assert kept.exit_code == 0, kept.output
    assert re.search(r"inbound_requests\s*\S\s*0\b", kept.output), kept.output
    assert pruned.exit_code == 0, pruned.output
    assert re.search(r"inbound_requests\s*\S\s*3\b", pruned.output), pruned.output
    with th.hub.db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(InboundRequest)).scalar_one() == 0
    th.hub.db.dispose()
