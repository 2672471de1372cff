"""The inbound log: every callback and browser return received, accepted or rejected, raw.

A notification's row is written first (its id goes on the event it records); its final
outcome is known only once settlement has run, and is staged (store.staging): nothing reads
it back before the commit.

A request that verified nothing (`keep_whole=False`: an unknown account, a bad signature,
an unsigned return) is kept trimmed, so that anyone able to send bytes cannot grow the
database by much: the first `TRIMMED_BODY_BYTES` of the body, its size and sha256, header
values and the query string cut to a few hundred bytes. Rows no payment event refers to
are pruned after the retention period (`prune_unreferenced`); the rows that settled money
stay.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Final

from sqlalchemy import bindparam, delete, exists, insert, select, update

from payhub.store.direct import DirectStatement
from payhub.store.models import InboundRequest, PaymentEvent
from payhub.store.staging import stage_write
from payhub.store.tables import table_of
from payhub.store.tx import Tx

__all__ = [
    "TRIMMED_BODY_BYTES",
    "TRIMMED_HEADER_CHARS",
    "TRIMMED_QUERY_CHARS",
    "prune_unreferenced",
    "record_inbound",
    "stage_inbound_outcome",
]

TRIMMED_BODY_BYTES: Final = 2048
TRIMMED_HEADER_CHARS: Final = 256
TRIMMED_QUERY_CHARS: Final = 2048

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
    keep_whole: bool = True,
) -> int:
    """Write the request's row (`kind` notification or return); returns its id. With
    `keep_whole=False` the row is trimmed (see the module's docstring)."""
    body_sha256 = None
    body_size = len(body)
    if not keep_whole:
        body_sha256 = hashlib.sha256(body).hexdigest()
        body = body[:TRIMMED_BODY_BYTES]
        query_string = query_string[:TRIMMED_QUERY_CHARS]
        headers = {k[:64]: str(v)[:TRIMMED_HEADER_CHARS] for k, v in headers.items()}
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
            "body_size": body_size,
            "body_sha256": body_sha256,
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


def prune_unreferenced(tx: Tx, received_before: datetime, limit: int) -> int:
    """Delete up to `limit` rows received before `received_before` that no payment event
    refers to; how many. (An event's `inbound_request_id` names the request that settled
    it: those rows are the evidence of money moving, and stay.)"""
    referenced = exists().where(PaymentEvent.inbound_request_id == InboundRequest.id)
    batch = (
        select(InboundRequest.id)
        .where(InboundRequest.received_at < received_before, ~referenced)
        .order_by(InboundRequest.id)
        .limit(limit)
        .scalar_subquery()
    )
    result = tx._session.execute(
        delete(InboundRequest)
        .where(InboundRequest.id.in_(batch))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
