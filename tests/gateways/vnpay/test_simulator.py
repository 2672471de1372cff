"""The VNPay simulator's own validations, error redirects and API answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from payhub.gateways import simkit
from payhub.gateways.base import SandboxProfile
from payhub.gateways.vnpay import signing, wire
from payhub.gateways.vnpay.simulator import (
    DEFAULT_HASH_SECRET,
    DEFAULT_TMN_CODE,
    create_simulator,
    sandbox_profile,
)

from .harness import HASH_SECRET, SIM_ORIGIN, TMN_CODE, sim_client, simulator

pytestmark = pytest.mark.anyio


def pay_params(
    txn_ref: str = "ORDER0001", now: datetime | None = None, **over: str
) -> dict[str, str]:
    now = now or datetime.now(UTC)
    params = {
        "vnp_Version": "2.1.0",
        "vnp_Command": "pay",
        "vnp_TmnCode": TMN_CODE,
        "vnp_Amount": "15000000",
        "vnp_CreateDate": wire.format_vnp_time(now),
        "vnp_CurrCode": "VND",
        "vnp_IpAddr": "127.0.0.1",
        "vnp_Locale": "vn",
        "vnp_OrderInfo": "Thanh toan don hang 1",
        "vnp_OrderType": "other",
        "vnp_ReturnUrl": "https://shop.example/return",
        "vnp_ExpireDate": wire.format_vnp_time(now + timedelta(minutes=15)),
        "vnp_TxnRef": txn_ref,
    }
    params.update(over)
    return {k: v for k, v in params.items() if v is not None}


def pay_query(params: dict[str, str], secret: str = HASH_SECRET) -> str:
    ordered = sorted((k, v) for k, v in params.items() if v != "")
    return urlencode([*ordered, ("vnp_SecureHash", signing.sign_query(secret, ordered))])


async def open_pay(client: httpx.AsyncClient, query: str) -> str:
    response = await client.get(f"{wire.PAY_PATH}?{query}")
    assert response.status_code == 302
    return response.headers["location"]


async def test_valid_pay_url_leads_to_checkout_page_with_outcome_buttons() -> None:
    async with sim_client(simulator()) as client:
        location = await open_pay(client, pay_query(pay_params()))
        assert location.startswith(f"{wire.CHECKOUT_PATH}?token=")
        page = await client.get(location)
        assert page.status_code == 200
        assert "payhub local sandbox" in page.text
        assert "150,000 ₫" in page.text
        for label in (
            "Pay (success)",
            "Cancel payment",
            "Insufficient funds",
            "Timeout",
            "Suspected fraud",
        ):
            assert f">{label}</button>" in page.text


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        pytest.param(lambda p: (p, "wrong-secret"), "70", id="wrong secret"),
        pytest.param(
            lambda p: ({**p, "vnp_TmnCode": "NOPE0000"}, HASH_SECRET), "72", id="terminal"
        ),
        pytest.param(lambda p: ({**p, "vnp_OrderInfo": ""}, HASH_SECRET), "03", id="no OrderInfo"),
        pytest.param(lambda p: ({**p, "vnp_Version": "2.0.1"}, HASH_SECRET), "03", id="version"),
        pytest.param(lambda p: ({**p, "vnp_Amount": "12x"}, HASH_SECRET), "03", id="amount"),
        pytest.param(lambda p: ({**p, "vnp_CurrCode": "USD"}, HASH_SECRET), "03", id="currency"),
        pytest.param(lambda p: ({**p, "vnp_CreateDate": "2024"}, HASH_SECRET), "03", id="date"),
        pytest.param(
            lambda p: ({**p, "vnp_ExpireDate": "20200101000000"}, HASH_SECRET), "15", id="expired"
        ),
    ],
)
async def test_pay_url_errors(mutate: object, code: str) -> None:
    params, secret = mutate(pay_params())  # type: ignore[operator]
    async with sim_client(simulator()) as client:
        location = await open_pay(client, pay_query(params, secret))
        assert location == f"{wire.ERROR_PATH}?code={code}"
        page = await client.get(location)
        assert code in page.text


async def test_hash_over_unencoded_values_is_refused_with_70() -> None:
    params = pay_params()
    raw = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    bad = signing.hmac_sha512(HASH_SECRET, raw)
    async with sim_client(simulator()) as client:
        location = await open_pay(
            client, urlencode(sorted(params.items())) + f"&vnp_SecureHash={bad}"
        )
        assert location.endswith("code=70")


async def test_uppercase_hash_and_missing_expire_date_are_accepted() -> None:
    params = pay_params(vnp_ExpireDate="")
    ordered = sorted((k, v) for k, v in params.items() if v)
    query = urlencode(
        [*ordered, ("vnp_SecureHash", signing.sign_query(HASH_SECRET, ordered).upper())]
    )
    async with sim_client(simulator()) as client:
        assert (await open_pay(client, query)).startswith(wire.CHECKOUT_PATH)


async def test_txn_ref_is_unique_per_day() -> None:
    now = datetime.now(UTC)
    async with sim_client(simulator()) as client:
        first = pay_query(pay_params("DUP1", now))
        token_page = await open_pay(client, first)
        # The very same URL opened again is the same checkout, not a new transaction.
        assert await open_pay(client, first) == token_page
        again = pay_query(pay_params("DUP1", now + timedelta(seconds=5)))
        assert await open_pay(client, again) == f"{wire.ERROR_PATH}?code=01"
        other = pay_query(pay_params("DUP2", now))
        assert (await open_pay(client, other)).startswith(wire.CHECKOUT_PATH)


async def test_checkout_form_outcome_redirects_to_return_url_with_signed_query() -> None:
    async with sim_client(simulator(extra={"ipn_url": ""})) as client:
        location = await open_pay(client, pay_query(pay_params("FORM1")))
        token = dict(parse_qsl(urlsplit(location).query))["token"]
        response = await client.post(wire.CHECKOUT_PATH, data={"token": token, "outcome": "cancel"})
        assert response.status_code == 302
        target = response.headers["location"]
        assert target.startswith("https://shop.example/return?")
        params = dict(parse_qsl(urlsplit(target).query))
        assert signing.verify_query(HASH_SECRET, params, params["vnp_SecureHash"])
        assert params["vnp_ResponseCode"] == "24"
        assert params["vnp_TransactionStatus"] == "02"
        assert params["vnp_BankCode"] == "VNPAY"
        assert params["vnp_CardType"] == "QRCODE"
        assert params["vnp_TransactionNo"] == "0"
        assert "vnp_BankTranNo" not in params
        assert "vnp_SecureHashType" not in params
        # No registered IPN URL: nothing is sent.
        assert (await client.get("/__sim/deliveries")).json() == []
        # A finished payment cannot be paid again.
        again = await client.post(wire.CHECKOUT_PATH, data={"token": token, "outcome": "success"})
        assert again.status_code == 409


async def test_sim_pay_control_api_errors() -> None:
    async with sim_client(simulator(extra={"ipn_url": ""})) as client:
        assert (
            await client.post("/__sim/pay/NOPE", json={"outcome": "success"})
        ).status_code == 404
        await open_pay(client, pay_query(pay_params("CTL1")))
        bad = await client.post("/__sim/pay/CTL1", json={"outcome": "maybe"})
        assert bad.status_code == 400
        ok = await client.post("/__sim/pay/CTL1", json={"outcome": "insufficient"})
        assert ok.json()["params"]["vnp_ResponseCode"] == "51"
        assert ok.json()["params"]["vnp_TransactionNo"] != "0"
        assert (await client.post("/__sim/pay/CTL1", json={})).status_code == 409
        unknown_fault = await client.post("/__sim/faults", json={"fault": "explode"})
        assert unknown_fault.status_code == 400
        await client.post("/__sim/reset")
        assert (await client.get("/__sim/transactions")).json() == []


def querydr_body(
    txn_ref: str, transaction_date: str, secret: str = HASH_SECRET, **over: str
) -> dict[str, str]:
    body = {
        "vnp_RequestId": "REQ1",
        "vnp_Version": "2.1.0",
        "vnp_Command": "querydr",
        "vnp_TmnCode": TMN_CODE,
        "vnp_TxnRef": txn_ref,
        "vnp_OrderInfo": "Truy van",
        "vnp_TransactionDate": transaction_date,
        "vnp_CreateDate": wire.format_vnp_time(datetime.now(UTC)),
        "vnp_IpAddr": "127.0.0.1",
        **over,
    }
    body["vnp_SecureHash"] = signing.sign_fields(secret, body, signing.QUERYDR_REQUEST_FIELDS)
    return body


async def test_querydr_answers() -> None:
    now = datetime.now(UTC)
    params = pay_params("Q1", now)
    async with sim_client(simulator(extra={"ipn_url": ""})) as client:
        await open_pay(client, pay_query(params))
        api = wire.API_PATH
        date = params["vnp_CreateDate"]
        assert (await client.post(api, json=querydr_body("Q1", date, "bad"))).json()[
            "vnp_ResponseCode"
        ] == "97"
        body = querydr_body("Q1", date, vnp_TmnCode="NOPE0000")
        assert (await client.post(api, json=body)).json()["vnp_ResponseCode"] == "02"
        # Not paid yet: VNPay has no transaction to report.
        assert (await client.post(api, json=querydr_body("Q1", date))).json()[
            "vnp_ResponseCode"
        ] == "91"
        await client.post("/__sim/pay/Q1", json={"outcome": "success"})
        answer = (await client.post(api, json=querydr_body("Q1", date))).json()
        assert answer["vnp_ResponseCode"] == "00"
        assert answer["vnp_Amount"] == "15000000"
        assert answer["vnp_TransactionType"] == "01"
        assert answer["vnp_TransactionStatus"] == "00"
        assert signing.verify_fields(
            HASH_SECRET, answer, signing.QUERYDR_RESPONSE_FIELDS, answer["vnp_SecureHash"]
        )
        # Another day's CreateDate is another transaction.
        assert (await client.post(api, json=querydr_body("Q1", "20200101000000"))).json()[
            "vnp_ResponseCode"
        ] == "91"
        await client.post("/__sim/faults", json={"fault": "querydr_busy"})
        assert (await client.post(api, json=querydr_body("Q1", date))).json()[
            "vnp_ResponseCode"
        ] == "94"
        assert (await client.post(api, content=b"not json")).json()["vnp_ResponseCode"] == "03"


async def test_sandbox_profile_reads_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert sandbox_profile().credentials == {
        "tmn_code": DEFAULT_TMN_CODE,
        "hash_secret": DEFAULT_HASH_SECRET,
    }
    assert sandbox_profile().default_port == 8102
    monkeypatch.setenv("PAYHUB_SANDBOX_VNPAY_TMN_CODE", "ENVTMN01")
    monkeypatch.setenv("PAYHUB_SANDBOX_VNPAY_HASH_SECRET", "ENVSECRET")
    monkeypatch.setenv("PAYHUB_SANDBOX_VNPAY_IPN_URL", "http://hub.env/ipn")
    monkeypatch.setenv("PAYHUB_SANDBOX_VNPAY_IPN_INTERVAL", "0.5")
    prof = sandbox_profile()
    assert prof.credentials == {"tmn_code": "ENVTMN01", "hash_secret": "ENVSECRET"}
    app = create_simulator(simkit.SimulatorOptions(public_url=SIM_ORIGIN, profile=prof))
    sandbox = app.state.sandbox
    assert sandbox.notifier.policy.max_attempts == 10
    assert sandbox.notifier.policy.interval_seconds == 0.5
    async with sim_client(app) as client:
        terminals = (await client.get("/__sim/terminals")).json()
        assert terminals == [{"tmn_code": "ENVTMN01", "ipn_url": "http://hub.env/ipn"}]


async def test_default_ipn_interval_is_five_minutes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAYHUB_SANDBOX_VNPAY_IPN_INTERVAL", raising=False)
    app = create_simulator(
        simkit.SimulatorOptions(public_url=SIM_ORIGIN, profile=SandboxProfile(credentials={}))
    )
    assert app.state.sandbox.notifier.policy.interval_seconds == 300.0


async def test_terminals_can_be_registered_for_tests() -> None:
    async with sim_client(simulator(extra={"ipn_url": ""})) as client:
        created = await client.post(
            "/__sim/terminals",
            json={"tmn_code": "SECOND01", "hash_secret": "s2", "ipn_url": "http://x/ipn"},
        )
        assert created.json() == {"tmn_code": "SECOND01", "ipn_url": "http://x/ipn"}
        params = pay_params("T2", vnp_TmnCode="SECOND01")
        assert (await open_pay(client, pay_query(params, "s2"))).startswith(wire.CHECKOUT_PATH)
        assert (
            await open_pay(client, pay_query(pay_params("T3", vnp_TmnCode="SECOND01")))
        ).endswith("code=70")
        missing = await client.post("/__sim/terminals", json={"tmn_code": "THIRD001"})
        assert missing.status_code == 400
