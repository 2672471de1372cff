"""Customers of a merchant, known by the merchant's own id for them (`external_id`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from payhub.store.ids import new_id
from payhub.store.models import Customer
from payhub.store.tx import Reader, Tx, session_of

__all__ = ["customer_by_external_id", "find_customer", "save_customer"]


def find_customer(reader: Reader, customer_id: str) -> Customer | None:
    return session_of(reader).get(Customer, customer_id)


def customer_by_external_id(reader: Reader, merchant_id: str, external_id: str) -> Customer | None:
    return session_of(reader).scalar(
        select(Customer).where(
            Customer.merchant_id == merchant_id, Customer.external_id == external_id
        )
    )


def save_customer(
    tx: Tx,
    merchant_id: str,
    external_id: str,
    *,
    name: str | None,
    email: str | None,
    phone: str | None,
    now: datetime,
) -> str:
    """Create the customer, or update the fields given (a None keeps the stored value);
    returns its id."""
    session = tx._session
    row = customer_by_external_id(tx, merchant_id, external_id)
    if row is None:
        row = Customer(
            id=new_id("cus"), merchant_id=merchant_id, external_id=external_id, created_at=now
        )
        session.add(row)
    row.name = name or row.name
    row.email = email or row.email
    row.phone = phone or row.phone
    session.flush()
    return row.id
