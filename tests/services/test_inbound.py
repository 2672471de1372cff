"""services.inbound: what the pipeline does around the write, checked in the database."""

from __future__ import annotations

from datetime import UTC, datetime

import anyio
from sqlalchemy import event, func, select

from payhub.gateways.base import InboundRequest
from payhub.gateways.payos import simulator as payos_sim
from payhub.gateways.registry import entry
from payhub.services.inbound import receive_notification
from payhub.store.models import InboundRequest as InboundRow
from tests.support.hub import connect_gateway, make_hub

COPIES = 32


def test_an_expired_account_is_loaded_once_by_concurrent_notifications(db_url: str) -> None:
    th = make_hub(db_url)
    account_id = connect_gateway(th, "payos", "http://127.0.0.1:9")  # never called
    key = entry("payos").sandbox_profile().credentials["checksum_key"]
    # A validly signed webhook for an order code payhub never issued: verified, logged,
    # answered 2xx, and nothing else (no query to the gateway).
    raw = InboundRequest(
        method="POST",
        path=f"/callbacks/payos/{account_id}",
        query_string=b"",
        headers={"content-type": "application/json"},
        body=payos_sim.signed_webhook(
            payos_sim.paid_webhook_data(
                order_code=987654321,
                amount=20_000,
                description="DH987654321",
                reference="FT26112200000001",
                paid_at=datetime(2026, 11, 22, 3, 0, tzinfo=UTC),
                link_id="link-unknown",
            ),
            key,
        ),
        remote_addr="127.0.0.1",
    )
    account_loads: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "FROM gateway_accounts" in statement:
            account_loads.append(statement)

    th.hub.adapter_cache.clear()  # as when the cached entry has just expired
    event.listen(th.hub.db.read_engine, "before_cursor_execute", count)
    statuses: list[int] = []

    async def deliver() -> None:
        statuses.append((await receive_notification(th.hub, "payos", account_id, raw)).status_code)

    async def storm() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(COPIES):
                tg.start_soon(deliver)

    try:
        anyio.run(storm)
    finally:
        event.remove(th.hub.db.read_engine, "before_cursor_execute", count)
        th.hub.db.dispose()
    assert statuses == [200] * COPIES
    assert len(account_loads) == 1
    with th.hub.db.engine.connect() as conn:
        outcomes = conn.execute(
            select(InboundRow.outcome, func.count()).group_by(InboundRow.outcome)
        ).all()
    assert [tuple(row) for row in outcomes] == [("unknown_payment", COPIES)]
