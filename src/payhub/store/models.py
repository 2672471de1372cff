"""SQLAlchemy 2 models. Every row carries `merchant_id`.

Effects that must happen once are guarded here by unique constraints, not only by code:
one credit grant per (order, reason), one stock movement per (order, product, reason), one
verified event per (gateway account, dedupe key), one `order.paid` outbox row per order.
Money is stored as integer minor units plus a currency column.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

UTCDateTime = DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, datetime: UTCDateTime}


class Merchant(Base):
    __tablename__ = "merchants"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Branding for the hosted checkout and e-mails (set in the console or the CLI).
    logo_url: Mapped[str | None] = mapped_column(String(1000))
    brand_color: Mapped[str | None] = mapped_column(String(7))  # #RRGGBB
    default_locale: Mapped[str | None] = mapped_column(String(8))  # vi | en | ms
    created_at: Mapped[datetime]


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(24), unique=True)  # shown in lists
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the full key
    mode: Mapped[str] = mapped_column(String(8))  # test | live
    label: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16), default="standard")  # owner | standard
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # Touched at most once a minute per key (services.api_keys), never on every request.
    last_used_at: Mapped[datetime | None]
    # Set when the key is rotated: it keeps working until then (the overlap), then 401.
    expires_at: Mapped[datetime | None]
    replaced_by: Mapped[str | None] = mapped_column(String(40))  # the key rotation issued


class CustomerTokenIssuer(Base):
    """Who may sign a merchant's customer tokens: an `iss` (+ `aud`) pair maps to one
    merchant. The key is the issuer's JWKS (`jwks_url`) or a shared secret in the vault
    (`secret_ciphertext`, bound to "customer_token_issuer:" + the row id)."""

    __tablename__ = "customer_token_issuers"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    issuer: Mapped[str] = mapped_column(String(500))
    audience: Mapped[str] = mapped_column(String(500))
    jwks_url: Mapped[str | None] = mapped_column(String(1000))
    secret_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    secret_key_id: Mapped[str | None] = mapped_column(String(40))
    customer_claim: Mapped[str] = mapped_column(String(100))  # the customer's external id
    algorithms: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"allowed": ["RS256"]}
    livemode: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("issuer", "audience"),)


class GatewayAccount(Base):
    __tablename__ = "gateway_accounts"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    gateway: Mapped[str] = mapped_column(String(32))
    environment: Mapped[str] = mapped_column(String(16))  # simulator | sandbox | production
    base_url: Mapped[str] = mapped_column(String(500))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    priority: Mapped[int] = mapped_column(Integer, default=100)
    # AES-256-GCM(nonce || ciphertext) of the JSON credentials; the row id is the AAD.
    credentials_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    credentials_key_id: Mapped[str | None] = mapped_column(String(40))
    credential_fields_set: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The last credential validation against the gateway (migration 0008): ok is None when
    # the gateway could not tell; validated_at None when never validated.
    validated_at: Mapped[datetime | None]
    validation_ok: Mapped[bool | None] = mapped_column(Boolean)
    validation_code: Mapped[str | None] = mapped_column(String(64))
    validation_message: Mapped[str | None] = mapped_column(String(500))
    __table_args__ = (UniqueConstraint("merchant_id", "gateway", "environment"),)


class GatewayHealth(Base):
    """One gateway account's recent create calls and its circuit (closed, open, half_open).

    A circuit opens after `PAYHUB_CIRCUIT_FAILURE_THRESHOLD` consecutive create failures;
    after the cool-down one probe is let through (claimed by a conditional UPDATE)."""

    __tablename__ = "gateway_health"
    account_id: Mapped[str] = mapped_column(ForeignKey("gateway_accounts.id"), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(16), default="closed")
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None]
    last_timeout_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(200))
    opened_at: Mapped[datetime | None]
    probe_started_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class MerchantRouting(Base):
    """A merchant's routing choices: its default gateway and per-currency gateway orders
    (`{"VND": ["<gateway>", "<gateway>"]}`); without a row, account priorities alone decide."""

    __tablename__ = "merchant_routing"
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    default_gateway: Mapped[str | None] = mapped_column(String(32))
    currency_priorities: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime]


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    external_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("merchant_id", "external_id"),)


class Product(Base):
    __tablename__ = "products"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    sku: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    price_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    credits: Mapped[int] = mapped_column(BigInteger, default=0)  # credits granted per unit
    track_stock: Mapped[bool] = mapped_column(Boolean, default=False)
    stock_available: Mapped[int] = mapped_column(BigInteger, default=0)
    low_stock_threshold: Mapped[int | None] = mapped_column(Integer)
    # Low-stock alerting: `low_stock_alerted` is set by the one transaction that takes the
    # stock to or below the threshold (and cleared when restocked above it); the crossing
    # counter names each crossing, so its `stock.low:<product>:<n>` event is unique.
    low_stock_alerted: Mapped[bool] = mapped_column(Boolean, default=False)
    low_stock_crossings: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    __table_args__ = (
        UniqueConstraint("merchant_id", "sku"),
        CheckConstraint("stock_available >= 0", name="stock_not_negative"),
        CheckConstraint("price_minor >= 0", name="price_not_negative"),
    )


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    merchant_reference: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(24), index=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    credits_to_grant: Mapped[int] = mapped_column(BigInteger, default=0)
    cancel_on_failure: Mapped[bool] = mapped_column(Boolean, default=False)
    return_url: Mapped[str | None] = mapped_column(String(1000))
    metadata_json: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    locale: Mapped[str | None] = mapped_column(String(8))  # vi | en | ms, for notifications
    # Test orders pay only through simulator/sandbox accounts, live ones only through
    # production accounts; set once, from the mode of the key that created the order.
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    paid_payment_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    __table_args__ = (
        UniqueConstraint("merchant_id", "merchant_reference"),
        CheckConstraint("total_minor > 0", name="total_positive"),
        CheckConstraint(
            "refunded_minor >= 0 AND refunded_minor <= total_minor", name="refund_bounded"
        ),
        Index("ix_orders_merchant_created", "merchant_id", "created_at"),
    )


class OrderItem(Base):
    __tablename__ = "order_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    product_id: Mapped[str | None] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    credits: Mapped[int] = mapped_column(BigInteger, default=0)
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)


class Payment(Base):
    """One row per attempt. Written (`initiated`) before the gateway is called."""

    __tablename__ = "payments"
    serial: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    # NULL for operator-recorded (manual) payments.
    gateway_account_id: Mapped[str | None] = mapped_column(ForeignKey("gateway_accounts.id"))
    gateway: Mapped[str] = mapped_column(String(32))
    gateway_reference: Mapped[str] = mapped_column(String(100))
    gateway_txn_id: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(24))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    received_minor: Mapped[int | None] = mapped_column(BigInteger)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    checkout_url: Mapped[str | None] = mapped_column(String(2000))
    qr_content: Mapped[str | None] = mapped_column(Text)
    deeplink: Mapped[str | None] = mapped_column(String(2000))
    gateway_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    review_reason: Mapped[str | None] = mapped_column(String(64))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(String(500))
    return_url: Mapped[str | None] = mapped_column(String(1000))
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The reconciliation schedule (worker): when to ask the gateway next, how often it was
    # asked, and the lease of the worker asking now.
    next_check_at: Mapped[datetime | None]
    check_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    claimed_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    # When the hub closed the link or bill at the gateway after giving up on the attempt.
    gateway_closed_at: Mapped[datetime | None]
    __table_args__ = (
        UniqueConstraint("gateway_account_id", "gateway_reference"),
        CheckConstraint("refunded_minor >= 0", name="refunded_not_negative"),
        Index("ix_payments_status", "status", "updated_at"),
        Index("ix_payments_next_check", "status", "next_check_at"),
    )


class PaymentEvent(Base):
    """A verified fact about an attempt (notification or server-side query)."""

    __tablename__ = "payment_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    gateway_account_id: Mapped[str] = mapped_column(String(40))
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    dedupe_key: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(24))  # notification | query | operator
    gateway_status: Mapped[str] = mapped_column(String(24))
    gateway_code: Mapped[str] = mapped_column(String(40))
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    payment_status_before: Mapped[str] = mapped_column(String(24))
    payment_status_after: Mapped[str] = mapped_column(String(24))
    inbound_request_id: Mapped[int | None] = mapped_column(Integer, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("gateway_account_id", "dedupe_key"),)


class InboundRequest(Base):
    """Every callback and return received, accepted or rejected, raw.

    A request that verified nothing (unknown account, bad signature, an unsigned return) is
    kept trimmed (store.inbound_log): `body` holds its first bytes only, `body_size` and
    `body_sha256` describe the whole body as received. `body_sha256` is NULL on rows kept
    whole."""

    __tablename__ = "inbound_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str | None] = mapped_column(String(40))
    gateway: Mapped[str] = mapped_column(String(32))
    gateway_account_id: Mapped[str | None] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))  # notification | return
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    query_string: Mapped[str] = mapped_column(Text, default="")
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    body: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    body_size: Mapped[int | None] = mapped_column(Integer)
    body_sha256: Mapped[str | None] = mapped_column(String(64))
    source_ip: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(24))
    detail: Mapped[str] = mapped_column(String(500), default="")
    payment_id: Mapped[str | None] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(index=True)


class Refund(Base):
    __tablename__ = "refunds"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    reference: Mapped[str] = mapped_column(String(100), unique=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))  # pending | succeeded | failed
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(String(500), default="")
    gateway_code: Mapped[str | None] = mapped_column(String(40))
    gateway_refund_id: Mapped[str | None] = mapped_column(String(100))
    message: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # A pending refund's re-check schedule (worker) and the lease of the worker checking it.
    next_check_at: Mapped[datetime | None]
    check_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    claimed_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (CheckConstraint("amount_minor > 0", name="amount_positive"),)


class CreditAccount(Base):
    __tablename__ = "credit_accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("merchant_id", "customer_id"),)


class CreditEntry(Base):
    __tablename__ = "credit_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[int] = mapped_column(ForeignKey("credit_accounts.id"), index=True)
    # Set for a grant or its reversal; None for a debit or an operator adjustment.
    order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id"))
    # The kind of entry: order_paid | order_refunded | debit | adjustment.
    reason: Mapped[str] = mapped_column(String(32))
    amount: Mapped[int] = mapped_column(BigInteger)  # signed: a debit is negative
    # The account's balance once this entry was applied (None on entries from before 0013).
    balance_after: Mapped[int | None] = mapped_column(BigInteger)
    # A debit's merchant reference: one spend per (merchant, account, reference).
    reference: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(500))  # an adjustment's reason
    metadata_json: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    actor: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    __table_args__ = (
        UniqueConstraint("order_id", "reason"),
        UniqueConstraint("merchant_id", "account_id", "reference"),
    )


class StockMovement(Base):
    __tablename__ = "stock_movements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), index=True)
    reason: Mapped[str] = mapped_column(String(16))  # reserve | release
    quantity: Mapped[int] = mapped_column(BigInteger)  # negative = taken from stock
    created_at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("order_id", "product_id", "reason"),)


class TimelineEntry(Base):
    """Human-readable history of an order, shown with the order."""

    __tablename__ = "timeline"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    payment_id: Mapped[str | None] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime]


class AuditEntry(Base):
    """Append-only: who did what, when, from where, before -> after."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str | None] = mapped_column(String(40), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(100))
    source_ip: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]


class OutboxEvent(Base):
    """Events to deliver to the merchant and the operator, written in the same transaction
    as the change they describe. `event_key` makes once-only events unique."""

    __tablename__ = "outbox"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # also the webhook-id
    merchant_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(64))
    event_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    created_at: Mapped[datetime]
    __table_args__ = (
        UniqueConstraint("merchant_id", "event_key"),
        Index("ix_outbox_due", "state", "next_attempt_at"),
    )


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # in_flight | done
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The response's own headers (content-type, location, ...) as [name, value] pairs.
    response_headers: Mapped[list[list[str]] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("merchant_id", "key"),)


class WebhookEndpoint(Base):
    """A merchant URL receiving Standard Webhooks; its `whsec_` secret is in the vault."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    secret_key_id: Mapped[str] = mapped_column(String(40))
    event_types: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {"only": [...]}
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Delivery(Base):
    """One event to one endpoint; retried with backoff until delivered or given up."""

    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    event_id: Mapped[str] = mapped_column(ForeignKey("outbox.id"), index=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    state: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    # The lease of the worker sending it now; another takes over once it has passed.
    claimed_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        Index("ix_deliveries_due", "state", "next_attempt_at"),
    )


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), index=True)
    attempted_at: Mapped[datetime]
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(String(1000))


class NotificationSettings(Base):
    """A merchant's e-mail and Telegram settings. The SMTP password and the bot token are
    in the vault (`secrets_ciphertext`, the row's merchant id is the AAD); which of them
    are set is in `secret_fields_set`, never their values."""

    __tablename__ = "notification_settings"
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    smtp_host: Mapped[str | None] = mapped_column(String(255))
    smtp_port: Mapped[int | None] = mapped_column(Integer)
    smtp_security: Mapped[str] = mapped_column(String(16), default="starttls")
    smtp_user: Mapped[str | None] = mapped_column(String(320))
    sender_address: Mapped[str | None] = mapped_column(String(320))
    sender_name: Mapped[str | None] = mapped_column(String(200))
    telegram_chat_ids: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {"ids": []}
    operator_emails: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {"to": []}
    # alert kind -> channels ({"stock_low": ["telegram"]}); a kind not listed goes to both.
    alert_routes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    default_locale: Mapped[str] = mapped_column(String(8), default="en")
    customer_emails: Mapped[bool] = mapped_column(Boolean, default=True)
    secrets_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    secrets_key_id: Mapped[str | None] = mapped_column(String(40))
    secret_fields_set: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class NotificationTemplate(Base):
    """A merchant's own template: an override of a built-in one, or a merchant-named extra
    (e.g. `membership_welcome`) an order can ask for in `metadata.notify`."""

    __tablename__ = "notification_templates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    name: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(500), default="")
    text_body: Mapped[str] = mapped_column(Text, default="")
    html_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("merchant_id", "name", "locale"),)


class NotificationFanout(Base):
    """An outbox event whose notifications have been derived (at most one row per event)."""

    __tablename__ = "notification_fanouts"
    event_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    notifications: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]


class NotificationDestination(Base):
    """An SMTP server or a Telegram chat. A worker holds its lease while sending to it, so
    at most one send is in flight per destination; an expired lease is taken over."""

    __tablename__ = "notification_destinations"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]


class Notification(Base):
    """One message of one event to one recipient on one channel with one template: unique,
    so deriving an event's notifications twice adds nothing. `context` holds what the
    template shows (no secret, no card or bank data); it is rendered when sent."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str] = mapped_column(String(40))
    event_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(16))  # email | telegram
    recipient: Mapped[str] = mapped_column(String(320))
    template: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(8))
    destination: Mapped[str] = mapped_column(String(300))
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16))  # pending | sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    __table_args__ = (
        UniqueConstraint("event_id", "channel", "recipient", "template"),
        Index("ix_notifications_due", "state", "next_attempt_at"),
        Index("ix_notifications_order", "merchant_id", "order_id"),
    )


class ConsoleUser(Base):
    """A person who logs in to the operator console. `merchant_id` NULL: a hub admin, who
    may switch between merchants. The password is kept only as an argon2id hash."""

    __tablename__ = "console_users"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))  # owner | operator | viewer
    merchant_id: Mapped[str | None] = mapped_column(ForeignKey("merchants.id"), index=True)
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    __table_args__ = (
        CheckConstraint("role IN ('owner', 'operator', 'viewer')", name="role_known"),
    )


class ConsoleSession(Base):
    """A server-side console session. `id` is the sha256 of the random token that only the
    browser's cookie holds; `merchant_id` is the merchant the session works on (a hub admin
    switches it). Expires at `expires_at`, or after the idle timeout past `last_seen_at`."""

    __tablename__ = "console_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("console_users.id"), index=True)
    merchant_id: Mapped[str | None] = mapped_column(String(40))
    csrf_token: Mapped[str] = mapped_column(String(64))
    source_ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
