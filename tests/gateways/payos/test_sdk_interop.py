"""The official `payos` 1.1.0 SDK as a real client of the sandbox over loopback HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from payos import APIError, PayOS, UnauthorizedError, WebhookError
from payos.types import CreatePaymentLinkRequest, ItemData

from payhub.gateways import simkit
from payhub.gateways.payos import create_simulator
from tests.support.servers import free_port, serve_app

from .conftest import PROFILE, Receiver

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack() -> Iterator[tuple[str, str, Receiver]]:
    """(simulator origin, receiver webhook URL, receiver) served on loopback."""
    receiver = Receiver()
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    app = create_simulator(
        simkit.SimulatorOptions(
            public_url=origin,
            profile=PROFILE,
            retry=simkit.RetryPolicy(max_attempts=2, interval_seconds=0.05, timeout_seconds=5),
        )
    )
    with serve_app(receiver.app) as receiver_origin, serve_app(app, port):
        yield origin, f"{receiver_origin}/payos/webhook", receiver


def sdk(origin: str, **overrides: str) -> PayOS:
    creds = {**PROFILE.credentials, **overrides}
    return PayOS(
        client_id=creds["client_id"],
        api_key=creds["api_key"],
        checksum_key=creds["checksum_key"],
        base_url=origin,
        max_retries=0,
    )


def order(code: int, description: str = "Thanh toán đơn 1") -> CreatePaymentLinkRequest:
    return CreatePaymentLinkRequest(
        order_code=code,
        amount=120_000,
        description=description,
        cancel_url="http://shop.test/cancel",
        return_url="http://shop.test/return",
        expired_at=int(time.time()) + 900,
        items=[ItemData(name="Cà phê sữa", quantity=2, price=60_000)],
    )


def test_sdk_create_get_cancel(stack: tuple[str, str, Receiver]) -> None:
    origin, _, _ = stack
    client = sdk(origin)
    created = client.payment_requests.create(order(1001))
    assert created.order_code == 1001 and created.status == "PENDING"
    assert created.checkout_url == f"{origin}/web/{created.payment_link_id}"
    assert created.description == "Thanh toán đơn 1"

    link = client.payment_requests.get(1001)
    assert link.status == "PENDING" and link.amount_remaining == 120_000
    assert client.payment_requests.get(created.payment_link_id).id == created.payment_link_id

    cancelled = client.payment_requests.cancel(1001, cancellation_reason="Changed my mind")
    assert cancelled.status == "CANCELLED" and cancelled.cancellation_reason == "Changed my mind"

    client.payment_requests.create(order(1002))
    assert client.payment_requests.cancel(1002).status == "CANCELLED"  # unsigned `{}` body

    with pytest.raises(APIError) as duplicate:
        client.payment_requests.create(order(1001))
    assert duplicate.value.error_code == "231"


def test_sdk_errors(stack: tuple[str, str, Receiver]) -> None:
    origin, _, _ = stack
    with pytest.raises(UnauthorizedError):
        sdk(origin, api_key="wrong").payment_requests.get(1)
    with pytest.raises(APIError) as bad_signature:
        sdk(origin, checksum_key="wrong").payment_requests.create(order(7))
    assert bad_signature.value.error_code == "201"
    with pytest.raises(APIError) as too_long:
        sdk(origin).payment_requests.create(order(8, description="x" * 26))
    assert too_long.value.error_code == "20"


def test_sdk_confirms_webhook_and_verifies_what_the_simulator_sent(
    stack: tuple[str, str, Receiver],
) -> None:
    origin, webhook_url, receiver = stack
    client = sdk(origin)
    confirmed = client.webhooks.confirm(webhook_url)
    assert confirmed.webhook_url == webhook_url
    sample = client.webhooks.verify(receiver.bodies[0])
    assert sample.order_code == 123

    client.payment_requests.create(order(2001))
    with httpx.Client(base_url=origin) as control:
        control.post("/__sim/pay/2001", json={"outcome": "partial", "amount": 20_000})
        control.post("/__sim/pay/2001", json={"outcome": "paid"})
        deliveries = control.post("/__sim/flush").json()["deliveries"]
    assert [d["state"] for d in deliveries] == ["delivered", "delivered"]

    partial, rest = (client.webhooks.verify(body) for body in receiver.bodies[1:])
    assert (partial.order_code, partial.amount, partial.code) == (2001, 20_000, "00")
    assert rest.amount == 100_000 and rest.reference != partial.reference

    link = client.payment_requests.get(2001)
    assert link.status == "PAID" and link.amount_paid == 120_000
    assert [t.reference for t in link.transactions] == [partial.reference, rest.reference]


def test_sdk_refuses_a_tampered_webhook(stack: tuple[str, str, Receiver]) -> None:
    origin, webhook_url, receiver = stack
    client = sdk(origin)
    client.webhooks.confirm(webhook_url)
    client.payment_requests.create(order(3001))
    with httpx.Client(base_url=origin) as control:
        control.post("/__sim/faults", json={"fault": "tamper"})
        control.post("/__sim/pay/3001", json={"outcome": "paid"})
        control.post("/__sim/flush")
    with pytest.raises(WebhookError):
        client.webhooks.verify(receiver.bodies[-1])
