"""The outbox and its way out: merchants' webhook endpoints, one delivery per (event,
endpoint), and the log of every attempt to send one.

Events are staged into the outbox by store.journal, in the transaction of their change.
Rows a write operation hands out (`events_to_fan_out`, `delivery_to_change`,
`endpoint_to_change`) belong to that transaction: changes to them are written at the commit.

Workers take deliveries by lease: `claim_due_deliveries` locks due rows with
`FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite has one writer and one worker) and stamps them
`claimed_by` / `claimed_until`; the attempt is recorded only while the claim is still the
worker's (`record_delivery_attempt`), and its counter is incremented in SQL. A lease that
passed (a crashed worker) makes the delivery claimable again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update

from payhub.store.models import Delivery, DeliveryAttempt, OutboxEvent, WebhookEndpoint
from payhub.store.tx import Reader, Tx, session_of

__all__ = [
    "ClaimedDelivery",
    "add_delivery",
    "add_delivery_attempt",
    "add_endpoint",
    "attempts_of_delivery",
    "claim_due_deliveries",
    "deliveries_of",
    "delivery_to_change",
    "disable_endpoint",
    "due_deliveries",
    "enabled_endpoints",
    "endpoint_to_change",
    "endpoints_of",
    "event_key_exists",
    "events_page",
    "events_to_fan_out",
    "find_event",
    "make_deliveries_due",
    "prune_finished_attempts",
    "record_delivery_attempt",
    "release_deliveries",
    "settle_delivery",
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


def disable_endpoint(tx: Tx, endpoint_id: str, reason: str, now: datetime) -> bool:
    """Disable an enabled endpoint; False if it was disabled already."""
    result = tx._session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled.is_(True))
        .values(enabled=False, disabled_reason=reason, updated_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


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


def events_page(
    reader: Reader, merchant_id: str, limit: int, starting_after: str | None = None
) -> tuple[list[OutboxEvent], bool] | None:
    """A page of the merchant's events, newest first (created, then id, descending), without
    the operator's own, and whether more follow; `None` when `starting_after` is not one of
    the merchant's events."""
    session = session_of(reader)
    query = select(OutboxEvent).where(
        OutboxEvent.merchant_id == merchant_id,
        ~OutboxEvent.event_type.startswith("operator."),
    )
    if starting_after is not None:
        anchor = session.get(OutboxEvent, starting_after)
        if (
            anchor is None
            or anchor.merchant_id != merchant_id
            or anchor.event_type.startswith("operator.")
        ):
            return None
        query = query.where(
            (OutboxEvent.created_at < anchor.created_at)
            | ((OutboxEvent.created_at == anchor.created_at) & (OutboxEvent.id < anchor.id))
        )
    rows = list(
        session.scalars(
            query.order_by(OutboxEvent.created_at.desc(), OutboxEvent.id.desc()).limit(limit + 1)
        )
    )
    return rows[:limit], len(rows) > limit


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery this worker holds the lease on, with what sending it needs."""

    delivery_id: int
    merchant_id: str
    event_id: str
    endpoint_id: str
    url: str
    secret_ciphertext: bytes
    secret_key_id: str
    payload: dict[str, Any]
    attempts: int


def claim_due_deliveries(
    tx: Tx,
    now: datetime,
    *,
    worker: str,
    lease_until: datetime,
    limit: int,
    skip_endpoints: frozenset[str] = frozenset(),
) -> list[ClaimedDelivery]:
    """Claim up to `limit` pending deliveries due by `now` to enabled endpoints (not in
    `skip_endpoints`) whose lease is free or passed; rows another transaction holds are
    skipped, not waited for."""
    session = tx._session
    query = (
        select(Delivery.id)
        .join(WebhookEndpoint, WebhookEndpoint.id == Delivery.endpoint_id)
        .where(
            Delivery.state == "pending",
            Delivery.next_attempt_at <= now,
            WebhookEndpoint.enabled.is_(True),
            or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now),
        )
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Delivery)
    )
    if skip_endpoints:
        query = query.where(Delivery.endpoint_id.not_in(sorted(skip_endpoints)))
    ids = list(session.scalars(query))
    if not ids:
        return []
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids))
        .values(claimed_by=worker, claimed_until=lease_until)
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(
        select(
            Delivery.id,
            Delivery.merchant_id,
            Delivery.event_id,
            Delivery.endpoint_id,
            WebhookEndpoint.url,
            WebhookEndpoint.secret_ciphertext,
            WebhookEndpoint.secret_key_id,
            OutboxEvent.payload,
            Delivery.attempts,
        )
        .join(WebhookEndpoint, WebhookEndpoint.id == Delivery.endpoint_id)
        .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
        .where(Delivery.id.in_(ids))
        .order_by(Delivery.next_attempt_at, Delivery.id)
    )
    return [ClaimedDelivery(*row) for row in rows]


def record_delivery_attempt(
    tx: Tx,
    delivery_id: int,
    *,
    worker: str,
    now: datetime,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
    response_body: str | None,
) -> int | None:
    """Log one attempt and count it on the delivery, if `worker` still holds the claim:
    the delivery's attempts afterwards, or None when the claim was lost (the attempt is
    logged all the same; the delivery is left to the worker that holds it now)."""
    session = tx._session
    session.add(
        DeliveryAttempt(
            delivery_id=delivery_id,
            attempted_at=now,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
            response_body=response_body,
        )
    )
    counted = session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.claimed_by == worker,
            Delivery.state == "pending",
        )
        .values(
            attempts=Delivery.attempts + 1,
            last_status=status_code,
            last_error=error,
            updated_at=now,
        )
        .returning(Delivery.attempts)
        .execution_options(synchronize_session=False)
    ).scalar()
    return None if counted is None else int(counted)


def settle_delivery(
    tx: Tx, delivery_id: int, *, state: str, next_attempt_at: datetime | None, now: datetime
) -> None:
    """Give up the claim: the delivery is `state` now (pending: due again at
    `next_attempt_at`)."""
    values: dict[str, Any] = {
        "state": state,
        "claimed_by": None,
        "claimed_until": None,
        "updated_at": now,
    }
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    tx._session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def release_deliveries(tx: Tx, delivery_ids: list[int], *, worker: str) -> None:
    """Hand back claims not used (the worker stops, or the endpoint went away)."""
    if not delivery_ids:
        return
    tx._session.execute(
        update(Delivery)
        .where(Delivery.id.in_(delivery_ids), Delivery.claimed_by == worker)
        .values(claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )


def event_key_exists(reader: Reader, merchant_id: str, event_key: str) -> bool:
    """Whether a once-only event with this key was written already."""
    found = session_of(reader).scalar(
        select(OutboxEvent.id).where(
            OutboxEvent.merchant_id == merchant_id, OutboxEvent.event_key == event_key
        )
    )
    return found is not None


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
