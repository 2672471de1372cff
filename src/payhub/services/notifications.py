"""Notifications: e-mails to customers and alerts to the merchant's operators (e-mail and
Telegram), all derived from outbox events.

Events are written to the outbox in the transaction of the change they describe. The worker
calls `send_due_notifications(hub)`, which

1. derives each new event's notifications into `notifications`: one row per (event,
   channel, recipient, template), unique, so deriving twice adds nothing, with the context
   the template shows (never a secret, never card or bank data);
2. takes the lease of each destination (an SMTP server, a Telegram chat) that has a message
   due, claims that destination's due messages, and sends them one after another, so at most
   one send is in flight per destination, while destinations are served concurrently up to
   `PAYHUB_NOTIFY_CONCURRENCY`, each send with `PAYHUB_NOTIFY_TIMEOUT_SECONDS`;
3. records each outcome: sent; retried with backoff (Telegram's `retry_after` honoured); or
   failed with the reason (a refused recipient, Telegram's "chat not found").

A worker that crashes mid-send leaves its claims to expire (`PAYHUB_NOTIFY_LEASE_SECONDS`);
the next worker takes them over, so a message whose send had gone out just before the crash
may be sent again: at least once, never twice by two live workers.

Which notifications an event makes:

    order.paid        payment_confirmation to the customer, plus each merchant-named
                      template the order lists in `metadata.notify` (e.g. a membership welcome)
    payment.failed    payment_failed to the customer (with the hosted-checkout link to try
                      again while the order takes payments); the `payment_failed` alert
    refund.succeeded  refund_issued to the customer
    operator.alert    an alert of `data.kind` (payment_review, stock_low, endpoint_failing,
                      endpoint_disabled, gateway_error, gateway.unhealthy, gateway.recovered,
                      reconciled_without_notification, ...)
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from anyio import to_thread

from payhub.clock import as_utc
from payhub.domain.errors import InvalidRequest, NotFound
from payhub.errors import OutboundRefused, VaultError
from payhub.gateways.registry import entry, gateway_names
from payhub.outbound import OutboundPolicy, check_url
from payhub.secret import Secret
from payhub.services import hosted
from payhub.services.context import Hub
from payhub.services.notify_channels import (
    SECURITIES,
    SendOutcome,
    SmtpConnection,
    SmtpServer,
    TelegramBot,
    build_email,
    send_telegram,
    smtp_failure,
)
from payhub.services.notify_render import (
    BUILT_IN,
    LOCALES,
    TELEGRAM_SUFFIX,
    RenderedMessage,
    RenderFailed,
    TemplateSource,
    built_in_source,
    check_template,
    choose_locale,
    format_money,
    render,
)
from payhub.services.vault import MasterKey, decrypt_credentials, encrypt_credentials
from payhub.store import attempts, customers, merchants, orders
from payhub.store import notifications as store
from payhub.store.journal import add_audit
from payhub.store.models import (
    Customer,
    Notification,
    NotificationSettings,
    Order,
    OutboxEvent,
)
from payhub.store.tx import Reader, Tx

log = logging.getLogger(__name__)

# The delay before attempt n+1; after the last, the message is failed (≈ 10 h in all).
RETRY_SCHEDULE = (
    timedelta(seconds=10),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=5),
)
CLAIM_PER_DESTINATION = 10  # messages claimed at once (each claim renews the lease)
BATCHES_PER_PASS = 20  # claims per destination in one pass, so no destination holds a pass
FAN_OUT_BATCH = 200
ALERT_KINDS = (
    "payment_failed",
    "payment_review",
    "stock_low",
    "endpoint_failing",
    "endpoint_disabled",
    "gateway_error",
    "gateway.unhealthy",
    "gateway.recovered",
    "reconciled_without_notification",
)
CHANNELS = ("email", "telegram")
_TEMPLATE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_SECRET_FIELDS = ("smtp_password", "telegram_bot_token")


def _aad_id(merchant_id: str) -> str:
    return f"notification_settings:{merchant_id}"


# --- settings -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NotificationSettingsChange:
    """What `payhub notify set` changes; None leaves a field as it is ("" clears a secret)."""

    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_security: str | None = None
    smtp_user: str | None = None
    smtp_password: str | None = None
    sender_address: str | None = None
    sender_name: str | None = None
    telegram_bot_token: str | None = None
    telegram_chat_ids: list[str] | None = None
    operator_emails: list[str] | None = None
    alert_routes: dict[str, list[str]] | None = None
    default_locale: str | None = None
    customer_emails: bool | None = None


def _check_change(change: NotificationSettingsChange) -> None:
    if change.smtp_security is not None and change.smtp_security not in SECURITIES:
        raise InvalidRequest(f"smtp security must be one of {', '.join(SECURITIES)}")
    if change.smtp_port is not None and not 0 < change.smtp_port < 65536:
        raise InvalidRequest("smtp port must be between 1 and 65535")
    if change.default_locale is not None and change.default_locale not in LOCALES:
        raise InvalidRequest(f"locale must be one of {', '.join(LOCALES)}")
    for address in [*(change.operator_emails or []), change.sender_address or "a@b"]:
        if "@" not in address or any(c.isspace() for c in address):
            raise InvalidRequest(f"not an e-mail address: {address!r}")
    for kind, channels in (change.alert_routes or {}).items():
        unknown = sorted(set(channels) - set(CHANNELS))
        if unknown:
            raise InvalidRequest(f"alert {kind}: unknown channels {', '.join(unknown)}")


def configure_notifications(
    hub: Hub, merchant_id: str, change: NotificationSettingsChange, *, actor: str
) -> dict[str, Any]:
    """Create or change the merchant's notification settings; secrets go to the vault."""
    _check_change(change)
    now = hub.clock.now()
    with hub.db.write() as tx:
        if not merchants.merchant_exists(tx, merchant_id):
            raise NotFound(f"no merchant {merchant_id}")
        row = store.settings_to_change(tx, merchant_id)
        before = None if row is None else settings_view(row)
        if row is None:
            row = store.new_settings(
                tx,
                merchant_id=merchant_id,
                smtp_security="starttls",
                telegram_chat_ids={"ids": []},
                operator_emails={"to": []},
                alert_routes={},
                default_locale="en",
                customer_emails=True,
                secret_fields_set={},
                created_at=now,
            )
        if change.smtp_security is not None:
            row.smtp_security = change.smtp_security
        for name in ("smtp_host", "smtp_port", "smtp_user", "sender_address", "sender_name"):
            value = getattr(change, name)
            if value is not None:  # "" (or port 0) clears the field
                setattr(row, name, value or None)
        if change.telegram_chat_ids is not None:
            row.telegram_chat_ids = {"ids": [c.strip() for c in change.telegram_chat_ids if c]}
        if change.operator_emails is not None:
            row.operator_emails = {"to": [e.strip() for e in change.operator_emails if e]}
        if change.alert_routes is not None:
            row.alert_routes = {**row.alert_routes, **change.alert_routes}
        if change.default_locale is not None:
            row.default_locale = change.default_locale
        if change.customer_emails is not None:
            row.customer_emails = change.customer_emails
        secrets_changed = {
            name: getattr(change, name)
            for name in _SECRET_FIELDS
            if getattr(change, name) is not None
        }
        if secrets_changed:
            current = _secrets_of(hub.keys, row)
            plain = {name: value.reveal() for name, value in current.items()}
            for name, value in secrets_changed.items():
                if value:
                    plain[name] = value
                else:
                    plain.pop(name, None)
            row.secrets_ciphertext, row.secrets_key_id = encrypt_credentials(
                hub.require_master_key(), _aad_id(merchant_id), plain
            )
            row.secret_fields_set = {"fields": sorted(plain)}
        row.updated_at = now
        view = settings_view(row)
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="notification_settings.changed",
            subject=merchant_id,
            before=before,
            after=view,
            now=now,
        )
    return view


def _secrets_of(keys: Mapping[str, MasterKey], row: NotificationSettings) -> dict[str, Secret]:
    if not row.secrets_ciphertext or not row.secrets_key_id:
        return {}
    return decrypt_credentials(
        keys, _aad_id(row.merchant_id), row.secrets_ciphertext, row.secrets_key_id
    )


def settings_view(row: NotificationSettings) -> dict[str, Any]:
    """The settings as shown: which secrets are set, never their values."""
    return {
        "merchant_id": row.merchant_id,
        "smtp_host": row.smtp_host,
        "smtp_port": row.smtp_port,
        "smtp_security": row.smtp_security,
        "smtp_user": row.smtp_user,
        "sender_address": row.sender_address,
        "sender_name": row.sender_name,
        "telegram_chat_ids": list(row.telegram_chat_ids.get("ids", [])),
        "operator_emails": list(row.operator_emails.get("to", [])),
        "alert_routes": dict(row.alert_routes),
        "default_locale": row.default_locale,
        "customer_emails": row.customer_emails,
        "secrets_set": list((row.secret_fields_set or {}).get("fields", [])),
    }


def show_settings(hub: Hub, merchant_id: str) -> dict[str, Any] | None:
    with hub.db.session() as session:
        row = store.settings_of(session, merchant_id)
        return None if row is None else settings_view(row)


def set_template(
    hub: Hub,
    merchant_id: str,
    name: str,
    locale: str,
    *,
    subject: str,
    text: str,
    html: str | None,
    actor: str,
) -> None:
    """Store the merchant's template `name` in `locale`: an override of a built-in one or a
    merchant-named extra. It must compile in the sandbox."""
    if not _TEMPLATE_NAME.match(name):
        raise InvalidRequest("a template name is lower-case letters, digits and _")
    if locale not in LOCALES:
        raise InvalidRequest(f"locale must be one of {', '.join(LOCALES)}")
    if not text.strip():
        raise InvalidRequest("a template needs a text body")
    check_template(TemplateSource(subject=subject, text=text, html=html))
    now = hub.clock.now()
    with hub.db.write() as tx:
        if not merchants.merchant_exists(tx, merchant_id):
            raise NotFound(f"no merchant {merchant_id}")
        existed = store.save_template(
            tx,
            merchant_id=merchant_id,
            name=name,
            locale=locale,
            subject=subject,
            text_body=text,
            html_body=html,
            now=now,
        )
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="notification_template.replaced" if existed else "notification_template.added",
            subject=f"{name}/{locale}",
            now=now,
        )


def template_source(reader: Reader, merchant_id: str, name: str, locale: str) -> TemplateSource:
    """The merchant's template in the locale, else ours, else the same in English."""
    for candidate in dict.fromkeys((locale, "en")):
        stored = store.template_of(reader, merchant_id, name, candidate)
        if stored is not None:
            return TemplateSource(stored.subject, stored.text_body, stored.html_body)
        ours = built_in_source(name, candidate)
        if ours is not None:
            return ours
    raise RenderFailed(f"no template {name!r}")


# --- fan-out --------------------------------------------------------------------------------


def _alert_text(kind: str, data: Mapping[str, Any], locale: str) -> tuple[str, list[list[str]]]:
    """An alert's headline and its detail lines, by kind; an unknown kind is generic."""

    def amount(field: str) -> str:
        value, currency = data.get(field), data.get("currency")
        if isinstance(value, int) and isinstance(currency, str):
            return format_money(value, currency, locale)
        return "-"

    reasons = {
        "amount_mismatch": "the amount paid differs from the amount due",
        "paid_after_expiry": "paid after the order expired",
        "already_paid": "paid twice (the order was already paid)",
        "currency_mismatch": "paid in another currency",
    }
    ref = data.get("merchant_reference") or data.get("order_id") or "?"
    if kind == "payment_failed":
        headline = f"Payment failed for order {ref} ({data.get('gateway', '?')})"
    elif kind == "payment_review":
        reason = str(data.get("reason", "review"))
        headline = f"Payment needs review for order {ref}: {reasons.get(reason, reason)}"
    elif kind == "stock_low":
        headline = (
            f"Low stock: {data.get('name', data.get('sku', '?'))} has "
            f"{data.get('stock_available', '?')} left (threshold {data.get('low_stock_threshold')})"
        )
    elif kind == "endpoint_failing":
        headline = f"Webhook endpoint failing: {data.get('url', data.get('endpoint_id', '?'))}"
    elif kind == "endpoint_disabled":
        headline = f"Webhook endpoint disabled: {data.get('url', data.get('endpoint_id', '?'))}"
    elif kind == "gateway_error":
        headline = f"Gateway error from {data.get('gateway', '?')}"
    elif kind == "gateway.unhealthy":
        headline = (
            f"Gateway unhealthy: {data.get('gateway', '?')} ({data.get('environment', '?')}) "
            f"failed {data.get('consecutive_failures', '?')} create calls in a row; "
            f"payments are routed around it"
        )
    elif kind == "gateway.recovered":
        headline = f"Gateway recovered: {data.get('gateway', '?')} ({data.get('environment', '?')})"
    elif kind == "reconciled_without_notification":
        headline = (
            f"Payment for order {ref} settled by reconciliation: "
            f"the gateway's notification never came"
        )
    else:
        headline = f"Operator alert: {kind}"
    shown = {
        "order_id": "Order",
        "merchant_reference": "Reference",
        "payment_id": "Payment",
        "gateway": "Gateway",
        "status": "Status",
        "code": "Code",
        "reason": "Reason",
        "sku": "SKU",
        "stock_available": "Stock left",
        "endpoint_id": "Endpoint",
        "url": "URL",
        "message": "Message",
        "error": "Error",
    }
    details = [[label, str(data[field])[:200]] for field, label in shown.items() if field in data]
    if "expected" in data:
        details.append(["Expected", amount("expected")])
    if "received" in data and data.get("received") is not None:
        details.append(["Received", amount("received")])
    if "amount" in data and kind != "stock_low":
        details.append(["Amount", amount("amount")])
    return headline, details


def _alert_kind(event: OutboxEvent) -> str | None:
    data = event.payload.get("data") or {}
    if event.event_type == "payment.failed":
        return "payment_failed"
    if event.event_type != "operator.alert":
        return None
    if data.get("alert") == "payment_needs_review":
        return "payment_review"
    return str(data.get("kind") or data.get("alert") or "unknown")


@dataclass(slots=True)
class _Recipients:
    smtp_destination: str | None
    operator_emails: list[str]
    chats: list[str]
    customer_emails: bool
    default_locale: str
    routes: dict[str, Any]


def _recipients(row: NotificationSettings) -> _Recipients:
    fields = set((row.secret_fields_set or {}).get("fields", []))
    smtp = (
        f"smtp:{row.smtp_host}:{row.smtp_port or 587}"
        if row.smtp_host and row.sender_address
        else None
    )
    return _Recipients(
        smtp_destination=smtp,
        operator_emails=list(row.operator_emails.get("to", [])),
        chats=list(row.telegram_chat_ids.get("ids", [])) if "telegram_bot_token" in fields else [],
        customer_emails=row.customer_emails,
        default_locale=row.default_locale,
        routes=dict(row.alert_routes),
    )


def _order_context(
    reader: Reader, order_id: str
) -> tuple[dict[str, Any], Order, Customer | None] | None:
    """What a customer e-mail shows of the order, with the order and its customer."""
    order = orders.find_order(reader, order_id)
    if order is None:
        return None
    customer = customers.find_customer(reader, order.customer_id) if order.customer_id else None
    items = [
        {
            "name": item.name,
            "sku": item.sku,
            "quantity": item.quantity,
            "unit_price": item.unit_price_minor,
            "total": item.unit_price_minor * item.quantity,
        }
        for item in orders.items_of(reader, order_id)
    ]
    context = {
        "order_id": order.id,
        "merchant_reference": order.merchant_reference,
        "description": order.description,
        "amount": order.total_minor,
        "currency": order.currency,
        "items": items,
        "customer_name": customer.name if customer else None,
        "metadata": order.metadata_json,
        "order_status": order.status,
    }
    return context, order, customer


def _derive(
    hub: Hub, tx: Tx, event: OutboxEvent, row: NotificationSettings, now: datetime
) -> list[dict[str, Any]]:
    """The notification rows of one event under the merchant's settings."""
    who = _recipients(row)
    data: dict[str, Any] = event.payload.get("data") or {}
    merchant_name = store.merchant_name(tx, event.merchant_id)
    base = {
        "merchant_id": event.merchant_id,
        "merchant_name": merchant_name,
        "event_id": event.id,
        "occurred_at": as_utc(event.created_at).strftime("%Y-%m-%d %H:%M UTC"),
    }
    rows: list[dict[str, Any]] = []

    def add(
        channel: str, recipient: str, template: str, locale: str, context: dict[str, Any]
    ) -> None:
        destination = who.smtp_destination if channel == "email" else f"telegram:{recipient}"
        if destination is None:
            return
        rows.append(
            {
                "merchant_id": event.merchant_id,
                "event_id": event.id,
                "event_type": event.event_type,
                "order_id": context.get("order_id"),
                "channel": channel,
                "recipient": recipient[:320],
                "template": template,
                "locale": locale,
                "destination": destination,
                "context": {**base, **context},
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
        )

    # Customer e-mails.
    customer_template = {
        "order.paid": "payment_confirmation",
        "payment.failed": "payment_failed",
        "refund.succeeded": "refund_issued",
    }.get(event.event_type)
    order_id = data.get("order_id")
    if customer_template and who.customer_emails and isinstance(order_id, str):
        found = _order_context(tx, order_id)
        if found is not None:
            context, order, customer = found
            email = customer.email if customer else None
            locale = choose_locale(order.locale, who.default_locale)
            payment = (
                attempts.find_attempt(tx, data["payment_id"]) if data.get("payment_id") else None
            )
            if payment is not None:
                context.update(
                    gateway=payment.gateway,
                    gateway_name=_gateway_name(payment.gateway),
                    gateway_txn_id=payment.gateway_txn_id,
                    payment_id=payment.id,
                )
            if event.event_type == "payment.failed":
                if payment is not None:
                    context["amount"] = payment.amount_minor
                takes_payments = order.status in ("awaiting_payment", "payment_failed")
                context["retry_url"] = _retry_url(hub, order.id) if takes_payments else None
            if event.event_type == "refund.succeeded":
                context["refund_amount"] = data.get("amount")
            if email:
                add("email", email, customer_template, locale, context)
                if event.event_type == "order.paid":
                    wanted = (order.metadata_json or {}).get("notify") or []
                    stored = store.template_names(tx, event.merchant_id)
                    for name in wanted[:10] if isinstance(wanted, list) else []:
                        if isinstance(name, str) and name in stored and name not in BUILT_IN:
                            add("email", email, name, locale, context)
                        else:
                            log.info("order %s asks for unknown template %.64r", order.id, name)

    # Operator alerts.
    kind = _alert_kind(event)
    if kind is not None:
        locale = choose_locale(who.default_locale)
        headline, details = _alert_text(kind, data, locale)
        context = {
            "kind": kind,
            "headline": headline,
            "details": details,
            "order_id": data.get("order_id"),
        }
        channels = who.routes.get(kind, who.routes.get("*", list(CHANNELS)))
        if "email" in channels:
            for address in who.operator_emails:
                add("email", address, "operator_alert", locale, context)
        if "telegram" in channels:
            for chat in who.chats:
                add("telegram", chat, "operator_alert" + TELEGRAM_SUFFIX, locale, context)
    return rows


def _retry_url(hub: Hub, order_id: str) -> str | None:
    """The hosted-checkout link (none without a master key to sign it)."""
    try:
        return hosted.hosted_checkout_url(hub, order_id)
    except VaultError:
        return None


def _gateway_name(gateway: str) -> str:
    if gateway in gateway_names():
        return entry(gateway).adapter.display_name
    return gateway


def fan_out_notifications(hub: Hub, limit: int = FAN_OUT_BATCH) -> int:
    """Derive the notifications of new outbox events; returns how many rows were new."""
    now = hub.clock.now()
    created = 0
    with hub.db.write() as tx:
        events = store.events_to_notify(tx, limit)
        settings: dict[str, NotificationSettings | None] = {}
        for event in events:
            if event.merchant_id not in settings:
                settings[event.merchant_id] = store.settings_of(tx, event.merchant_id)
            row = settings[event.merchant_id]
            try:
                rows = _derive(hub, tx, event, row, now) if row is not None else []
            except Exception:  # one malformed event must not hold back every other one
                log.exception("deriving the notifications of %s failed; skipped", event.id)
                rows = []
            count = store.add_notifications(tx, rows)
            store.mark_fanned_out(tx, event.id, event.merchant_id, count, now)
            created += count
    return created


# --- sending --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    merchant_id: str
    channel: str
    recipient: str
    template: str
    locale: str
    context: dict[str, Any]
    reference: str


@dataclass(frozen=True, slots=True)
class _Channels:
    smtp: SmtpServer | None
    bot: TelegramBot | None


def claim_destination(hub: Hub, destination: str, owner: str) -> list[_Claimed]:
    """Take the destination's lease and claim its due messages for `owner` (none if another
    worker holds the lease)."""
    now = hub.clock.now()
    lease = timedelta(seconds=hub.settings.notify_lease_seconds)
    with hub.db.write() as tx:
        if not store.acquire_destination(tx, destination, owner, now, now + lease):
            return []
        rows = store.claim_due(tx, destination, owner, now, now + lease, CLAIM_PER_DESTINATION)
        return [_claimed(row) for row in rows]


def _claimed(row: Notification) -> _Claimed:
    return _Claimed(
        id=row.id,
        merchant_id=row.merchant_id,
        channel=row.channel,
        recipient=row.recipient,
        template=row.template,
        locale=row.locale,
        context=dict(row.context),
        reference=f"ntf-{row.id}-{row.event_id}",
    )


def _destinations_due(hub: Hub) -> list[str]:
    with hub.db.session() as session:
        limit = hub.settings.notify_concurrency * 4
        return store.destinations_due(session, hub.clock.now(), limit)


def _release(hub: Hub, destination: str, owner: str) -> None:
    with hub.db.write() as tx:
        store.release_destination(tx, destination, owner)


def _channels_of(hub: Hub, merchant_id: str) -> _Channels:
    with hub.db.session() as session:
        row = store.settings_of(session, merchant_id)
        if row is None:
            return _Channels(None, None)
        secrets = _secrets_of(hub.keys, row)
    return _channels_from(hub, row, secrets)


def _channels_from(hub: Hub, row: NotificationSettings, secrets: dict[str, Secret]) -> _Channels:
    smtp = None
    if row.smtp_host and row.sender_address:
        security = row.smtp_security if row.smtp_security in SECURITIES else "starttls"
        smtp = SmtpServer(
            host=row.smtp_host,
            port=row.smtp_port or 587,
            security=security,  # type: ignore[arg-type]
            user=row.smtp_user,
            password=secrets.get("smtp_password"),
            sender_address=row.sender_address,
            sender_name=row.sender_name,
            timeout=hub.settings.notify_timeout_seconds,
        )
    token = secrets.get("telegram_bot_token")
    bot = (
        TelegramBot(
            api_url=_telegram_api_url(hub),
            token=token,
            timeout=hub.settings.notify_timeout_seconds,
        )
        if token is not None
        else None
    )
    return _Channels(smtp, bot)


def _telegram_api_url(hub: Hub) -> str:
    # OUTBOUND URL POLICY: the one place the Telegram API origin is chosen. When
    # payhub/outbound.py lands, check `hub.settings.telegram_api_url` through it here.
    return hub.settings.telegram_api_url


def _render(hub: Hub, item: _Claimed) -> RenderedMessage:
    with hub.db.session() as session:
        source = template_source(session, item.merchant_id, item.template, item.locale)
    return render(source, item.context, item.locale)


def _record(hub: Hub, item_id: int, owner: str, outcome: SendOutcome) -> None:
    now = hub.clock.now()
    with hub.db.write() as tx:
        row = store.notification_to_change(tx, item_id, owner)
        if row is None:  # the claim expired and another worker took the message over
            return
        row.attempts += 1
        row.updated_at = now
        row.lease_owner = None
        row.lease_expires_at = None
        row.last_error = outcome.reason[:500] if outcome.reason else None
        if outcome.result == "sent":
            row.state = "sent"
            row.sent_at = now
            return
        if outcome.result == "failed" or row.attempts > len(RETRY_SCHEDULE):
            row.state = "failed"
            return
        row.state = "pending"
        if outcome.retry_after_seconds is not None:
            row.next_attempt_at = now + timedelta(seconds=outcome.retry_after_seconds)
        else:
            scale = hub.settings.notify_retry_scale
            row.next_attempt_at = now + RETRY_SCHEDULE[row.attempts - 1] * scale


def _give_back(hub: Hub, ids: list[int], owner: str, seconds: float) -> None:
    at = hub.clock.now() + timedelta(seconds=seconds)
    with hub.db.write() as tx:
        store.release_unsent(tx, ids, owner, at)


async def _send_batch(hub: Hub, items: list[_Claimed], owner: str) -> int:
    """Send one destination's claimed messages in order; returns how many were sent."""
    sent = 0
    by_merchant: dict[str, list[_Claimed]] = {}
    for item in items:
        by_merchant.setdefault(item.merchant_id, []).append(item)
    for merchant_id, batch in by_merchant.items():
        try:
            channels = await to_thread.run_sync(_channels_of, hub, merchant_id)
        except VaultError as exc:
            for item in batch:
                await to_thread.run_sync(
                    _record, hub, item.id, owner, SendOutcome("retry", str(exc)[:200])
                )
            continue
        rendered: list[tuple[_Claimed, RenderedMessage | SendOutcome]] = []
        for item in batch:
            try:
                rendered.append((item, await to_thread.run_sync(_render, hub, item)))
            except RenderFailed as exc:
                rendered.append((item, SendOutcome("failed", str(exc))))
        if batch[0].channel == "email":
            sent += await _send_emails(hub, channels.smtp, rendered, owner)
        else:
            sent += await _send_telegrams(hub, channels.bot, rendered, owner)
    return sent


async def check_smtp_host(hub: Hub, server: SmtpServer) -> None:
    """The merchant's SMTP host passes the outbound policy like any URL the hub fetches
    (raises OutboundRefused)."""
    host = f"[{server.host}]" if ":" in server.host else server.host
    await check_url(f"http://{host}:{server.port}/", OutboundPolicy.from_settings(hub.settings))


async def _send_emails(
    hub: Hub,
    server: SmtpServer | None,
    rendered: list[tuple[_Claimed, RenderedMessage | SendOutcome]],
    owner: str,
) -> int:
    sent = 0
    to_send = []
    for item, message in rendered:
        if isinstance(message, SendOutcome):
            await to_thread.run_sync(_record, hub, item.id, owner, message)
        elif server is None:
            outcome = SendOutcome("failed", "the merchant has no SMTP server configured")
            await to_thread.run_sync(_record, hub, item.id, owner, outcome)
        else:
            to_send.append((item, message))
    if not to_send or server is None:
        return 0
    remaining = list(to_send)
    try:
        await check_smtp_host(hub, server)
    except OutboundRefused as exc:
        refused = smtp_failure(exc)
        for item, _ in remaining:
            await to_thread.run_sync(_record, hub, item.id, owner, refused)
        return 0
    try:
        async with SmtpConnection(server) as connection:
            while remaining:
                item, message = remaining[0]
                email = build_email(server, item.recipient, message, reference=item.reference)
                outcome = await connection.send(email)
                remaining.pop(0)
                await to_thread.run_sync(_record, hub, item.id, owner, outcome)
                sent += outcome.result == "sent"
    except Exception as exc:  # connection-level: every message not yet sent is retried
        failure = smtp_failure(exc)
        log.warning("notifications to %s: %s", server.destination, failure.reason)
        for item, _ in remaining:
            await to_thread.run_sync(_record, hub, item.id, owner, failure)
    return sent


async def _send_telegrams(
    hub: Hub,
    bot: TelegramBot | None,
    rendered: list[tuple[_Claimed, RenderedMessage | SendOutcome]],
    owner: str,
) -> int:
    sent = 0
    for index, (item, message) in enumerate(rendered):
        if isinstance(message, SendOutcome):
            outcome = message
        elif bot is None:
            outcome = SendOutcome("failed", "the merchant has no Telegram bot token")
        else:
            outcome = await send_telegram(hub.http, bot, item.recipient, message.text)
        await to_thread.run_sync(_record, hub, item.id, owner, outcome)
        sent += outcome.result == "sent"
        if outcome.retry_after_seconds is not None:
            # Flood control applies to the chat: the rest waits as long as Telegram said.
            rest = [later.id for later, _ in rendered[index + 1 :]]
            if rest:
                await to_thread.run_sync(_give_back, hub, rest, owner, outcome.retry_after_seconds)
            break
    return sent


async def send_due_notifications(hub: Hub) -> dict[str, int]:
    """One pass of the notification job: derive new events' notifications, then send every
    due message, one destination at a time per destination, destinations concurrently."""
    created = await to_thread.run_sync(fan_out_notifications, hub)
    owner = f"notify-{uuid.uuid4().hex[:16]}"
    destinations = await to_thread.run_sync(_destinations_due, hub)
    bound = asyncio.Semaphore(hub.settings.notify_concurrency)

    async def serve(destination: str) -> int:
        sent = 0
        async with bound:
            try:
                # Batch after batch (each claim renews the lease) while all goes well; a
                # destination that fails or throttles waits for the next pass.
                for _ in range(BATCHES_PER_PASS):
                    items = await to_thread.run_sync(claim_destination, hub, destination, owner)
                    batch_sent = await _send_batch(hub, items, owner) if items else 0
                    sent += batch_sent
                    if not items or batch_sent < len(items):
                        break
            finally:
                await to_thread.run_sync(_release, hub, destination, owner)
        return sent

    results = await asyncio.gather(*(serve(d) for d in destinations), return_exceptions=True)
    sent = 0
    for destination, result in zip(destinations, results, strict=True):
        if isinstance(result, BaseException):
            log.error("notifications to %s failed: %s", destination, type(result).__name__)
        else:
            sent += result
    return {"notifications_created": created, "notifications_sent": sent}


# --- the test command -----------------------------------------------------------------------


async def send_test_notifications(hub: Hub, merchant_id: str) -> list[dict[str, Any]]:
    """Send a test e-mail (to the operator addresses, else the sender) and a test Telegram
    message (to every chat) now, not through the outbox; what each send answered."""

    def load() -> tuple[_Channels, NotificationSettings, str]:
        with hub.db.session() as session:
            row = store.settings_of(session, merchant_id)
            if row is None:
                raise NotFound(f"merchant {merchant_id} has no notification settings")
            name = store.merchant_name(session, merchant_id)
            return _channels_from(hub, row, _secrets_of(hub.keys, row)), row, name

    channels, row, name = await to_thread.run_sync(load)
    results: list[dict[str, Any]] = []
    context = {"merchant_id": merchant_id, "merchant_name": name}
    source = built_in_source("test_message", "en")
    assert source is not None
    if channels.smtp is None:
        results.append({"channel": "email", "recipient": None, "result": "not configured"})
    else:
        message = render(source, {**context, "channel": "e-mail"}, "en")
        targets = list(row.operator_emails.get("to", [])) or [channels.smtp.sender_address]
        for address in targets:
            try:
                await check_smtp_host(hub, channels.smtp)
                async with SmtpConnection(channels.smtp) as connection:
                    email = build_email(channels.smtp, address, message, reference="test")
                    outcome = await connection.send(email)
            except Exception as exc:
                outcome = smtp_failure(exc)
            results.append(_result("email", address, outcome))
    if channels.bot is None:
        results.append({"channel": "telegram", "recipient": None, "result": "not configured"})
    else:
        message = render(source, {**context, "channel": "Telegram"}, "en")
        for chat in row.telegram_chat_ids.get("ids", []):
            outcome = await send_telegram(hub.http, channels.bot, chat, message.text)
            results.append(_result("telegram", chat, outcome))
    return results


def _result(channel: str, recipient: str, outcome: SendOutcome) -> dict[str, Any]:
    return {
        "channel": channel,
        "recipient": recipient,
        "result": outcome.result,
        "reason": outcome.reason,
    }
