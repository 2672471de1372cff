"""The ToyyibPay sandbox on its own: API validations, error answers, callbacks on the wire,
control API and configuration."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from starlette.applications import Starlette

from payhub.gateways.base import SandboxProfile
from payhub.gateways.simkit import RetryPolicy, SimulatorOptions
from payhub.gateways.toyyibpay import wire
from payhub.gateways.toyyibpay.signing import callback_hash
from payhub.gateways.toyyibpay.simulator import (
    DEFAULT_CATEGORY_CODE,
    DEFAULT_USER_SECRET_KEY,
    create_simulator,
    sandbox_profile,
)

pytestmark = pytest.mark.anyio

KEY = "simkey01-aaaa-4bbb-cccc-tests0000000"
CATEGORY = "cat00001"
API = "/index.php/api/"


class Sim:
    def __init__(self, app: Starlette, client: httpx.AsyncClient, inbox: list[httpx.Request]):
        self.app = app
        self.client = client
        self.inbox = inbox

    async def api(self, name: str, **form: str) -> httpx.Response:
        return await self.client.post(f"{API}{name}", data=form)

    async def create_bill(self, **overrides: str) -> httpx.Response:
        expiry = wire.format_malaysia_time(datetime.now(UTC) + timedelta(hours=1))
        form = {
            "userSecretKey": KEY,
            "categoryCode": CATEGORY,
            "billName": "Order 1001",
            "billDescription": "Payment for order 1001",
            "billPriceSetting": "1",
            "billPayorInfo": "1",
            "billAmount": "1050",
            "billReturnUrl": "https://shop.example/return?x=1",
            "billCallbackUrl": "https://shop.example/callback",
            "billExternalReferenceNo": "ORD-1001",
            "billTo": "Siti",
            "billEmail": "siti@example.my",
            "billPhone": "0123456789",
            "billPaymentChannel": "0",
            "billExpiryDate": expiry,
        }
        form.update(overrides)
        return await self.api("createBill", **{k: v for k, v in form.items() if v != "-"})

    async def bill_code(self, **overrides: str) -> str:
        response = await self.create_bill(**overrides)
        return str(response.json()[0]["BillCode"])


def make_sim(inbox: list[httpx.Request], **extra: str) -> Starlette:
    def receive(request: httpx.Request) -> httpx.Response:
        inbox.append(request)
        return httpx.Response(200, text="OK")

    return create_simulator(
        SimulatorOptions(
            public_url="http://sim.test",
            profile=SandboxProfile(
                credentials={"user_secret_key": KEY}, settings={"category_code": CATEGORY}
            ),
            retry=RetryPolicy(max_attempts=1, interval_seconds=0.01),
            transport=httpx.MockTransport(receive),
            extra=extra,
        )
    )


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    inbox: list[httpx.Request] = []
    app = make_sim(inbox)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sim.test"
    ) as client:
        yield Sim(app, client, inbox)
        app.state.sandbox.cancel_timers()


# --------------------------------------------------------------------------- categories


async def test_create_category_and_details(sim: Sim) -> None:
    created = await sim.api(
        "createCategory", catname="shop", catdescription="shop bills", userSecretKey=KEY
    )
    [row] = created.json()
    code = row["CategoryCode"]
    assert len(code) == 8 and code.isalnum() and code.islower()
    details = await sim.api("getCategoryDetails", userSecretKey=KEY, categoryCode=code)
    assert details.json()[0]["categoryName"] == "shop"


async def test_category_error_answers(sim: Sim) -> None:
    bad_key = await sim.api("createCategory", catname="a", catdescription="b", userSecretKey="x")
    assert (bad_key.status_code, bad_key.text) == (200, "[KEY-DID-NOT-EXIST]")
    missing = await sim.api("createCategory", catname="", catdescription="b", userSecretKey=KEY)
    assert missing.json()["status"] == "error"
    unknown = await sim.api("getCategoryDetails", userSecretKey=KEY, categoryCode="nope")
    assert unknown.text == "[CATEGORY-DOES-NOT-EXIST]"


# --------------------------------------------------------------------------- createBill


async def test_create_bill_answers_a_bill_code(sim: Sim) -> None:
    response = await sim.create_bill()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    [row] = response.json()
    assert len(row["BillCode"]) == 8


@pytest.mark.parametrize(
    ("overrides", "answer"),
    [
        ({"userSecretKey": "wrong"}, "[KEY-DID-NOT-EXIST]"),
        ({"categoryCode": "zzzzzzzz"}, "[CATEGORY-DOES-NOT-EXIST]"),
    ],
)
async def test_create_bill_bracketed_errors(
    sim: Sim, overrides: dict[str, str], answer: str
) -> None:
    response = await sim.create_bill(**overrides)
    assert (response.status_code, response.text) == (200, answer)


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"billName": "x" * 31}, "Bill name"),
        ({"billName": "Order #1"}, "Bill name"),
        ({"billName": "-"}, "Bill name is required"),
        ({"billDescription": "d" * 101}, "Bill description"),
        ({"billDescription": "café"}, "Bill description"),
        ({"billAmount": "10.50"}, "billAmount"),
        ({"billAmount": "0"}, "billAmount"),
        ({"billAmount": "abc"}, "billAmount"),
        ({"billPriceSetting": "0", "billAmount": "0"}, "fixed-amount"),
        ({"billPayorInfo": "1", "billPhone": ""}, "billPhone"),
        ({"billPaymentChannel": "5"}, "billPaymentChannel"),
        ({"billExpiryDate": "2030-01-01 00:00:00"}, "dd-mm-YYYY"),
        ({"billExpiryDate": "01-01-2020 00:00:00"}, "future"),
        ({"billExpiryDate": "", "billExpiryDays": "0"}, "billExpiryDays"),
        ({"billExpiryDate": "", "billExpiryDays": "101"}, "billExpiryDays"),
    ],
)
async def test_create_bill_validation_errors(
    sim: Sim, overrides: dict[str, str], fragment: str
) -> None:
    response = await sim.create_bill(**overrides)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "error"
    assert fragment in body["msg"]


async def test_float_amount_text_is_a_flag(sim: Sim) -> None:
    # The PyPI SDK sends "10000.0": accepted by default, refused in strict mode.
    code = await sim.bill_code(billAmount="10000.0")
    assert sim.app.state.sandbox.bills[code].amount.minor == 10000
    await sim.client.post("/__sim/config", json={"strict_amount": True})
    refused = await sim.create_bill(billAmount="10000.0")
    assert refused.json()["status"] == "error"


async def test_expiry_days_and_open_payer_info(sim: Sim) -> None:
    code = await sim.bill_code(
        billExpiryDate="", billExpiryDays="3", billPayorInfo="0", billTo="", billEmail=""
    )
    bill = sim.app.state.sandbox.bills[code]
    assert bill.expires_at - bill.created_at == timedelta(days=3)


# --------------------------------------------------------------------------- payments + callbacks


async def test_callback_on_the_wire(sim: Sim) -> None:
    code = await sim.bill_code()
    paid = (await sim.client.post(f"/__sim/pay/{code}", json={"bank": "A"})).json()
    await sim.client.post("/__sim/flush")
    [request] = sim.inbox
    assert request.method == "POST"
    assert str(request.url) == "https://shop.example/callback"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    fields = parse_qsl(request.content.decode(), keep_blank_values=True)
    assert [k for k, _ in fields] == [
        "refno",
        "status",
        "reason",
        "billcode",
        "order_id",
        "amount",
        "transaction_time",
        "hash",
    ]
    form = dict(fields)
    refno = paid["transaction"]["billpaymentInvoiceNo"]
    assert form["refno"] == refno and refno.startswith("TP") and len(refno) == 18
    assert form["status"] == "1"
    assert form["billcode"] == code
    assert form["order_id"] == "ORD-1001"
    assert form["amount"] == "10.50"
    assert datetime.strptime(form["transaction_time"], "%Y-%m-%d %H:%M:%S")
    assert form["hash"] == callback_hash(KEY, "1", "ORD-1001", refno)


async def test_transactions_rows_look_like_toyyibpay(sim: Sim) -> None:
    code = await sim.bill_code()
    await sim.client.post(f"/__sim/pay/{code}", json={"bank": "B"})
    await sim.client.post(f"/__sim/pay/{code}", json={"bank": "A"})
    rows = (await sim.api("getBillTransactions", billCode=code)).json()
    assert [r["billpaymentStatus"] for r in rows] == ["3", "1"]
    assert all(isinstance(v, str) or v is None for r in rows for v in r.values())
    assert rows[1]["billpaymentAmount"] == "10.50"
    assert wire.parse_malaysia_time(rows[1]["billPaymentDate"])
    only_paid = (await sim.api("getBillTransactions", billCode=code, billpaymentStatus="1")).json()
    assert len(only_paid) == 1
    assert (await sim.api("getBillTransactions", billCode="nosuchbl")).json() == []


async def test_callback_amount_unit_can_be_sen_from_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYHUB_SANDBOX_TOYYIBPAY_CALLBACK_AMOUNT_UNIT", "sen")
    inbox: list[httpx.Request] = []
    app = make_sim(inbox)
    assert app.state.sandbox.config.callback_amount_unit == "sen"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sim.test"
    ) as client:
        sim = Sim(app, client, inbox)
        code = await sim.bill_code()
        await client.post(f"/__sim/pay/{code}", json={"bank": "A"})
        await client.post("/__sim/flush")
    assert dict(parse_qsl(inbox[0].content.decode()))["amount"] == "1050"


async def test_bank_c_delay_from_options_and_manual_settle(sim: Sim) -> None:
    assert sim.app.state.sandbox.config.bank_c_delay == 30.0  # the default
    code = await sim.bill_code()
    await sim.client.post(f"/__sim/pay/{code}", json={"bank": "C"})
    settled = (await sim.client.post(f"/__sim/settle/{code}", json={})).json()
    assert settled["settled"] == 1
    assert [t["billpaymentStatus"] for t in settled["bill"]["transactions"]] == ["1"]
    await sim.client.post("/__sim/flush")
    assert [dict(parse_qsl(r.content.decode()))["status"] for r in sim.inbox] == ["2", "1"]
    assert make_sim([], bank_c_delay="0.5").state.sandbox.config.bank_c_delay == 0.5


async def test_bill_without_callback_url_sends_nothing(sim: Sim) -> None:
    code = await sim.bill_code(billCallbackUrl="")
    await sim.client.post(f"/__sim/pay/{code}", json={"bank": "A"})
    await sim.client.post("/__sim/flush")
    assert sim.inbox == []


async def test_return_redirect_keeps_the_merchant_query(sim: Sim) -> None:
    code = await sim.bill_code()
    response = await sim.client.post(f"/{code}/pay", data={"bank": "B"})
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith("https://shop.example/return?x=1&status_id=3&billcode=")


# --------------------------------------------------------------------------- inactiveBill


async def test_inactive_bill_answers(sim: Sim) -> None:
    code = await sim.bill_code()
    bad_key = await sim.api("inactiveBill", secretKey="wrong", billCode=code)
    assert bad_key.text == "[KEY-DID-NOT-EXIST]"
    done = await sim.api("inactiveBill", secretKey=KEY, billCode=code)
    assert done.json() == {"status": "success", "result": "Bill status changed to inactive"}
    again = await sim.api("inactiveBill", secretKey=KEY, billCode=code)
    assert again.json() == {"status": "failed", "result": "Bill is inactive"}
    missing = await sim.api("inactiveBill", secretKey=KEY, billCode="nosuchbl")
    assert missing.json()["status"] == "failed"


# --------------------------------------------------------------------------- misc API, pages


async def test_duitnow_status_and_bank_list(sim: Sim) -> None:
    good = await sim.api("checkDuitNowQRStatus", userSecretKey=KEY)
    assert good.json() == {"status": "success", "duitnowqr_activated": False}
    bad = await sim.api("checkDuitNowQRStatus", userSecretKey="x")
    assert bad.json() == {"status": "error", "message": "Invalid userSecretKey"}
    banks = (await sim.client.get(f"{API}getBankFPX")).json()
    assert [b["NAME"] for b in banks] == ["SBI Bank A", "SBI Bank B", "SBI Bank C"]


async def test_pages(sim: Sim) -> None:
    missing = await sim.client.get("/nosuchbl")
    assert missing.status_code == 404
    code = await sim.bill_code()
    page = await sim.client.get(f"/{code}")
    assert "RM 10.50" in page.text
    assert page.text.count("<button") == 3
    assert "payhub local sandbox" in page.text
    unknown_bank = await sim.client.post(f"/{code}/pay", data={"bank": "Z"})
    assert unknown_bank.status_code == 400


# --------------------------------------------------------------------------- control API


async def test_control_api_validation(sim: Sim) -> None:
    bad_fault = await sim.client.post("/__sim/faults", json={"fault": "explode"})
    assert bad_fault.status_code == 400
    queued = await sim.client.post("/__sim/faults", json={"fault": "drop", "count": 2})
    assert queued.json() == {"pending_faults": ["drop", "drop"]}
    assert (await sim.client.get("/__sim/faults")).json() == {"pending_faults": ["drop", "drop"]}
    bad_unit = await sim.client.post("/__sim/config", json={"callback_amount_unit": "usd"})
    assert bad_unit.status_code == 400
    missing = await sim.client.post("/__sim/pay/nosuchbl", json={"bank": "A"})
    assert missing.status_code == 404
    code = await sim.bill_code()
    bad_bank = await sim.client.post(f"/__sim/pay/{code}", json={"bank": "Q"})
    assert bad_bank.status_code == 400
    await sim.client.post("/__sim/reset")
    assert (await sim.client.get("/__sim/faults")).json() == {"pending_faults": []}
    assert (await sim.client.get(f"/__sim/bills/{code}")).status_code == 404


async def test_clock_advance(sim: Sim) -> None:
    before: dict[str, Any] = (await sim.client.get("/__sim/clock")).json()
    after = (await sim.client.post("/__sim/clock", json={"advance_seconds": 86400})).json()
    delta = datetime.fromisoformat(after["now"]) - datetime.fromisoformat(before["now"])
    assert timedelta(days=1) <= delta < timedelta(days=1, minutes=1)


# --------------------------------------------------------------------------- profile


def test_sandbox_profile_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAYHUB_SANDBOX_TOYYIBPAY_USER_SECRET_KEY", raising=False)
    monkeypatch.delenv("PAYHUB_SANDBOX_TOYYIBPAY_CATEGORY_CODE", raising=False)
    profile = sandbox_profile()
    assert profile.credentials == {"user_secret_key": DEFAULT_USER_SECRET_KEY}
    assert profile.settings == {"category_code": DEFAULT_CATEGORY_CODE}
    assert profile.default_port == 8104


def test_sandbox_profile_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYHUB_SANDBOX_TOYYIBPAY_USER_SECRET_KEY", "my-key")
    monkeypatch.setenv("PAYHUB_SANDBOX_TOYYIBPAY_CATEGORY_CODE", "mycat001")
    profile = sandbox_profile()
    assert profile.credentials["user_secret_key"] == "my-key"
    assert profile.settings["category_code"] == "mycat001"
