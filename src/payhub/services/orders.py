"""Orders: creation with atomic stock reservation, reading, listing, cancelling, expiring."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from payhub.domain.errors import Conflict, InsufficientStock, InvalidRequest, NotFound
from payhub.domain.lifecycle import (
    ORDER_HOLDS_STOCK,
    PAYMENT_LIVE,
    OrderEvent,
    OrderStatus,
    PaymentEvent,
    PaymentStatus,
    next_payment_status,
)
from payhub.money import (
    MAX_AMOUNT_MINOR,
    MAX_CREDITS,
    MAX_QUANTITY,
    Money,
    UnknownCurrency,
    exponent_of,
)
from payhub.services import inventory, ledger
from payhub.services.context import Hub
from payhub.services.settlement import transition_order
from payhub.store import attempts, catalog, customers, orders, reads
from payhub.store.attempts import OrderRecord
from payhub.store.ids import new_id
from payhub.store.journal import add_timeline, enqueue_event
from payhub.store.models import Order, Payment
from payhub.store.tx import ConstraintViolation, Reader, Tx, retry_write_conflicts

DEFAULT_TTL = timedelta(minutes=30)
MAX_TTL = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class ItemDraft:
    sku: str | None = None
    name: str | None = None
    unit_price: int | None = None  # minor units, for ad-hoc items
    quantity: int = 1
    credits: int | None = None


@dataclass(frozen=True, slots=True)
class CustomerDraft:
    external_id: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class OrderDraft:
    merchant_reference: str
    currency: str
    items: list[ItemDraft]
    customer: CustomerDraft | None = None
    credits: int | None = None  # overrides the sum of product credits
    expires_in_seconds: int | None = None
    cancel_on_failure: bool = False
    return_url: str | None = None
    description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    locale: str | None = None  # vi | en | ms: the language of the customer's e-mails
    livemode: bool = False  # the mode of the key creating it (see Environment.for_mode)


@dataclass(frozen=True, slots=True)
class _PricedItem:
    merchant_id: str
    product_id: str | None
    sku: str | None
    name: str
    quantity: int
    unit_price_minor: int
    credits: int


@retry_write_conflicts
def create_order(hub: Hub, merchant_id: str, draft: OrderDraft) -> str:
    """Create an order, reserving tracked stock atomically. Returns its id."""
    try:
        exponent_of(draft.currency)
    except UnknownCurrency as exc:
        raise InvalidRequest(str(exc)) from None
    if not draft.items:
        raise InvalidRequest("an order needs at least one item")
    now = hub.clock.now()
    ttl = timedelta(seconds=draft.expires_in_seconds) if draft.expires_in_seconds else DEFAULT_TTL
    if ttl <= timedelta(0) or ttl > MAX_TTL:
        raise InvalidRequest("expires_in_seconds must be between 1 and 30 days")
    try:
        with hub.db.write() as tx:
            if orders.order_id_for_reference(tx, merchant_id, draft.merchant_reference):
                raise Conflict(
                    f"an order with merchant_reference {draft.merchant_reference!r} exists"
                )
            order_id = new_id("ord")
            items, total, credits = _price_items(tx, merchant_id, draft)
            customer_id = None
            if draft.customer is not None:
                customer_id = customers.save_customer(
                    tx,
                    merchant_id,
                    draft.customer.external_id,
                    name=draft.customer.name,
                    email=draft.customer.email,
                    phone=draft.customer.phone,
                    now=now,
                )
            order_credits = draft.credits if draft.credits is not None else credits
            if not 0 <= order_credits <= MAX_CREDITS:
                raise InvalidRequest(f"credits must be between 0 and {MAX_CREDITS}")
            if order_credits > 0 and customer_id is None:
                raise InvalidRequest("an order that grants credits needs a customer")
            orders.add_order(
                tx,
                [asdict(item) for item in items],
                id=order_id,
                merchant_id=merchant_id,
                merchant_reference=draft.merchant_reference,
                customer_id=customer_id,
                currency=draft.currency,
                total_minor=total,
                refunded_minor=0,
                status=OrderStatus.AWAITING_PAYMENT.value,
                description=draft.description[:500],
                credits_to_grant=order_credits,
                cancel_on_failure=draft.cancel_on_failure,
                return_url=draft.return_url,
                metadata_json=draft.metadata,
                locale=draft.locale,
                livemode=draft.livemode,
                expires_at=now + ttl,
                created_at=now,
                updated_at=now,
            )
            if customer_id is not None and order_credits > 0:
                ledger.open_credit_account(tx, merchant_id, customer_id, now)
            short = inventory.reserve_stock(
                tx, merchant_id, order_id, inventory.quantities_by_product(items), now
            )
            if short:
                skus = sorted(i.sku or "" for i in items if i.product_id in short)
                raise InsufficientStock(f"not enough stock for {', '.join(skus)}", short_skus=skus)
            add_timeline(
                tx,
                merchant_id=merchant_id,
                order_id=order_id,
                kind="order.created",
                message=f"order created for {Money(total, draft.currency).display()}",
                now=now,
            )
            enqueue_event(
                tx,
                merchant_id=merchant_id,
                event_type="order.created",
                event_key=f"order.created:{order_id}",
                payload={"order_id": order_id, "merchant_reference": draft.merchant_reference},
                now=now,
                subject=("order", order_id),
            )
    except ConstraintViolation:
        raise Conflict(
            f"an order with merchant_reference {draft.merchant_reference!r} exists"
        ) from None
    return order_id


def _price_items(tx: Tx, merchant_id: str, draft: OrderDraft) -> tuple[list[_PricedItem], int, int]:
    items: list[_PricedItem] = []
    total = 0
    credits = 0
    for item in draft.items:
        if not 0 < item.quantity <= MAX_QUANTITY:
            raise InvalidRequest(f"item quantity must be between 1 and {MAX_QUANTITY}")
        if item.sku:
            product = catalog.active_product(tx, merchant_id, item.sku)
            if product is None:
                raise InvalidRequest(f"unknown product sku {item.sku!r}")
            if product.currency != draft.currency:
                raise InvalidRequest(f"{item.sku} is priced in {product.currency}")
            price, name, product_id = product.price_minor, product.name, product.id
            unit_credits = product.credits if item.credits is None else item.credits
        else:
            if not item.name or item.unit_price is None:
                raise InvalidRequest("an ad-hoc item needs name and unit_price")
            if not 0 <= item.unit_price <= MAX_AMOUNT_MINOR:
                raise InvalidRequest(f"unit_price must be between 0 and {MAX_AMOUNT_MINOR}")
            price, name, product_id = item.unit_price, item.name, None
            unit_credits = item.credits or 0
        total += price * item.quantity
        credits += unit_credits * item.quantity
        items.append(
            _PricedItem(
                merchant_id=merchant_id,
                product_id=product_id,
                sku=item.sku,
                name=name,
                quantity=item.quantity,
                unit_price_minor=price,
                credits=unit_credits,
            )
        )
    if total <= 0:
        raise InvalidRequest("the order total must be positive")
    if total > MAX_AMOUNT_MINOR:
        raise InvalidRequest(f"the order total must be at most {MAX_AMOUNT_MINOR} minor units")
    if credits > MAX_CREDITS:
        raise InvalidRequest(f"an order grants at most {MAX_CREDITS} credits")
    return items, total, credits


def get_order(session: Reader, merchant_id: str, order_id: str) -> Order:
    order = orders.find_order(session, order_id)
    if order is None or order.merchant_id != merchant_id:
        raise NotFound(f"no order {order_id}")
    return order


def payment_view(p: Payment, *, livemode: bool) -> dict[str, Any]:
    """The attempt as the API shows it (the read model's shape); `livemode` is its
    order's."""
    return reads.PaymentView.of(p, livemode=livemode).as_dict()


def cancel_order_locally(
    tx: Tx, order: OrderRecord, now: datetime, *, actor: str, event: OrderEvent
) -> None:
    """Cancel/expire the order (locked by the caller) and its live attempts, release stock
    once (the caller has already cancelled them at the gateway, best effort)."""
    if OrderStatus(order.status) not in ORDER_HOLDS_STOCK:
        raise Conflict(f"order is {order.status}; only unpaid orders can be cancelled")
    live = attempts.lock_live_attempts(tx, order.id, [s.value for s in PAYMENT_LIVE])
    for payment in live:
        after = next_payment_status(PaymentStatus(payment.status), PaymentEvent.CANCEL_REQUESTED)
        if after is not None:
            payment.status = after.value
            payment.updated_at = now
            attempts.save(tx, payment)
    transition_order(tx, order, event, now, actor=actor)
    attempts.save(tx, order)
    inventory.release_stock(tx, order.merchant_id, order.id, now)
    kind = "order.cancelled" if event == OrderEvent.CANCEL_REQUESTED else "order.expired"
    enqueue_event(
        tx,
        merchant_id=order.merchant_id,
        event_type=kind,
        event_key=f"{kind}:{order.id}",
        payload={"order_id": order.id, "merchant_reference": order.merchant_reference},
        now=now,
        subject=("order", order.id),
    )
