"""Notifications: merchants' e-mail/Telegram settings and templates, the messages derived
from outbox events, and the leases that let many workers send them without sending one twice.

Claiming: a worker first takes a destination's lease (an SMTP server or a Telegram chat) with
one conditional UPDATE, so at most one worker sends to it at a time; then it claims that
destination's due messages (PostgreSQL: `FOR UPDATE SKIP LOCKED`) by setting them `sending`
with its own lease. A lease that expires (the worker crashed) is taken over by the next
worker. SQLite runs the same statements under its single writer.

Rows a write operation hands out (`settings_to_change`, `notification_to_change`, ...)
belong to that transaction: changes to them are written at the commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from payhub.store.models import (
    Merchant,
    Notification,
    NotificationDestination,
    NotificationFanout,
    NotificationSettings,
    NotificationTemplate,
    OutboxEvent,
)
from payhub.store.tables import table_of
from payhub.store.tx import Reader, Tx, session_of

__all__ = [
    "acquire_destination",
    "add_notifications",
    "claim_due",
    "destinations_due",
    "events_to_notify",
    "mark_fanned_out",
    "merchant_name",
    "new_settings",
    "notification_to_change",
    "release_destination",
    "release_unsent",
    "save_template",
    "settings_of",
    "settings_to_change",
    "template_names",
    "template_of",
]


def _dialect(reader: Reader) -> str:
    bind = session_of(reader).get_bind()
    return bind.dialect.name


def _insert_for(reader: Reader) -> Any:
    """The dialect's INSERT, which has ON CONFLICT DO NOTHING on both databases."""
    return pg_insert if _dialect(reader) == "postgresql" else sqlite_insert


def merchant_name(reader: Reader, merchant_id: str) -> str:
    name = session_of(reader).scalar(select(Merchant.name).where(Merchant.id == merchant_id))
    return name or merchant_id


# --- settings and templates ---------------------------------------------------------------


def settings_of(reader: Reader, merchant_id: str) -> NotificationSettings | None:
    return session_of(reader).get(NotificationSettings, merchant_id)


def settings_to_change(tx: Tx, merchant_id: str) -> NotificationSettings | None:
    """The merchant's settings, locked, to change."""
    return tx._session.scalar(
        select(NotificationSettings)
        .where(NotificationSettings.merchant_id == merchant_id)
        .with_for_update()
    )


def new_settings(tx: Tx, **fields: Any) -> NotificationSettings:
    row = NotificationSettings(**fields)
    tx._session.add(row)
    return row


def template_of(
    reader: Reader, merchant_id: str, name: str, locale: str
) -> NotificationTemplate | None:
    return session_of(reader).scalar(
        select(NotificationTemplate).where(
            NotificationTemplate.merchant_id == merchant_id,
            NotificationTemplate.name == name,
            NotificationTemplate.locale == locale,
        )
    )


def template_names(reader: Reader, merchant_id: str) -> set[str]:
    """Names of the merchant's stored templates (overrides and extras), any locale."""
    return set(
        session_of(reader).scalars(
            select(NotificationTemplate.name).where(NotificationTemplate.merchant_id == merchant_id)
        )
    )


def save_template(
    tx: Tx,
    *,
    merchant_id: str,
    name: str,
    locale: str,
    subject: str,
    text_body: str,
    html_body: str | None,
    now: datetime,
) -> bool:
    """Insert or replace the merchant's template; whether it existed before."""
    row = tx._session.scalar(
        select(NotificationTemplate)
        .where(
            NotificationTemplate.merchant_id == merchant_id,
            NotificationTemplate.name == name,
            NotificationTemplate.locale == locale,
        )
        .with_for_update()
    )
    existed = row is not None
    if row is None:
        row = NotificationTemplate(
            merchant_id=merchant_id, name=name, locale=locale, created_at=now
        )
        tx._session.add(row)
    row.subject = subject
    row.text_body = text_body
    row.html_body = html_body
    row.updated_at = now
    return existed


# --- fan-out --------------------------------------------------------------------------------


def events_to_notify(tx: Tx, limit: int) -> list[OutboxEvent]:
    """The oldest outbox events whose notifications are not derived yet, locked (rows
    another worker holds are skipped on PostgreSQL)."""
    done = exists().where(NotificationFanout.event_id == OutboxEvent.id)
    query = select(OutboxEvent).where(~done).order_by(OutboxEvent.created_at).limit(limit)
    if _dialect(tx) == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(tx._session.scalars(query))


def mark_fanned_out(tx: Tx, event_id: str, merchant_id: str, count: int, now: datetime) -> None:
    """Note that the event's notifications are derived (a second note changes nothing)."""
    insert = _insert_for(tx)
    tx._session.execute(
        insert(NotificationFanout)
        .values(event_id=event_id, merchant_id=merchant_id, notifications=count, created_at=now)
        .on_conflict_do_nothing(index_elements=["event_id"])
    )


def add_notifications(tx: Tx, rows: list[dict[str, Any]]) -> int:
    """Insert notification rows, skipping any (event, channel, recipient, template) that
    exists already; returns how many rows were new."""
    if not rows:
        return 0
    insert = _insert_for(tx)
    table = table_of(Notification)
    result = tx._session.execute(
        insert(table)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["event_id", "channel", "recipient", "template"])
        .returning(table.c.id)
    )
    return len(result.all())


# --- claiming and sending -------------------------------------------------------------------


def _due(now: datetime) -> Any:
    return or_(
        and_(Notification.state == "pending", Notification.next_attempt_at <= now),
        and_(Notification.state == "sending", Notification.lease_expires_at < now),
    )


def destinations_due(reader: Reader, now: datetime, limit: int) -> list[str]:
    """Destinations with a message due (or left `sending` by a crashed worker), the longest
    waiting first."""
    rows = session_of(reader).execute(
        select(Notification.destination)
        .where(_due(now))
        .group_by(Notification.destination)
        .order_by(func.min(Notification.next_attempt_at))
        .limit(limit)
    )
    return [key for (key,) in rows]


def acquire_destination(tx: Tx, key: str, owner: str, now: datetime, until: datetime) -> bool:
    """Take the destination's lease if it is free or expired; whether this owner has it.
    One conditional UPDATE: a concurrent taker waits for the row and then finds it taken.
    (The row is made here, in a transaction touching no other destination, so two workers
    never wait on each other's destinations in a cycle.)"""
    tx._session.execute(
        _insert_for(tx)(NotificationDestination)
        .values(key=key)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    result = tx._session.execute(
        update(NotificationDestination)
        .where(
            NotificationDestination.key == key,
            or_(
                NotificationDestination.lease_expires_at.is_(None),
                NotificationDestination.lease_expires_at < now,
                NotificationDestination.lease_owner == owner,
            ),
        )
        .values(lease_owner=owner, lease_expires_at=until)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def release_destination(tx: Tx, key: str, owner: str) -> None:
    tx._session.execute(
        update(NotificationDestination)
        .where(NotificationDestination.key == key, NotificationDestination.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None)
    )


def claim_due(
    tx: Tx, destination: str, owner: str, now: datetime, until: datetime, limit: int
) -> list[Notification]:
    """Claim the destination's due messages for `owner` until `until`: they become
    `sending`. Rows another transaction holds are skipped on PostgreSQL."""
    query = (
        select(Notification)
        .where(Notification.destination == destination, _due(now))
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(limit)
    )
    if _dialect(tx) == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(tx._session.scalars(query))
    for row in rows:
        row.state = "sending"
        row.lease_owner = owner
        row.lease_expires_at = until
        row.updated_at = now
    return rows


def notification_to_change(tx: Tx, notification_id: int, owner: str) -> Notification | None:
    """The message, if `owner` still holds its claim."""
    return tx._session.scalar(
        select(Notification)
        .where(
            Notification.id == notification_id,
            Notification.lease_owner == owner,
            Notification.state == "sending",
        )
        .with_for_update()
    )


def release_unsent(tx: Tx, ids: Iterable[int], owner: str, at: datetime) -> None:
    """Give claimed messages back, due at `at` (e.g. after Telegram's retry_after)."""
    tx._session.execute(
        update(Notification)
        .where(
            Notification.id.in_(list(ids)),
            Notification.lease_owner == owner,
            Notification.state == "sending",
        )
        .values(state="pending", lease_owner=None, lease_expires_at=None, next_attempt_at=at)
    )
