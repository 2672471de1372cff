"""Order and payment-attempt lifecycles, each as one explicit transition table.

Events are facts ("the gateway reported success"); a status is derived by looking the
(current status, event) pair up in the table. A pair that is not in the table changes
nothing: a stale failure after a success, a second success on a paid attempt. Callers record
the event anyway (it is a fact) and apply no effect.
"""

from __future__ import annotations

import enum
from typing import Final


class PaymentStatus(enum.StrEnum):
    INITIATED = "initiated"  # row written, gateway not yet called
    PENDING = "pending"  # gateway accepted the attempt; customer may pay
    UNKNOWN = "unknown"  # the gateway's answer was lost; a query resolves it
    AUTHORIZED = "authorized"  # money held, not captured
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REVIEW = "review"  # money moved but something is off; an operator decides
    # An operator rejected the review: this money never pays the order and goes back to
    # the payer through a refund of what was received (tracked like any refund).
    REJECTED = "rejected"


class PaymentEvent(enum.StrEnum):
    GATEWAY_ACCEPTED = "gateway_accepted"
    GATEWAY_ANSWER_LOST = "gateway_answer_lost"
    GATEWAY_REJECTED = "gateway_rejected"
    REPORTED_PENDING = "reported_pending"
    REPORTED_AUTHORIZED = "reported_authorized"
    REPORTED_SUCCEEDED = "reported_succeeded"
    REPORTED_FAILED = "reported_failed"
    REPORTED_CANCELLED = "reported_cancelled"
    REPORTED_EXPIRED = "reported_expired"
    # Money moved but must not settle automatically: amount/currency mismatch, paid after
    # expiry or cancellation, or a second attempt paid an order that was already paid.
    NEEDS_REVIEW = "needs_review"
    CANCEL_REQUESTED = "cancel_requested"  # the merchant cancelled the order
    OPERATOR_ACCEPTED = "operator_accepted"  # review resolved: keep the money
    OPERATOR_REJECTED = "operator_rejected"  # review resolved: give the money back


P = PaymentStatus
PE = PaymentEvent

_OPEN: Final = (P.INITIATED, P.PENDING, P.UNKNOWN, P.AUTHORIZED)

PAYMENT_TRANSITIONS: Final[dict[tuple[PaymentStatus, PaymentEvent], PaymentStatus]] = {
    (P.INITIATED, PE.GATEWAY_ACCEPTED): P.PENDING,
    (P.INITIATED, PE.GATEWAY_ANSWER_LOST): P.UNKNOWN,
    (P.INITIATED, PE.GATEWAY_REJECTED): P.FAILED,
    (P.UNKNOWN, PE.GATEWAY_ACCEPTED): P.PENDING,
    (P.UNKNOWN, PE.REPORTED_PENDING): P.PENDING,
    **{(s, PE.REPORTED_AUTHORIZED): P.AUTHORIZED for s in _OPEN if s != P.AUTHORIZED},
    **{(s, PE.REPORTED_SUCCEEDED): P.SUCCEEDED for s in _OPEN},
    **{(s, PE.REPORTED_FAILED): P.FAILED for s in _OPEN},
    **{(s, PE.REPORTED_CANCELLED): P.CANCELLED for s in _OPEN},
    **{(s, PE.REPORTED_EXPIRED): P.EXPIRED for s in _OPEN},
    **{(s, PE.NEEDS_REVIEW): P.REVIEW for s in _OPEN},
    **{(s, PE.CANCEL_REQUESTED): P.CANCELLED for s in (P.INITIATED, P.PENDING, P.UNKNOWN)},
    # A failed attempt the gateway lets the customer retry (a bill paid again after a failed
    # bank attempt) may still succeed; settlement then checks the order is still unpaid.
    (P.FAILED, PE.REPORTED_SUCCEEDED): P.SUCCEEDED,
    # Money arriving on an attempt that was cancelled or expired: never settle silently.
    **{(s, PE.REPORTED_SUCCEEDED): P.REVIEW for s in (P.CANCELLED, P.EXPIRED)},
    **{(s, PE.NEEDS_REVIEW): P.REVIEW for s in (P.FAILED, P.CANCELLED, P.EXPIRED)},
    (P.REVIEW, PE.OPERATOR_ACCEPTED): P.SUCCEEDED,
    (P.REVIEW, PE.OPERATOR_REJECTED): P.REJECTED,
}

PAYMENT_TERMINAL: Final = frozenset({P.SUCCEEDED, P.REVIEW, P.REJECTED})
PAYMENT_LIVE: Final = frozenset({P.INITIATED, P.PENDING, P.UNKNOWN, P.AUTHORIZED})


def next_payment_status(current: PaymentStatus, event: PaymentEvent) -> PaymentStatus | None:
    """The attempt's next status, or None when the event does not move it."""
    return PAYMENT_TRANSITIONS.get((current, event))


class OrderStatus(enum.StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    PAYMENT_FAILED = "payment_failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REVIEW = "review"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class OrderEvent(enum.StrEnum):
    ATTEMPT_STARTED = "attempt_started"
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_NEEDS_REVIEW = "payment_needs_review"
    CANCEL_REQUESTED = "cancel_requested"
    EXPIRY_REACHED = "expiry_reached"
    PARTIALLY_REFUNDED = "partially_refunded"
    FULLY_REFUNDED = "fully_refunded"
    OPERATOR_ACCEPTED = "operator_accepted"
    REVIEW_REJECTED = "review_rejected"


OS = OrderStatus
OE = OrderEvent

ORDER_TRANSITIONS: Final[dict[tuple[OrderStatus, OrderEvent], OrderStatus]] = {
    (OS.AWAITING_PAYMENT, OE.ATTEMPT_STARTED): OS.AWAITING_PAYMENT,
    (OS.AWAITING_PAYMENT, OE.PAYMENT_SUCCEEDED): OS.PAID,
    (OS.AWAITING_PAYMENT, OE.PAYMENT_FAILED): OS.PAYMENT_FAILED,
    (OS.AWAITING_PAYMENT, OE.PAYMENT_NEEDS_REVIEW): OS.REVIEW,
    (OS.AWAITING_PAYMENT, OE.CANCEL_REQUESTED): OS.CANCELLED,
    (OS.AWAITING_PAYMENT, OE.EXPIRY_REACHED): OS.EXPIRED,
    (OS.PAYMENT_FAILED, OE.ATTEMPT_STARTED): OS.AWAITING_PAYMENT,
    (OS.PAYMENT_FAILED, OE.PAYMENT_SUCCEEDED): OS.PAID,
    (OS.PAYMENT_FAILED, OE.PAYMENT_NEEDS_REVIEW): OS.REVIEW,
    (OS.PAYMENT_FAILED, OE.CANCEL_REQUESTED): OS.CANCELLED,
    (OS.PAYMENT_FAILED, OE.EXPIRY_REACHED): OS.EXPIRED,
    # Paid after the order was given up: the money is real, a person decides.
    (OS.CANCELLED, OE.PAYMENT_NEEDS_REVIEW): OS.REVIEW,
    (OS.EXPIRED, OE.PAYMENT_NEEDS_REVIEW): OS.REVIEW,
    (OS.REVIEW, OE.OPERATOR_ACCEPTED): OS.PAID,
    (OS.REVIEW, OE.FULLY_REFUNDED): OS.REFUNDED,
    # The money that put the order in review is rejected (and refunded): the order is closed.
    (OS.REVIEW, OE.REVIEW_REJECTED): OS.CANCELLED,
    (OS.PAID, OE.PARTIALLY_REFUNDED): OS.PARTIALLY_REFUNDED,
    (OS.PAID, OE.FULLY_REFUNDED): OS.REFUNDED,
    (OS.PARTIALLY_REFUNDED, OE.PARTIALLY_REFUNDED): OS.PARTIALLY_REFUNDED,
    (OS.PARTIALLY_REFUNDED, OE.FULLY_REFUNDED): OS.REFUNDED,
}

ORDER_TERMINAL: Final = frozenset({OS.REFUNDED})
# Orders whose stock reservation is still held.
ORDER_HOLDS_STOCK: Final = frozenset({OS.AWAITING_PAYMENT, OS.PAYMENT_FAILED})
ORDER_IS_PAID: Final = frozenset({OS.PAID, OS.PARTIALLY_REFUNDED, OS.REFUNDED})


def next_order_status(current: OrderStatus, event: OrderEvent) -> OrderStatus | None:
    """The order's next status, or None when the event does not move it."""
    return ORDER_TRANSITIONS.get((current, event))
