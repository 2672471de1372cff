"""Property tests of the order and payment transition tables."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from payhub.domain.amounts import AmountCheck, check_amount, refundable
from payhub.domain.lifecycle import (
    ORDER_TERMINAL,
    OrderEvent,
    OrderStatus,
    PaymentEvent,
    PaymentStatus,
    next_order_status,
    next_payment_status,
)
from payhub.money import Money

payment_events = st.lists(st.sampled_from(list(PaymentEvent)), max_size=30)
order_events = st.lists(st.sampled_from(list(OrderEvent)), max_size=30)


SETTLING_EVENTS = {PaymentEvent.REPORTED_SUCCEEDED, PaymentEvent.OPERATOR_ACCEPTED}


@given(payment_events)
def test_only_a_reported_or_accepted_success_settles_an_attempt(
    events: list[PaymentEvent],
) -> None:
    status = PaymentStatus.INITIATED
    for event in events:
        after = next_payment_status(status, event)
        if after is None:
            continue
        assert after != PaymentStatus.INITIATED  # nothing goes back to "not yet sent"
        if after == PaymentStatus.SUCCEEDED and status != PaymentStatus.SUCCEEDED:
            assert event in SETTLING_EVENTS
            # money on a cancelled or expired attempt never settles by itself
            assert status not in (PaymentStatus.CANCELLED, PaymentStatus.EXPIRED)
        status = after


@given(payment_events)
def test_succeeded_payment_only_leaves_by_nothing(events: list[PaymentEvent]) -> None:
    status = PaymentStatus.SUCCEEDED
    for event in events:
        assert next_payment_status(status, event) in (None,)


@given(payment_events)
def test_review_is_left_only_by_an_operator(events: list[PaymentEvent]) -> None:
    for event in events:
        after = next_payment_status(PaymentStatus.REVIEW, event)
        if after is not None:
            assert (event, after) in {
                (PaymentEvent.OPERATOR_ACCEPTED, PaymentStatus.SUCCEEDED),
                (PaymentEvent.OPERATOR_REJECTED, PaymentStatus.REJECTED),
            }


@given(payment_events)
def test_a_rejected_payment_never_moves_again(events: list[PaymentEvent]) -> None:
    # Its money goes back through a refund; no gateway report can make it pay the order.
    for event in events:
        assert next_payment_status(PaymentStatus.REJECTED, event) is None


def test_money_after_giving_up_goes_to_review_never_success() -> None:
    for status in (PaymentStatus.CANCELLED, PaymentStatus.EXPIRED):
        assert next_payment_status(status, PaymentEvent.REPORTED_SUCCEEDED) == PaymentStatus.REVIEW


def test_a_failed_attempt_retried_at_the_gateway_may_still_succeed() -> None:
    # e.g. a ToyyibPay bill paid with bank A after bank B failed; the order-level checks in
    # settlement still send it to review if the order was paid or given up meanwhile.
    assert (
        next_payment_status(PaymentStatus.FAILED, PaymentEvent.REPORTED_SUCCEEDED)
        == PaymentStatus.SUCCEEDED
    )


@given(order_events)
def test_order_terminal_states_stay_terminal(events: list[OrderEvent]) -> None:
    for terminal in ORDER_TERMINAL:
        for event in events:
            assert next_order_status(terminal, event) is None


@given(order_events)
def test_paid_order_never_returns_to_unpaid(events: list[OrderEvent]) -> None:
    status = OrderStatus.PAID
    unpaid = {
        OrderStatus.AWAITING_PAYMENT,
        OrderStatus.PAYMENT_FAILED,
        OrderStatus.CANCELLED,
        OrderStatus.EXPIRED,
    }
    for event in events:
        after = next_order_status(status, event)
        if after is not None:
            status = after
        assert status not in unpaid


@given(st.lists(st.integers(min_value=1, max_value=10_000), max_size=20))
def test_refunded_amount_never_goes_backwards_nor_exceeds_paid(refunds: list[int]) -> None:
    paid = Money(50_000, "VND")
    refunded = Money(0, "VND")
    for amount in refunds:
        left = refundable(paid, refunded)
        if amount <= left.minor:
            before = refunded
            refunded = refunded + Money(amount, "VND")
            assert refunded >= before
        assert refunded <= paid


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=10**12))
def test_amount_check_is_exact(expected: int, reported: int) -> None:
    result = check_amount(Money(expected, "VND"), Money(reported, "VND"))
    assert (result == AmountCheck.MATCH) == (expected == reported)


def test_amount_check_refuses_other_currency_and_missing_amount() -> None:
    assert check_amount(Money(100, "MYR"), Money(100, "VND")) == AmountCheck.CURRENCY_MISMATCH
    assert check_amount(Money(100, "MYR"), None) == AmountCheck.MISSING
