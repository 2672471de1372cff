"""PayOS has no field for the customer's IP, language or User-Agent: a create request that
carries them sends the same fields as one without them, none holding those values, and the
simulator creates the link (with its VietQR) either way."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette

from payhub.gateways.base import CheckoutRequest
from payhub.gateways.payos import PayOSGateway
from payhub.money import Money

from .conftest import RECEIVER_URL, SIM_ORIGIN, make_config

pytestmark = pytest.mark.anyio


async def test_the_customer_context_changes_nothing_on_the_wire(simulator: Starlette) -> None:
    sent: list[dict[str, object]] = []

    async def record(request: httpx.Request) -> None:
        if request.method == "POST":
            sent.append(json.loads(request.content))

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=simulator),
        base_url=SIM_ORIGIN,
        event_hooks={"request": [record]},
    ) as http:
        gateway = PayOSGateway(make_config(), http)
        now = datetime.now(UTC)
        plain = CheckoutRequest(
            reference=gateway.new_reference(1, now),
            amount=Money(150_000, "VND"),
            description="Thanh toan don hang",
            notify_url=RECEIVER_URL,
            return_url="http://shop.test/return",
            cancel_url="http://shop.test/cancel",
            expires_at=now + timedelta(minutes=15),
            now=now,
        )
        with_context = dataclasses.replace(
            plain,
            reference=gateway.new_reference(2, now),
            client_ip="203.0.113.7",
            locale="ms",
            user_agent="Mozilla/5.0 (iPhone)",
        )
        first = await gateway.create_checkout(plain)
        second = await gateway.create_checkout(with_context)
    assert first.qr_content and second.qr_content
    assert len(sent) == 2 and set(sent[0]) == set(sent[1])
    values = {str(v) for v in sent[1].values()}
    assert not values & {"203.0.113.7", "ms", "Mozilla/5.0 (iPhone)"}
