"""Merchants' customer-token issuers: an `iss` (+ `aud`) names exactly one merchant."""

from __future__ import annotations

from sqlalchemy import delete, select

from payhub.store.models import CustomerTokenIssuer
from payhub.store.tx import Reader, Tx, session_of

__all__ = [
    "add_issuer",
    "issuer_to_change",
    "issuers_for",
    "issuers_of",
    "remove_issuers",
]


def add_issuer(tx: Tx, row: CustomerTokenIssuer) -> CustomerTokenIssuer:
    tx._session.add(row)
    return row


def issuer_to_change(tx: Tx, issuer: str, audience: str) -> CustomerTokenIssuer | None:
    return tx._session.scalar(
        select(CustomerTokenIssuer)
        .where(CustomerTokenIssuer.issuer == issuer, CustomerTokenIssuer.audience == audience)
        .with_for_update()
    )


def issuers_for(reader: Reader, issuer: str, audiences: list[str]) -> list[CustomerTokenIssuer]:
    """The configured issuers a token with this `iss` and these `aud` values may match."""
    return list(
        session_of(reader).scalars(
            select(CustomerTokenIssuer)
            .where(
                CustomerTokenIssuer.issuer == issuer,
                CustomerTokenIssuer.audience.in_(audiences),
            )
            .order_by(CustomerTokenIssuer.id)
        )
    )


def issuers_of(reader: Reader, merchant_id: str) -> list[CustomerTokenIssuer]:
    return list(
        session_of(reader).scalars(
            select(CustomerTokenIssuer)
            .where(CustomerTokenIssuer.merchant_id == merchant_id)
            .order_by(CustomerTokenIssuer.issuer, CustomerTokenIssuer.audience)
        )
    )


def remove_issuers(tx: Tx, merchant_id: str, issuer: str, audience: str | None) -> int:
    query = delete(CustomerTokenIssuer).where(
        CustomerTokenIssuer.merchant_id == merchant_id, CustomerTokenIssuer.issuer == issuer
    )
    if audience is not None:
        query = query.where(CustomerTokenIssuer.audience == audience)
    return int(tx._session.execute(query).rowcount or 0)  # type: ignore[attr-defined]
