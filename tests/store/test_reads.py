"""The read models of store.reads, on SQLite and PostgreSQL: the exact JSON the merchant API
answers with, merchant isolation (another merchant's row reads as absent), ordering and
paging, and what the customer pages and the worker read."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, update

from payhub.store import reads
from payhub.store.db import Database
from payhub.store.models import (
    CreditAccount,
    CreditEntry,
    Customer,
    GatewayAccount,
    Merchant,
    Order,
    OrderItem,
    Payment,
    Product,
    TimelineEntry,
)
from payhub.store.tables import table_of
from tests.store.conftest import NOW

pytestmark = pytest.mark.anyio

ISO_NOW = "2026-11-22T08:00:00+00:00"


def _order_row(order_id: str, merchant_id: str = "mer_1", **values: object) -> dict[str, object]:
    return {
        "id": order_id,
        "merchant_id": merchant_id,
        "merchant_reference": f"ref-{order_id}",
        "currency": "VND",
        "total_minor": 10_000,
        "refunded_minor": 0,
        "status": "awaiting_payment",
        "description": "",
        "credits_to_grant": 0,
        "cancel_on_failure": False,
        "metadata": {},
        "expires_at": NOW + timedelta(minutes=30),
        "created_at": NOW,
        "updated_at": NOW,
        **values,
    }


def _product_row(sku: str, **values: object) -> dict[str, object]:
    return {
        "id": f"prd_{sku}",
        "merchant_id": "mer_1",
        "sku": sku,
        "name": sku.title(),
        "price_minor": 10_000,
        "currency": "VND",
        "credits": 0,
        "track_stock": False,
        "stock_available": 0,
        "low_stock_threshold": None,
        "active": True,
        "created_at": NOW,
        **values,
    }


@pytest.fixture
def shop(seeded: Database) -> Database:
    """`seeded`, plus: a second merchant with an order; alice (a customer of mer_1) owning
    `ord_1` with two items, a timeline and a credit ledger; products; more gateway accounts."""
    with seeded.engine.begin() as conn:
        conn.execute(
            insert(table_of(Merchant)), {"id": "mer_2", "name": "Other", "created_at": NOW}
        )
        conn.execute(insert(table_of(Order)), _order_row("ord_other", "mer_2"))
        conn.execute(
            insert(table_of(Customer)),
            [
                {
                    "id": "cus_1",
                    "merchant_id": "mer_1",
                    "external_id": "alice",
                    "name": "Alice",
                    "email": "alice@example.com",
                    "phone": None,
                    "created_at": NOW,
                },
                {
                    "id": "cus_2",
                    "merchant_id": "mer_1",
                    "external_id": "bob",
                    "name": None,
                    "email": None,
                    "phone": None,
                    "created_at": NOW,
                },
            ],
        )
        conn.execute(
            update(table_of(Order))
            .where(table_of(Order).c.id == "ord_1")
            .values(customer_id="cus_1", metadata={"cart": "c-9"}, description="two packs")
        )
        conn.execute(
            insert(table_of(OrderItem)),
            [
                {
                    "merchant_id": "mer_1",
                    "order_id": "ord_1",
                    "product_id": None,
                    "sku": "pack-100",
                    "name": "100 credits",
                    "quantity": 1,
                    "unit_price_minor": 18_000,
                    "credits": 100,
                },
                {
                    "merchant_id": "mer_1",
                    "order_id": "ord_1",
                    "product_id": None,
                    "sku": None,
                    "name": "gift wrap",
                    "quantity": 2,
                    "unit_price_minor": 1_000,
                    "credits": 0,
                },
            ],
        )
        conn.execute(
            insert(table_of(TimelineEntry)),
            [
                {
                    "merchant_id": "mer_1",
                    "order_id": "ord_1",
                    "payment_id": None,
                    "kind": "order.created",
                    "message": "order created for 20,000 ₫",
                    "created_at": NOW,
                },
                {
                    "merchant_id": "mer_1",
                    "order_id": "ord_1",
                    "payment_id": "pay_1",
                    "kind": "payment.pending",
                    "message": "waiting for PayOS",
                    "created_at": NOW + timedelta(seconds=5),
                },
            ],
        )
        account = conn.execute(
            insert(table_of(CreditAccount)).returning(table_of(CreditAccount).c.id),
            {"merchant_id": "mer_1", "customer_id": "cus_1", "balance": 70, "updated_at": NOW},
        ).scalar_one()
        conn.execute(
            insert(table_of(CreditEntry)),
            [
                {
                    "merchant_id": "mer_1",
                    "account_id": account,
                    "order_id": "ord_1",
                    "reason": "order_paid",
                    "amount": 100,
                    "created_at": NOW,
                },
                {
                    "merchant_id": "mer_1",
                    "account_id": account,
                    "order_id": "ord_1",
                    "reason": "order_refunded",
                    "amount": -30,
                    "created_at": NOW + timedelta(minutes=1),
                },
            ],
        )
        conn.execute(
            insert(table_of(Product)),
            [
                _product_row(
                    "tshirt",
                    price_minor=150_000,
                    track_stock=True,
                    stock_available=2,
                    low_stock_threshold=3,
                ),
                _product_row("pack-my", price_minor=1_050, currency="MYR", credits=100),
                _product_row("pack-100", price_minor=20_000, credits=100),
                _product_row("retired", active=False),
            ],
        )
        conn.execute(
            update(table_of(GatewayAccount))
            .where(table_of(GatewayAccount).c.id == "gwa_1")
            .values(
                priority=20,
                credential_fields_set={"client_id": True, "api_key": True, "checksum_key": False},
                credentials_key_id="k1",
                settings={"webhook": "confirmed"},
            )
        )
        conn.execute(
            insert(table_of(GatewayAccount)),
            [
                {
                    "id": "gwa_2",
                    "merchant_id": "mer_1",
                    "gateway": "vnpay",
                    "environment": "sandbox",
                    "base_url": "http://127.0.0.1:2",
                    "enabled": True,
                    "priority": 10,
                    "created_at": NOW,
                    "updated_at": NOW,
                },
                {
                    "id": "gwa_3",
                    "merchant_id": "mer_1",
                    "gateway": "momo",
                    "environment": "sandbox",
                    "base_url": "http://127.0.0.1:3",
                    "enabled": False,
                    "priority": 5,
                    "created_at": NOW,
                    "updated_at": NOW,
                },
                {
                    "id": "gwa_other",
                    "merchant_id": "mer_2",
                    "gateway": "payos",
                    "environment": "sandbox",
                    "base_url": "http://127.0.0.1:4",
                    "enabled": True,
                    "priority": 100,
                    "created_at": NOW,
                    "updated_at": NOW,
                },
            ],
        )
    return seeded


PAYMENT_JSON = {
    "id": "pay_1",
    "order_id": "ord_1",
    "gateway": "payos",
    "status": "pending",
    "amount": 20_000,
    "currency": "VND",
    "received": None,
    "refunded": 0,
    "gateway_reference": "123",
    "gateway_txn_id": None,
    "checkout_url": None,
    "qr_content": None,
    "deeplink": None,
    "review_reason": None,
    "failure_code": None,
    "expires_at": None,
    "created_at": ISO_NOW,
    "livemode": False,
}


async def test_order_view_is_the_api_json_of_the_order(shop: Database) -> None:
    view = await reads.order_view(shop, "mer_1", "ord_1")
    assert view is not None
    assert view.customer_external_id == "alice"
    assert view.as_dict() == {
        "id": "ord_1",
        "merchant_reference": "r1",
        "status": "awaiting_payment",
        "currency": "VND",
        "amount": 20_000,
        "amount_display": "20,000 ₫",
        "refunded": 0,
        "credits": 100,
        "cancel_on_failure": False,
        "description": "two packs",
        "metadata": {"cart": "c-9"},
        "return_url": None,
        "livemode": False,
        "expires_at": "2026-11-22T08:30:00+00:00",
        "paid_at": None,
        "created_at": ISO_NOW,
        "customer": {
            "id": "cus_1",
            "external_id": "alice",
            "name": "Alice",
            "email": "alice@example.com",
            "phone": None,
        },
        "items": [
            {
                "sku": "pack-100",
                "name": "100 credits",
                "quantity": 1,
                "unit_price": 18_000,
                "credits": 100,
            },
            {"sku": None, "name": "gift wrap", "quantity": 2, "unit_price": 1_000, "credits": 0},
        ],
        "payments": [PAYMENT_JSON],
        "timeline": [
            {
                "at": ISO_NOW,
                "kind": "order.created",
                "message": "order created for 20,000 ₫",
                "payment_id": None,
                "gateway_txn_id": None,
            },
            {
                "at": "2026-11-22T08:00:05+00:00",
                "kind": "payment.pending",
                "message": "waiting for PayOS",
                "payment_id": "pay_1",
                "gateway_txn_id": None,
            },
        ],
    }
    # The JSON key order is the API's too.
    assert list(view.as_dict())[-4:] == ["customer", "items", "payments", "timeline"]


async def test_an_order_of_another_merchant_reads_as_absent(shop: Database) -> None:
    assert await reads.order_view(shop, "mer_1", "ord_other") is None
    assert await reads.order_view(shop, "mer_2", "ord_1") is None
    assert await reads.order_view(shop, "mer_1", "ord_missing") is None
    other = await reads.order_view(shop, "mer_2", "ord_other")
    assert other is not None and other.customer is None and other.payments == ()


async def test_order_pages_are_newest_first_and_filtered(shop: Database) -> None:
    with shop.engine.begin() as conn:
        conn.execute(
            insert(table_of(Order)),
            [
                _order_row(
                    f"ord_p{i}",
                    created_at=NOW + timedelta(minutes=i),
                    customer_id="cus_2" if i % 2 else None,
                    status="paid" if i == 3 else "awaiting_payment",
                )
                for i in range(1, 5)
            ],
        )
    everything = reads.OrderFilter()
    first = await reads.order_page(shop, "mer_1", everything, limit=2)
    assert first is not None
    assert [o.id for o in first.orders] == ["ord_p4", "ord_p3"]
    assert first.has_more and first.next_cursor == "ord_p3"
    rest = await reads.order_page(shop, "mer_1", everything, limit=5, starting_after="ord_p3")
    assert rest is not None
    assert [o.id for o in rest.orders] == ["ord_p2", "ord_p1", "ord_1"]
    assert rest.as_dict()["has_more"] is False and rest.as_dict()["next_cursor"] is None
    assert rest.as_dict()["data"][-1]["amount_display"] == "20,000 ₫"

    bob = await reads.order_page(shop, "mer_1", reads.OrderFilter(customer="bob"))
    assert bob is not None and [o.id for o in bob.orders] == ["ord_p3", "ord_p1"]
    paid = await reads.order_page(shop, "mer_1", reads.OrderFilter(status="paid"))
    assert paid is not None and [o.id for o in paid.orders] == ["ord_p3"]
    window = reads.OrderFilter(
        created_after=NOW + timedelta(minutes=2), created_before=NOW + timedelta(minutes=4)
    )
    between = await reads.order_page(shop, "mer_1", window)
    assert between is not None and [o.id for o in between.orders] == ["ord_p3", "ord_p2"]


async def test_an_unknown_cursor_reads_as_no_page(shop: Database) -> None:
    everything = reads.OrderFilter()
    assert await reads.order_page(shop, "mer_1", everything, starting_after="ord_nope") is None
    # another merchant's order is no cursor either
    assert await reads.order_page(shop, "mer_1", everything, starting_after="ord_other") is None


async def test_payment_view_carries_its_merchant_for_the_caller_to_check(
    shop: Database,
) -> None:
    view = await reads.payment_view(shop, "pay_1")
    assert view is not None and view.merchant_id == "mer_1"
    assert view.as_dict() == PAYMENT_JSON
    assert "merchant_id" not in view.as_dict()
    assert await reads.payment_view(shop, "pay_missing") is None


async def test_products_by_sku_or_by_price_with_their_stock(shop: Database) -> None:
    by_sku = await reads.products(shop, "mer_1")
    assert [p.sku for p in by_sku] == ["pack-100", "pack-my", "tshirt"]  # "retired" is inactive
    assert [p.sku for p in await reads.products(shop, "mer_1", order_by="price")] == [
        "pack-my",
        "pack-100",
        "tshirt",
    ]
    assert await reads.products(shop, "mer_2") == []
    tshirt = by_sku[2].as_dict()
    assert tshirt == {
        "id": "prd_tshirt",
        "sku": "tshirt",
        "name": "Tshirt",
        "price": 150_000,
        "currency": "VND",
        "price_display": "150,000 ₫",
        "credits": 0,
        "track_stock": True,
        "stock_available": 2,
        "low_stock": True,
    }
    assert by_sku[1].as_dict()["price_display"] == "RM 10.50"
    assert by_sku[1].stock_available is None and by_sku[1].low_stock is False
    retired = await reads.product(shop, "mer_1", "retired")
    assert retired is not None and retired.sku == "retired"
    assert await reads.product(shop, "mer_2", "tshirt") is None


async def test_credit_ledger_and_balance(shop: Database) -> None:
    ledger = await reads.credit_ledger(shop, "mer_1", "alice")
    assert ledger is not None
    assert ledger.as_dict() == {
        "customer": "alice",
        "balance": 70,
        "entries": [
            {
                "id": ledger.entries[0].id,
                "order_id": "ord_1",
                "reason": "order_paid",
                "amount": 100,
                "balance_after": None,  # written as before 0013, which added the column
                "reference": None,
                "description": None,
                "metadata": None,
                "at": ISO_NOW,
            },
            {
                "id": ledger.entries[1].id,
                "order_id": "ord_1",
                "reason": "order_refunded",
                "amount": -30,
                "balance_after": None,
                "reference": None,
                "description": None,
                "metadata": None,
                "at": "2026-11-22T08:01:00+00:00",
            },
        ],
    }
    no_account = await reads.credit_ledger(shop, "mer_1", "bob")
    assert no_account is not None
    assert no_account.as_dict() == {"customer": "bob", "balance": 0, "entries": []}
    assert await reads.credit_ledger(shop, "mer_1", "nobody") is None
    assert await reads.credit_ledger(shop, "mer_2", "alice") is None
    assert await reads.customer_balance(shop, "mer_1", "alice") == 70
    assert await reads.customer_balance(shop, "mer_1", "bob") == 0
    assert await reads.customer_balance(shop, "mer_1", "nobody") == 0


async def test_gateway_accounts_by_priority_show_which_fields_are_set(shop: Database) -> None:
    every = await reads.gateway_accounts(shop, "mer_1")
    assert [a.id for a in every] == ["gwa_3", "gwa_2", "gwa_1"]
    enabled = await reads.gateway_accounts(shop, "mer_1", enabled_only=True)
    assert [a.id for a in enabled] == ["gwa_2", "gwa_1"]
    payos = enabled[1]
    assert payos.fields_set == {"client_id", "api_key"}  # a field stored as False is not set
    assert payos.missing(["client_id", "api_key", "checksum_key"]) == ["checksum_key"]
    assert payos.key_id == "k1" and payos.settings == {"webhook": "confirmed"}
    assert not hasattr(payos, "credentials_ciphertext")
    assert [a.id for a in await reads.gateway_accounts(shop, "mer_2")] == ["gwa_other"]


async def test_hosted_checkout_reads_the_order_and_its_merchants_enabled_accounts(
    shop: Database,
) -> None:
    page = await reads.hosted_checkout(shop, "ord_1")
    assert page is not None
    assert page.order.id == "ord_1" and page.order.merchant_id == "mer_1"
    assert page.order.amount == 20_000 and page.order.amount_display == "20,000 ₫"
    assert [a.id for a in page.accounts] == ["gwa_2", "gwa_1"]
    assert await reads.hosted_checkout(shop, "ord_missing") is None
    assert await reads.order_merchant(shop, "ord_other") == "mer_2"
    assert await reads.order_merchant(shop, "ord_missing") is None


async def test_payment_progress_for_the_result_page(shop: Database) -> None:
    progress = await reads.payment_progress(shop, "pay_1")
    assert progress is not None
    assert progress.payment.status == "pending"
    assert (progress.order_status, progress.order_credits, progress.credit_balance) == (
        "awaiting_payment",
        100,
        70,
    )
    with shop.engine.begin() as conn:
        conn.execute(
            update(table_of(Order)).where(table_of(Order).c.id == "ord_1").values(customer_id=None)
        )
    anonymous = await reads.payment_progress(shop, "pay_1")
    assert anonymous is not None and anonymous.credit_balance is None
    assert await reads.payment_progress(shop, "pay_missing") is None


async def test_stale_attempts_are_the_quiet_pending_ones_at_a_gateway(shop: Database) -> None:
    quiet = timedelta(seconds=60)
    assert await reads.stale_attempts(shop, NOW + timedelta(seconds=59), quiet_for=quiet) == []
    assert await reads.stale_attempts(shop, NOW + timedelta(seconds=60), quiet_for=quiet) == [
        "pay_1"
    ]
    base = {
        "merchant_id": "mer_1",
        "order_id": "ord_1",
        "gateway": "payos",
        "amount_minor": 20_000,
        "currency": "VND",
        "refunded_minor": 0,
        "gateway_data": {},
        "created_at": NOW,
    }
    with shop.engine.begin() as conn:
        conn.execute(
            insert(table_of(Payment)),
            [
                {  # older, unknown: first
                    **base,
                    "id": "pay_unknown",
                    "gateway_account_id": "gwa_1",
                    "gateway_reference": "124",
                    "status": "unknown",
                    "updated_at": NOW - timedelta(minutes=5),
                },
                {  # settled: never asked again
                    **base,
                    "id": "pay_done",
                    "gateway_account_id": "gwa_1",
                    "gateway_reference": "125",
                    "status": "succeeded",
                    "updated_at": NOW - timedelta(minutes=5),
                },
                {  # no gateway account (a manual payment): nothing to ask
                    **base,
                    "id": "pay_manual",
                    "gateway_account_id": None,
                    "gateway_reference": "126",
                    "status": "pending",
                    "updated_at": NOW - timedelta(minutes=5),
                },
            ],
        )
    later = NOW + timedelta(minutes=2)
    assert await reads.stale_attempts(shop, later, quiet_for=quiet) == ["pay_unknown", "pay_1"]
    assert await reads.stale_attempts(shop, later, quiet_for=quiet, limit=1) == ["pay_unknown"]
