"""The malformed-input catalogue: every gateway's real callback route, over loopback, with
each hostile body (odd encodings, deep nesting, duplicate keys, look-alike characters,
huge numbers, empty bodies, wrong content types, NUL bytes).

For each: the gateway's own rejection answer, exactly; a new inbound row with that verdict;
never a 5xx. After the catalogue, nothing changed (no event, no attempt or order moved)
and the SQL money invariants hold. Runs on SQLite and PostgreSQL (PostgreSQL refuses NUL
in text, which SQLite stores).

Duplicate keys (JSON) and duplicate query or form fields are refused, not resolved: a
signature checked over one copy and a value read from the other is the attack.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import text

from payhub.gateways.base import ApplyOutcome, Environment, GatewayConfig, Reply
from payhub.gateways.payos import signing as payos_signing
from payhub.gateways.registry import entry
from payhub.gateways.vnpay import signing as vnpay_signing
from payhub.store.invariants import check_invariants
from tests.support.hub import HubUnderTest, connect_gateway, database_url, make_hub
from tests.support.servers import serve_app

M = ApplyOutcome.MALFORMED
S = ApplyOutcome.INVALID_SIGNATURE
UNUSED_SIM = "http://127.0.0.1:9"  # no hostile case gets as far as a gateway call


@dataclass(frozen=True)
class Case:
    gateway: str
    name: str
    outcome: ApplyOutcome
    body: bytes = b""
    query: str = ""
    method: str = "POST"
    content_type: str | None = "application/json"


def _credential(gateway: str, name: str) -> str:
    return entry(gateway).sandbox_profile().credentials[name]


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def _payos_signed(data: dict[str, Any]) -> bytes:
    signature = payos_signing.sign_data(data, _credential("payos", "checksum_key"))
    return json.dumps(
        {"code": "00", "desc": "success", "data": data, "signature": signature}
    ).encode()


PAYOS_DATA = {
    "orderCode": 123,
    "amount": 3000,
    "description": "VQRIO123",
    "reference": "TF230204212323",
    "code": "00",
    "desc": "success",
    "currency": "VND",
}
VALID_LOOKING = json.dumps({"data": PAYOS_DATA, "signature": "ab" * 32})


def _payos_cases() -> list[Case]:
    g = "payos"
    lone_surrogate = json.dumps({"data": {**PAYOS_DATA, "desc": "x"}, "signature": "a"})
    return [
        Case(g, "empty body", M),
        Case(g, "GET", M, method="GET", content_type=None),
        Case(g, "JSON null", M, b"null"),
        Case(g, "JSON array", M, b"[]"),
        Case(g, "invalid UTF-8", M, b'{"data":{"desc":"\xff\xfe"},"signature":"a"}'),
        Case(g, "UTF-16 with BOM", M, codecs.BOM_UTF16_LE + VALID_LOOKING.encode("utf-16-le")),
        Case(g, "UTF-8 BOM", M, codecs.BOM_UTF8 + VALID_LOOKING.encode()),
        Case(g, "latin-1", M, '{"data":{"desc":"café"},"signature":"a"}'.encode("latin-1")),
        Case(g, "deep nesting", M, f'{{"data":{{"x":{_deep(30_000)}}},"signature":"a"}}'.encode()),
        Case(
            g, "nesting past the cap", M, f'{{"data":{{"x":{_deep(40)}}},"signature":"a"}}'.encode()
        ),
        Case(
            g,
            "duplicate key",
            M,
            ('{"data":' + json.dumps(PAYOS_DATA) + ',"data":{},"signature":"a"}').encode(),
        ),
        Case(
            g, "full-width hex signature", S, VALID_LOOKING.replace("ab" * 32, "ａｂ" * 32).encode()
        ),
        Case(g, "Arabic-Indic digits", S, VALID_LOOKING.replace("ab" * 32, "١٢" * 32).encode()),
        Case(
            g, "signature is a number", M, json.dumps({"data": PAYOS_DATA, "signature": 1}).encode()
        ),
        Case(g, "NaN", M, b'{"data":{"amount":NaN},"signature":"a"}'),
        Case(
            g,
            "5000-digit integer",
            M,
            ('{"data":{"amount":' + "9" * 5000 + '},"signature":"a"}').encode(),
        ),
        Case(
            g,
            "huge amount, bad signature",
            S,
            json.dumps({"data": {**PAYOS_DATA, "amount": 10**30}, "signature": "a"}).encode(),
        ),
        Case(g, "huge amount, signed", M, _payos_signed({**PAYOS_DATA, "amount": 2**63})),
        Case(g, "negative amount, signed", M, _payos_signed({**PAYOS_DATA, "amount": -1})),
        Case(g, "lone surrogate", M, lone_surrogate.replace('"x"', '"\\ud800"').encode()),
        Case(
            g,
            "NUL in a value",
            S,
            json.dumps({"data": {**PAYOS_DATA, "desc": "a\x00b"}, "signature": "a"}).encode(),
        ),
        Case(
            g,
            "form body",
            M,
            b"data=1&signature=2",
            content_type="application/x-www-form-urlencoded",
        ),
        Case(g, "text/plain JSON", S, VALID_LOOKING.encode(), content_type="text/plain"),
    ]


def _vnpay_params(**changes: str) -> dict[str, str]:
    params = {
        "vnp_Amount": "1000000",
        "vnp_BankCode": "NCB",
        "vnp_OrderInfo": "order",
        "vnp_PayDate": "20240101120000",
        "vnp_ResponseCode": "00",
        "vnp_TmnCode": _credential("vnpay", "tmn_code"),
        "vnp_TransactionNo": "14000000",
        "vnp_TransactionStatus": "00",
        "vnp_TxnRef": "pay_unknown",
    }
    params.update(changes)
    return params


def _vnpay_signed(**changes: str) -> str:
    params = _vnpay_params(**changes)
    secure = vnpay_signing.sign_query(_credential("vnpay", "hash_secret"), params)
    return urlencode({**params, "vnp_SecureHash": secure})


def _vnpay_cases() -> list[Case]:
    g = "vnpay"
    unsigned = urlencode({**_vnpay_params(), "vnp_SecureHash": "ab" * 64})
    get = {"method": "GET", "content_type": None}
    return [
        Case(g, "no query", M, **get),  # type: ignore[arg-type]
        Case(g, "duplicate key", M, query=unsigned + "&vnp_Amount=1", **get),  # type: ignore[arg-type]
        Case(g, "invalid UTF-8 escape", M, query=unsigned + "&vnp_OrderInfo2=%FF%FE", **get),  # type: ignore[arg-type]
        Case(g, "no hash", S, query=urlencode(_vnpay_params()), **get),  # type: ignore[arg-type]
        Case(g, "full-width hash", S, query=unsigned.replace("ab" * 64, "ａｂ" * 64), **get),  # type: ignore[arg-type]
        Case(g, "NUL in a value", S, query=unsigned + "&vnp_X=%00", **get),  # type: ignore[arg-type]
        Case(g, "Arabic-Indic amount, signed", M, query=_vnpay_signed(vnp_Amount="١٠٠٠٠٠٠"), **get),  # type: ignore[arg-type]
        Case(g, "huge amount, signed", M, query=_vnpay_signed(vnp_Amount="9" * 40), **get),  # type: ignore[arg-type]
        Case(g, "fractional amount, signed", M, query=_vnpay_signed(vnp_Amount="1000001"), **get),  # type: ignore[arg-type]
        Case(
            g,
            "POST with a form body",
            M,
            b"vnp_Amount=1",
            content_type="application/x-www-form-urlencoded",
        ),
    ]


MOMO_FIELDS = {
    "partnerCode": "MOMO",
    "orderId": "pay_unknown",
    "requestId": "pay_unknown",
    "amount": 50000,
    "orderInfo": "order",
    "orderType": "momo_wallet",
    "transId": 4088878653,
    "resultCode": 0,
    "message": "Successful.",
    "payType": "qr",
    "responseTime": 1721720663942,
    "extraData": "",
    "signature": "ab" * 32,
}


def _momo_cases() -> list[Case]:
    g = "momo"
    valid_looking = json.dumps(MOMO_FIELDS)
    return [
        Case(g, "empty body", M),
        Case(g, "GET", M, method="GET", content_type=None),
        Case(g, "invalid UTF-8", M, b'{"orderId":"\xff"}'),
        Case(g, "UTF-16 with BOM", M, codecs.BOM_UTF16_LE + valid_looking.encode("utf-16-le")),
        Case(g, "UTF-8 BOM", M, codecs.BOM_UTF8 + valid_looking.encode()),
        Case(g, "latin-1", M, valid_looking.replace("order", "café").encode("latin-1")),
        Case(g, "deep nesting", M, f'{{"extraData":{_deep(30_000)}}}'.encode()),
        Case(g, "duplicate key", M, (valid_looking[:-1] + ',"amount":1}').encode()),
        Case(g, "missing fields", M, b'{"orderId":"x"}'),
        Case(g, "full-width signature", S, valid_looking.replace("ab" * 32, "ａｂ" * 32).encode()),
        Case(
            g, "huge amount, bad signature", S, valid_looking.replace("50000", "9" * 400).encode()
        ),
        Case(g, "Infinity", M, valid_looking.replace("50000", "Infinity").encode()),
        Case(g, "lone surrogate", M, valid_looking.replace('"order"', '"\\udc00"').encode()),
        Case(g, "form body", M, b"orderId=1", content_type="application/x-www-form-urlencoded"),
    ]


def _toyyibpay_cases() -> list[Case]:
    g = "toyyibpay"
    form = "application/x-www-form-urlencoded"
    base = "refno=T1&status=1&reason=&billcode=b1&order_id=pay_unknown&amount=100"
    return [
        Case(g, "empty body", M, content_type=form),
        Case(g, "GET", M, method="GET", content_type=None),
        Case(g, "duplicate field", M, f"{base}&status=3&hash=ab".encode(), content_type=form),
        Case(g, "invalid UTF-8 escape", M, f"{base}&hash=%FF%FE".encode(), content_type=form),
        Case(
            g, "raw latin-1", M, f"{base}&reason=caf".encode() + b"\xe9&hash=ab", content_type=form
        ),
        Case(g, "no hash", S, base.encode(), content_type=form),
        Case(g, "full-width hash", S, f"{base}&hash={'ａｂ' * 16}".encode(), content_type=form),
        Case(
            g,
            "huge amount, bad hash",
            S,
            f"{base}&amount={'9' * 1500}&hash=ab".encode().replace(b"&amount=100", b""),
            content_type=form,
        ),
        Case(
            g,
            "field too long",
            M,
            f"{base}&reason2={'9' * 5000}&hash=ab".encode(),
            content_type=form,
        ),
        Case(g, "NUL in a value", S, f"{base}&note=%00&hash=ab".encode(), content_type=form),
        Case(g, "JSON body", M, b'{"status":"1"}', content_type="application/json"),
        Case(
            g, "multipart without boundary", M, b"--x\r\n\r\n", content_type="multipart/form-data"
        ),
        Case(
            g,
            "multipart garbage",
            M,
            b"--x\r\nnonsense\r\n--x--\r\n",
            content_type="multipart/form-data; boundary=x",
        ),
        Case(
            g,
            "UTF-16 with BOM",
            M,
            codecs.BOM_UTF16_LE + f"{base}&hash=ab".encode("utf-16-le"),
            content_type=form,
        ),
    ]


CASES = _payos_cases() + _vnpay_cases() + _momo_cases() + _toyyibpay_cases()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[HubUnderTest, httpx.Client]]:
    tmp: Path = tmp_path_factory.mktemp(request.param)
    th = make_hub(database_url(request.param, tmp))
    for gateway in ("payos", "vnpay", "momo", "toyyibpay"):
        connect_gateway(th, gateway, UNUSED_SIM)
    with serve_app(th.app) as origin, httpx.Client(base_url=origin, timeout=30) as client:
        yield th, client
    th.hub.db.dispose()


def _reply(gateway: str, outcome: ApplyOutcome) -> Reply:
    config = GatewayConfig(credentials={}, base_url="", environment=Environment.SIMULATOR)
    adapter = entry(gateway).adapter(config, httpx.AsyncClient())
    return adapter.notification_reply(outcome)


def _last_inbound(th: HubUnderTest) -> tuple[int, str, str, str | None]:
    with th.hub.db.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT id, gateway, outcome, gateway_account_id FROM inbound_requests "
                "ORDER BY id DESC LIMIT 1"
            )
        ).one()
    return int(row[0]), str(row[1]), str(row[2]), row[3]


def _state(th: HubUnderTest) -> dict[str, Any]:
    with th.hub.db.engine.connect() as conn:
        return {
            table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in (
                "payment_events",
                "payments",
                "credit_entries",
                "stock_movements",
                "outbox",
            )
        } | {
            "orders": sorted(conn.execute(text("SELECT id, status FROM orders")).all()),
        }


def _send(client: httpx.Client, th: HubUnderTest, case: Case) -> httpx.Response:
    path = f"/callbacks/{case.gateway}/{th.accounts[case.gateway]}"
    url = f"{path}?{case.query}" if case.query else path
    headers = {"content-type": case.content_type} if case.content_type else {}
    return client.request(case.method, url, content=case.body or None, headers=headers)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.gateway}-{c.name}" for c in CASES])
def test_hostile_callback_gets_the_gateways_rejection_and_a_row(
    served: tuple[HubUnderTest, httpx.Client], case: Case
) -> None:
    th, client = served
    before_state = _state(th)
    before_row = _last_inbound_id(th)
    answer = _send(client, th, case)
    expected = _reply(case.gateway, case.outcome)
    assert answer.status_code < 500
    assert (answer.status_code, answer.content) == (expected.status_code, expected.body)
    row_id, gateway, outcome, account = _last_inbound(th)
    assert row_id > before_row, "no inbound row"
    assert (gateway, outcome, account) == (
        case.gateway,
        case.outcome.value,
        th.accounts[case.gateway],
    )
    assert _state(th) == before_state
    assert check_invariants(th.hub.db.engine) == {}


def _last_inbound_id(th: HubUnderTest) -> int:
    with th.hub.db.engine.connect() as conn:
        return int(
            conn.execute(text("SELECT coalesce(max(id), 0) FROM inbound_requests")).scalar_one()
        )


@pytest.mark.parametrize(
    "path",
    [
        "/callbacks/payos/acc%00x",
        "/callbacks/pay%00os/acc_x",
        "/callbacks/" + "g" * 300 + "/acc_x",
        "/callbacks/payos/" + "a" * 3000,
        "/callbacks/payos/ａｃｃ",
    ],
)
def test_hostile_callback_paths_are_unknown_accounts(
    served: tuple[HubUnderTest, httpx.Client], path: str
) -> None:
    th, client = served
    before_row = _last_inbound_id(th)
    answer = client.post(path, content=b"{}")
    assert answer.status_code == 404
    row_id, _, outcome, account = _last_inbound(th)
    assert row_id > before_row and outcome == "unknown_account" and account is None
