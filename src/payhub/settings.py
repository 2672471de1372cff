"""Configuration from environment variables with the `PAYHUB_` prefix (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from ipaddress import ip_network
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from limits import parse_many
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
    customer_jwt_livemode: bool = Field(
        default=False,
        description="mode of customers verified by the hub-wide customer-token settings",
    )
    customer_jwt_max_lifetime_seconds: int = Field(
        default=24 * 3600,
        ge=1,
        description="customer tokens whose exp - iat exceeds this are refused",
    )
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
    circuit_failure_threshold: int = Field(
        default=5,
        ge=1,
        description="consecutive failed create calls that open a gateway account's circuit",
    )
    circuit_cooldown_seconds: float = Field(
        default=60.0,
        gt=0,
        description="how long an open circuit skips its account before one probe call",
    )
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

    # Rate limits (payhub.api.rate_limits), in `limits` notation: "600/minute", several
    # joined by ";" ("30/minute;300/hour"). Kept in memory, per hub process.
    rate_limits_enabled: bool = Field(default=True, description="false turns every limit off")
    rate_limit_per_api_key: str = Field(
        default="6000/minute", description="requests to /v1 per bearer credential"
    )
    rate_limit_writes_per_api_key: str = Field(
        default="3000/minute", description="POST/PUT/PATCH/DELETE to /v1 per bearer credential"
    )
    rate_limit_public_per_ip: str = Field(
        default="600/minute", description="requests to /pay/… and /return/… per client IP"
    )
    rate_limit_auth_failures_per_ip: str = Field(
        default="30/minute", description="401/403 answers per client IP before it is refused"
    )
    rate_limit_unverified_callbacks_per_ip: str = Field(
        default="120/minute",
        description="callbacks per client IP that verify nothing (unknown account, bad signature)",
    )
    return_query_interval_seconds: int = Field(
        default=10, ge=0, description="returns query a live attempt at most once this often"
    )
    trusted_proxies: str = Field(
        default="",
        description="comma-separated IPs/CIDRs whose X-Forwarded-For names the client",
    )
    # The operator console (payhub.web.console).
    console_idle_minutes: int = Field(
        default=30, ge=1, description="a console session ends after this long without a request"
    )
    console_session_hours: int = Field(
        default=12, ge=1, description="a console session ends this long after login, in any case"
    )
    console_timezone: str = Field(
        default="Asia/Ho_Chi_Minh",
        description="IANA zone whose calendar days the console dashboard counts in (GMT+7)",
    )
    rate_limit_console_login_per_ip: str = Field(
        default="20/minute;200/hour", description="console login attempts per client IP"
    )
    rate_limit_console_login_per_account: str = Field(
        default="5/minute;30/hour", description="failed console logins per e-mail address"
    )
    # Retention (payhub prune, services.retention).
    inbound_retention_days: int = Field(
        default=30, ge=1, description="inbound rows no event refers to are pruned after this"
    )
    delivery_attempt_retention_days: int = Field(
        default=90, ge=1, description="attempt rows of finished webhook deliveries kept this long"
    )

    @field_validator("outbound_allow", mode="before")
    @classmethod
    def _split_allow_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [entry.strip() for entry in value.split(",") if entry.strip()]
        return value

    @field_validator(
        "rate_limit_per_api_key",
        "rate_limit_writes_per_api_key",
        "rate_limit_public_per_ip",
        "rate_limit_auth_failures_per_ip",
        "rate_limit_unverified_callbacks_per_ip",
        "rate_limit_console_login_per_ip",
        "rate_limit_console_login_per_account",
    )
    @classmethod
    def _valid_limit(cls, value: str) -> str:
        parse_many(value)  # raises ValueError on a typo, at start rather than at the first hit
        return value

    @field_validator("console_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises on an unknown zone, at start
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                ip_network(part.strip(), strict=False)
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
