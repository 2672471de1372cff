"""Webhook endpoints."""

from __future__ import annotations

from pydantic import Field

from payhub.api.schemas.common import Cursor, Resource


class WebhookEndpoint(Resource):
    id: str
    url: str
    event_types: list[str] = Field(description="empty: every merchant event")
    enabled: bool
    disabled_reason: str | None


class CreatedWebhookEndpoint(WebhookEndpoint):
    """The new endpoint with its signing secret, shown in this response only."""

    secret: str | None = Field(description="whsec_…; null in an Idempotency-Key replay")
    secret_redacted: bool | None = Field(
        default=None, description="true in an Idempotency-Key replay (the secret is not kept)"
    )


class WebhookEndpointList(Resource):
    data: list[WebhookEndpoint]
    has_more: bool
    next_cursor: Cursor
