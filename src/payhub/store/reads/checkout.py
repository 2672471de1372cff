"""Read models of the customer-facing pages: the hosted checkout, its pay step and the
result page.

These pages are reached by a capability token or a payment id, not a merchant key, so they
read orders and attempts by id alone. Each read brings what its page shows: the merchant's
profile (name, logo, brand colour, default locale), the order's lines and locale.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from payhub.store.db import Database
from payhub.store.models import GatewayAccount, Merchant, Order, OrderItem, Payment
from payhub.store.reads.credits import balance_of
from payhub.store.reads.gateway_accounts import GatewayAccountView
from payhub.store.reads.merchants import MerchantProfile
from payhub.store.reads.orders import OrderItemView, OrderSummary, PaymentView
from payhub.store.reads.running import run_read


@dataclass(frozen=True, slots=True)
class HostedCheckout:
    """An order, its lines, its merchant and the merchant's enabled gateway accounts (best
    priority first)."""

    order: OrderSummary
    locale: str | None  # the order's vi | en | ms, if the merchant gave one
    items: tuple[OrderItemView, ...]
    merchant: MerchantProfile
    accounts: tuple[GatewayAccountView, ...]


def _items(session: Session, order_id: str) -> tuple[OrderItemView, ...]:
    rows = session.scalars(
        select(OrderItem).where(OrderItem.order_id == order_id).order_by(OrderItem.id)
    ).all()
    return tuple(
        OrderItemView(
            sku=i.sku,
            name=i.name,
            quantity=i.quantity,
            unit_price=i.unit_price_minor,
            credits=i.credits,
        )
        for i in rows
    )


def _merchant(session: Session, merchant_id: str) -> MerchantProfile:
    merchant = session.get(Merchant, merchant_id)
    assert merchant is not None
    return MerchantProfile.of(merchant)


def _hosted_checkout(session: Session, order_id: str) -> HostedCheckout | None:
    order = session.get(Order, order_id)
    if order is None:
        return None
    rows = session.scalars(
        select(GatewayAccount)
        .where(GatewayAccount.merchant_id == order.merchant_id, GatewayAccount.enabled.is_(True))
        .order_by(GatewayAccount.priority)
    ).all()
    return HostedCheckout(
        order=OrderSummary.of(order),
        locale=order.locale,
        items=_items(session, order.id),
        merchant=_merchant(session, order.merchant_id),
        accounts=tuple(GatewayAccountView.of(r) for r in rows),
    )


async def hosted_checkout(db: Database, order_id: str) -> HostedCheckout | None:
    """What the hosted checkout page shows for an order; `None` if there is no such order."""
    return await run_read(db, _hosted_checkout, order_id)


def _order_merchant(session: Session, order_id: str) -> str | None:
    return session.scalar(select(Order.merchant_id).where(Order.id == order_id))


async def order_merchant(db: Database, order_id: str) -> str | None:
    """The merchant an order belongs to; `None` if there is no such order."""
    return await run_read(db, _order_merchant, order_id)


@dataclass(frozen=True, slots=True)
class PaymentProgress:
    """An attempt with its order's state, for the result page that polls until settled."""

    payment: PaymentView
    order: OrderSummary
    order_locale: str | None
    merchant: MerchantProfile
    order_status: str
    order_credits: int  # credits the order grants once paid
    credit_balance: int | None  # the customer's balance; None for an order without customer


def _payment_progress(session: Session, payment_id: str) -> PaymentProgress | None:
    payment = session.scalar(select(Payment).where(Payment.id == payment_id))
    if payment is None:
        return None
    order = session.get(Order, payment.order_id)
    assert order is not None
    return PaymentProgress(
        payment=PaymentView.of(payment, livemode=bool(order.livemode)),
        order=OrderSummary.of(order),
        order_locale=order.locale,
        merchant=_merchant(session, order.merchant_id),
        order_status=order.status,
        order_credits=order.credits_to_grant,
        credit_balance=balance_of(session, order.customer_id) if order.customer_id else None,
    )


async def payment_progress(db: Database, payment_id: str) -> PaymentProgress | None:
    """An attempt and its order's state; `None` if there is no such attempt."""
    return await run_read(db, _payment_progress, payment_id)
