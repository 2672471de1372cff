"""The services and read models the console's pages add, on SQLite and PostgreSQL:
restocking with a reason, rotating / enabling / filtering webhook endpoints, and the
audit, event and customer reads with their filters and cursors."""

from __future__ import annotations

import pytest

from payhub.domain.errors import InvalidRequest, NotFound
from payhub.services.inventory import restock
from payhub.services.merchants import create_merchant, upsert_product
from payhub.services.orders import CustomerDraft, ItemDraft
from payhub.services.vault import decrypt_credentials
from payhub.services.webhook_endpoints import (
    enable_endpoint,
    rotate_endpoint_secret,
    set_endpoint_event_types,
)
from payhub.services.webhooks import create_endpoint, disable_endpoint, fan_out
from payhub.store.encrypted import WEBHOOK_SECRET
from payhub.store.models import AuditEntry, Delivery, OutboxEvent, Product, WebhookEndpoint
from payhub.store.reads.console_pages import (
    AuditFilter,
    audit_page,
    customer_search,
    event_page,
    webhook_endpoints,
)
from tests.services.conftest import Env

pytestmark = pytest.mark.anyio

HOOK = "http://127.0.0.1:9/hooks"


def _mug(env: Env, stock: int, threshold: int) -> None:
    upsert_product(
        env.hub,
        env.merchant_id,
        sku="mug",
        name="Mug",
        price=45_000,
        currency="VND",
        track_stock=True,
        stock=stock,
        low_stock_threshold=threshold,
        actor="test",
    )


async def test_restock_adds_units_audits_the_reason_and_rearms_the_alert(env: Env) -> None:
    _mug(env, stock=5, threshold=2)
    env.order([ItemDraft(sku="mug", quantity=3)])  # 2 left: the alert fires
    assert env.outbox_types(event_type="stock.low") == ["stock.low"]
    result = restock(env.hub, env.merchant_id, "mug", 10, reason=" goods in ", actor="console:u1")
    assert result == {"sku": "mug", "stock_available": 12} and env.stock("mug") == 12
    audit = env.one(AuditEntry, action="product.restocked")
    assert audit["actor"] == "console:u1"
    assert audit["before"] == {"stock_available": 2}
    assert audit["after"] == {"stock_available": 12, "quantity": 10, "reason": "goods in"}
    # Re-armed: the next crossing is a new alert.
    env.order([ItemDraft(sku="mug", quantity=10)])
    assert env.outbox_types(event_type="stock.low") == ["stock.low", "stock.low"]
    env.assert_invariants()


@pytest.mark.parametrize(
    ("sku", "quantity", "reason", "error"),
    [
        ("mug", 0, "x", InvalidRequest),
        ("mug", -1, "x", InvalidRequest),
        ("mug", 2_000_000_000, "x", InvalidRequest),
        ("mug", 1, "  ", InvalidRequest),
        ("mug", 1, "x" * 501, InvalidRequest),
        ("pack-100", 1, "x", InvalidRequest),  # stock not tracked
        ("nope", 1, "x", NotFound),
    ],
)
async def test_restock_refuses(
    env: Env, sku: str, quantity: int, reason: str, error: type[Exception]
) -> None:
    _mug(env, stock=5, threshold=2)
    with pytest.raises(error):
        restock(env.hub, env.merchant_id, sku, quantity, reason=reason, actor="test")
    assert env.stock("mug") == 5 and env.count(AuditEntry, action="product.restocked") == 0


async def test_another_merchants_product_is_not_found(env: Env) -> None:
    other = create_merchant(env.hub, "Other", actor="test")
    _mug(env, stock=5, threshold=2)
    with pytest.raises(NotFound):
        restock(env.hub, other, "mug", 1, reason="x", actor="test")


def _secret_of(env: Env, endpoint_id: str) -> str:
    row = env.one(WebhookEndpoint, id=endpoint_id)
    plain = decrypt_credentials(
        env.hub.keys,
        WEBHOOK_SECRET.subject(endpoint_id),
        row["secret_ciphertext"],
        row["secret_key_id"],
    )
    return plain["secret"].reveal()


async def test_rotating_replaces_the_stored_secret_and_audits_no_secret(env: Env) -> None:
    created = create_endpoint(env.hub, env.merchant_id, HOOK, [], actor="test")
    endpoint_id = str(created["id"])
    assert _secret_of(env, endpoint_id) == created["secret"]
    rotated = rotate_endpoint_secret(env.hub, env.merchant_id, endpoint_id, actor="console:u1")
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    assert _secret_of(env, endpoint_id) == rotated["secret"]
    audit = env.one(AuditEntry, action="webhook_endpoint.secret_rotated")
    assert audit["actor"] == "console:u1" and "whsec_" not in repr(audit["after"])
    other = create_merchant(env.hub, "Other", actor="test")
    with pytest.raises(NotFound):
        rotate_endpoint_secret(env.hub, other, endpoint_id, actor="test")


async def test_an_endpoint_is_disabled_and_enabled_again(env: Env) -> None:
    endpoint_id = str(create_endpoint(env.hub, env.merchant_id, HOOK, [], actor="test")["id"])
    disable_endpoint(env.hub, env.merchant_id, endpoint_id, actor="test")
    enable_endpoint(env.hub, env.merchant_id, endpoint_id, actor="console:u1")
    row = env.one(WebhookEndpoint, id=endpoint_id)
    assert row["enabled"] is True and row["disabled_reason"] is None
    audit = env.one(AuditEntry, action="webhook_endpoint.enabled")
    assert audit["before"] == {"enabled": False, "disabled_reason": "disabled by merchant"}
    with pytest.raises(NotFound):
        enable_endpoint(env.hub, env.merchant_id, "we_nope", actor="test")


async def test_the_event_filter_decides_which_events_are_delivered(env: Env) -> None:
    endpoint_id = str(create_endpoint(env.hub, env.merchant_id, HOOK, [], actor="test")["id"])
    view = set_endpoint_event_types(
        env.hub, env.merchant_id, endpoint_id, ["order.paid"], actor="console:u1"
    )
    assert view["event_types"] == ["order.paid"]
    env.order()  # order.created: filtered out
    fan_out(env.hub)
    assert env.count(Delivery, endpoint_id=endpoint_id) == 0
    set_endpoint_event_types(env.hub, env.merchant_id, endpoint_id, [], actor="console:u1")
    env.order()
    fan_out(env.hub)
    assert env.count(Delivery, endpoint_id=endpoint_id) == 1
    with pytest.raises(InvalidRequest):
        set_endpoint_event_types(env.hub, env.merchant_id, endpoint_id, ["x"], actor="test")
    [shown] = await webhook_endpoints(env.hub.db, env.merchant_id)
    assert shown.event_types == () and shown.enabled


async def test_the_audit_read_filters_and_pages_by_cursor(env: Env) -> None:
    _mug(env, stock=5, threshold=0)
    for i in range(5):
        restock(env.hub, env.merchant_id, "mug", 1, reason=f"r{i}", actor=f"console:u{i % 2}")
    where = AuditFilter(action="restocked")
    first = await audit_page(env.hub.db, env.merchant_id, where, size=2)
    assert [e.after["reason"] for e in first.entries if e.after] == ["r4", "r3"]
    assert first.next_cursor is not None
    second = await audit_page(env.hub.db, env.merchant_id, where, cursor=first.next_cursor, size=2)
    third = await audit_page(env.hub.db, env.merchant_id, where, cursor=second.next_cursor, size=2)
    assert [e.after["reason"] for e in third.entries if e.after] == ["r0"]
    assert third.next_cursor is None
    by_actor = await audit_page(env.hub.db, env.merchant_id, AuditFilter(actor="console:u1"))
    assert len(by_actor.entries) == 2
    mug = env.one(Product, merchant_id=env.merchant_id, sku="mug")
    by_subject = await audit_page(env.hub.db, env.merchant_id, AuditFilter(subject=mug["id"]))
    assert {e.action for e in by_subject.entries} == {"product.upserted", "product.restocked"}
    now = env.hub.clock.now()
    later = await audit_page(env.hub.db, env.merchant_id, AuditFilter(since=now))
    assert later.entries == ()
    # LIKE's wildcards are matched literally.
    assert (await audit_page(env.hub.db, env.merchant_id, AuditFilter(action="%"))).entries == ()
    other = create_merchant(env.hub, "Other", actor="test")
    assert (await audit_page(env.hub.db, other, where)).entries == ()


async def test_the_event_read_filters_by_type_and_pages(env: Env) -> None:
    for _ in range(3):
        env.order()
    assert env.count(OutboxEvent, event_type="order.created") >= 3
    first = await event_page(env.hub.db, env.merchant_id, event_type="order.created", size=2)
    assert len(first.events) == 2 and first.next_cursor is not None
    rest = await event_page(
        env.hub.db, env.merchant_id, event_type="order.created", cursor=first.next_cursor, size=2
    )
    ids = [e.id for e in (*first.events, *rest.events)]
    assert len(ids) == len(set(ids)) == env.count(OutboxEvent, event_type="order.created")
    assert "order.created" in first.types
    assert all(not t.startswith("operator.") for t in first.types)
    none = await event_page(env.hub.db, env.merchant_id, event_type="refund.failed")
    assert none.events == ()


async def test_customers_are_found_by_id_name_email_or_phone(env: Env) -> None:
    from payhub.services.orders import OrderDraft, create_order

    create_order(
        env.hub,
        env.merchant_id,
        OrderDraft(
            merchant_reference="c-1",
            currency="VND",
            items=[ItemDraft(sku="pack-100")],
            customer=CustomerDraft(
                external_id="lan_42", name="Trần Lan", email="lan@example.vn", phone="+84901"
            ),
        ),
    )
    for text in ("lan_4", "Trần", "example.vn", "+849", ""):
        found = await customer_search(env.hub.db, env.merchant_id, text)
        assert "lan_42" in [c.external_id for c in found], text
    assert await customer_search(env.hub.db, env.merchant_id, "lan%42") == []
    other = create_merchant(env.hub, "Other", actor="test")
    assert await customer_search(env.hub.db, other, "lan") == []
