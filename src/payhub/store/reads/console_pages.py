"""Read models of the console's gateways, developers, customers and audit pages.

The audit log and the event log are paged by cursor: a page holds rows with an id below
the cursor, newest first, and names the cursor of the next page (`None` on the last).
Customers are searched by their external id, name, e-mail address or phone number. No
secret is read here: webhook endpoints come without their secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from payhub.clock import as_utc
from payhub.store.db import Database
from payhub.store.models import (
    AuditEntry,
    CreditAccount,
    Customer,
    Delivery,
    OutboxEvent,
    WebhookEndpoint,
)
from payhub.store.reads.running import run_read

PAGE_SIZE = 50
SEARCH_LIMIT = 50


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# -- audit log -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    subject: str = ""
    since: datetime | None = None
    until: datetime | None = None  # exclusive


@dataclass(frozen=True, slots=True)
class AuditEntryView:
    id: int
    actor: str
    action: str
    subject: str
    source_ip: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    at: datetime


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: tuple[AuditEntryView, ...]
    next_cursor: int | None


def _audit_page(
    session: Session, merchant_id: str, where: AuditFilter, cursor: int | None, size: int
) -> AuditPage:
    query = select(AuditEntry).where(AuditEntry.merchant_id == merchant_id)
    if where.actor:
        query = query.where(AuditEntry.actor.like(_like(where.actor), escape="\\"))
    if where.action:
        query = query.where(AuditEntry.action.like(_like(where.action), escape="\\"))
    if where.subject:
        query = query.where(AuditEntry.subject == where.subject)
    if where.since is not None:
        query = query.where(AuditEntry.created_at >= where.since)
    if where.until is not None:
        query = query.where(AuditEntry.created_at < where.until)
    if cursor is not None:
        query = query.where(AuditEntry.id < cursor)
    rows = list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(size + 1)))
    more = len(rows) > size
    rows = rows[:size]
    return AuditPage(
        entries=tuple(
            AuditEntryView(
                id=r.id,
                actor=r.actor,
                action=r.action,
                subject=r.subject,
                source_ip=r.source_ip,
                before=r.before,
                after=r.after,
                at=as_utc(r.created_at),
            )
            for r in rows
        ),
        next_cursor=rows[-1].id if more and rows else None,
    )


async def audit_page(
    db: Database,
    merchant_id: str,
    where: AuditFilter,
    *,
    cursor: int | None = None,
    size: int = PAGE_SIZE,
) -> AuditPage:
    """The merchant's audit entries matching `where`, newest first, below `cursor`."""
    return await run_read(db, _audit_page, merchant_id, where, cursor, size)


# -- event log -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventSummary:
    id: str
    type: str
    state: str
    at: datetime
    deliveries: int
    delivered: int


@dataclass(frozen=True, slots=True)
class EventPage:
    events: tuple[EventSummary, ...]
    next_cursor: str | None
    types: tuple[str, ...]  # every type the merchant has events of, for the filter


def _event_page(
    session: Session, merchant_id: str, event_type: str, cursor: str | None, size: int
) -> EventPage:
    query = select(OutboxEvent).where(
        OutboxEvent.merchant_id == merchant_id, OutboxEvent.event_type.not_like("operator.%")
    )
    if event_type:
        query = query.where(OutboxEvent.event_type == event_type)
    if cursor is not None:
        anchor = session.scalar(
            select(OutboxEvent.created_at).where(
                OutboxEvent.id == cursor, OutboxEvent.merchant_id == merchant_id
            )
        )
        if anchor is not None:
            query = query.where(
                or_(
                    OutboxEvent.created_at < anchor,
                    (OutboxEvent.created_at == anchor) & (OutboxEvent.id < cursor),
                )
            )
    rows = list(
        session.scalars(
            query.order_by(OutboxEvent.created_at.desc(), OutboxEvent.id.desc()).limit(size + 1)
        )
    )
    more = len(rows) > size
    rows = rows[:size]
    counts: dict[str, tuple[int, int]] = {}
    if rows:
        for event_id, state, n in session.execute(
            select(Delivery.event_id, Delivery.state, func.count())
            .where(Delivery.event_id.in_([r.id for r in rows]))
            .group_by(Delivery.event_id, Delivery.state)
        ):
            total, delivered = counts.get(event_id, (0, 0))
            counts[event_id] = (total + n, delivered + (n if state == "delivered" else 0))
    types = tuple(
        session.scalars(
            select(OutboxEvent.event_type)
            .where(
                OutboxEvent.merchant_id == merchant_id,
                OutboxEvent.event_type.not_like("operator.%"),
            )
            .distinct()
            .order_by(OutboxEvent.event_type)
        )
    )
    return EventPage(
        events=tuple(
            EventSummary(
                id=r.id,
                type=r.event_type,
                state=r.state,
                at=as_utc(r.created_at),
                deliveries=counts.get(r.id, (0, 0))[0],
                delivered=counts.get(r.id, (0, 0))[1],
            )
            for r in rows
        ),
        next_cursor=rows[-1].id if more and rows else None,
        types=types,
    )


async def event_page(
    db: Database,
    merchant_id: str,
    *,
    event_type: str = "",
    cursor: str | None = None,
    size: int = PAGE_SIZE,
) -> EventPage:
    """The merchant's events (never `operator.*`), newest first, optionally of one type."""
    return await run_read(db, _event_page, merchant_id, event_type, cursor, size)


# -- webhook endpoints -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EndpointView:
    id: str
    url: str
    event_types: tuple[str, ...]  # empty: every type
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


def _webhook_endpoints(session: Session, merchant_id: str) -> list[EndpointView]:
    rows = session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.merchant_id == merchant_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return [
        EndpointView(
            id=r.id,
            url=r.url,
            event_types=tuple(r.event_types.get("only", [])),
            enabled=r.enabled,
            disabled_reason=r.disabled_reason,
            created_at=as_utc(r.created_at),
            updated_at=as_utc(r.updated_at),
        )
        for r in rows
    ]


async def webhook_endpoints(db: Database, merchant_id: str) -> list[EndpointView]:
    """The merchant's webhook endpoints, oldest first, without their secrets."""
    return await run_read(db, _webhook_endpoints, merchant_id)


# -- customers -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CustomerSummary:
    external_id: str
    name: str | None
    email: str | None
    phone: str | None
    balance: int
    created_at: datetime


def _customer_search(session: Session, merchant_id: str, text: str) -> list[CustomerSummary]:
    query = (
        select(Customer, CreditAccount.balance)
        .outerjoin(CreditAccount, CreditAccount.customer_id == Customer.id)
        .where(Customer.merchant_id == merchant_id)
    )
    text = text.strip()
    if text:
        pattern = _like(text)
        query = query.where(
            or_(
                Customer.external_id.like(pattern, escape="\\"),
                Customer.name.like(pattern, escape="\\"),
                Customer.email.like(pattern, escape="\\"),
                Customer.phone.like(pattern, escape="\\"),
            )
        )
    rows = session.execute(
        query.order_by(Customer.created_at.desc(), Customer.id.desc()).limit(SEARCH_LIMIT)
    )
    return [
        CustomerSummary(
            external_id=c.external_id,
            name=c.name,
            email=c.email,
            phone=c.phone,
            balance=balance or 0,
            created_at=as_utc(c.created_at),
        )
        for c, balance in rows
    ]


async def customer_search(db: Database, merchant_id: str, text: str = "") -> list[CustomerSummary]:
    """The merchant's customers whose external id, name, e-mail or phone contains `text`
    (the newest 50; every customer when `text` is empty)."""
    return await run_read(db, _customer_search, merchant_id, text)
