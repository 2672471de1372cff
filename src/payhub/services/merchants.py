"""Merchants, their API keys (stored hashed, shown once) and their product catalogue."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from payhub.domain.errors import Conflict, InvalidRequest, NotFound, Unauthorized
from payhub.money import UnknownCurrency, exponent_of
from payhub.services import inventory
from payhub.services.context import Hub
from payhub.store import catalog, merchants, reads
from payhub.store.ids import new_id
from payhub.store.journal import add_audit
from payhub.store.models import Product
from payhub.store.tx import Reader, flush


def hash_api_key(key: str) -> str:
    # API keys are 32 random bytes: a fast hash is the right tool (no password stretching).
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_merchant(hub: Hub, name: str, *, actor: str, merchant_id: str | None = None) -> str:
    now = hub.clock.now()
    with hub.db.write() as tx:
        mid = merchant_id or new_id("mer")
        if merchants.merchant_exists(tx, mid):
            raise Conflict(f"merchant {mid} exists")
        merchants.add_merchant(tx, mid, name, now)
        add_audit(tx, merchant_id=mid, actor=actor, action="merchant.created", subject=mid, now=now)
    return mid


def issue_api_key(
    hub: Hub, merchant_id: str, *, mode: str = "test", label: str = "", actor: str
) -> str:
    """Create an API key; the plaintext is returned once and never stored."""
    if mode not in ("test", "live"):
        raise InvalidRequest("mode is test or live")
    key = f"sk_{mode}_{secrets.token_urlsafe(32)}"
    now = hub.clock.now()
    with hub.db.write() as tx:
        if not merchants.merchant_exists(tx, merchant_id):
            raise NotFound(f"no merchant {merchant_id}")
        key_id = new_id("key")
        merchants.add_api_key(
            tx,
            key_id=key_id,
            merchant_id=merchant_id,
            prefix=key[:16],
            key_hash=hash_api_key(key),
            mode=mode,
            label=label,
            now=now,
        )
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="api_key.issued",
            subject=key_id,
            after={"prefix": key[:16], "mode": mode},
            now=now,
        )
    return key


@dataclass(frozen=True, slots=True)
class Principal:
    merchant_id: str
    key_id: str
    mode: str


def authenticate_api_key(session: Reader, key: str) -> Principal:
    row = merchants.api_key_by_hash(session, hash_api_key(key))
    if row is None or row.revoked_at is not None:
        raise Unauthorized("invalid API key")
    return Principal(merchant_id=row.merchant_id, key_id=row.id, mode=row.mode)


def upsert_product(
    hub: Hub,
    merchant_id: str,
    *,
    sku: str,
    name: str,
    price: int,
    currency: str,
    credits: int = 0,
    track_stock: bool = False,
    stock: int | None = None,
    low_stock_threshold: int | None = None,
    actor: str,
) -> dict[str, Any]:
    try:
        exponent_of(currency)
    except UnknownCurrency as exc:
        raise InvalidRequest(str(exc)) from None
    if price <= 0:
        raise InvalidRequest("price must be positive")
    if stock is not None and stock < 0:
        raise InvalidRequest("stock cannot be negative")
    now = hub.clock.now()
    with hub.db.write() as tx:
        row = catalog.product_to_change(tx, merchant_id, sku)
        before = None if row is None else product_view(row)
        if row is None:
            row = catalog.new_product(
                tx,
                id=new_id("prd"),
                merchant_id=merchant_id,
                sku=sku,
                created_at=now,
                stock_available=0,
            )
        row.name = name
        row.price_minor = price
        row.currency = currency
        row.credits = credits
        row.track_stock = track_stock
        row.low_stock_threshold = low_stock_threshold
        row.active = True
        if stock is not None:
            row.stock_available = stock
        flush(tx)
        if track_stock:
            inventory.note_low_stock(tx, merchant_id, row.id, now)
        view = product_view(row)
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="product.upserted",
            subject=row.id,
            before=before,
            after=view,
            now=now,
        )
    return view


def product_view(p: Product) -> dict[str, Any]:
    """The product as the API shows it (the read model's shape)."""
    return reads.ProductView.of(p).as_dict()
