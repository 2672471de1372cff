"""Retention: what `payhub prune` (and the worker's prune job) deletes, and nothing else.

- inbound rows (callbacks and returns) older than `PAYHUB_INBOUND_RETENTION_DAYS` that no
  payment event refers to. A row an event names is the evidence of money moving: it stays
  as long as the event does.
- idempotency keys past their expiry (kept 24 hours; services.idempotency).
- attempt rows of finished webhook deliveries older than
  `PAYHUB_DELIVERY_ATTEMPT_RETENTION_DAYS`; the deliveries stay, with their last status.

Deletes run in batches of `BATCH` rows, one short transaction each, so a large backlog
never holds the write lock for long.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from payhub.services.context import Hub
from payhub.store import idempotency_keys, inbound_log, outbox
from payhub.store.tx import Tx

__all__ = ["BATCH", "PruneReport", "prune"]

BATCH = 1000


@dataclass(frozen=True, slots=True)
class PruneReport:
    """How many rows one `prune` deleted, per table."""

    inbound_requests: int
    idempotency_keys: int
    delivery_attempts: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @property
    def total(self) -> int:
        return self.inbound_requests + self.idempotency_keys + self.delivery_attempts


def prune(hub: Hub, now: datetime | None = None) -> PruneReport:
    """Delete what the retention settings say is old at `now` (default: the hub's clock)."""
    now = now or hub.clock.now()
    settings = hub.settings
    inbound_before = now - timedelta(days=settings.inbound_retention_days)
    attempts_before = now - timedelta(days=settings.delivery_attempt_retention_days)
    inbound = _in_batches(hub, lambda tx: inbound_log.prune_unreferenced(tx, inbound_before, BATCH))
    with hub.db.write() as tx:
        keys = idempotency_keys.purge_expired(tx, now)
    attempts = _in_batches(
        hub, lambda tx: outbox.prune_finished_attempts(tx, attempts_before, BATCH)
    )
    return PruneReport(inbound_requests=inbound, idempotency_keys=keys, delivery_attempts=attempts)


def _in_batches(hub: Hub, delete_batch: Callable[[Tx], int]) -> int:
    total = 0
    while True:
        with hub.db.write() as tx:
            deleted = delete_batch(tx)
        total += deleted
        if deleted < BATCH:
            return total
