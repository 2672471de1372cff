"""Configuration from environment variables with the `PAYHUB_` prefix (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


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
    customer_jwt_max_lifetime_seconds: int = Field(
        default=24 * 3600,
        ge=1,
        description="customer tokens whose exp - iat exceeds this are refused",
    )
    max_callback_bytes: int = Field(default=64 * 1024, description="size cap of inbound bodies")
    gateway_timeout_seconds: float = 20.0
    webhook_retry_scale: float = Field(
        default=1.0, description="multiplies the outbound webhook retry schedule (tests: 0.001)"
    )
    outbound_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Comma-separated CIDRs and/or host names the hub may fetch although the outbound "
            "URL policy refuses them (loopback receivers in the demo and tests; a trusted "
            "internal host). Empty: no internal address is ever contacted"
        ),
    )
    log_level: str = "info"
    log_json: bool = False
    # Serving production accounts? Then simulator-environment accounts are refused.
    production: bool = False

    @field_validator("outbound_allow", mode="before")
    @classmethod
    def _split_allow_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [entry.strip() for entry in value.split(",") if entry.strip()]
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
