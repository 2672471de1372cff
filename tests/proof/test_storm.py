"""The duplicate storm at full size: 1,000 orders, each PayOS webhook delivered 50 times
concurrently while forged browser returns (unsigned, claiming PAID) race them, over real
loopback HTTP on SQLite and PostgreSQL; then exactly 1,000 credit grants and one succeeded
transition per attempt, and every other money invariant, in SQL.

`tests/e2e/test_concurrency.py` is the same storm at 60 x 20 in `make test`.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from datetime import UTC, datetime

import httpx
from sqlalchemy import text

from payhub.gateways.payos import simulator as payos_sim
from payhub.gateways.registry import entry
from payhub.store.invariants import check_invariants
from tests.proof.conftest import full_proof_only, report
from tests.support.hub import connect_gateway, make_hub, simulator_app
from tests.support.servers import free_port, serve_app

ORDERS = 1_000
COPIES = 50
RETURNS = 2  # forged browser returns per order
PAID_AT = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


@full_proof_only
def test_duplicate_storm_with_forged_returns(db_url: str) -> None:
    hub_port, sim_port = free_port(), free_port()
    hub_url, sim_url = f"http://127.0.0.1:{hub_port}", f"http://127.0.0.1:{sim_port}"
    th = make_hub(db_url, public_url=hub_url)
    account = connect_gateway(th, "payos", sim_url)
    key = entry("payos").sandbox_profile().credentials["checksum_key"]
    figures: dict[str, object] = {}

    def rows(sql: str) -> list[tuple[object, ...]]:
        with th.hub.db.engine.connect() as c:
            return [tuple(r) for r in c.execute(text(sql)).all()]

    async def scenario() -> None:
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(
            base_url=hub_url, headers=th.headers, timeout=120, limits=limits
        ) as api:
            started = time.monotonic()
            payments = []
            for i in range(ORDERS):
                r = await api.post(
                    "/v1/orders",
                    json={
                        "merchant_reference": f"storm-{i}",
                        "currency": "VND",
                        "items": [{"sku": "pack-100"}],
                        "customer": {"external_id": f"cust-{i % 37}"},
                    },
                )
                assert r.status_code == 201, r.text
                p = await api.post(
                    f"/v1/orders/{r.json()['id']}/payments", json={"gateway": "payos"}
                )
                assert p.status_code == 200, p.text
                payments.append(p.json())
            figures["setup_s"] = round(time.monotonic() - started, 1)
            links = {}
            for pid, data in rows("select id, gateway_data from payments"):
                links[pid] = (json.loads(data) if isinstance(data, str) else data)["paymentLinkId"]
            calls: list[tuple[str, object]] = []
            for p in payments:
                data = payos_sim.paid_webhook_data(
                    order_code=int(p["gateway_reference"]),
                    amount=p["amount"],
                    description="storm",
                    reference=f"FT{p['gateway_reference'][-10:]}",
                    paid_at=PAID_AT,
                    link_id=links[p["id"]],
                )
                body = payos_sim.signed_webhook(data, key)
                calls += [("hook", body)] * COPIES
                calls += [("return", p["id"])] * RETURNS
            random.Random(7).shuffle(calls)

            async def send(call: tuple[str, object]) -> int:
                kind, arg = call
                if kind == "hook":
                    r = await api.post(
                        f"/callbacks/payos/{account}",
                        content=arg,
                        headers={"content-type": "application/json"},
                    )
                    return r.status_code
                r = await api.get(f"/return/payos/{arg}?code=00&status=PAID&cancel=false")
                return 200 if r.status_code in (200, 303) else r.status_code

            sem = asyncio.Semaphore(64)

            async def bounded(call: tuple[str, object]) -> int:
                async with sem:
                    return await send(call)

            started = time.monotonic()
            statuses = await asyncio.gather(*(bounded(c) for c in calls))
            figures["requests"] = len(calls)
            figures["storm_s"] = round(time.monotonic() - started, 1)
            assert Counter(statuses) == {200: len(calls)}, Counter(statuses)

    with serve_app(th.app, hub_port), serve_app(simulator_app("payos", sim_url), sim_port):
        asyncio.run(scenario())

    try:
        (credits,) = rows("select count(*) from credit_entries")[0]
        assert credits == ORDERS
        per_order = rows("select order_id, count(*) from credit_entries group by order_id")
        assert {n for _, n in per_order} == {1}
        (paid,) = rows("select count(*) from orders where status = 'paid'")[0]
        assert paid == ORDERS
        transitions = rows(
            "select payment_id, count(*) from payment_events where payment_status_after ="
            " 'succeeded' and payment_status_before != 'succeeded' group by payment_id"
        )
        assert len(transitions) == ORDERS and {n for _, n in transitions} == {1}
        (paid_events,) = rows("select count(*) from outbox where event_type = 'order.paid'")[0]
        assert paid_events == ORDERS
        assert check_invariants(th.hub.db.engine) == {}
    finally:
        th.hub.db.dispose()
    engine = db_url.split(":", 1)[0]
    report(
        f"storm[{engine}]",
        orders=ORDERS,
        copies=COPIES,
        forged_returns=ORDERS * RETURNS,
        credits=credits,
        doubled=0,
        **figures,
    )
