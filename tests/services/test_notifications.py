"""Notifications against real servers: a real SMTP server (aiosmtpd on loopback) and a local
server speaking the Telegram Bot API, on SQLite and PostgreSQL.

Customer e-mails in each language (subject, amounts formatted for the locale, items,
gateway, transaction id), the retry link of a failed payment, SMTP down then up (each mail
once), Telegram's 429 `retry_after` honoured, "chat not found" and a wrong token failed with
the reason, two workers never sending one message twice, merchant overrides and extra
templates in the sandbox, and no secret in any row or log line."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete

from payhub.asgi import create_app
from payhub.clock import FrozenClock
from payhub.domain.errors import InvalidRequest
from payhub.services.context import build_hub
from payhub.services.notifications import (
    NotificationSettingsChange,
    claim_destination,
    configure_notifications,
    fan_out_notifications,
    send_due_notifications,
    send_test_notifications,
    set_template,
)
from payhub.services.orders import CustomerDraft, ItemDraft, OrderDraft, create_order
from payhub.services.refunds import create_refund
from payhub.store.journal import enqueue_event
from payhub.store.models import Notification, NotificationFanout, OutboxEvent
from tests.services.conftest import Env
from tests.support.servers import free_port, serve_app
from tests.support.smtp import MailCatcher, new_catcher
from tests.support.telegram import FakeTelegram

pytestmark = pytest.mark.anyio

BOT_TOKEN = "7000000001:AAH-test-bot-token-not-a-real-one-xyz"
SMTP_PASSWORD = "smtp-password-9f3e1c"
CHAT = "424242"


@pytest.fixture
def telegram() -> FakeTelegram:
    return FakeTelegram(token=BOT_TOKEN, chats={CHAT, "515151", "616161"})


@pytest.fixture
async def notify_env(env: Env, telegram: FakeTelegram) -> AsyncIterator[Env]:
    """The env with a Telegram server on loopback the hub reaches over real HTTP, retries
    due at once, and no SMTP server yet (each test starts its own)."""
    with serve_app(telegram.app()) as url:
        env.gateway_calls.routes[url] = httpx.AsyncHTTPTransport()
        env.hub.settings = env.hub.settings.model_copy(
            update={"telegram_api_url": url, "notify_retry_scale": 0.0}
        )
        yield env


def configure(
    env: Env, smtp: MailCatcher | None, *, token: str | None = BOT_TOKEN, **fields: Any
) -> None:
    change = NotificationSettingsChange(
        smtp_host=smtp.host if smtp else None,
        smtp_port=smtp.port if smtp else None,
        smtp_security="none",
        sender_address="shop@example.com",
        sender_name="Test Shop",
        telegram_bot_token=token,
        telegram_chat_ids=fields.pop("chats", [CHAT]),
        operator_emails=fields.pop("operators", ["ops@example.com"]),
        **fields,
    )
    configure_notifications(env.hub, env.merchant_id, change, actor="test")


_refs = Counter[str]()


def customer_order(
    env: Env, *, locale: str | None = None, email: str = "lan@example.com", **draft: Any
) -> str:
    _refs["n"] += 1
    return create_order(
        env.hub,
        env.merchant_id,
        OrderDraft(
            merchant_reference=f"n-{_refs['n']}-{id(env)}",
            currency=draft.pop("currency", "VND"),
            items=draft.pop("items", [ItemDraft(sku="pack-100", quantity=2)]),
            customer=CustomerDraft(external_id=email, name="Lan Nguyen", email=email),
            locale=locale,
            **draft,
        ),
    )


async def pay(env: Env, order_id: str, gateway: str = "payos", outcome: str = "paid") -> str:
    started = await env.start(order_id, gateway)
    await env.sim_pay(started.payment_id, outcome)
    return started.payment_id


def notifications(env: Env, **where: Any) -> list[dict[str, Any]]:
    return sorted(env.rows(Notification, **where), key=lambda r: r["id"])


@contextmanager
def running(catcher: MailCatcher) -> Iterator[MailCatcher]:
    catcher.start()
    try:
        yield catcher
    finally:
        catcher.stop()


# --- customer e-mails ---------------------------------------------------------------------

LANGUAGES = [
    # locale, subject word, the order's amount (2 × 20,000 VND), an item line
    ("vi", "Xác nhận thanh toán", "40.000\xa0₫", "100 credits × 2: 40.000\xa0₫"),
    ("en", "Payment received", "₫40,000", "100 credits × 2: ₫40,000"),
    ("ms", "Pembayaran diterima", "₫40,000", "100 credits × 2: ₫40,000"),
]


@pytest.mark.parametrize(("locale", "subject", "amount", "item"), LANGUAGES)
async def test_the_payment_confirmation_is_mailed_in_the_orders_language(
    notify_env: Env, locale: str, subject: str, amount: str, item: str
) -> None:
    env = notify_env
    with running(new_catcher()) as smtp:
        configure(env, smtp)
        order_id = customer_order(env, locale=locale)
        payment_id = await pay(env, order_id)
        result = await send_due_notifications(env.hub)

        assert result["notifications_sent"] == 1
        [mail] = smtp.messages
    txn_id = env.payment(payment_id)["gateway_txn_id"]
    assert mail.rcpt_to == ("lan@example.com",)
    assert mail.message["From"] == "Test Shop <shop@example.com>"
    assert mail.subject.startswith(subject) and "Test Shop" in mail.subject
    text, html = mail.body("plain") or "", mail.body("html") or ""
    assert item in text and amount in text and amount in html
    assert "PayOS" in text and txn_id and txn_id in text
    assert "Lan Nguyen" in text
    [row] = notifications(env, order_id=order_id)
    assert (row["template"], row["locale"], row["state"], row["attempts"]) == (
        "payment_confirmation",
        locale,
        "sent",
        1,
    )


async def test_the_merchants_default_locale_when_the_order_names_none(
    notify_env: Env,
) -> None:
    env = notify_env
    with running(new_catcher()) as smtp:
        configure(env, smtp, default_locale="ms", operators=[])
        await pay(env, customer_order(env))
        await send_due_notifications(env.hub)
        configure(env, smtp, default_locale="en")
        await pay(env, customer_order(env))
        await send_due_notifications(env.hub)
        subjects = [m.subject for m in smtp.messages]
    assert subjects[0].startswith("Pembayaran diterima")
    assert subjects[1].startswith("Payment received")


async def test_a_failed_payment_mails_a_link_to_try_again_and_alerts_telegram(
    notify_env: Env, telegram: FakeTelegram
) -> None:
    env = notify_env
    with running(new_catcher()) as smtp:
        configure(env, smtp)
        order_id = customer_order(env, locale="vi")
        await pay(env, order_id, "momo", "insufficient")
        await send_due_notifications(env.hub)
        by_rcpt = {m.rcpt_to[0]: m for m in smtp.messages}
    customer = by_rcpt["lan@example.com"]
    assert customer.subject.startswith("Thanh toán chưa thành công")
    assert f"/pay/{order_id}?token=" in (customer.body("plain") or "")
    assert f'href="http://127.0.0.1:8000/pay/{order_id}?token=' in (customer.body("html") or "")
    assert "Payment failed" in by_rcpt["ops@example.com"].subject
    [alert] = telegram.texts(CHAT)
    assert "Payment failed for order" in alert and "momo" in alert
    assert {r["template"] for r in notifications(env, order_id=order_id)} == {
        "payment_failed",
        "operator_alert",
        "operator_alert_telegram",
    }


@pytest.mark.parametrize(
    ("locale", "subject", "amount"),
    [
        ("vi", "Đã hoàn tiền cho đơn hàng", "15.000\xa0₫"),
        ("ms", "Bayaran balik dikeluarkan", "₫15,000"),
    ],
)
async def test_a_refund_mails_the_customer_the_amount_refunded(
    notify_env: Env, locale: str, subject: str, amount: str
) -> None:
    env = notify_env
    with running(new_catcher()) as smtp:
        configure(env, smtp, operators=[])
        order_id = customer_order(env, locale=locale)
        payment_id = await pay(env, order_id, "momo")
        await create_refund(
            env.hub, env.merchant_id, payment_id, amount=15_000, reason="test", actor="op"
        )
        await send_due_notifications(env.hub)
        [_, refunded] = sorted(smtp.messages, key=lambda m: m.received_at)
    assert refunded.subject.startswith(subject)
    assert amount in (refunded.body("plain") or "") and "MoMo" in (refunded.body("plain") or "")
    templates = sorted(r["template"] for r in notifications(env, order_id=order_id))
    assert templates == ["payment_confirmation", "refund_issued"]


# --- retries and failures -----------------------------------------------------------------


async def test_smtp_down_for_a_while_then_up_sends_each_mail_once(notify_env: Env) -> None:
    env = notify_env
    smtp = new_catcher()  # its port, nothing listening yet
    configure(env, smtp, operators=[])
    orders = [customer_order(env, email=f"c{i}@example.com") for i in range(3)]
    for order_id in orders:
        await pay(env, order_id)

    for _ in range(2):
        assert (await send_due_notifications(env.hub))["notifications_sent"] == 0
    rows = notifications(env, template="payment_confirmation")
    assert len(rows) == 3
    assert all(r["state"] == "pending" and r["attempts"] == 2 for r in rows)
    assert all("unreachable" in (r["last_error"] or "") for r in rows)

    with running(smtp):
        for _ in range(3):
            await send_due_notifications(env.hub)
        received = Counter(m.rcpt_to[0] for m in smtp.messages)
    assert received == {f"c{i}@example.com": 1 for i in range(3)}
    assert all(r["state"] == "sent" for r in notifications(env, template="payment_confirmation"))


async def test_telegram_429_is_retried_after_retry_after(
    notify_env: Env, telegram: FakeTelegram
) -> None:
    env = notify_env
    configure(env, None, chats=[CHAT])
    await pay(env, customer_order(env), "momo", "insufficient")
    clock = FrozenClock(env.hub.clock.now())
    env.hub.clock = clock
    telegram.flood.append(3)

    await send_due_notifications(env.hub)
    [row] = notifications(env, channel="telegram")
    assert row["state"] == "pending" and "429" in row["last_error"]
    assert telegram.texts(CHAT) == []

    clock.advance(timedelta(seconds=2))  # not yet: Telegram said 3 s
    await send_due_notifications(env.hub)
    assert telegram.texts(CHAT) == [] and telegram.requests == 1

    clock.advance(timedelta(seconds=2))
    await send_due_notifications(env.hub)
    assert len(telegram.texts(CHAT)) == 1
    [row] = notifications(env, channel="telegram")
    assert (row["state"], row["attempts"]) == ("sent", 2)


async def test_chat_not_found_and_a_wrong_token_fail_with_the_reason(
    notify_env: Env, telegram: FakeTelegram
) -> None:
    env = notify_env
    configure(env, None, chats=["999000"])
    await pay(env, customer_order(env), "momo", "insufficient")
    await send_due_notifications(env.hub)
    [row] = notifications(env, channel="telegram")
    assert (row["state"], row["last_error"]) == (
        "failed",
        "Telegram 400: Bad Request: chat not found",
    )

    configure(env, None, token="7000000001:wrong-token", chats=[CHAT])
    await pay(env, customer_order(env), "momo", "insufficient")
    await send_due_notifications(env.hub)
    [_, row] = notifications(env, channel="telegram")
    assert (row["state"], row["last_error"]) == ("failed", "Telegram 401: Unauthorized")
    assert telegram.messages == []


async def test_deriving_an_events_notifications_twice_adds_nothing(notify_env: Env) -> None:
    env = notify_env
    configure(env, new_catcher())
    await pay(env, customer_order(env), "momo", "insufficient")
    first = fan_out_notifications(env.hub)
    assert first == 3  # customer e-mail, operator e-mail, Telegram alert
    assert fan_out_notifications(env.hub) == 0
    with env.hub.db.engine.begin() as conn:  # as if a crash lost the fan-out markers
        conn.execute(delete(NotificationFanout))
    assert fan_out_notifications(env.hub) == 0
    assert len(notifications(env)) == 3


async def test_concurrent_workers_never_send_one_message_twice(
    notify_env: Env, telegram: FakeTelegram
) -> None:
    env = notify_env
    chats = [CHAT, "515151", "616161"]
    configure(env, None, chats=chats)
    telegram.delay = 0.02
    for _ in range(6):
        await pay(env, customer_order(env), "momo", "insufficient")
    other = build_hub(env.hub.settings)
    other.http = httpx.AsyncClient(timeout=10)
    try:
        for _ in range(4):
            await asyncio.gather(
                send_due_notifications(env.hub),
                send_due_notifications(other),
                send_due_notifications(env.hub),
            )
    finally:
        await other.http.aclose()
        other.db.dispose()
    for chat in chats:
        texts = telegram.texts(chat)
        assert len(texts) == 6 and len(set(texts)) == 6, chat
        assert telegram.max_in_flight[chat] == 1
    assert {r["state"] for r in notifications(env)} == {"sent"}


# --- templates ----------------------------------------------------------------------------


async def test_merchant_overrides_and_extra_templates_render_in_the_sandbox(
    notify_env: Env,
) -> None:
    env = notify_env
    set_template(
        env.hub,
        env.merchant_id,
        "payment_confirmation",
        "en",
        subject="Thanks, {{ customer_name }}! {{ merchant_reference }}",
        text="Paid {{ money(amount, currency) }}. {{ metadata.seat }}\n",
        html="<p>{{ customer_name }} paid</p>",
        actor="test",
    )
    set_template(
        env.hub,
        env.merchant_id,
        "membership_welcome",
        "en",
        subject="Welcome to the club",
        text="Welcome, {{ customer_name }}.\n",
        html=None,
        actor="test",
    )
    set_template(
        env.hub,
        env.merchant_id,
        "booking_confirmation",
        "en",
        subject="Booking",
        text="{{ ''.__class__.__mro__[1].__subclasses__() }}",
        html=None,
        actor="test",
    )
    with pytest.raises(InvalidRequest):
        set_template(
            env.hub, env.merchant_id, "broken", "en", subject="{{", text="x", html=None, actor="t"
        )
    with running(new_catcher()) as smtp:
        configure(env, smtp)
        _refs["n"] += 1
        order_id = create_order(
            env.hub,
            env.merchant_id,
            OrderDraft(
                merchant_reference=f"club-{_refs['n']}",
                currency="VND",
                items=[ItemDraft(sku="pack-100")],
                customer=CustomerDraft(
                    external_id="eve", name="<script>x</script>", email="eve@example.com"
                ),
                locale="vi",  # the override is in English only
                metadata={
                    "seat": "A7",
                    "notify": ["membership_welcome", "booking_confirmation", "nope"],
                },
            ),
        )
        await pay(env, order_id)
        await send_due_notifications(env.hub)
        mails = {m.subject: m for m in smtp.messages}
    rows = {r["template"]: r for r in notifications(env, order_id=order_id)}
    assert set(rows) == {"payment_confirmation", "membership_welcome", "booking_confirmation"}
    # Vietnamese was asked for and ours exists in Vietnamese: the en override is not used.
    assert any(s.startswith("Xác nhận thanh toán") for s in mails)
    assert "Welcome to the club" in mails
    assert rows["booking_confirmation"]["state"] == "failed"
    assert "SecurityError" in rows["booking_confirmation"]["last_error"]

    # In English the override is used, autoescaped in HTML.
    with running(new_catcher()) as smtp:
        configure(env, smtp)
        order_id = customer_order(env, locale="en", metadata={"seat": "B2"})
        await pay(env, order_id)
        await send_due_notifications(env.hub)
        [mail] = smtp.messages
    assert mail.subject.startswith("Thanks, Lan Nguyen!")
    assert (mail.body("plain") or "").strip() == "Paid ₫40,000. B2"


async def test_html_is_autoescaped_in_merchant_templates(notify_env: Env) -> None:
    env = notify_env
    set_template(
        env.hub,
        env.merchant_id,
        "payment_confirmation",
        "en",
        subject="Paid",
        text="{{ customer_name }}",
        html="<p>{{ customer_name }}</p>",
        actor="test",
    )
    with running(new_catcher()) as smtp:
        configure(env, smtp, operators=[])
        _refs["n"] += 1
        order_id = create_order(
            env.hub,
            env.merchant_id,
            OrderDraft(
                merchant_reference=f"x-{_refs['n']}",
                currency="VND",
                items=[ItemDraft(sku="pack-100")],
                customer=CustomerDraft(
                    external_id="m", name="<script>alert(1)</script>", email="m@example.com"
                ),
                locale="en",
            ),
        )
        await pay(env, order_id)
        await send_due_notifications(env.hub)
        [mail] = smtp.messages
    assert "<script>" not in (mail.body("html") or "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in (mail.body("html") or "")


# --- the delivery log, test command, secrets ---------------------------------------------


async def test_the_delivery_log_is_read_through_the_api(notify_env: Env) -> None:
    env = notify_env
    with running(new_catcher()) as smtp:
        configure(env, smtp)
        order_id = customer_order(env, locale="ms")
        await pay(env, order_id, "momo", "insufficient")
        await send_due_notifications(env.hub)
    app = create_app(env.hub)
    headers = {"Authorization": f"Bearer {env.th.api_key}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hub"
    ) as client:
        r = await client.get("/v1/notifications", params={"order_id": order_id}, headers=headers)
        bad = await client.get("/v1/notifications", params={"limit": "lots"}, headers=headers)
        anonymous = await client.get("/v1/notifications")
    assert r.status_code == 200, r.text
    log = {(n["channel"], n["template"]): n for n in r.json()["data"]}
    customer = log[("email", "payment_failed")]
    assert customer["recipient"] == "l***n@example.com"
    assert (customer["locale"], customer["outcome"], customer["attempts"]) == ("ms", "sent", 1)
    assert customer["sent_at"] and customer["created_at"] and customer["event_type"]
    assert log[("telegram", "operator_alert_telegram")]["recipient"] == CHAT
    assert (bad.status_code, anonymous.status_code) == (422, 401)


async def test_notify_test_sends_one_email_and_one_telegram_message(
    notify_env: Env, telegram: FakeTelegram
) -> None:
    env = notify_env
    with running(new_catcher()) as smtp:
        configure(env, smtp)
        results = await send_test_notifications(env.hub, env.merchant_id)
        [mail] = smtp.messages
    assert [(r["channel"], r["recipient"], r["result"]) for r in results] == [
        ("email", "ops@example.com", "sent"),
        ("telegram", CHAT, "sent"),
    ]
    assert "test message" in mail.subject
    assert "Telegram notifications reach you" in telegram.texts(CHAT)[0]


async def test_after_rotation_the_old_key_can_go_and_notifications_still_send(
    notify_env: Env, telegram: FakeTelegram
) -> None:
    from payhub.services.keyring import rotate_keys
    from payhub.services.vault import MasterKey, generate_master_key

    env = notify_env
    with running(new_catcher()) as smtp:
        configure(env, smtp)
        old = env.hub.master_key
        assert old is not None
        env.hub.master_key, env.hub.previous_keys = MasterKey(generate_master_key()), [old]
        assert rotate_keys(env.hub, actor="test")["notification_settings.secrets"] == 1
        env.hub.previous_keys = []  # the old key is dropped from the keyring
        results = await send_test_notifications(env.hub, env.merchant_id)
    assert [r["result"] for r in results] == ["sent", "sent"]
    assert len(telegram.texts(CHAT)) == 1


async def test_an_smtp_host_the_outbound_policy_refuses_is_never_contacted(
    notify_env: Env,
) -> None:
    env = notify_env
    with running(new_catcher()) as smtp:
        configure(env, smtp, token=None)
        env.hub.settings = env.hub.settings.model_copy(update={"outbound_allow": []})
        results = await send_test_notifications(env.hub, env.merchant_id)
        [result] = [r for r in results if r["channel"] == "email"]
        assert smtp.messages == []
    assert result["channel"] == "email" and result["result"] != "sent"
    assert "outbound policy (loopback)" in str(result)


async def test_no_secret_in_any_row_message_or_log_line(
    notify_env: Env, telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    env = notify_env
    caplog.set_level(logging.DEBUG)
    # configure_logging (run by any earlier CLI test) quiets httpx; its lines are wanted here.
    caplog.set_level(logging.DEBUG, logger="httpx")
    port = free_port()
    smtp = new_catcher(port, user="shop", password=SMTP_PASSWORD)
    configure(env, smtp, smtp_user="shop", smtp_password=SMTP_PASSWORD)
    await pay(env, customer_order(env), "momo", "insufficient")
    await send_due_notifications(env.hub)  # SMTP down: retried
    with running(smtp):
        await send_due_notifications(env.hub)
        assert len(smtp.messages) == 2
    configure(env, smtp, smtp_password="wrong-password-7d1c", chats=["999000"])
    await pay(env, customer_order(env), "momo", "insufficient")
    with running(smtp):
        await send_due_notifications(env.hub)

    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "sendMessage" in logged  # httpx's request line is there, masked
    stored = repr(env.rows(Notification)) + repr(env.rows(OutboxEvent))
    from payhub.store.models import AuditEntry, NotificationSettings

    stored += repr(env.rows(AuditEntry)) + repr(env.rows(NotificationSettings))
    mails = "".join(m.message.as_string() for m in smtp.messages)
    for secret in (BOT_TOKEN, BOT_TOKEN.split(":")[1], SMTP_PASSWORD, "wrong-password-7d1c"):
        assert secret not in logged
        assert secret not in stored
        assert secret not in mails
    reasons = {r["last_error"] for r in notifications(env) if r["state"] != "sent"}
    assert any("authentication failed" in (reason or "") for reason in reasons)


# --- operator alerts ----------------------------------------------------------------------

WORKER_ALERTS = [
    ("endpoint_failing", {"url": "https://shop.example/hooks"}, "Webhook endpoint failing"),
    ("endpoint_disabled", {"url": "https://shop.example/hooks"}, "Webhook endpoint disabled"),
    ("gateway_error", {"gateway": "vnpay", "code": "94"}, "Gateway error from vnpay"),
    (
        "reconciled_without_notification",
        {"order_id": "ord_x", "merchant_reference": "r-77"},
        "settled by reconciliation: the gateway's notification never came",
    ),
    ("meteor_strike", {"message": "big one"}, "Operator alert: meteor_strike"),
]


async def test_each_alert_kind_has_a_clear_message_on_telegram_and_by_email(
    notify_env: Env, telegram: FakeTelegram
) -> None:
    env = notify_env
    with running(new_catcher()) as smtp:
        configure(env, smtp)
        now = env.hub.clock.now()
        with env.hub.db.write() as tx:
            for kind, data, _ in WORKER_ALERTS:
                enqueue_event(
                    tx,
                    merchant_id=env.merchant_id,
                    event_type="operator.alert",
                    event_key=f"operator.alert:{kind}:1",
                    payload={"kind": kind, **data},
                    now=now,
                )
        order_id = customer_order(env)
        started = await env.start(order_id, "payos")
        await env.sim_pay(started.payment_id, "partial")  # amount mismatch: review
        await send_due_notifications(env.hub)
        subjects = [m.subject for m in smtp.messages if m.rcpt_to == ("ops@example.com",)]
    texts = telegram.texts(CHAT)
    for kind, _, message in WORKER_ALERTS:
        assert sum(message in t for t in texts) == 1, kind
        assert sum(message in s for s in subjects) == 1, kind
    [review] = [t for t in texts if "needs review" in t]
    assert "the amount paid differs from the amount due" in review
    assert "Expected: ₫40,000" in review and "Received: ₫20,000" in review


async def test_alerts_go_only_where_their_route_says(
    notify_env: Env, telegram: FakeTelegram
) -> None:
    env = notify_env
    with running(new_catcher()) as smtp:
        configure(env, smtp, alert_routes={"payment_failed": ["email"], "*": ["telegram"]})
        await pay(env, customer_order(env), "momo", "insufficient")
        with env.hub.db.write() as tx:
            enqueue_event(
                tx,
                merchant_id=env.merchant_id,
                event_type="operator.alert",
                event_key="operator.alert:gateway_error:2",
                payload={"kind": "gateway_error", "gateway": "momo"},
                now=env.hub.clock.now(),
            )
        await send_due_notifications(env.hub)
        ops = [m.subject for m in smtp.messages if m.rcpt_to == ("ops@example.com",)]
    assert len(ops) == 1 and "Payment failed" in ops[0]
    [text] = telegram.texts(CHAT)
    assert "Gateway error from momo" in text


async def test_a_crashed_workers_claim_is_taken_over_when_its_lease_expires(
    notify_env: Env, telegram: FakeTelegram
) -> None:
    env = notify_env
    configure(env, None)
    await pay(env, customer_order(env), "momo", "insufficient")
    clock = FrozenClock(env.hub.clock.now())
    env.hub.clock = clock
    fan_out_notifications(env.hub)
    # A worker claims the chat's message, then dies before sending it.
    assert len(claim_destination(env.hub, f"telegram:{CHAT}", "notify-dead-worker")) == 1
    [row] = notifications(env)
    assert (row["state"], row["lease_owner"]) == ("sending", "notify-dead-worker")

    clock.advance(timedelta(seconds=env.hub.settings.notify_lease_seconds - 1))
    await send_due_notifications(env.hub)  # the lease still holds
    assert telegram.messages == []

    clock.advance(timedelta(seconds=2))
    await send_due_notifications(env.hub)
    assert len(telegram.texts(CHAT)) == 1
    [row] = notifications(env)
    assert (row["state"], row["attempts"], row["lease_owner"]) == ("sent", 1, None)


async def test_the_demo_store_links_to_the_mail_catcher_only_when_there_is_one(
    env: Env,
) -> None:
    app = create_app(env.hub)
    app.state.demo_merchant_id = env.merchant_id
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hub"
    ) as client:
        without = await client.get("/demo")
        app.state.demo_mail_url = "http://127.0.0.1:8025/"
        with_mail = await client.get("/demo")
    assert without.status_code == with_mail.status_code == 200
    assert 'data-testid="demo-mail"' not in without.text
    assert 'href="http://127.0.0.1:8025/" data-testid="demo-mail"' in with_mail.text
