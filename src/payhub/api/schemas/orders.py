"""Orders and their payment attempts, as `GET /v1/orders/{id}` and `/v1/payments/{id}`
show them (store.reads.orders)."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field
from pydantic.types import JsonValue

from payhub.api.schemas.common import Cursor, Resource, Timestamp
from payhub.gateways.registry import gateway_names

# Examples name a gateway the registry knows, never a hard-coded one.
EXAMPLE_GATEWAY = gateway_names()[0]

_PAYMENT_EXAMPLE: dict[str, JsonValue] = {
    "id": "pay_a1",
    "order_id": "ord_a1",
    "gateway": EXAMPLE_GATEWAY,
    "status": "succeeded",
    "amount": 40000,
    "currency": "VND",
    "received": 40000,
    "refunded": 0,
    "gateway_reference": "100001",
    "gateway_txn_id": "FT2633512345",
    "checkout_url": "https://gateway.example/checkout/abc",
    "qr_content": None,
    "deeplink": None,
    "review_reason": None,
    "failure_code": None,
    "expires_at": "2026-12-01T18:15:00+00:00",
    "created_at": "2026-12-01T18:00:00+00:00",
    "livemode": False,
}


class Payment(Resource):
    """One payment attempt at a gateway (or recorded manually)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_PAYMENT_EXAMPLE]})

    id: str
    order_id: str
    gateway: str = Field(description="gateway name, or `manual`")
    status: str = Field(
        description="initiated, pending, unknown, authorized, succeeded, failed, cancelled, "
        "expired, review, rejected"
    )
    amount: int = Field(description="minor units asked for")
    currency: str
    received: int | None = Field(description="minor units the gateway reported received")
    refunded: int
    gateway_reference: str = Field(description="payhub's reference sent to the gateway")
    gateway_txn_id: str | None = Field(
        description="the gateway's own transaction id (its transaction or bank reference "
        "number; docs/gateways/ names each gateway's field), once reported"
    )
    checkout_url: str | None
    qr_content: str | None
    deeplink: str | None
    review_reason: str | None
    failure_code: str | None
    expires_at: Timestamp | None
    created_at: Timestamp
    livemode: bool = Field(description="its order's mode (the creating key's)")


class RoutingAttempt(Resource):
    """A routing candidate that was tried."""

    gateway: str
    account_id: str
    outcome: str = Field(description="created, reused or failed")
    reason: str | None = Field(description="why a failed one was left")


class RoutingSkip(Resource):
    """An account routing did not try."""

    gateway: str
    environment: str
    reason: str = Field(
        description="disabled, mode, not_ready, currency, amount_limits, circuit_open or "
        "duplicate (another account of the gateway ranks first)"
    )


class RoutingReport(Resource):
    """How `gateway: "auto"` (or a named gateway with several accounts) chose."""

    gateway: str = Field(description="the gateway the payment went to")
    tried: list[RoutingAttempt] = Field(description="in order; the last one is the one used")
    skipped: list[RoutingSkip]


class StartedPayment(Payment):
    """The attempt start-payment answers with; `reused` when the live one was returned.
    `routing` is there when routing chose the account (not on a reused attempt)."""

    reused: bool
    routing: RoutingReport | None = Field(
        default=None, description="only when routing chose the account (absent otherwise)"
    )


class Customer(Resource):
    id: str
    external_id: str = Field(description="the merchant's own id of the customer")
    name: str | None
    email: str | None
    phone: str | None


class OrderItem(Resource):
    sku: str | None
    name: str
    quantity: int
    unit_price: int = Field(description="minor units")
    credits: int = Field(description="credits per unit")


class TimelineEntry(Resource):
    at: Timestamp
    kind: str
    message: str
    payment_id: str | None
    gateway_txn_id: str | None = Field(description="of that payment, once the gateway said")


class OrderSummary(Resource):
    """An order as a list row: no customer, items, payments or timeline."""

    id: str
    merchant_reference: str
    status: str = Field(
        description="awaiting_payment, paid, failed, cancelled, expired, review, "
        "refunded, partially_refunded"
    )
    currency: str
    amount: int = Field(description="minor units")
    amount_display: str
    refunded: int
    credits: int
    cancel_on_failure: bool
    description: str
    metadata: dict[str, Any]
    return_url: str | None
    livemode: bool
    expires_at: Timestamp
    paid_at: Timestamp | None
    created_at: Timestamp
    hosted_checkout_url: str = Field(description="payhub's checkout page for this order")


class Order(Resource):
    """An order with its customer, items, attempts (oldest first) and timeline."""

    id: str
    merchant_reference: str
    status: str
    currency: str
    amount: int
    amount_display: str
    refunded: int
    credits: int
    cancel_on_failure: bool
    description: str
    metadata: dict[str, Any]
    return_url: str | None
    livemode: bool
    expires_at: Timestamp
    paid_at: Timestamp | None
    created_at: Timestamp
    customer: Customer | None
    items: list[OrderItem]
    payments: list[Payment]
    timeline: list[TimelineEntry]
    hosted_checkout_url: str = Field(description="payhub's checkout page for this order")


class OrderList(Resource):
    data: list[OrderSummary]
    has_more: bool
    next_cursor: Cursor


class PaymentList(Resource):
    data: list[Payment]
    has_more: bool
    next_cursor: Cursor
