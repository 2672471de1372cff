"""Shapes shared by every resource: the problem document, list pages, timestamps."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

# Timestamps are RFC 3339 strings in UTC, exactly as the read models render them.
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]

Cursor = Annotated[
    str | None,
    Field(description="the `starting_after` of the next page; null on the last page"),
]


class Resource(BaseModel):
    """A response object: exactly these members, in this order."""

    model_config = ConfigDict(extra="forbid")


class FieldError(BaseModel):
    """One refused member of a request (a 422 `validation-error`)."""

    loc: list[str] = Field(description="where: body, query or path, then the member names")
    msg: str


class Problem(BaseModel):
    """RFC 9457 problem document, `application/problem+json`. `type` is stable per error
    code (`https://payhub.dev/problems/<code>`); `retry_safe` says whether the very same
    request may be sent again. Some codes add members (listed here, all optional)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "https://payhub.dev/problems/not-found",
                    "title": "Not found",
                    "status": 404,
                    "detail": "no order ord_x",
                    "retry_safe": False,
                }
            ]
        },
    )

    type: str
    title: str
    status: int
    detail: str
    retry_safe: bool | None = None
    errors: list[FieldError] | None = Field(
        default=None, description="validation-error: each refused member"
    )
    retry_after: int | None = Field(
        default=None,
        description="rate-limited, no-gateway-available: seconds to wait (also Retry-After)",
    )
    gateway_code: str | None = Field(
        default=None, description="gateway-call-failed: the gateway's own code"
    )
    short_skus: list[str] | None = Field(
        default=None, description="insufficient-stock: the SKUs short of stock"
    )
    refundable: int | None = Field(
        default=None, description="refund-not-allowed: minor units still refundable"
    )
    rule: str | None = Field(default=None, description="outbound-refused: the rule that refused")
    balance: int | None = Field(
        default=None, description="insufficient-credits: the customer's balance now"
    )
    requested: int | None = Field(
        default=None, description="insufficient-credits: the credits asked for"
    )
    reference: str | None = Field(
        default=None, description="reference-reused: the debit reference sent"
    )
    amount: int | None = Field(
        default=None, description="reference-reused: the credits of the debit it names"
    )
    routing: dict[str, Any] | None = Field(
        default=None,
        description="no-gateway-available: the candidates tried (`tried`) and the accounts "
        "skipped (`skipped`), as on a started payment",
    )


def list_of(items: list[Any], has_more: bool, next_cursor: str | None) -> dict[str, Any]:
    """A list page as every list answers it."""
    return {"data": items, "has_more": has_more, "next_cursor": next_cursor}
