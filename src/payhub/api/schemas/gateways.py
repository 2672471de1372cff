"""Gateways the merchant can take a payment through."""

from __future__ import annotations

from pydantic import Field

from payhub.api.schemas.common import Cursor, Resource


class CurrencyLimits(Resource):
    min: int = Field(description="minor units")
    max: int = Field(description="minor units")
    min_display: str


class Gateway(Resource):
    gateway: str
    display_name: str
    environment: str
    refunds: bool
    currencies: dict[str, CurrencyLimits]


class GatewayList(Resource):
    data: list[Gateway]
    has_more: bool
    next_cursor: Cursor
