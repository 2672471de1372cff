"""VNPay receives the customer's context: the adapter puts the customer's IP in vnp_IpAddr
and their language in vnp_Locale (`vn` for Vietnamese, `en` for English and Malay), and the
simulator records what the pay URL carried."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from payhub.gateways.vnpay.adapter import VnpayGateway

from .harness import checkout_request, gateway_config, sim_client, simulator

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("client_ip", "locale", "vnp_locale"),
    [("203.0.113.7", "vi", "vn"), ("2001:db8::7", "en", "en"), ("198.51.100.20", "ms", "en")],
)
async def test_the_pay_url_carries_the_customers_ip_and_language(
    client_ip: str, locale: str, vnp_locale: str
) -> None:
    client = sim_client(simulator())
    async with client:
        adapter = VnpayGateway(gateway_config(), client)
        now = datetime.now(UTC)
        reference = adapter.new_reference(1, now)
        request = dataclasses.replace(
            checkout_request(reference, now=now),
            client_ip=client_ip,
            locale=locale,
            user_agent="Mozilla/5.0 (iPhone) test",
        )
        checkout = await adapter.create_checkout(request)
        opened = await client.get(checkout.checkout_url)
        assert opened.status_code == 302, opened.text  # the simulator verified the signature
        listed = (await client.get("/__sim/transactions")).json()
    [txn] = [t for t in listed if t["txn_ref"] == reference]
    assert (txn["ip_addr"], txn["locale"]) == (client_ip, vnp_locale)
