"""Seed a benchmark database and pre-generate the signed PayOS webhooks that pay it.

The hub is set up exactly as the tests do (`tests.support.hub.make_hub` + `connect_gateway`
with the PayOS sandbox profile). The orders and their pending PayOS attempts are then
bulk-inserted with the store models, with the column values `services.orders.create_order`
and `services.checkout.start_payment` write for a `pack-100` order (20,000 VND, 100
credits) whose link the gateway accepted. Going through those services would cost several
durable commits and a gateway round trip per order (about 50 ms each here); seeding is not
what is measured. The `order.created` / `payment.initiated` timeline and outbox rows are
left out: nothing on the webhook path reads them.

Each webhook is what the PayOS sandbox (`payhub.gateways.payos.simulator`) sends for a paid
link: the 16 documented `data` keys, signed with `payhub.gateways.payos.signing.sign_data`
under the account's checksum key.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select
from tests.support.hub import HubUnderTest, connect_gateway, make_hub

from payhub.gateways.payos import simulator, wire
from payhub.gateways.registry import entry
from payhub.store.ids import new_id
from payhub.store.models import CreditAccount, Customer, Order, OrderItem, Payment, Product

SKU = "pack-100"
PRICE = 20_000  # VND, as make_hub's pack-100
CREDITS = 100
# The gateway is never called on the webhook path; the account still needs a base URL.
UNUSED_GATEWAY_URL = "http://127.0.0.1:9"
BATCH = 2_000


@dataclass(frozen=True)
class Seeded:
    th: HubUnderTest
    account_id: str
    order_ids: list[str]
    bodies: list[bytes]  # one signed webhook per order, same order as order_ids


def checksum_key() -> str:
    return entry("payos").sandbox_profile().credentials["checksum_key"]


def setup_hub(url: str, public_url: str) -> tuple[HubUnderTest, str]:
    th = make_hub(url, public_url=public_url)
    account_id = connect_gateway(th, "payos", UNUSED_GATEWAY_URL)
    return th, account_id


def seed_orders(th: HubUnderTest, account_id: str, count: int, label: str) -> Seeded:
    """`count` awaiting-payment orders, each with one pending PayOS attempt, and a signed
    `paid` webhook for each."""
    hub = th.hub
    now = hub.clock.now()
    expires = now + timedelta(minutes=30)
    key = checksum_key()
    tag = secrets.token_hex(3)
    # Unique decimal order codes in PayOS's range, as wire.order_code_for makes them.
    base_code = int(now.timestamp() * 1000) * 1000 + random.randrange(1000) * 100_000
    with hub.db.session() as s:
        product = s.scalar(
            select(Product).where(Product.merchant_id == th.merchant_id, Product.sku == SKU)
        )
        assert product is not None and product.price_minor == PRICE, "make_hub's pack-100"
        product_id, product_name = product.id, product.name

    order_ids: list[str] = []
    bodies: list[bytes] = []
    for start in range(0, count, BATCH):
        customers, accounts, orders, items, payments = [], [], [], [], []
        for i in range(start, min(count, start + BATCH)):
            customer_id, order_id = new_id("cus"), new_id("ord")
            code = base_code + i
            link_id = secrets.token_hex(16)
            customers.append(
                {
                    "id": customer_id,
                    "merchant_id": th.merchant_id,
                    "external_id": f"bench-{label}-{tag}-{i}",
                    "name": None,
                    "email": None,
                    "phone": None,
                    "created_at": now,
                }
            )
            accounts.append(
                {
                    "merchant_id": th.merchant_id,
                    "customer_id": customer_id,
                    "balance": 0,
                    "updated_at": now,
                }
            )
            orders.append(
                {
                    "id": order_id,
                    "merchant_id": th.merchant_id,
                    "merchant_reference": f"bench-{label}-{tag}-{i}",
                    "customer_id": customer_id,
                    "currency": "VND",
                    "total_minor": PRICE,
                    "refunded_minor": 0,
                    "status": "awaiting_payment",
                    "description": "",
                    "credits_to_grant": CREDITS,
                    "cancel_on_failure": False,
                    "return_url": None,
                    "metadata_json": {},
                    "expires_at": expires,
                    "paid_at": None,
                    "paid_payment_id": None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            items.append(
                {
                    "merchant_id": th.merchant_id,
                    "order_id": order_id,
                    "product_id": product_id,
                    "sku": SKU,
                    "name": product_name,
                    "quantity": 1,
                    "unit_price_minor": PRICE,
                    "credits": CREDITS,
                }
            )
            payments.append(
                {
                    "id": new_id("pay"),
                    "merchant_id": th.merchant_id,
                    "order_id": order_id,
                    "gateway_account_id": account_id,
                    "gateway": "payos",
                    "gateway_reference": str(code),
                    "gateway_txn_id": None,
                    "status": "pending",
                    "amount_minor": PRICE,
                    "currency": "VND",
                    "received_minor": None,
                    "refunded_minor": 0,
                    "checkout_url": f"{UNUSED_GATEWAY_URL}/web/{link_id}",
                    "qr_content": None,
                    "deeplink": None,
                    "gateway_data": {"paymentLinkId": link_id, "orderCode": str(code)},
                    "return_url": None,
                    "expires_at": expires,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            order_ids.append(order_id)
            bodies.append(_webhook(code, link_id, i, now, key))
        with hub.db.transaction() as s:
            s.execute(insert(Customer), customers)
            s.execute(insert(CreditAccount), accounts)
            s.execute(insert(Order), orders)
            s.execute(insert(OrderItem), items)
            s.execute(insert(Payment), payments)
    return Seeded(th, account_id, order_ids, bodies)


def _webhook(code: int, link_id: str, i: int, now: datetime, key: str) -> bytes:
    """The PayOS sandbox's webhook for a fully paid link (see simulator.pay)."""
    data = simulator.paid_webhook_data(
        order_code=code,
        amount=PRICE,
        description=wire.sanitize_description(f"DH{code}"),
        reference=f"FT{now.astimezone(UTC):%y%m%d}{i:08d}",
        paid_at=now,
        link_id=link_id,
    )
    return simulator.signed_webhook(data, key)


def with_duplicates(bodies: list[bytes], fraction: float, seed: int = 2) -> tuple[list[bytes], int]:
    """The delivery sequence: every body once, plus `fraction` of them delivered again a
    little later (a gateway retry), interleaved. Returns (sequence, number of copies)."""
    rng = random.Random(seed)
    keyed: list[tuple[float, bytes]] = [(float(i), b) for i, b in enumerate(bodies)]
    step = round(1 / fraction) if fraction > 0 else 0
    copies = 0
    if step:
        for i in range(0, len(bodies), step):
            keyed.append((i + rng.randint(8, 256) + 0.5, bodies[i]))
            copies += 1
    keyed.sort(key=lambda kv: kv[0])
    return [b for _, b in keyed], copies


def write_bodies(path: Path, sequence: list[bytes]) -> None:
    with path.open("wb") as fh:
        for body in sequence:
            assert b"\n" not in body
            fh.write(body + b"\n")
