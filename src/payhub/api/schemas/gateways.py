"""Gateways the merchant can take a payment through, and validating an account's
credentials against its gateway."""

from __future__ import annotations

from pydantic import Field

from payhub.api.schemas.common import Cursor, Resource, Timestamp


class CurrencyLimits(Resource):
    min: int = Field(description="minor units")
    max: int = Field(description="minor units")
    min_display: str


class GatewayHealth(Resource):
    """The account's circuit, as routing sees it."""

    state: str = Field(description="closed, open or half_open")
    consecutive_failures: int
    last_failure_at: Timestamp | None


class GatewayValidationState(Resource):
    """The account's last validation (`ok` null: the gateway could not tell;
    `checked_at` null: never validated)."""

    ok: bool | None
    code: str | None
    checked_at: Timestamp | None


class Gateway(Resource):
    gateway: str
    display_name: str
    environment: str = Field(description="simulator, sandbox or production")
    account_id: str = Field(description="the account routing uses first for this gateway")
    priority: int = Field(description="lower is tried first")
    health: GatewayHealth
    refunds: bool
    currencies: dict[str, CurrencyLimits]
    validation: GatewayValidationState


class GatewayList(Resource):
    data: list[Gateway]
    has_more: bool
    next_cursor: Cursor


class GatewayValidation(Resource):
    """One validation of one account, as stored on it."""

    account: str = Field(description="the account's id")
    gateway: str
    environment: str
    valid: bool | None = Field(description="null: the gateway could not tell")
    code: str = Field(description="why, in the gateway's or payhub's words")
    message: str
    checked_with: str = Field(description="the harmless call that was made")
    checked_at: Timestamp
