"""The merchant's API keys (store.reads.api_keys): prefixes only, except the new key in the
answer that issues it."""

from __future__ import annotations

from pydantic import Field

from payhub.api.schemas.common import Cursor, Resource, Timestamp


class ApiKey(Resource):
    id: str
    prefix: str = Field(description="the key's first characters, to recognise it")
    mode: str = Field(description="test or live")
    livemode: bool
    role: str = Field(description="owner or standard")
    label: str
    created_at: Timestamp
    last_used_at: Timestamp | None
    revoked_at: Timestamp | None
    expires_at: Timestamp | None = Field(description="set on a rotated key: end of its overlap")
    replaced_by: str | None = Field(description="the id of the key that replaced it")


class IssuedApiKey(ApiKey):
    """A new key, with the key itself: shown in this response only."""

    key: str | None = Field(description="sk_test_… or sk_live_…; null in an Idempotency-Key replay")
    key_redacted: bool | None = Field(
        default=None, description="true in an Idempotency-Key replay (the key is not kept)"
    )


class RotatedApiKey(IssuedApiKey):
    """The replacement key, and the key it replaces (which works until its `expires_at`)."""

    replaces: ApiKey


class ApiKeyList(Resource):
    data: list[ApiKey]
    has_more: bool
    next_cursor: Cursor
