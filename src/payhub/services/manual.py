"""Operator-recorded payments (bank transfer, cash): authenticated, audited, and settled
through the same transition table as gateway payments. There is no unauthenticated
"mark as paid" anywhere."""

from __future__ import annotations

from typing import Any

from payhub.domain.errors import InvalidRequest, OrderAlreadyPaid, OrderNotPayable
from payhub.domain.lifecycle import ORDER_HOLDS_STOCK, ORDER_IS_PAID, OrderStatus, PaymentStatus
from payhub.gateways.base import GatewayStatus
from payhub.money import MAX_AMOUNT_MINOR, Money
from payhub.services.context import Hub
from payhub.services.orders import get_order, payment_view
from payhub.services.settlement import GatewayReport, apply_report
from payhub.store import attempts
from payhub.store.ids import new_id
from payhub.store.journal import add_audit
from payhub.store.tx import retry_write_conflicts

MANUAL = "manual"


@retry_write_conflicts
def record_manual_payment(
    hub: Hub,
    merchant_id: str,
    order_id: str,
    *,
    amount: int,
    reference: str,
    note: str,
    actor: str,
    source_ip: str | None,
) -> dict[str, Any]:
    if not 0 < amount <= MAX_AMOUNT_MINOR:
        raise InvalidRequest(f"amount must be between 1 and {MAX_AMOUNT_MINOR}")
    now = hub.clock.now()
    with hub.db.write() as tx:
        livemode = bool(get_order(tx, merchant_id, order_id).livemode)
        order = attempts.lock_order(tx, order_id)
        status = OrderStatus(order.status)
        if status in ORDER_IS_PAID:
            raise OrderAlreadyPaid(f"order {order_id} is already paid")
        if status not in ORDER_HOLDS_STOCK and status not in (
            OrderStatus.CANCELLED,
            OrderStatus.EXPIRED,
        ):
            raise OrderNotPayable(f"order {order_id} is {status.value}")
        payment_id = new_id("pay")
        attempts.open_attempt(
            tx,
            payment_id=payment_id,
            merchant_id=merchant_id,
            order_id=order_id,
            gateway_account_id=None,
            gateway=MANUAL,
            gateway_reference=f"manual:{reference}",
            status=PaymentStatus.PENDING.value,
            amount_minor=order.total_minor,
            currency=order.currency,
            gateway_data={"note": note[:500]},
            expires_at=None,
            now=now,
        )
        payment = attempts.lock_attempt(tx, payment_id)
        assert payment is not None
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="payment.manual_recorded",
            subject=payment_id,
            source_ip=source_ip,
            after={"order": order_id, "amount": amount, "reference": reference, "note": note},
            now=now,
        )
        apply_report(
            tx,
            payment,
            order,
            GatewayReport(
                status=GatewayStatus.SUCCEEDED,
                dedupe_key=f"manual:{reference}",
                gateway_code="manual",
                amount=Money(amount, order.currency),
                source="operator",
                message=note,
            ),
            now,
        )
        stored = attempts.find_attempt(tx, payment_id)
        assert stored is not None
        return payment_view(stored, livemode=livemode)
