"""The e-mail and Telegram delivery log (store.reads.notifications)."""

from __future__ import annotations

from pydantic import Field

from payhub.api.schemas.common import Cursor, Resource, Timestamp


class Notification(Resource):
    id: int
    event_id: str
    event_type: str
    order_id: str | None
    channel: str = Field(description="email or telegram")
    recipient: str = Field(description="e-mail addresses partly masked")
    template: str
    locale: str
    outcome: str
    attempts: int
    last_error: str | None
    next_attempt_at: Timestamp | None
    sent_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp


class NotificationList(Resource):
    data: list[Notification]
    has_more: bool
    next_cursor: Cursor
