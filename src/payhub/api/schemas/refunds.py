"""Refunds of a payment attempt (store.reads.refunds)."""

from __future__ import annotations

from pydantic import Field

from payhub.api.schemas.common import Cursor, Resource, Timestamp


class Refund(Resource):
    """A refund as the refund routes answer it and a `refund.*` event's `data.object`
    holds it, with its order's mode."""

    id: str
    payment_id: str
    order_id: str
    amount: int = Field(description="minor units")
    currency: str
    status: str = Field(description="pending, succeeded or failed")
    manual: bool
    reason: str
    gateway_code: str | None
    message: str | None
    created_at: Timestamp
    livemode: bool


class RefundList(Resource):
    data: list[Refund]
    has_more: bool
    next_cursor: Cursor
