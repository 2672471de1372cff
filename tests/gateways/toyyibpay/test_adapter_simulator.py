"""Contract: the ToyyibPay adapter against payhub's ToyyibPay sandbox, in process.

The adapter talks to the simulator through httpx.ASGITransport; the simulator delivers its
callbacks to a small receiver app (also in process) that does what the hub's inbound
pipeline does at the edge: verify_notification, dedupe, notification_reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payhub.gateways.base import (
    ApplyOutcome,
    Checkout,
    CheckoutRequest,
    Environment,
    GatewayConfig,
    GatewayMisconfigured,
    GatewayRejected,
    GatewayStatus,
    InboundRequest,
    InvalidSignature,
    Notification,
    Payer,
    PaymentRef,
    SandboxProfile,
)
from payhub.gateways.simkit import RetryPolicy, SimulatorOptions
from payhub.gateways.toyyibpay import ENTRY, ToyyibPayGateway
from payhub.gateways.toyyibpay.simulator import create_simulator
from payhub.money import Money
from payhub.secret import Secret

pytestmark = pytest.mark.anyio

SIM_ORIGIN = "http://toyyibpay.sim"
HUB_ORIGIN = "http://hub.test"
SECRET = "t3stkey1-aaaa-4bbb-cccc-simulator000"
SEEDED_CATEGORY = "seedcat1"


@dataclass
class Receiver:
    """Stands in for the hub's /callbacks/toyyibpay endpoint."""

    adapter: ToyyibPayGateway
    notifications: list[Notification] = field(default_factory=list)
    outcomes: list[ApplyOutcome] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    fail_next: int = 0  # answer ERROR to this many callbacks first

    async def callback(self, request: Request) -> Response:
        raw = InboundRequest(
            method=request.method,
            path=request.url.path,
            query_string=request.url.query.encode(),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.body(),
        )
        try:
            notification = self.adapter.verify_notification(raw)
        except InvalidSignature:
            outcome = ApplyOutcome.INVALID_SIGNATURE
        else:
            if self.fail_next:
                self.fail_next -= 1
                outcome = ApplyOutcome.ERROR
            elif notification.dedupe_key in self.seen:
                outcome = ApplyOutcome.DUPLICATE
            else:
                self.seen.add(notification.dedupe_key)
                self.notifications.append(notification)
                outcome = ApplyOutcome.APPLIED
        self.outcomes.append(outcome)
        reply = self.adapter.notification_reply(outcome)
        return Response(reply.body, status_code=reply.status_code, media_type=reply.media_type)


@dataclass
class Harness:
    sim_app: Starlette
    sim: httpx.AsyncClient  # drives /__sim/ and the bill pages
    http: httpx.AsyncClient  # the adapter's client
    receiver: Receiver

    def adapter(self, **settings: str) -> ToyyibPayGateway:
        return self.adapter_with(SECRET, settings)

    def adapter_with(self, secret: str, settings: dict[str, str]) -> ToyyibPayGateway:
        config = GatewayConfig(
            credentials={"user_secret_key": Secret(secret)},
            base_url=SIM_ORIGIN,
            environment=Environment.SIMULATOR,
            settings=settings,
        )
        return ToyyibPayGateway(config, self.http)

    @property
    def sandbox(self) -> Any:
        return self.sim_app.state.sandbox

    async def sim_json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.sim.request(method, path, **kwargs)
        return response.json()

    async def flush(self) -> None:
        response = await self.sim.post("/__sim/flush")
        assert response.status_code == 200

    async def deliveries(self) -> list[dict[str, Any]]:
        return list((await self.sim_json("GET", "/__sim/deliveries"))["deliveries"])


def checkout_request(
    reference: str = "PH241021000001",
    amount: int = 1050,
    now: datetime | None = None,
    expires_in: timedelta = timedelta(hours=1),
    notify_url: str = f"{HUB_ORIGIN}/callbacks/toyyibpay",
    **options: str,
) -> CheckoutRequest:
    now = now or datetime.now(UTC)
    return CheckoutRequest(
        reference=reference,
        amount=Money(amount, "MYR"),
        description="Order #1001: 2× Nasi Lemak (café)",
        notify_url=notify_url,
        return_url=f"{HUB_ORIGIN}/return/toyyibpay?attempt=1",
        cancel_url=f"{HUB_ORIGIN}/cancel",
        expires_at=now + expires_in,
        now=now,
        payer=Payer(name="Siti Aminah", email="siti@example.my", phone="+60 12-345 6789"),
        options=options,
    )


def ref_of(checkout: Checkout, amount: int = 1050) -> PaymentRef:
    return PaymentRef(
        reference=checkout.reference,
        amount=Money(amount, "MYR"),
        created_at=datetime.now(UTC),
        gateway_data=checkout.gateway_data,
    )


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    receiver_holder: list[Receiver] = []

    async def callback(request: Request) -> Response:
        return await receiver_holder[0].callback(request)

    hub_app = Starlette(routes=[Route("/callbacks/toyyibpay", callback, methods=["POST"])])
    profile = SandboxProfile(
        credentials={"user_secret_key": SECRET},
        settings={"category_code": SEEDED_CATEGORY},
    )
    sim_app = ENTRY.create_simulator(
        SimulatorOptions(
            public_url=SIM_ORIGIN,
            profile=profile,
            retry=RetryPolicy(max_attempts=3, interval_seconds=0.01, timeout_seconds=5),
            transport=httpx.ASGITransport(app=hub_app),
            extra={"bank_c_delay": "0.2"},
        )
    )
    transport = httpx.ASGITransport(app=sim_app)
    async with (
        httpx.AsyncClient(transport=transport, base_url=SIM_ORIGIN) as sim,
        httpx.AsyncClient(transport=transport, timeout=5) as http,
    ):
        harness = Harness(sim_app=sim_app, sim=sim, http=http, receiver=None)  # type: ignore[arg-type]
        harness.receiver = Receiver(adapter=harness.adapter())
        receiver_holder.append(harness.receiver)
        yield harness
        harness.sandbox.cancel_timers()
        await harness.sandbox.notifier.aclose()


async def wait_for(condition: Any, timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


# --------------------------------------------------------------------------- categories


async def test_category_is_created_on_first_use_and_handed_back(harness: Harness) -> None:
    adapter = harness.adapter()  # no category_code setting
    checkout = await adapter.create_checkout(checkout_request())
    category = checkout.account_settings["category_code"]
    assert category in harness.sandbox.categories
    assert category != SEEDED_CATEGORY
    assert checkout.gateway_data["category_code"] == category
    bill = await harness.sim_json("GET", f"/__sim/bills/{checkout.gateway_data['bill_code']}")
    assert bill["category_code"] == category

    # The hub remembers it; the next checkout trusts it and creates nothing.
    remembered = harness.adapter(category_code=category)
    before = len(harness.sandbox.categories)
    again = await remembered.create_checkout(checkout_request(reference="PH241021000002"))
    assert again.account_settings == {}
    assert again.gateway_data["category_code"] == category
    assert len(harness.sandbox.categories) == before
    await remembered.validate_category()


async def test_validate_category(harness: Harness) -> None:
    await harness.adapter(category_code=SEEDED_CATEGORY).validate_category()
    with pytest.raises(GatewayMisconfigured) as missing:
        await harness.adapter(category_code="nosuch01").validate_category()
    assert missing.value.gateway_code == "CATEGORY-DOES-NOT-EXIST"
    # Without a category the key itself is checked.
    await harness.adapter().validate_category()
    with pytest.raises(GatewayMisconfigured):
        await harness.adapter_with("wrong-key", {}).validate_category()
    with pytest.raises(GatewayMisconfigured) as bad_key:
        await harness.adapter_with(
            "wrong-key", {"category_code": SEEDED_CATEGORY}
        ).validate_category()
    assert bad_key.value.gateway_code == "KEY-DID-NOT-EXIST"


# --------------------------------------------------------------------------- create


async def test_create_bill_carries_everything_payhub_needs(harness: Harness) -> None:
    adapter = harness.adapter(category_code=SEEDED_CATEGORY)
    request = checkout_request(payment_channel="both")
    checkout = await adapter.create_checkout(request)
    code = checkout.gateway_data["bill_code"]
    assert checkout.checkout_url == f"{SIM_ORIGIN}/{code}"
    assert checkout.account_settings == {}
    assert checkout.expires_at == request.expires_at.replace(microsecond=0)
    bill = await harness.sim_json("GET", f"/__sim/bills/{code}")
    assert bill["amount_sen"] == 1050
    assert bill["external_reference"] == request.reference
    assert bill["callback_url"] == request.notify_url
    assert bill["return_url"] == request.return_url
    assert bill["payment_channel"] == "2"
    assert bill["name"] == "Order 1001 2 Nasi Lemak cafe"
    assert datetime.fromisoformat(bill["expires_at"]) == checkout.expires_at
    sandbox_bill = harness.sandbox.bills[code]
    assert (sandbox_bill.bill_to, sandbox_bill.email, sandbox_bill.phone) == (
        "Siti Aminah",
        "siti@example.my",
        "+60123456789",
    )
    assert sandbox_bill.payor_info == "1"

    page = await harness.sim.get(f"/{code}")
    assert page.status_code == 200
    for label in ("SBI Bank A", "SBI Bank B", "SBI Bank C"):
        assert f"Pay with {label}" in page.text
    assert "payhub local sandbox" in page.text


async def test_payment_channel_comes_from_settings_when_not_in_options(harness: Harness) -> None:
    adapter = harness.adapter(category_code=SEEDED_CATEGORY, payment_channel="card")
    checkout = await adapter.create_checkout(checkout_request())
    assert harness.sandbox.bills[checkout.gateway_data["bill_code"]].channel == "1"
    default = await harness.adapter(category_code=SEEDED_CATEGORY).create_checkout(
        checkout_request()
    )
    assert harness.sandbox.bills[default.gateway_data["bill_code"]].channel == "0"


@pytest.mark.usefixtures("los_angeles_host_tz")
async def test_expiry_reaches_toyyibpay_in_malaysia_time_from_a_far_host(
    harness: Harness,
) -> None:
    now = datetime(2031, 3, 1, 23, 30, 15, tzinfo=UTC)  # already 2 March in Kuala Lumpur
    adapter = harness.adapter(category_code=SEEDED_CATEGORY)
    assert adapter.new_reference(7, now) == "PH310302000007"
    request = checkout_request(now=now, expires_in=timedelta(hours=2))
    checkout = await adapter.create_checkout(request)
    bill = harness.sandbox.bills[checkout.gateway_data["bill_code"]]
    assert bill.expires_at == datetime(2031, 3, 2, 1, 30, 15, tzinfo=UTC)


# --------------------------------------------------------------------------- outcomes


async def create(harness: Harness, **kwargs: Any) -> tuple[ToyyibPayGateway, Checkout]:
    adapter = harness.adapter(category_code=SEEDED_CATEGORY)
    return adapter, await adapter.create_checkout(checkout_request(**kwargs))


async def test_bank_a_pays(harness: Harness) -> None:
    adapter, checkout = await create(harness)
    code = checkout.gateway_data["bill_code"]
    paid = await harness.sim_json("POST", f"/__sim/pay/{code}", json={"bank": "A"})
    await harness.flush()
    [notification] = harness.receiver.notifications
    refno = paid["transaction"]["billpaymentInvoiceNo"]
    assert notification.reference == checkout.reference
    assert notification.status is GatewayStatus.SUCCEEDED
    assert notification.amount == Money(1050, "MYR")
    assert notification.gateway_txn_id == refno
    assert notification.dedupe_key == f"{code}:{refno}:1"
    assert notification.payload["billcode"] == code
    assert notification.occurred_at is not None
    assert harness.receiver.outcomes == [ApplyOutcome.APPLIED]
    [delivery] = await harness.deliveries()
    assert delivery["state"] == "delivered"
    assert delivery["attempts"][0]["response_body"] == "OK"

    report = await adapter.query(ref_of(checkout))
    assert report.status is GatewayStatus.SUCCEEDED
    assert report.amount_paid == Money(1050, "MYR")
    assert report.gateway_txn_id == refno
    assert report.gateway_code == "1"

    # The browser return is display only.
    return_url = paid["return_url"]
    info = adapter.verify_return(
        InboundRequest(
            method="GET",
            path="/return/toyyibpay",
            query_string=urlsplit(return_url).query.encode(),
            headers={},
            body=b"",
        )
    )
    assert info.reference == checkout.reference
    assert info.claimed_status is GatewayStatus.SUCCEEDED
    assert info.signature_valid is False


async def test_bank_b_fails(harness: Harness) -> None:
    adapter, checkout = await create(harness)
    code = checkout.gateway_data["bill_code"]
    response = await harness.sim.post(f"/__sim/pay/{code}", json={"bank": "B"})
    assert response.status_code == 200
    await harness.flush()
    [notification] = harness.receiver.notifications
    assert notification.status is GatewayStatus.FAILED
    assert notification.message == "Insufficient Fund"
    report = await adapter.query(ref_of(checkout))
    assert report.status is GatewayStatus.FAILED
    assert report.amount_paid is None


async def test_failed_then_paid_on_the_same_bill_settles(harness: Harness) -> None:
    adapter, checkout = await create(harness)
    code = checkout.gateway_data["bill_code"]
    await harness.sim.post(f"/__sim/pay/{code}", json={"bank": "B"})
    paid = await harness.sim_json("POST", f"/__sim/pay/{code}", json={"outcome": "success"})
    report = await adapter.query(ref_of(checkout))
    assert report.status is GatewayStatus.SUCCEEDED
    assert report.gateway_txn_id == paid["transaction"]["billpaymentInvoiceNo"]
    assert len(report.raw["transactions"]) == 2  # type: ignore[arg-type]


async def test_bank_c_is_pending_then_settles_after_the_delay(harness: Harness) -> None:
    adapter, checkout = await create(harness)
    code = checkout.gateway_data["bill_code"]
    await harness.sim.post(f"/__sim/pay/{code}", json={"bank": "C"})
    await harness.flush()
    [pending] = harness.receiver.notifications
    assert pending.status is GatewayStatus.PENDING
    assert (await adapter.query(ref_of(checkout))).status is GatewayStatus.PENDING
    page = await harness.sim.get(f"/{code}")
    assert "pending at the bank" in page.text
    assert "<button" not in page.text

    await wait_for(lambda: len(harness.receiver.notifications) == 2)  # bank_c_delay = 0.2 s
    settled = harness.receiver.notifications[1]
    assert settled.status is GatewayStatus.SUCCEEDED
    assert settled.gateway_txn_id == pending.gateway_txn_id
    assert settled.dedupe_key != pending.dedupe_key
    report = await adapter.query(ref_of(checkout))
    assert report.status is GatewayStatus.SUCCEEDED
    assert report.amount_paid == Money(1050, "MYR")


async def test_browser_pays_through_the_bill_page_and_is_redirected(harness: Harness) -> None:
    _, checkout = await create(harness)
    code = checkout.gateway_data["bill_code"]
    response = await harness.sim.post(f"/{code}/pay", data={"bank": "A"})
    assert response.status_code == 302
    target = urlsplit(response.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{HUB_ORIGIN}/return/toyyibpay"
    query = parse_qs(target.query)
    assert query["attempt"] == ["1"]
    assert query["status_id"] == ["1"]
    assert query["billcode"] == [code]
    assert query["order_id"] == [checkout.reference]
    assert query["transaction_id"][0].startswith("TP")
    await harness.flush()
    assert [n.status for n in harness.receiver.notifications] == [GatewayStatus.SUCCEEDED]
    again = await harness.sim.post(f"/{code}/pay", data={"bank": "A"})
    assert again.status_code == 409
    assert "already been paid" in again.text


async def test_callback_amount_in_sen_is_read_too(harness: Harness) -> None:
    await harness.sim.post("/__sim/config", json={"callback_amount_unit": "sen"})
    _, checkout = await create(harness, amount=123456)
    await harness.sim.post(f"/__sim/pay/{checkout.gateway_data['bill_code']}", json={"bank": "A"})
    await harness.flush()
    [notification] = harness.receiver.notifications
    assert notification.payload["amount"] == "123456"
    assert notification.amount == Money(123456, "MYR")


# --------------------------------------------------------------------------- faults


async def test_forged_amount_with_valid_hash_is_caught_by_the_query(harness: Harness) -> None:
    adapter, checkout = await create(harness)
    await harness.sim.post("/__sim/faults", json={"fault": "wrong_amount"})
    await harness.sim.post(f"/__sim/pay/{checkout.gateway_data['bill_code']}", json={"bank": "A"})
    await harness.flush()
    [notification] = harness.receiver.notifications  # the hash verified
    assert notification.status is GatewayStatus.SUCCEEDED
    assert notification.amount != Money(1050, "MYR")
    assert ToyyibPayGateway.capabilities.notification_needs_confirmation
    report = await adapter.query(ref_of(checkout))
    assert report.amount_paid == Money(1050, "MYR")


async def test_tampered_callback_is_rejected_and_retried(harness: Harness) -> None:
    _, checkout = await create(harness)
    await harness.sim.post("/__sim/faults", json={"fault": "tamper"})
    await harness.sim.post(f"/__sim/pay/{checkout.gateway_data['bill_code']}", json={"bank": "B"})
    await harness.flush()
    assert harness.receiver.notifications == []
    assert harness.receiver.outcomes == [ApplyOutcome.INVALID_SIGNATURE] * 3
    [delivery] = await harness.deliveries()
    assert delivery["state"] == "gave_up"
    assert [a["status_code"] for a in delivery["attempts"]] == [400, 400, 400]


async def test_duplicate_callback_arrives_twice_and_is_recorded_once(harness: Harness) -> None:
    _, checkout = await create(harness)
    await harness.sim.post("/__sim/faults", json={"fault": "duplicate"})
    await harness.sim.post(f"/__sim/pay/{checkout.gateway_data['bill_code']}", json={"bank": "A"})
    await harness.flush()
    assert sorted(harness.receiver.outcomes) == sorted(
        [ApplyOutcome.APPLIED, ApplyOutcome.DUPLICATE]
    )
    assert len(harness.receiver.notifications) == 1
    deliveries = await harness.deliveries()
    assert len(deliveries) == 2
    assert all(d["state"] == "delivered" for d in deliveries)


async def test_unacknowledged_callback_is_retried(harness: Harness) -> None:
    _, checkout = await create(harness)
    harness.receiver.fail_next = 1
    await harness.sim.post(f"/__sim/pay/{checkout.gateway_data['bill_code']}", json={"bank": "A"})
    await harness.flush()
    [delivery] = await harness.deliveries()
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 200]
    assert delivery["state"] == "delivered"
    assert len(harness.receiver.notifications) == 1


async def test_dropped_callback_sends_nothing_but_the_query_still_knows(harness: Harness) -> None:
    adapter, checkout = await create(harness)
    await harness.sim.post("/__sim/faults", json={"fault": "drop"})
    await harness.sim.post(f"/__sim/pay/{checkout.gateway_data['bill_code']}", json={"bank": "A"})
    await harness.flush()
    assert harness.receiver.outcomes == []
    [delivery] = await harness.deliveries()
    assert delivery["state"] == "dropped"
    assert (await adapter.query(ref_of(checkout))).status is GatewayStatus.SUCCEEDED


async def test_reordered_callbacks_arrive_after_the_next_one(harness: Harness) -> None:
    _, first = await create(harness, reference="PH241021000010")
    _, second = await create(harness, reference="PH241021000011")
    await harness.sim.post("/__sim/faults", json={"fault": "reorder"})
    await harness.sim.post(f"/__sim/pay/{first.gateway_data['bill_code']}", json={"bank": "A"})
    await harness.sim.post(f"/__sim/pay/{second.gateway_data['bill_code']}", json={"bank": "A"})
    await harness.flush()
    assert [n.reference for n in harness.receiver.notifications] == [
        second.reference,
        first.reference,
    ]


# --------------------------------------------------------------------------- cancel, expiry


async def test_cancel_makes_the_bill_inactive_and_its_page_refuses(harness: Harness) -> None:
    adapter, checkout = await create(harness)
    code = checkout.gateway_data["bill_code"]
    await adapter.cancel(ref_of(checkout))
    assert harness.sandbox.bills[code].active is False
    page = await harness.sim.get(f"/{code}")
    assert "This bill is inactive." in page.text
    assert "<button" not in page.text
    refused = await harness.sim.post(f"/__sim/pay/{code}", json={"bank": "A"})
    assert refused.status_code == 409
    browser = await harness.sim.post(f"/{code}/pay", data={"bank": "A"})
    assert browser.status_code == 409
    await adapter.cancel(ref_of(checkout))  # already inactive: fine
    assert (await adapter.query(ref_of(checkout))).status is GatewayStatus.PENDING


async def test_cancel_is_refused_while_a_transaction_is_pending(harness: Harness) -> None:
    adapter, checkout = await create(harness)
    await harness.sim.post("/__sim/config", json={"bank_c_delay": 60})
    await harness.sim.post(f"/__sim/pay/{checkout.gateway_data['bill_code']}", json={"bank": "C"})
    with pytest.raises(GatewayRejected) as rejected:
        await adapter.cancel(ref_of(checkout))
    assert rejected.value.gateway_code == "pending_transaction"


async def test_expired_bill_refuses_payment(harness: Harness) -> None:
    adapter, checkout = await create(harness, expires_in=timedelta(minutes=30))
    code = checkout.gateway_data["bill_code"]
    await harness.sim.post("/__sim/clock", json={"advance_seconds": 3600})
    page = await harness.sim.get(f"/{code}")
    assert "This bill has expired." in page.text
    assert "<button" not in page.text
    refused = await harness.sim.post(f"/__sim/pay/{code}", json={"bank": "A"})
    assert refused.status_code == 409
    assert refused.json()["error"] == "This bill has expired."
    assert (await adapter.query(ref_of(checkout))).status is GatewayStatus.PENDING


# --------------------------------------------------------------------------- error bodies


async def test_unknown_key_is_a_misconfiguration(harness: Harness) -> None:
    adapter = harness.adapter_with("not-the-key", {"category_code": SEEDED_CATEGORY})
    with pytest.raises(GatewayMisconfigured) as caught:
        await adapter.create_checkout(checkout_request())
    assert caught.value.gateway_code == "KEY-DID-NOT-EXIST"
    assert "not-the-key" not in str(caught.value)
    with pytest.raises(GatewayMisconfigured):
        await harness.adapter_with("not-the-key", {}).create_checkout(checkout_request())


async def test_unknown_category_is_a_misconfiguration(harness: Harness) -> None:
    with pytest.raises(GatewayMisconfigured) as caught:
        await harness.adapter(category_code="gone0001").create_checkout(checkout_request())
    assert caught.value.gateway_code == "CATEGORY-DOES-NOT-EXIST"


async def test_validation_error_object_is_a_rejection(harness: Harness) -> None:
    # The hub's clock lags the gateway's by two hours: the expiry is already past there.
    stale_now = datetime.now(UTC) - timedelta(hours=2)
    with pytest.raises(GatewayRejected) as caught:
        await harness.adapter(category_code=SEEDED_CATEGORY).create_checkout(
            checkout_request(now=stale_now, expires_in=timedelta(hours=1))
        )
    assert caught.value.gateway_code == "error"
    assert "billExpiryDate must be in the future" in caught.value.message


async def test_unknown_bill_queries_as_pending(harness: Harness) -> None:
    adapter = harness.adapter()
    ref = PaymentRef(
        reference="PH1",
        amount=Money(100, "MYR"),
        created_at=datetime.now(UTC),
        gateway_data={"bill_code": "zzzzzzzz"},
    )
    report = await adapter.query(ref)
    assert report.status is GatewayStatus.PENDING
    assert report.gateway_code == "no_transactions"
    with pytest.raises(GatewayRejected):
        await adapter.cancel(ref)


async def test_simulator_reset_forgets_bills(harness: Harness) -> None:
    _, checkout = await create(harness)
    await harness.sim.post("/__sim/reset")
    assert checkout.gateway_data["bill_code"] not in harness.sandbox.bills
    assert SEEDED_CATEGORY in harness.sandbox.categories


def test_entry_wires_the_package() -> None:
    assert ENTRY.adapter is ToyyibPayGateway
    assert ENTRY.create_simulator is create_simulator
    assert ENTRY.sandbox_profile().default_port == 8104


# --------------------------------------------------------------------------- over loopback


@pytest.mark.e2e
async def test_over_real_loopback_http() -> None:
    """The simulator and a receiver as real uvicorn servers; the callback crosses TCP."""
    from tests.support.servers import serve_app

    received: list[Notification] = []
    profile = SandboxProfile(
        credentials={"user_secret_key": SECRET}, settings={"category_code": SEEDED_CATEGORY}
    )
    config = GatewayConfig(
        credentials={"user_secret_key": Secret(SECRET)},
        base_url="",
        environment=Environment.SIMULATOR,
        settings={"category_code": SEEDED_CATEGORY},
    )

    async def callback(request: Request) -> Response:
        raw = InboundRequest(
            method=request.method,
            path=request.url.path,
            query_string=b"",
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.body(),
        )
        received.append(verifier.verify_notification(raw))
        reply = verifier.notification_reply(ApplyOutcome.APPLIED)
        return Response(reply.body, status_code=reply.status_code, media_type=reply.media_type)

    receiver = Starlette(routes=[Route("/callbacks/toyyibpay", callback, methods=["POST"])])
    unused_client = httpx.AsyncClient()
    verifier = ToyyibPayGateway(config, unused_client)  # verification makes no HTTP calls
    sim_app = create_simulator(SimulatorOptions(public_url="http://127.0.0.1", profile=profile))
    with serve_app(receiver) as hub_origin, serve_app(sim_app) as sim_origin:
        async with httpx.AsyncClient(timeout=5) as http:
            adapter = ToyyibPayGateway(
                GatewayConfig(
                    credentials=config.credentials,
                    base_url=sim_origin,
                    environment=Environment.SIMULATOR,
                    settings=config.settings,
                ),
                http,
            )
            request = checkout_request(notify_url=f"{hub_origin}/callbacks/toyyibpay")
            checkout = await adapter.create_checkout(request)
            assert checkout.checkout_url.startswith(sim_origin)
            code = checkout.gateway_data["bill_code"]
            paid = await http.post(f"{sim_origin}/__sim/pay/{code}", json={"bank": "A"})
            assert paid.status_code == 200
            await http.post(f"{sim_origin}/__sim/flush")
            report = await adapter.query(ref_of(checkout))
    await unused_client.aclose()
    assert [n.status for n in received] == [GatewayStatus.SUCCEEDED]
    assert received[0].reference == checkout.reference
    assert report.status is GatewayStatus.SUCCEEDED
