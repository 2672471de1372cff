"""Every encrypted column there is, and its rows handed out for re-encryption.

`ENCRYPTED_COLUMNS` is the one list `payhub keys rotate` walks: a new column the vault
guards is one entry here (its model, the ciphertext and key-id attributes, the prefix of
the id the vault binds each ciphertext to, the audit action). A sealed value a write
operation hands out belongs to that transaction: `replace` writes the new ciphertext at
the commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from payhub.store.models import (
    Base,
    CustomerTokenIssuer,
    GatewayAccount,
    NotificationSettings,
    WebhookEndpoint,
)
from payhub.store.tx import Tx

__all__ = [
    "CUSTOMER_TOKEN_SECRET",
    "ENCRYPTED_COLUMNS",
    "GATEWAY_CREDENTIALS",
    "NOTIFICATION_SECRETS",
    "WEBHOOK_SECRET",
    "EncryptedColumn",
    "SealedValue",
    "values_to_rekey",
]


@dataclass(frozen=True, slots=True)
class EncryptedColumn:
    """A ciphertext column and the key-id column beside it."""

    name: str  # what the audit and the CLI call it, e.g. "webhook_endpoint.secret"
    model: type[Base]
    ciphertext: str
    key_id: str
    subject_prefix: str  # the vault binds a row's ciphertext to prefix + row id
    audit_action: str  # the audit row of each re-encrypted row
    id_attr: str = "id"  # the row's id attribute (its primary key)

    def subject(self, row_id: str) -> str:
        return f"{self.subject_prefix}{row_id}"


GATEWAY_CREDENTIALS = EncryptedColumn(
    "gateway_account.credentials",
    GatewayAccount,
    "credentials_ciphertext",
    "credentials_key_id",
    "",
    "gateway_account.rekeyed",
)
WEBHOOK_SECRET = EncryptedColumn(
    "webhook_endpoint.secret",
    WebhookEndpoint,
    "secret_ciphertext",
    "secret_key_id",
    "webhook_endpoint:",
    "webhook_endpoint.rekeyed",
)
NOTIFICATION_SECRETS = EncryptedColumn(
    "notification_settings.secrets",
    NotificationSettings,
    "secrets_ciphertext",
    "secrets_key_id",
    "notification_settings:",
    "notification_settings.rekeyed",
    id_attr="merchant_id",
)
CUSTOMER_TOKEN_SECRET = EncryptedColumn(
    "customer_token_issuer.secret",
    CustomerTokenIssuer,
    "secret_ciphertext",
    "secret_key_id",
    "customer_token_issuer:",
    "customer_token_issuer.rekeyed",
)
ENCRYPTED_COLUMNS: tuple[EncryptedColumn, ...] = (
    GATEWAY_CREDENTIALS,
    WEBHOOK_SECRET,
    NOTIFICATION_SECRETS,
    CUSTOMER_TOKEN_SECRET,
)


@dataclass(slots=True)
class SealedValue:
    """One row's ciphertext under an old key."""

    column: EncryptedColumn
    _row: Any

    @property
    def row_id(self) -> str:
        return str(getattr(self._row, self.column.id_attr))

    @property
    def merchant_id(self) -> str:
        return str(self._row.merchant_id)

    @property
    def subject(self) -> str:
        return self.column.subject(self.row_id)

    @property
    def blob(self) -> bytes:
        return bytes(getattr(self._row, self.column.ciphertext))

    @property
    def key_id(self) -> str:
        return str(getattr(self._row, self.column.key_id))

    def replace(self, blob: bytes, key_id: str, now: datetime) -> None:
        setattr(self._row, self.column.ciphertext, blob)
        setattr(self._row, self.column.key_id, key_id)
        if hasattr(self._row, "updated_at"):
            self._row.updated_at = now


def values_to_rekey(tx: Tx, column: EncryptedColumn, current_key_id: str) -> list[SealedValue]:
    """The column's ciphertexts under any other key than `current_key_id`, rows locked."""
    model: Any = column.model
    ciphertext = getattr(model, column.ciphertext)
    key_id = getattr(model, column.key_id)
    rows = tx._session.scalars(
        select(model)
        .where(ciphertext.is_not(None), key_id.is_not(None), key_id != current_key_id)
        .order_by(getattr(model, column.id_attr))
        .with_for_update()
    )
    return [SealedValue(column, row) for row in rows]
