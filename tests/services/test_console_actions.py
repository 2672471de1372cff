"""Every console action, driven over the console's HTTP routes (in-process ASGI) on SQLite
and PostgreSQL: each calls the same service as the API, with the console user as the
actor, and the effects are read back in SQL. Roles and CSRF are enforced on the POST."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
import pytest

from payhub.asgi import create_app
from payhub.services.console_users import create_user
from payhub.services.orders import CustomerDraft, ItemDraft, OrderDraft, create_order
from payhub.services.webhooks import create_endpoint, fan_out
from payhub.store.models import (
    AuditEntry,
    CreditEntry,
    Delivery,
    Order,
    OutboxEvent,
    Refund,
)
from tests.services.conftest import Env

pytestmark = pytest.mark.anyio
PASSWORD = "console password 1"


class Operator:
    """A logged-in browser, as far as the console can tell."""

    def __init__(self, client: httpx.AsyncClient, user_id: str) -> None:
        self.client = client
        self.user_id = user_id

    async def csrf(self, path: str = "/console/") -> str:
        html = (await self.client.get(path)).text
        match = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert match, html
        return match.group(1)

    async def post(self, path: str, **form: str) -> httpx.Response:
        token = await self.csrf()
        return await self.client.post(path, data={"csrf_token": token, **form})


@pytest.fixture
async def clients(env: Env) -> AsyncIterator[dict[str, Operator]]:
    app = create_app(env.hub)
    out: dict[str, Operator] = {}
    opened: list[httpx.AsyncClient] = []
    for role in ("owner", "operator", "viewer"):
        user_id = create_user(
            env.hub,
            email=f"{role}@shop.example",
            password=PASSWORD,
            role=role,
            merchant_id=env.merchant_id,
            actor="test",
        )
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("198.51.100.4", 4000)),
            base_url="http://hub",
        )
        opened.append(client)
        form = await client.get("/console/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token
        r = await client.post(
            "/console/login",
            data={"email": f"{role}@shop.example", "password": PASSWORD, "csrf_token": token[1]},
        )
        assert r.status_code == 303, r.text
        out[role] = Operator(client, user_id)
    yield out
    for client in opened:
        await client.aclose()


async def in_review(env: Env) -> tuple[str, str]:
    order_id = env.order()
    started = await env.start(order_id)
    await env.fault("payos", "wrong_amount")
    await env.sim_pay(started.payment_id)
    assert env.payment(started.payment_id)["status"] == "review"
    return order_id, started.payment_id


def audit_of(env: Env, action: str) -> dict[str, object]:
    [row] = env.rows(AuditEntry, action=action)
    return row


async def test_accepting_a_review_pays_the_order_and_grants_credits_once(
    env: Env, clients: dict[str, Operator]
) -> None:
    order_id, payment_id = await in_review(env)
    op = clients["operator"]
    queue = await op.client.get("/console/review")
    assert payment_id in queue.text and "20,000" in queue.text and "21,000" in queue.text
    confirm = await op.client.get(f"/console/review/{payment_id}")
    assert confirm.status_code == 200 and "order.paid" in confirm.text
    r = await op.post(f"/console/payments/{payment_id}/accept", note="customer paid 1,000 more")
    assert r.status_code == 303, r.text
    assert env.order_row(order_id)["status"] == "paid"
    assert env.count(CreditEntry, order_id=order_id, reason="order_paid") == 1
    assert audit_of(env, "payment.review_accepted")["actor"] == f"console:{op.user_id}"
    again = await op.post(f"/console/payments/{payment_id}/accept", note="twice")
    assert again.status_code == 409
    assert env.count(CreditEntry, order_id=order_id, reason="order_paid") == 1
    assert env.count(OutboxEvent, event_key=f"order.paid:{order_id}") == 1
    env.assert_invariants()


async def test_rejecting_a_double_payment_refunds_it_once_and_keeps_the_order_paid(
    env: Env, clients: dict[str, Operator]
) -> None:
    order_id = env.order()
    first = await env.start(order_id, "payos")
    second = await env.start(order_id, "momo")
    await env.sim_pay(first.payment_id)
    await env.sim_pay(second.payment_id)
    op = clients["operator"]
    confirm = await op.client.get(f"/console/review/{second.payment_id}")
    assert confirm.status_code == 200
    assert f"/console/payments/{second.payment_id}/reject" in confirm.text
    assert f"/console/payments/{second.payment_id}/accept" not in confirm.text  # paid twice
    viewer = await clients["viewer"].post(
        f"/console/payments/{second.payment_id}/reject", note="no"
    )
    assert viewer.status_code == 403
    r = await op.post(f"/console/payments/{second.payment_id}/reject", note="paid twice")
    assert r.status_code == 303, r.text
    assert env.payment(second.payment_id)["status"] == "rejected"
    [refund] = env.rows(Refund, payment_id=second.payment_id)
    assert (refund["status"], refund["manual"]) == ("succeeded", False)
    assert (env.order_row(order_id)["status"], env.order_row(order_id)["refunded_minor"]) == (
        "paid",
        0,
    )
    assert env.count(CreditEntry, order_id=order_id) == 1
    assert audit_of(env, "payment.review_rejected")["actor"] == f"console:{op.user_id}"
    again = await op.post(f"/console/payments/{second.payment_id}/reject", note="twice")
    assert again.status_code == 409
    assert env.count(Refund, payment_id=second.payment_id) == 1
    env.assert_invariants()


async def test_a_partial_refund_from_the_order_page(env: Env, clients: dict[str, Operator]) -> None:
    order_id, payment_id = await env.paid_order("momo")
    op = clients["operator"]
    page = await op.client.get(f"/console/orders/{order_id}")
    assert f"/console/payments/{payment_id}/refund" in page.text
    r = await op.post(f"/console/payments/{payment_id}/refund", amount="5.000", reason="one item")
    assert r.status_code == 303, r.text
    [refund] = env.rows(Refund, payment_id=payment_id)
    assert (refund["amount_minor"], refund["status"]) == (5_000, "succeeded")
    assert env.order_row(order_id)["refunded_minor"] == 5_000
    assert env.order_row(order_id)["status"] == "partially_refunded"
    after = await op.client.get(f"/console/orders/{order_id}")
    assert "5,000" in after.text and "one item" in after.text
    env.assert_invariants()


async def test_a_viewer_sees_no_refund_button_and_its_post_is_refused(
    env: Env, clients: dict[str, Operator]
) -> None:
    order_id, payment_id = await env.paid_order()
    viewer = clients["viewer"]
    page = await viewer.client.get(f"/console/orders/{order_id}")
    assert page.status_code == 200 and payment_id in page.text
    assert "/refund" not in page.text and "/cancel" not in page.text
    r = await viewer.post(f"/console/payments/{payment_id}/refund", amount="1000", reason="x")
    assert r.status_code == 403
    assert env.count(Refund, payment_id=payment_id) == 0


async def test_a_form_without_its_csrf_token_is_refused(
    env: Env, clients: dict[str, Operator]
) -> None:
    order_id, payment_id = await env.paid_order()
    owner = clients["owner"]
    r = await owner.client.post(
        f"/console/payments/{payment_id}/refund", data={"amount": "1000", "reason": "x"}
    )
    assert r.status_code == 403 and "text/html" in r.headers["content-type"]
    other = await clients["operator"].csrf()  # another session's token
    r = await owner.client.post(
        f"/console/payments/{payment_id}/refund",
        data={"amount": "1000", "reason": "x", "csrf_token": other},
    )
    assert r.status_code == 403
    assert env.count(Refund, payment_id=payment_id) == 0
    assert env.order_row(order_id)["refunded_minor"] == 0


async def test_cancel_and_manual_payment(env: Env, clients: dict[str, Operator]) -> None:
    op = clients["operator"]
    cancelled = env.order()
    r = await op.post(f"/console/orders/{cancelled}/cancel")
    assert r.status_code == 303, r.text
    assert env.order_row(cancelled)["status"] == "cancelled"
    assert audit_of(env, "order.cancel")["actor"] == f"console:{op.user_id}"

    order_id = env.order()
    r = await op.post(
        f"/console/orders/{order_id}/manual-payment",
        amount="20000",
        reference="VCB-778",
        note="bank transfer",
    )
    assert r.status_code == 303, r.text
    assert env.order_row(order_id)["status"] == "paid"
    row = audit_of(env, "payment.manual_recorded")
    assert (row["actor"], row["source_ip"]) == (f"console:{op.user_id}", "198.51.100.4")
    env.assert_invariants()


async def test_redeliver_makes_the_events_deliveries_due_again(
    env: Env, clients: dict[str, Operator]
) -> None:
    create_endpoint(env.hub, env.merchant_id, "http://127.0.0.1:9/hook", [], actor="t")
    order_id, _ = await env.paid_order()
    assert fan_out(env.hub) >= 1
    [paid] = env.rows(OutboxEvent, event_key=f"order.paid:{order_id}")
    page = await clients["operator"].client.get(f"/console/orders/{order_id}")
    assert f"/console/events/{paid['id']}/redeliver" in page.text
    r = await clients["operator"].post(f"/console/events/{paid['id']}/redeliver", order_id=order_id)
    assert r.status_code == 303 and r.headers["location"] == f"/console/orders/{order_id}"
    assert audit_of(env, "event.redelivered")["subject"] == paid["id"]
    assert env.count(Delivery, event_id=paid["id"]) == 1
    viewer = await clients["viewer"].post(f"/console/events/{paid['id']}/redeliver")
    assert viewer.status_code == 403


async def test_bad_form_input_is_a_clear_4xx_page(env: Env, clients: dict[str, Operator]) -> None:
    order_id, payment_id = await env.paid_order()
    owner = clients["owner"]
    cases = [
        (f"/console/payments/{payment_id}/refund", {"amount": "abc", "reason": "x"}),
        (f"/console/payments/{payment_id}/refund", {"amount": "1.5", "reason": "x"}),  # VND
        (f"/console/payments/{payment_id}/refund", {"amount": "999999999", "reason": "x"}),
        (f"/console/payments/{payment_id}/refund", {"amount": "100"}),  # no reason
        (f"/console/payments/{payment_id}/accept", {"note": "not in review"}),
        ("/console/payments/pay_nothing/refund", {"amount": "1", "reason": "x"}),
        (f"/console/orders/{order_id}/manual-payment", {"amount": "1e999", "reference": "r"}),
        (f"/console/orders/{order_id}/cancel", {}),  # paid: not cancellable
    ]
    for path, form in cases:
        r = await owner.post(path, **form)
        assert 400 <= r.status_code < 500, (path, form, r.status_code, r.text)
        assert "text/html" in r.headers["content-type"]
    for query in ("?status=nope", "?date_from=yesterday", "?after=ord_missing"):
        r = await owner.client.get(f"/console/orders{query}")
        assert 400 <= r.status_code < 500, (query, r.status_code)
    assert env.count(Refund, payment_id=payment_id) == 0


async def test_search_finds_an_order_by_any_of_its_identifiers(
    env: Env, clients: dict[str, Operator]
) -> None:
    order_id = create_order(
        env.hub,
        env.merchant_id,
        OrderDraft(
            merchant_reference="=SUM(A1)",
            currency="VND",
            items=[ItemDraft(sku="pack-100")],
            customer=CustomerDraft(external_id="lan", email="Lan@Example.vn", phone="+84901234567"),
        ),
    )
    payment_id = (await env.start(order_id)).payment_id
    await env.sim_pay(payment_id)
    other, _ = await env.paid_order()
    payment = env.payment(payment_id)
    assert payment["gateway_txn_id"]
    viewer = clients["viewer"].client
    for q in (
        order_id,
        "=SUM(A1)",
        payment["gateway_reference"],
        payment["gateway_txn_id"],
        "lan",
        "lan@example.vn",
        "+84901234567",
    ):
        page = await viewer.get("/console/orders", params={"q": q})
        assert page.status_code == 200
        assert f'data-order="{order_id}"' in page.text, q
        assert f'data-order="{other}"' not in page.text, q
    filtered = await viewer.get("/console/orders", params={"status": "paid", "gateway": "momo"})
    assert 'data-order="' not in filtered.text

    export = await viewer.get("/console/orders.csv", params={"q": "lan"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows[0][0] == "order_id" and len(rows) == 2
    assert rows[1][0] == order_id and rows[1][1] == "'=SUM(A1)"  # never a formula


async def test_cursor_paging_walks_every_order_once(env: Env, clients: dict[str, Operator]) -> None:
    made = {env.order() for _ in range(53)}
    seen: list[str] = []
    path = "/console/orders"
    client = clients["viewer"].client
    while True:
        page = await client.get(path)
        seen += re.findall(r'data-order="([^"]+)"', page.text)
        more = re.search(r'rel="next" href="([^"]+)"', page.text)
        if not more:
            break
        path = more[1].replace("&amp;", "&")
    assert len(seen) == len(set(seen)) and made <= set(seen)


async def test_the_dashboard_counts_paid_orders_per_currency_and_gateway(
    env: Env, clients: dict[str, Operator]
) -> None:
    for _ in range(3):
        await env.paid_order("payos")
    await env.paid_order("momo")
    failed = env.order()
    started = await env.start(failed, "momo")
    await env.sim_pay(started.payment_id, "denied")
    await in_review(env)
    await clients["viewer"].client.get("/console/lang/vi")
    page = await clients["viewer"].client.get("/console/?period=today")
    assert page.status_code == 200
    tile = re.search(
        r'data-currency="VND">.*?class="value volume">([^<]+)<.*?class="count">(\d+)<',
        page.text,
        re.S,
    )
    assert tile, page.text
    assert tile[1] == "80.000\u00a0₫" and tile[2] == "4"  # in Vietnamese
    assert re.search(r'id="review-count"><a [^>]+>1<', page.text)
    assert '<svg class="chart"' in page.text and "<title" in page.text
    assert "PayOS" in page.text and "MoMo" in page.text
    # momo: 1 of 2 attempts succeeded; payos: 3 of 4 (the one in review did not)
    assert re.search(r"MoMo</td><td class=\"num\">2</td><td class=\"num\">1</td>", page.text)
    assert re.search(r"PayOS</td><td class=\"num\">4</td><td class=\"num\">3</td>", page.text)
    assert env.count(Order, merchant_id=env.merchant_id) == 6


async def test_a_hub_admin_works_on_the_merchant_it_switched_to(env: Env) -> None:
    from payhub.services.merchants import create_merchant

    other = create_merchant(env.hub, "Second shop", actor="t")
    create_user(
        env.hub,
        email="admin@hub.example",
        password=PASSWORD,
        role="owner",
        merchant_id=None,
        actor="t",
    )
    order_id, _ = await env.paid_order()
    app = create_app(env.hub)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hub"
    ) as c:
        token = re.search(
            r'name="csrf_token" value="([^"]+)"', (await c.get("/console/login")).text
        )
        assert token
        await c.post(
            "/console/login",
            data={"email": "admin@hub.example", "password": PASSWORD, "csrf_token": token[1]},
        )
        first = await c.get("/console/orders")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', first.text)
        assert csrf
        target = env.merchant_id if f'data-order="{order_id}"' not in first.text else other
        await c.post(
            "/console/switch-merchant", data={"csrf_token": csrf[1], "merchant_id": target}
        )
        second = await c.get("/console/orders")
        assert (f'data-order="{order_id}"' in second.text) == (target == env.merchant_id)


HOSTILE = [
    "\x00",
    "a\x00b",
    "' OR 1=1 --",
    "../../etc/passwd",
    "%00",
    "<script>alert(1)</script>",
    "x" * 5000,
    "\u202e\ufeff",
    "😀" * 50,
    "9" * 40,
    "-1",
    "1e9999",
    "NaN",
    "sNaN",
    "Infinity",
]


async def test_hostile_input_never_answers_5xx(env: Env, clients: dict[str, Operator]) -> None:
    order_id, payment_id = await env.paid_order("momo")
    owner = clients["owner"]
    token = await owner.csrf()
    gets = [
        "/console/orders?q={v}",
        "/console/orders?status={v}",
        "/console/orders?gateway={v}&currency={v}",
        "/console/orders?date_from={v}&date_to={v}",
        "/console/orders?after={v}",
        "/console/orders.csv?q={v}&date_to={v}",
        "/console/orders/{v}",
        "/console/review/{v}",
        "/console/?period={v}",
        "/console/lang/{v}?next={v}",
    ]
    posts = [
        (f"/console/payments/{payment_id}/refund", {"amount": "{v}", "reason": "{v}"}),
        ("/console/payments/{v}/refund", {"amount": "1", "reason": "x"}),
        (f"/console/payments/{payment_id}/accept", {"note": "{v}"}),
        (f"/console/orders/{order_id}/manual-payment", {"amount": "{v}", "reference": "{v}"}),
        ("/console/orders/{v}/cancel", {}),
        ("/console/events/{v}/redeliver", {"order_id": "{v}"}),
        ("/console/switch-merchant", {"merchant_id": "{v}", "next": "{v}"}),
    ]
    for value in HOSTILE:
        for template in gets:
            path = template.replace("{v}", quote(value, safe=""))
            r = await owner.client.get(path)
            assert r.status_code < 500, (path, r.status_code)
        for template, form in posts:
            path = template.replace("{v}", quote(value, safe=""))
            data = {k: v.replace("{v}", value) for k, v in form.items()}
            r = await owner.client.post(path, data={"csrf_token": token, **data})
            assert r.status_code < 500, (path, data, r.status_code)
        r = await owner.client.post(
            "/console/login", data={"email": value, "password": value, "csrf_token": value}
        )
        assert r.status_code < 500
    assert env.count(Refund, payment_id=payment_id) == 0
    env.assert_invariants()
