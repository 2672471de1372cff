"""Read models of the operator console's frame: the merchants a hub admin may switch to."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from payhub.store.db import Database
from payhub.store.models import Merchant
from payhub.store.reads.running import run_read

MAX_MERCHANT_CHOICES = 500


@dataclass(frozen=True, slots=True)
class MerchantChoice:
    id: str
    name: str


def _merchant_choices(session: Session) -> list[MerchantChoice]:
    rows = session.execute(
        select(Merchant.id, Merchant.name)
        .order_by(Merchant.name, Merchant.id)
        .limit(MAX_MERCHANT_CHOICES)
    )
    return [MerchantChoice(id=r.id, name=r.name) for r in rows]


async def merchant_choices(db: Database) -> list[MerchantChoice]:
    """Every merchant (the first 500 by name), for a hub admin's merchant switcher."""
    return await run_read(db, _merchant_choices)
