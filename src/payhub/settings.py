"""Configuration from environment variables with the `PAYHUB_` prefix (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYHUB_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/payhub.db",
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db",
    )
    master_key: SecretStr | None = Field(
        default=None,
        description="32 random bytes, base64: the root key of the credential vault",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Origin gateways and browsers reach payhub at; callback URLs derive from it",
    )
    customer_jwt_secret: SecretStr | None = Field(
        default=None, description="HS256 secret for customer bearer tokens"
    )
    customer_jwks_url: str | None = Field(
        default=None, description="JWKS URL for RS256/ES256 customer bearer tokens"
    )
    customer_jwt_audience: str | None = None
    customer_jwt_issuer: str | None = None
    max_callback_bytes: int = Field(default=64 * 1024, description="size cap of inbound bodies")
    gateway_timeout_seconds: float = 20.0
    webhook_retry_scale: float = Field(
        default=1.0, description="multiplies the outbound webhook retry schedule (tests: 0.001)"
    )
    telegram_api_url: str = Field(
        default="https://api.telegram.org",
        description="Telegram Bot API origin (a merchant's settings may name another)",
    )
    notify_retry_scale: float = Field(
        default=1.0, description="multiplies the notification retry schedule (tests: 0.001)"
    )
    notify_concurrency: int = Field(
        default=8, ge=1, description="destinations (SMTP servers, chats) sent to at once"
    )
    notify_timeout_seconds: float = Field(
        default=20.0, gt=0, description="timeout of one SMTP or Telegram send"
    )
    notify_lease_seconds: float = Field(
        default=300.0, gt=0, description="a worker's claim on messages; taken over after it"
    )
    log_level: str = "info"
    log_json: bool = False
    # Serving production accounts? Then simulator-environment accounts are refused.
    production: bool = False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
