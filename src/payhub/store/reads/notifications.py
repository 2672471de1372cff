"""Read model of the notification delivery log: what was sent (or not) to whom, with which
template and language, after how many attempts. E-mail addresses are partly masked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from payhub.clock import as_utc
from payhub.store.db import Database
from payhub.store.models import Notification
from payhub.store.reads.running import run_read


def mask_recipient(channel: str, recipient: str) -> str:
    """`a***e@example.com` for an e-mail address; a chat id as it is."""
    if channel != "email" or "@" not in recipient:
        return recipient
    local, _, domain = recipient.rpartition("@")
    shown = local[0] + "***" + (local[-1] if len(local) > 2 else "")
    return f"{shown}@{domain}"


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


@dataclass(frozen=True, slots=True)
class NotificationView:
    id: int
    event_id: str
    event_type: str
    order_id: str | None
    channel: str
    recipient: str
    template: str
    locale: str
    outcome: str
    attempts: int
    last_error: str | None
    next_attempt_at: str | None
    sent_at: str | None
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, n: Notification) -> NotificationView:
        return cls(
            id=n.id,
            event_id=n.event_id,
            event_type=n.event_type,
            order_id=n.order_id,
            channel=n.channel,
            recipient=mask_recipient(n.channel, n.recipient),
            template=n.template,
            locale=n.locale,
            outcome=n.state,
            attempts=n.attempts,
            last_error=n.last_error,
            next_attempt_at=_iso(n.next_attempt_at) if n.state == "pending" else None,
            sent_at=_iso(n.sent_at),
            created_at=_iso(n.created_at) or "",
            updated_at=_iso(n.updated_at) or "",
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "order_id": self.order_id,
            "channel": self.channel,
            "recipient": self.recipient,
            "template": self.template,
            "locale": self.locale,
            "outcome": self.outcome,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "next_attempt_at": self.next_attempt_at,
            "sent_at": self.sent_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def _notification_log(
    session: Session, merchant_id: str, order_id: str | None, limit: int, before_id: int | None
) -> tuple[list[NotificationView], bool]:
    query = select(Notification).where(Notification.merchant_id == merchant_id)
    if order_id is not None:
        query = query.where(Notification.order_id == order_id)
    if before_id is not None:
        query = query.where(Notification.id < before_id)
    rows = list(session.scalars(query.order_by(Notification.id.desc()).limit(limit + 1)))
    return [NotificationView.of(n) for n in rows[:limit]], len(rows) > limit


async def notification_log(
    db: Database,
    merchant_id: str,
    *,
    order_id: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> tuple[list[NotificationView], bool]:
    """A page of the merchant's notifications, newest first (ids grow with time; those of
    one order, if given; those before `before_id`, if given), and whether more follow."""
    return await run_read(db, _notification_log, merchant_id, order_id, limit, before_id)
