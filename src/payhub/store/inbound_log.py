"""The inbound log: every callback and browser return received, accepted or rejected, raw.

A notification's row is written first (its id goes on the event it records); its final
outcome is known only once settlement has run, and is staged (store.staging): nothing reads
it back before the commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update

from payhub.store.direct import DirectStatement
from payhub.store.models import InboundRequest
from payhub.store.staging import stage_write
from payhub.store.tables import table_of
from payhub.store.tx import Tx

__all__ = ["record_inbound", "stage_inbound_outcome"]

_INBOUND = table_of(InboundRequest)
_INSERT = DirectStatement(insert(_INBOUND).returning(_INBOUND.c.id))
_SET_OUTCOME = DirectStatement(
    update(_INBOUND)
    .where(_INBOUND.c.id == bindparam("p_id"))
    .values(outcome=bindparam("p_outcome"), detail=bindparam("p_detail"))
)


def record_inbound(
    tx: Tx,
    *,
    merchant_id: str | None,
    gateway: str,
    account_id: str | None,
    kind: str,
    method: str,
    path: str,
    query_string: str,
    headers: dict[str, Any],
    body: bytes,
    source_ip: str | None,
    outcome: str,
    detail: str,
    payment_id: str | None,
    now: datetime,
) -> int:
    """Write the request's row (`kind` notification or return); returns its id."""
    [(row_id,)] = _INSERT.run(
        tx._session,
        {
            "merchant_id": merchant_id,
            "gateway": gateway,
            "gateway_account_id": account_id,
            "kind": kind,
            "method": method,
            "path": path,
            "query_string": query_string,
            "headers": headers,
            "body": body,
            "source_ip": source_ip,
            "outcome": outcome,
            "detail": detail,
            "payment_id": payment_id,
            "received_at": now,
        },
    )
    return int(row_id)


def stage_inbound_outcome(tx: Tx, row_id: int, outcome: str, detail: str) -> None:
    """Stage the request's final outcome, written just before the commit."""
    stage_write(
        tx._session, _SET_OUTCOME, {"p_id": row_id, "p_outcome": outcome, "p_detail": detail}
    )
