"""Payment events: the verified facts about attempts, each recorded once.

A fact is unique per (gateway account, dedupe key); the unique constraint stands behind
`event_recorded`, so a concurrent copy of the same fact fails to record
(`store.tx.ConstraintViolation`) rather than applying twice. Every fact, from a
notification, a query, a manual payment or an operator's review decision, is recorded by
`record_event`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select

from payhub.store.direct import DirectStatement
from payhub.store.models import PaymentEvent
from payhub.store.tables import table_of
from payhub.store.tx import Reader, Tx, session_of

__all__ = ["event_recorded", "record_event"]

_FIND = DirectStatement(
    select(PaymentEvent.id).where(
        PaymentEvent.gateway_account_id == bindparam("account_key"),
        PaymentEvent.dedupe_key == bindparam("dedupe_key"),
    )
)
_INSERT = DirectStatement(insert(table_of(PaymentEvent)))


def event_recorded(reader: Reader, account_key: str, dedupe_key: str) -> bool:
    """Whether the fact with this dedupe key is already recorded for the account."""
    return bool(
        _FIND.run(session_of(reader), {"account_key": account_key, "dedupe_key": dedupe_key})
    )


def record_event(
    tx: Tx,
    *,
    merchant_id: str,
    account_key: str,
    payment_id: str,
    dedupe_key: str,
    source: str,
    gateway_status: str,
    gateway_code: str,
    amount_minor: int | None,
    currency: str | None,
    status_before: str,
    status_after: str,
    inbound_request_id: int | None,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    """Record one fact about an attempt (refused if its dedupe key is recorded already)."""
    _INSERT.run(
        tx._session,
        {
            "merchant_id": merchant_id,
            "gateway_account_id": account_key,
            "payment_id": payment_id,
            "dedupe_key": dedupe_key,
            "source": source,
            "gateway_status": gateway_status,
            "gateway_code": gateway_code,
            "amount_minor": amount_minor,
            "currency": currency,
            "payment_status_before": status_before,
            "payment_status_after": status_after,
            "inbound_request_id": inbound_request_id,
            "payload": payload,
            "created_at": now,
        },
    )
