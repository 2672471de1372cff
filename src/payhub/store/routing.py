"""Merchant routing choices: the default gateway and per-currency gateway orders."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from payhub.store.models import MerchantRouting
from payhub.store.tx import Reader, Tx, session_of

__all__ = ["routing_of", "set_currency_priorities", "set_default_gateway"]


def routing_of(reader: Reader, merchant_id: str) -> MerchantRouting | None:
    return session_of(reader).get(MerchantRouting, merchant_id)


def _row(tx: Tx, merchant_id: str, now: datetime) -> MerchantRouting:
    row = tx._session.get(MerchantRouting, merchant_id)
    if row is None:
        row = MerchantRouting(
            merchant_id=merchant_id, default_gateway=None, currency_priorities={}, updated_at=now
        )
        tx._session.add(row)
    return row


def set_default_gateway(tx: Tx, merchant_id: str, gateway: str | None, now: datetime) -> None:
    row = _row(tx, merchant_id, now)
    row.default_gateway = gateway
    row.updated_at = now


def set_currency_priorities(
    tx: Tx, merchant_id: str, currency: str, gateways: Sequence[str], now: datetime
) -> None:
    """Gateways in the order routing tries them for `currency`; empty forgets the order."""
    row = _row(tx, merchant_id, now)
    orders = dict(row.currency_priorities)
    if gateways:
        orders[currency] = list(gateways)
    else:
        orders.pop(currency, None)
    row.currency_priorities = orders
    row.updated_at = now
