"""Concurrency: 60 orders, each PayOS webhook delivered 20 times concurrently (1,200
deliveries racing) while the browser return URL is hit, over real loopback HTTP on SQLite
and PostgreSQL. Exactly one credit grant per order, checked in SQL along with every other
money invariant.

This is the `make test` size, kept small so the suite stays near its 15-minute budget (at
200 orders it cost 380 s of it); `tests/proof/test_storm.py` is the full 1,000 x 50 storm
under `make proof`."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func, select

from payhub.gateways.payos import simulator as payos_sim
from payhub.gateways.registry import entry
from payhub.store.invariants import check_invariants
from payhub.store.models import CreditEntry, Order, PaymentEvent
from tests.support.hub import connect_gateway, make_hub, simulator_app
from tests.support.servers import free_port, serve_app

pytestmark = pytest.mark.e2e

ORDERS = 60
COPIES = 20
PAID_AT = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def test_duplicate_storm_grants_credits_exactly_once(db_url: str) -> None:
    hub_port, sim_port = free_port(), free_port()
    hub_url, sim_url = f"http://127.0.0.1:{hub_port}", f"http://127.0.0.1:{sim_port}"
    th = make_hub(db_url, public_url=hub_url)
    account = connect_gateway(th, "payos", sim_url)
    key = entry("payos").sandbox_profile().credentials["checksum_key"]
    sim = simulator_app("payos", sim_url)

    async def scenario() -> None:
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(
            base_url=hub_url, headers=th.headers, timeout=60, limits=limits
        ) as api:
            payments = []
            t0 = time.monotonic()
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

            print(f"setup: {ORDERS} orders+payments in {time.monotonic() - t0:.1f}s")
            calls = []
            for p in payments:
                with th.hub.db.session() as s:
                    from payhub.store.models import Payment

                    row = s.scalar(select(Payment).where(Payment.id == p["id"]))
                    assert row is not None
                    link_id = row.gateway_data["paymentLinkId"]
                data = payos_sim.paid_webhook_data(
                    order_code=int(p["gateway_reference"]),
                    amount=p["amount"],
                    description="concurrency",
                    reference=f"FT{p['gateway_reference'][-10:]}",
                    paid_at=PAID_AT,
                    link_id=link_id,
                )
                body = payos_sim.signed_webhook(data, key)
                calls += [("hook", body)] * COPIES
                calls += [("return", p["id"])] * 2
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
            print(f"storm: {len(calls)} requests in {time.monotonic() - started:.1f}s")
            assert set(statuses) == {200}, sorted(set(statuses))

    with serve_app(th.app, hub_port), serve_app(sim, sim_port):
        asyncio.run(scenario())

    with th.hub.db.session() as s:
        assert s.scalar(select(func.count()).select_from(CreditEntry)) == ORDERS
        assert (
            s.scalar(select(func.count()).select_from(Order).where(Order.status == "paid"))
            == ORDERS
        )
        # Later copies and queries are recorded as facts, but only one moved each attempt.
        transitions = s.scalar(
            select(func.count())
            .select_from(PaymentEvent)
            .where(
                PaymentEvent.payment_status_after == "succeeded",
                PaymentEvent.payment_status_before != "succeeded",
            )
        )
        assert transitions == ORDERS
    assert check_invariants(th.hub.db.engine) == {}
    th.hub.db.dispose()
