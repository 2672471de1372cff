"""The outbox and its way out: merchants' webhook endpoints, one delivery per (event,
endpoint), and the log of every attempt to send one.

Events are staged into the outbox by store.journal, in the transaction of their change.
Rows a write operation hands out (`events_to_fan_out`, `delivery_to_change`,
`endpoint_to_change`) belong to that transaction: changes to them are written at the commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from payhub.store.models import Delivery, DeliveryAttempt, OutboxEvent, WebhookEndpoint
from payhub.store.tx import Reader, Tx, session_of

__all__ = [
    "add_delivery",
    "add_delivery_attempt",
    "add_endpoint",
    "attempts_of_delivery",
    "deliveries_of",
    "delivery_to_change",
    "disable_endpoint",
    "due_deliveries",
    "enabled_endpoints",
    "endpoint_to_change",
    "endpoints_of",
    "events_to_fan_out",
    "find_event",
    "make_deliveries_due",
    "prune_finished_attempts",
    "recent_events",
]


def add_endpoint(tx: Tx, **fields: Any) -> None:
    tx._session.add(WebhookEndpoint(**fields))


def endpoints_of(reader: Reader, merchant_id: str) -> list[WebhookEndpoint]:
    return list(
        session_of(reader).scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.merchant_id == merchant_id)
            .order_by(WebhookEndpoint.created_at)
        )
    )


def endpoint_to_change(tx: Tx, endpoint_id: str) -> WebhookEndpoint | None:
    return tx._session.get(WebhookEndpoint, endpoint_id)


def enabled_endpoints(reader: Reader, merchant_id: str) -> list[WebhookEndpoint]:
    return list(
        session_of(reader).scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.merchant_id == merchant_id, WebhookEndpoint.enabled.is_(True)
            )
        )
    )


def disable_endpoint(tx: Tx, endpoint_id: str, reason: str, now: datetime) -> None:
    tx._session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id)
        .values(enabled=False, disabled_reason=reason, updated_at=now)
    )


def events_to_fan_out(tx: Tx, limit: int) -> list[OutboxEvent]:
    """The oldest pending events, locked."""
    return list(
        tx._session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.state == "pending")
            .order_by(OutboxEvent.created_at)
            .limit(limit)
            .with_for_update()
        )
    )


def add_delivery(tx: Tx, **fields: Any) -> None:
    tx._session.add(Delivery(**fields))


def due_deliveries(
    reader: Reader, now: datetime, limit: int
) -> list[tuple[Delivery, WebhookEndpoint, OutboxEvent]]:
    """Pending deliveries due by `now` to enabled endpoints, with their endpoint and event."""
    rows = session_of(reader).execute(
        select(Delivery, WebhookEndpoint, OutboxEvent)
        .join(WebhookEndpoint, WebhookEndpoint.id == Delivery.endpoint_id)
        .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
        .where(
            Delivery.state == "pending",
            Delivery.next_attempt_at <= now,
            WebhookEndpoint.enabled.is_(True),
        )
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
    )
    return [(delivery, endpoint, event) for delivery, endpoint, event in rows]


def delivery_to_change(tx: Tx, delivery_id: int) -> Delivery | None:
    return tx._session.get(Delivery, delivery_id)


def add_delivery_attempt(tx: Tx, **fields: Any) -> None:
    tx._session.add(DeliveryAttempt(**fields))


def find_event(reader: Reader, event_id: str) -> OutboxEvent | None:
    return session_of(reader).get(OutboxEvent, event_id)


def make_deliveries_due(tx: Tx, event_id: str, now: datetime) -> int:
    """Every delivery of the event pending and due now again; how many."""
    result = tx._session.execute(
        update(Delivery)
        .where(Delivery.event_id == event_id)
        .values(state="pending", next_attempt_at=now, updated_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def deliveries_of(reader: Reader, event_id: str) -> list[Delivery]:
    return list(session_of(reader).scalars(select(Delivery).where(Delivery.event_id == event_id)))


def attempts_of_delivery(reader: Reader, delivery_id: int) -> list[DeliveryAttempt]:
    return list(
        session_of(reader).scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id == delivery_id)
            .order_by(DeliveryAttempt.id)
        )
    )


def recent_events(reader: Reader, merchant_id: str, limit: int) -> list[OutboxEvent]:
    """The merchant's newest events, without the operator's own."""
    return list(
        session_of(reader).scalars(
            select(OutboxEvent)
            .where(
                OutboxEvent.merchant_id == merchant_id,
                ~OutboxEvent.event_type.startswith("operator."),
            )
            .order_by(OutboxEvent.created_at.desc())
            .limit(limit)
        )
    )


def prune_finished_attempts(tx: Tx, attempted_before: datetime, limit: int) -> int:
    """Delete up to `limit` attempt rows made before `attempted_before` of deliveries that
    are finished (delivered or given up); how many. The deliveries themselves stay, with
    their state and last status."""
    finished = select(Delivery.id).where(Delivery.state != "pending")
    batch = (
        select(DeliveryAttempt.id)
        .where(
            DeliveryAttempt.attempted_at < attempted_before,
            DeliveryAttempt.delivery_id.in_(finished),
        )
        .order_by(DeliveryAttempt.id)
        .limit(limit)
        .scalar_subquery()
    )
    result = tx._session.execute(
        delete(DeliveryAttempt)
        .where(DeliveryAttempt.id.in_(batch))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
