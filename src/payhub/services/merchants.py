"""Merchants, their API keys (stored hashed, shown once) and their product catalogue."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from payhub.clock import as_utc
from payhub.domain.errors import Conflict, InvalidRequest, NotFound, Unauthorized
from payhub.money import Money, UnknownCurrency, exponent_of
from payhub.services.context import Hub
from payhub.services.records import add_audit
from payhub.store.ids import new_id
from payhub.store.models import ApiKey, CreditAccount, CreditEntry, Customer, Merchant, Product


def hash_api_key(key: str) -> str:
    # API keys are 32 random bytes: a fast hash is the right tool (no password stretching).
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_merchant(hub: Hub, name: str, *, actor: str, merchant_id: str | None = None) -> str:
    now = hub.clock.now()
    with hub.db.transaction() as session:
        mid = merchant_id or new_id("mer")
        if session.get(Merchant, mid) is not None:
            raise Conflict(f"merchant {mid} exists")
        session.add(Merchant(id=mid, name=name, created_at=now))
        add_audit(
            session, merchant_id=mid, actor=actor, action="merchant.created", subject=mid, now=now
        )
    return mid


def issue_api_key(
    hub: Hub, merchant_id: str, *, mode: str = "test", label: str = "", actor: str
) -> str:
    """Create an API key; the plaintext is returned once and never stored."""
    if mode not in ("test", "live"):
        raise InvalidRequest("mode is test or live")
    key = f"sk_{mode}_{secrets.token_urlsafe(32)}"
    now = hub.clock.now()
    with hub.db.transaction() as session:
        if session.get(Merchant, merchant_id) is None:
            raise NotFound(f"no merchant {merchant_id}")
        key_id = new_id("key")
        session.add(
            ApiKey(
                id=key_id,
                merchant_id=merchant_id,
                prefix=key[:16],
                key_hash=hash_api_key(key),
                mode=mode,
                label=label,
                created_at=now,
            )
        )
        add_audit(
            session,
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


def authenticate_api_key(session: Session, key: str) -> Principal:
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_api_key(key)))
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
    with hub.db.transaction() as session:
        row = session.scalar(
            select(Product)
            .where(Product.merchant_id == merchant_id, Product.sku == sku)
            .with_for_update()
        )
        before = None if row is None else product_view(row)
        if row is None:
            row = Product(
                id=new_id("prd"),
                merchant_id=merchant_id,
                sku=sku,
                created_at=now,
                stock_available=0,
            )
            session.add(row)
        row.name = name
        row.price_minor = price
        row.currency = currency
        row.credits = credits
        row.track_stock = track_stock
        row.low_stock_threshold = low_stock_threshold
        row.active = True
        if stock is not None:
            row.stock_available = stock
        session.flush()
        view = product_view(row)
        add_audit(
            session,
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
    return {
        "id": p.id,
        "sku": p.sku,
        "name": p.name,
        "price": p.price_minor,
        "currency": p.currency,
        "price_display": Money(p.price_minor, p.currency).display(),
        "credits": p.credits,
        "track_stock": p.track_stock,
        "stock_available": p.stock_available if p.track_stock else None,
        "low_stock": bool(
            p.track_stock
            and p.low_stock_threshold is not None
            and p.stock_available <= p.low_stock_threshold
        ),
    }


def list_products(session: Session, merchant_id: str) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Product)
        .where(Product.merchant_id == merchant_id, Product.active.is_(True))
        .order_by(Product.sku)
    ).all()
    return [product_view(p) for p in rows]


def credit_balance(session: Session, merchant_id: str, external_id: str) -> dict[str, Any]:
    customer = session.scalar(
        select(Customer).where(
            Customer.merchant_id == merchant_id, Customer.external_id == external_id
        )
    )
    if customer is None:
        raise NotFound(f"no customer {external_id}")
    account = session.scalar(
        select(CreditAccount).where(
            CreditAccount.merchant_id == merchant_id, CreditAccount.customer_id == customer.id
        )
    )
    entries: list[CreditEntry] = []
    if account is not None:
        entries = list(
            session.scalars(
                select(CreditEntry)
                .where(CreditEntry.account_id == account.id)
                .order_by(CreditEntry.id)
            )
        )
    return {
        "customer": external_id,
        "balance": account.balance if account else 0,
        "entries": [
            {
                "order_id": e.order_id,
                "reason": e.reason,
                "amount": e.amount,
                "at": as_utc(e.created_at).isoformat(),
            }
            for e in entries
        ],
    }
