"""Read model of refunds: one refund as the merchant API (and refund events) show it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payhub.clock import as_utc
from payhub.store.models import Refund


@dataclass(frozen=True, slots=True)
class RefundView:
    """One refund of a payment attempt (full, partial or manual)."""

    id: str
    payment_id: str
    order_id: str
    amount: int
    currency: str
    status: str
    manual: bool
    reason: str
    gateway_code: str | None
    message: str | None
    created_at: datetime

    @classmethod
    def of(cls, r: Refund) -> RefundView:
        return cls(
            id=r.id,
            payment_id=r.payment_id,
            order_id=r.order_id,
            amount=r.amount_minor,
            currency=r.currency,
            status=r.status,
            manual=r.manual,
            reason=r.reason,
            gateway_code=r.gateway_code,
            message=r.message,
            created_at=as_utc(r.created_at),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "payment_id": self.payment_id,
            "order_id": self.order_id,
            "amount": self.amount,
            "currency": self.currency,
            "status": self.status,
            "manual": self.manual,
            "reason": self.reason,
            "gateway_code": self.gateway_code,
            "message": self.message,
            "created_at": self.created_at.isoformat(),
        }
