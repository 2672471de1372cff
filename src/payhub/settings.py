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
    max_callback_bytes: int = Field(default=64 * 1024, description="size cap of inbound bodies")
    gateway_timeout_seconds: float = 20.0
    webhook_retry_scale: float = Field(
        default=1.0, description="multiplies the outbound webhook retry schedule (tests: 0.001)"
    )
    webhook_timeout_seconds: float = Field(
        default=15.0, description="timeout of one outbound webhook POST"
    )
    worker_send_concurrency: int = Field(
        default=16, description="outbound sends in flight at once per worker (one per endpoint)"
    )
    worker_lease_seconds: float = Field(
        default=60.0,
        description="how long a worker's claim on a delivery or check lasts before another "
        "worker may take it over (at least the send timeout plus 5 s)",
    )
    worker_deliver_interval_seconds: float = Field(
        default=1.0, description="how often the worker looks for due webhook deliveries"
    )
    worker_reconcile_interval_seconds: float = Field(
        default=10.0, description="how often the worker looks for attempts due a status query"
    )
    worker_reconcile_concurrency: int = Field(
        default=4, description="gateway status queries in flight at once per worker"
    )
    worker_refund_interval_seconds: float = Field(
        default=30.0, description="how often the worker re-checks pending refunds"
    )
    worker_expire_interval_seconds: float = Field(
        default=15.0, description="how often the worker expires orders past their expiry"
    )
    worker_notify_interval_seconds: float = Field(
        default=2.0, description="how often the worker sends due notifications"
    )
    worker_prune_interval_seconds: float = Field(
        default=3600.0, description="how often the worker prunes expired rows"
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
