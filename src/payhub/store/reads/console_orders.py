"""Read models of the console's orders pages: search, the order's full record, the review
queue.

Search is by exact value (after trimming): order id, merchant reference, a payment's
gateway reference or gateway transaction id, the customer's external id, e-mail
(case-insensitive) or phone. Filters: status, gateway (any attempt through it), currency,
creation date range. Paging is keyset on (created_at, id), newest first, like /v1/orders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from payhub.clock import as_utc
from payhub.store.db import Database
from payhub.store.models import (
    AuditEntry,
    Customer,
    Delivery,
    DeliveryAttempt,
    InboundRequest,
    Notification,
    Order,
    OutboxEvent,
    Payment,
    PaymentEvent,
    Refund,
    WebhookEndpoint,
)
from payhub.store.reads.running import run_read

MAX_PAGE = 200
BODY_SHOWN = 4096  # bytes of an inbound body the detail page shows


@dataclass(frozen=True, slots=True)
class OrderSearch:
    """The console's order search and filters; every field optional."""

    query: str | None = None
    status: str | None = None
    gateway: str | None = None
    currency: str | None = None
    created_from: datetime | None = None  # inclusive
    created_to: datetime | None = None  # exclusive


@dataclass(frozen=True, slots=True)
class OrderRow:
    """One row of the console's order list (and of its CSV export)."""

    id: str
    merchant_reference: str
    status: str
    currency: str
    amount: int
    refunded: int
    livemode: bool
    customer_external_id: str | None
    customer_email: str | None
    gateways: tuple[str, ...]
    created_at: datetime
    paid_at: datetime | None


@dataclass(frozen=True, slots=True)
class OrderRows:
    rows: tuple[OrderRow, ...]
    has_more: bool
    next_cursor: str | None


def _search_query(merchant_id: str, search: OrderSearch) -> Select[Order]:
    query = select(Order).where(Order.merchant_id == merchant_id)
    q = (search.query or "").strip()
    if q:
        by_payment = select(Payment.order_id).where(
            Payment.merchant_id == merchant_id,
            or_(Payment.gateway_reference == q, Payment.gateway_txn_id == q, Payment.id == q),
        )
        by_customer = select(Customer.id).where(
            Customer.merchant_id == merchant_id,
            or_(
                Customer.external_id == q,
                func.lower(Customer.email) == q.lower(),
                Customer.phone == q,
            ),
        )
        query = query.where(
            or_(
                Order.id == q,
                Order.merchant_reference == q,
                Order.id.in_(by_payment),
                Order.customer_id.in_(by_customer),
            )
        )
    if search.status:
        query = query.where(Order.status == search.status)
    if search.currency:
        query = query.where(Order.currency == search.currency)
    if search.gateway:
        query = query.where(
            Order.id.in_(
                select(Payment.order_id).where(
                    Payment.merchant_id == merchant_id, Payment.gateway == search.gateway
                )
            )
        )
    if search.created_from:
        query = query.where(Order.created_at >= search.created_from)
    if search.created_to:
        query = query.where(Order.created_at < search.created_to)
    return query


def _order_rows(
    session: Session, merchant_id: str, search: OrderSearch, limit: int, after: str | None
) -> OrderRows | None:
    limit = max(1, min(limit, MAX_PAGE))
    query = _search_query(merchant_id, search)
    if after:
        anchor = session.get(Order, after)
        if anchor is None or anchor.merchant_id != merchant_id:
            return None
        query = query.where(
            (Order.created_at < anchor.created_at)
            | ((Order.created_at == anchor.created_at) & (Order.id < anchor.id))
        )
    orders = session.scalars(
        query.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit + 1)
    ).all()
    page = orders[:limit]
    customers: dict[str, Customer] = {}
    customer_ids = {o.customer_id for o in page if o.customer_id}
    if customer_ids:
        customers = {
            c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(customer_ids)))
        }
    gateways: dict[str, set[str]] = {}
    if page:
        for order_id, gateway in session.execute(
            select(Payment.order_id, Payment.gateway)
            .where(Payment.order_id.in_([o.id for o in page]))
            .distinct()
        ):
            gateways.setdefault(order_id, set()).add(gateway)
    rows = []
    for o in page:
        customer = customers.get(o.customer_id or "")
        rows.append(
            OrderRow(
                id=o.id,
                merchant_reference=o.merchant_reference,
                status=o.status,
                currency=o.currency,
                amount=o.total_minor,
                refunded=o.refunded_minor,
                livemode=bool(o.livemode),
                customer_external_id=customer.external_id if customer else None,
                customer_email=customer.email if customer else None,
                gateways=tuple(sorted(gateways.get(o.id, ()))),
                created_at=as_utc(o.created_at),
                paid_at=as_utc(o.paid_at) if o.paid_at else None,
            )
        )
    more = len(orders) > limit
    return OrderRows(rows=tuple(rows), has_more=more, next_cursor=page[-1].id if more else None)


async def order_rows(
    db: Database,
    merchant_id: str,
    search: OrderSearch,
    *,
    limit: int = 50,
    starting_after: str | None = None,
) -> OrderRows | None:
    """A page of the merchant's orders matching `search`, newest first; `None` when
    `starting_after` is not one of the merchant's orders."""
    return await run_read(db, _order_rows, merchant_id, search, limit, starting_after)


# -- the order's full record -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AttemptDetail:
    """A payment attempt with what the gateway said (its stored data, never credentials)."""

    id: str
    gateway: str
    status: str
    amount: int
    received: int | None
    refunded: int
    currency: str
    gateway_reference: str
    gateway_txn_id: str | None
    gateway_data: dict[str, Any]
    review_reason: str | None
    failure_code: str | None
    failure_message: str | None
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class VerifiedFact:
    """A payment event: a verified notification, a query answer or an operator decision."""

    payment_id: str
    source: str
    gateway_status: str
    gateway_code: str
    amount: int | None
    currency: str | None
    status_before: str
    status_after: str
    inbound_request_id: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class InboundDetail:
    """A callback or browser return as received, with the pipeline's verdict."""

    id: int
    gateway: str
    kind: str
    method: str
    path: str
    query_string: str
    body: str
    body_size: int
    trimmed: bool
    source_ip: str | None
    outcome: str
    detail: str
    payment_id: str | None
    received_at: datetime

    @property
    def signature(self) -> str:
        """valid | invalid | unchecked (the request never got as far as its signature)."""
        if self.outcome == "invalid_signature":
            return "invalid"
        if self.outcome in ("malformed", "unknown_account") or self.kind == "return":
            return "unchecked"
        return "valid"


@dataclass(frozen=True, slots=True)
class RefundDetail:
    id: str
    payment_id: str
    amount: int
    currency: str
    status: str
    manual: bool
    reason: str
    gateway_code: str | None
    message: str | None
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryAttemptDetail:
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True, slots=True)
class DeliveryDetail:
    endpoint_id: str
    endpoint_url: str
    state: str
    attempts: tuple[DeliveryAttemptDetail, ...]
    next_attempt_at: datetime


@dataclass(frozen=True, slots=True)
class EventDetail:
    """An outbox event about the order, with its deliveries to the merchant's endpoints."""

    id: str
    event_type: str
    created_at: datetime
    deliveries: tuple[DeliveryDetail, ...]


@dataclass(frozen=True, slots=True)
class NotificationDetail:
    channel: str
    recipient: str
    template: str
    state: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AuditDetail:
    actor: str
    action: str
    subject: str
    source_ip: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """Everything the console's order page shows beyond `reads.order_view`."""

    attempts: tuple[AttemptDetail, ...]
    facts: tuple[VerifiedFact, ...]
    inbound: tuple[InboundDetail, ...]
    refunds: tuple[RefundDetail, ...]
    events: tuple[EventDetail, ...]
    notifications: tuple[NotificationDetail, ...]
    audit: tuple[AuditDetail, ...]


# The once-only events the services enqueue about an order, its attempts and its refunds
# (their `event_key`s): found through the unique (merchant, event_key) index.
_ORDER_EVENT_KEYS = ("order.created", "order.paid", "order.cancelled", "order.expired")
_PAYMENT_EVENT_KEYS = ("payment.review", "payment.failed", "operator.alert:review")
_REFUND_EVENT_KEYS = ("refund.succeeded", "refund.failed")


def _body_text(body: bytes) -> str:
    return body[:BODY_SHOWN].decode("utf-8", "replace")


def _order_record(session: Session, merchant_id: str, order_id: str) -> OrderRecord | None:
    order = session.get(Order, order_id)
    if order is None or order.merchant_id != merchant_id:
        return None
    payments = session.scalars(
        select(Payment).where(Payment.order_id == order_id).order_by(Payment.serial)
    ).all()
    payment_ids = [p.id for p in payments]
    facts = (
        session.scalars(
            select(PaymentEvent)
            .where(PaymentEvent.payment_id.in_(payment_ids))
            .order_by(PaymentEvent.id)
        ).all()
        if payment_ids
        else []
    )
    inbound = (
        session.scalars(
            select(InboundRequest)
            .where(
                InboundRequest.received_at >= order.created_at,
                InboundRequest.payment_id.in_(payment_ids),
            )
            .order_by(InboundRequest.id)
            .limit(200)
        ).all()
        if payment_ids
        else []
    )
    refunds = session.scalars(
        select(Refund).where(Refund.order_id == order_id).order_by(Refund.created_at)
    ).all()
    keys = [f"{k}:{order_id}" for k in _ORDER_EVENT_KEYS]
    keys += [f"{k}:{p}" for p in payment_ids for k in _PAYMENT_EVENT_KEYS]
    keys += [f"{k}:{r.id}" for r in refunds for k in _REFUND_EVENT_KEYS]
    events = session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.merchant_id == merchant_id, OutboxEvent.event_key.in_(keys))
        .order_by(OutboxEvent.created_at, OutboxEvent.id)
    ).all()
    event_details = []
    for event in events:
        deliveries = []
        for delivery, url in session.execute(
            select(Delivery, WebhookEndpoint.url)
            .join(WebhookEndpoint, WebhookEndpoint.id == Delivery.endpoint_id)
            .where(Delivery.event_id == event.id)
            .order_by(Delivery.id)
        ).all():
            tries = session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id == delivery.id)
                .order_by(DeliveryAttempt.id)
            ).all()
            deliveries.append(
                DeliveryDetail(
                    endpoint_id=delivery.endpoint_id,
                    endpoint_url=url,
                    state=delivery.state,
                    attempts=tuple(
                        DeliveryAttemptDetail(
                            attempted_at=as_utc(a.attempted_at),
                            status_code=a.status_code,
                            error=a.error,
                            duration_ms=a.duration_ms,
                        )
                        for a in tries
                    ),
                    next_attempt_at=as_utc(delivery.next_attempt_at),
                )
            )
        event_details.append(
            EventDetail(
                id=event.id,
                event_type=event.event_type,
                created_at=as_utc(event.created_at),
                deliveries=tuple(deliveries),
            )
        )
    notifications = session.scalars(
        select(Notification)
        .where(Notification.merchant_id == merchant_id, Notification.order_id == order_id)
        .order_by(Notification.id)
    ).all()
    subjects = [order_id, *payment_ids, *(r.id for r in refunds)]
    audit = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.merchant_id == merchant_id, AuditEntry.subject.in_(subjects))
        .order_by(AuditEntry.id)
    ).all()
    return OrderRecord(
        attempts=tuple(
            AttemptDetail(
                id=p.id,
                gateway=p.gateway,
                status=p.status,
                amount=p.amount_minor,
                received=p.received_minor,
                refunded=p.refunded_minor,
                currency=p.currency,
                gateway_reference=p.gateway_reference,
                gateway_txn_id=p.gateway_txn_id,
                gateway_data=dict(p.gateway_data or {}),
                review_reason=p.review_reason,
                failure_code=p.failure_code,
                failure_message=p.failure_message,
                expires_at=as_utc(p.expires_at) if p.expires_at else None,
                created_at=as_utc(p.created_at),
                updated_at=as_utc(p.updated_at),
            )
            for p in payments
        ),
        facts=tuple(
            VerifiedFact(
                payment_id=f.payment_id,
                source=f.source,
                gateway_status=f.gateway_status,
                gateway_code=f.gateway_code,
                amount=f.amount_minor,
                currency=f.currency,
                status_before=f.payment_status_before,
                status_after=f.payment_status_after,
                inbound_request_id=f.inbound_request_id,
                created_at=as_utc(f.created_at),
            )
            for f in facts
        ),
        inbound=tuple(
            InboundDetail(
                id=r.id,
                gateway=r.gateway,
                kind=r.kind,
                method=r.method,
                path=r.path,
                query_string=r.query_string,
                body=_body_text(r.body),
                body_size=r.body_size if r.body_size is not None else len(r.body),
                trimmed=r.body_sha256 is not None or len(r.body) > BODY_SHOWN,
                source_ip=r.source_ip,
                outcome=r.outcome,
                detail=r.detail,
                payment_id=r.payment_id,
                received_at=as_utc(r.received_at),
            )
            for r in inbound
        ),
        refunds=tuple(
            RefundDetail(
                id=r.id,
                payment_id=r.payment_id,
                amount=r.amount_minor,
                currency=r.currency,
                status=r.status,
                manual=r.manual,
                reason=r.reason,
                gateway_code=r.gateway_code,
                message=r.message,
                created_by=r.created_by,
                created_at=as_utc(r.created_at),
            )
            for r in refunds
        ),
        events=tuple(event_details),
        notifications=tuple(
            NotificationDetail(
                channel=n.channel,
                recipient=n.recipient,
                template=n.template,
                state=n.state,
                attempts=n.attempts,
                last_error=n.last_error,
                sent_at=as_utc(n.sent_at) if n.sent_at else None,
                created_at=as_utc(n.created_at),
            )
            for n in notifications
        ),
        audit=tuple(
            AuditDetail(
                actor=a.actor,
                action=a.action,
                subject=a.subject,
                source_ip=a.source_ip,
                before=a.before,
                after=a.after,
                created_at=as_utc(a.created_at),
            )
            for a in audit
        ),
    )


async def order_record(db: Database, merchant_id: str, order_id: str) -> OrderRecord | None:
    """The order's attempts, verified facts, raw inbound requests, refunds, events with
    their deliveries, notifications and audit entries; `None` if it is not the merchant's."""
    return await run_read(db, _order_record, merchant_id, order_id)


# -- the review queue ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A payment in review with what the operator needs to decide."""

    payment_id: str
    order_id: str
    merchant_reference: str
    gateway: str
    reason: str | None  # amount_mismatch | paid_after_expiry | double_payment
    currency: str
    order_amount: int  # what the order asked for
    expected: int  # what the attempt asked for
    received: int | None  # what the gateway reported paid
    refunded: int
    order_status: str
    order_expires_at: datetime
    credits: int
    updated_at: datetime


def _review_items(
    session: Session, merchant_id: str, payment_id: str | None = None
) -> list[ReviewItem]:
    query = (
        select(Payment, Order)
        .join(Order, Order.id == Payment.order_id)
        .where(Payment.merchant_id == merchant_id, Payment.status == "review")
    )
    if payment_id is not None:
        query = query.where(Payment.id == payment_id)
    rows = session.execute(query.order_by(Payment.updated_at, Payment.id).limit(500)).all()
    return [
        ReviewItem(
            payment_id=p.id,
            order_id=o.id,
            merchant_reference=o.merchant_reference,
            gateway=p.gateway,
            reason=p.review_reason,
            currency=p.currency,
            order_amount=o.total_minor,
            expected=p.amount_minor,
            received=p.received_minor,
            refunded=p.refunded_minor,
            order_status=o.status,
            order_expires_at=as_utc(o.expires_at),
            credits=o.credits_to_grant,
            updated_at=as_utc(p.updated_at),
        )
        for p, o in rows
    ]


async def review_items(db: Database, merchant_id: str) -> list[ReviewItem]:
    """The merchant's payments in review (at most 500), oldest first."""
    return await run_read(db, _review_items, merchant_id)


async def review_item(db: Database, merchant_id: str, payment_id: str) -> ReviewItem | None:
    """One payment in review; `None` if it is not the merchant's or not in review."""
    items = await run_read(db, _review_items, merchant_id, payment_id)
    return items[0] if items else None
