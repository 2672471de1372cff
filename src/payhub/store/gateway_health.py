"""Gateway health: each account's recent create calls and its circuit breaker.

Every change is one conditional UPDATE whose rowcount says whether this caller made the
transition, so two hub processes sharing a database never both open a circuit (and alert
twice) or both take the one probe call.

States: `closed` (calls go through), `open` (calls are skipped until the cool-down has
passed), `half_open` (one probe call is in flight; everyone else still skips).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, or_, select, update

from payhub.store.models import GatewayHealth
from payhub.store.tx import Reader, Tx, session_of

__all__ = [
    "CLOSED",
    "HALF_OPEN",
    "OPEN",
    "claim_probe",
    "ensure_health",
    "health_of",
    "record_failure",
    "record_success",
]

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


def ensure_health(tx: Tx, account_id: str, merchant_id: str, now: datetime) -> None:
    """Give the account a (closed) health row if it has none."""
    if tx._session.get(GatewayHealth, account_id) is None:
        tx._session.add(
            GatewayHealth(
                account_id=account_id,
                merchant_id=merchant_id,
                state=CLOSED,
                consecutive_failures=0,
                updated_at=now,
            )
        )
        tx._session.flush()


def health_of(reader: Reader, account_ids: Iterable[str]) -> dict[str, GatewayHealth]:
    """The health rows of these accounts (an account without one has never failed)."""
    ids = list(account_ids)
    if not ids:
        return {}
    rows = session_of(reader).scalars(
        select(GatewayHealth).where(GatewayHealth.account_id.in_(ids))
    )
    return {row.account_id: row for row in rows}


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def record_failure(
    tx: Tx,
    account_id: str,
    merchant_id: str,
    now: datetime,
    *,
    timeout: bool,
    error: str,
    threshold: int,
) -> bool:
    """Count one failed create call. True when this failure opened a closed circuit (the
    caller raises the alert, once per opening); a failed probe re-opens it quietly."""
    ensure_health(tx, account_id, merchant_id, now)
    values: dict[str, object] = {
        "consecutive_failures": GatewayHealth.consecutive_failures + 1,
        "last_failure_at": now,
        "last_error": error[:200],
        "updated_at": now,
    }
    if timeout:
        values["last_timeout_at"] = now
    session = tx._session
    session.execute(
        update(GatewayHealth).where(GatewayHealth.account_id == account_id).values(values)
    )
    # The probe failed: open again for another cool-down.
    session.execute(
        update(GatewayHealth)
        .where(GatewayHealth.account_id == account_id, GatewayHealth.state == HALF_OPEN)
        .values(state=OPEN, opened_at=now, probe_started_at=None)
    )
    opened = session.execute(
        update(GatewayHealth)
        .where(
            GatewayHealth.account_id == account_id,
            GatewayHealth.state == CLOSED,
            GatewayHealth.consecutive_failures >= threshold,
        )
        .values(state=OPEN, opened_at=now, probe_started_at=None)
    )
    return _rowcount(opened) == 1


def record_success(tx: Tx, account_id: str, merchant_id: str, now: datetime) -> bool:
    """Count one successful create call; it closes the circuit. True when the circuit was
    not closed before (a good probe: the gateway recovered)."""
    ensure_health(tx, account_id, merchant_id, now)
    session = tx._session
    recovered = session.execute(
        update(GatewayHealth)
        .where(GatewayHealth.account_id == account_id, GatewayHealth.state != CLOSED)
        .values(state=CLOSED, opened_at=None, probe_started_at=None)
    )
    session.execute(
        update(GatewayHealth)
        .where(GatewayHealth.account_id == account_id)
        .values(consecutive_failures=0, last_success_at=now, updated_at=now)
    )
    return _rowcount(recovered) == 1


def claim_probe(
    tx: Tx, account_id: str, now: datetime, *, opened_before: datetime, stale_before: datetime
) -> bool:
    """Take the one probe call of an open circuit whose cool-down has passed (or whose probe
    was claimed before `stale_before` and never reported: a crashed process). True for
    exactly one caller."""
    result = tx._session.execute(
        update(GatewayHealth)
        .where(
            GatewayHealth.account_id == account_id,
            or_(
                and_(GatewayHealth.state == OPEN, GatewayHealth.opened_at < opened_before),
                and_(
                    GatewayHealth.state == HALF_OPEN,
                    GatewayHealth.probe_started_at < stale_before,
                ),
            ),
        )
        .values(state=HALF_OPEN, probe_started_at=now, updated_at=now)
    )
    return _rowcount(result) == 1
