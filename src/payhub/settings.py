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
    max_callback_bytes: int = Field(
        default=64 * 1024, description="size cap of gateway callback and return bodies"
    )
    max_request_bytes: int = Field(
        default=1024 * 1024, description="size cap of every other request body (API, pages)"
    )
    request_body_timeout_seconds: float = Field(
        default=30.0, description="a request body must arrive within this time, or 408"
    )
    header_timeout_seconds: float = Field(
        default=10.0,
        description="a request's headers must arrive within this time, or the connection closes",
    )
    max_header_bytes: int = Field(
        default=16 * 1024, description="size cap of a request's line and headers, or 431"
    )
    max_concurrency: int = Field(
        default=1000,
        description="connections plus requests in flight per server process; more get 503",
    )
    keep_alive_seconds: int = Field(
        default=5, description="an idle kept-alive connection is closed after this time"
    )
    gateway_timeout_seconds: float = 20.0
    webhook_retry_scale: float = Field(
        default=1.0, description="multiplies the outbound webhook retry schedule (tests: 0.001)"
    )
    log_level: str = "info"
    log_json: bool = False
    # Serving production accounts? Then simulator-environment accounts are refused.
    production: bool = False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
