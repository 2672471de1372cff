"""MoMo receives the customer's language: `lang` is `vi` for Vietnamese and `en` for English
and Malay (MoMo has no other), and the simulator records what the create call carried. MoMo's
create has no field for the customer's IP or browser."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from payhub.gateways.base import CheckoutRequest, GatewayConfig
from payhub.money import Money
from tests.gateways.momo.harness import NOTIFY_URL, RETURN_URL, make_harness

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("locale", "lang"), [("vi", "vi"), ("en", "en"), ("ms", "en")])
async def test_create_sends_the_customers_language(
    momo_config: GatewayConfig, locale: str, lang: str
) -> None:
    harness = make_harness(momo_config)
    async with harness.http:
        now = datetime.now(UTC)
        request = CheckoutRequest(
            reference=harness.adapter.new_reference(1, now),
            amount=Money(50_000, "VND"),
            description="Thanh toan don hang",
            notify_url=NOTIFY_URL,
            return_url=RETURN_URL,
            cancel_url=RETURN_URL,
            expires_at=now + timedelta(minutes=15),
            now=now,
        )
        request = dataclasses.replace(
            request, client_ip="203.0.113.9", locale=locale, user_agent="Mozilla/5.0 test"
        )
        checkout = await harness.adapter.create_checkout(request)
        seen = await harness.sim("GET", f"/__sim/orders/{checkout.reference}")
    assert seen.status_code == 200, seen.text
    assert seen.json()["lang"] == lang
