"""Merchants, their first API key (`services.api_keys` does the rest) and their product
catalogue."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from payhub.domain.errors import Conflict, InvalidRequest, NotFound
from payhub.money import MAX_AMOUNT_MINOR, MAX_CREDITS, MAX_STOCK, UnknownCurrency, exponent_of
from payhub.services import api_keys, inventory
from payhub.services.context import Hub
from payhub.store import catalog, merchants, reads
from payhub.store.ids import new_id
from payhub.store.journal import add_audit
from payhub.store.models import Product
from payhub.store.tx import flush, retry_write_conflicts


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
    """Create an API key (`services.api_keys.create_api_key`); the plaintext is returned
    once and never stored."""
    return api_keys.create_api_key(hub, merchant_id, mode=mode, label=label, actor=actor).key


BRAND_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")
LOCALES = ("vi", "en", "ms")
_UNSET: Any = object()


def update_merchant_profile(
    hub: Hub,
    merchant_id: str,
    *,
    name: str | None = None,
    logo_url: str | None = _UNSET,
    brand_color: str | None = _UNSET,
    default_locale: str | None = _UNSET,
    actor: str,
) -> dict[str, Any]:
    """Change the merchant's name and checkout branding; a field left out is kept, `None`
    clears it. The logo is shown by customers' browsers (never fetched by the hub): an
    absolute https URL (http is allowed off production) or a path on the hub."""
    changes: dict[str, Any] = {}
    if name is not None:
        if not 0 < len(name.strip()) <= 200:
            raise InvalidRequest("name must be 1 to 200 characters")
        changes["name"] = name.strip()
    if logo_url is not _UNSET:
        if logo_url is not None:
            parsed = urlsplit(logo_url)
            schemes = ("https",) if hub.settings.production else ("https", "http")
            absolute = parsed.scheme in schemes and bool(parsed.netloc)
            on_hub = not parsed.scheme and not parsed.netloc and logo_url.startswith("/")
            if (
                len(logo_url) > 1000
                or not (absolute or on_hub)
                or any(c in logo_url for c in "\"'<> ")
            ):
                raise InvalidRequest(
                    f"logo_url must be an absolute {' or '.join(schemes)} URL or a path on the hub"
                )
        changes["logo_url"] = logo_url
    if brand_color is not _UNSET:
        if brand_color is not None and not BRAND_COLOR.fullmatch(brand_color):
            raise InvalidRequest("brand_color is #RRGGBB")
        changes["brand_color"] = brand_color.lower() if brand_color else None
    if default_locale is not _UNSET:
        if default_locale is not None and default_locale not in LOCALES:
            raise InvalidRequest(f"default_locale is one of {', '.join(LOCALES)}")
        changes["default_locale"] = default_locale
    now = hub.clock.now()
    with hub.db.write() as tx:
        row = merchants.merchant_to_change(tx, merchant_id)
        if row is None:
            raise NotFound(f"no merchant {merchant_id}")
        before = {k: getattr(row, k) for k in changes}
        for key, value in changes.items():
            setattr(row, key, value)
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="merchant.profile_updated",
            subject=merchant_id,
            before=before,
            after=changes,
            now=now,
        )
        return reads.MerchantProfile.of(row).as_dict()


@retry_write_conflicts
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
    if not 0 < price <= MAX_AMOUNT_MINOR:
        raise InvalidRequest(f"price must be between 1 and {MAX_AMOUNT_MINOR}")
    if not 0 <= credits <= MAX_CREDITS:
        raise InvalidRequest(f"credits must be between 0 and {MAX_CREDITS}")
    for value in (stock, low_stock_threshold):
        if value is not None and not 0 <= value <= MAX_STOCK:
            raise InvalidRequest(f"stock and its threshold must be between 0 and {MAX_STOCK}")
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
