"""Outbound events: fanned out to the merchant's enabled endpoints whose filter matches
(operator events never leave), sent as Standard Webhooks (checked with the independent
`standardwebhooks` package), retried on the schedule with jitter, 410 disables the
endpoint, redelivery on request. The receiver is a real loopback server; the hub's clock is
frozen so the schedule can be read exactly."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payhub.clock import FrozenClock, as_utc
from payhub.domain.errors import InvalidRequest, NotFound
from payhub.errors import OutboundRefused
from payhub.services.checkout import cancel_order
from payhub.services.hosted import hosted_checkout_url
from payhub.services.manual import record_manual_payment
from payhub.services.merchants import create_merchant
from payhub.services.vault import encrypt_credentials
from payhub.services.webhooks import (
    REFUSED_BY_POLICY,
    REPLY_BYTES_KEPT,
    RETRY_SCHEDULE,
    create_endpoint,
    deliver_due,
    disable_endpoint,
    event_deliveries,
    events_page,
    fan_out,
    get_event,
    list_endpoints,
    new_secret,
    redeliver,
)
from payhub.store import outbox
from payhub.store.ids import new_id
from payhub.store.models import AuditEntry, Delivery, DeliveryAttempt, OutboxEvent, WebhookEndpoint
from tests.services.conftest import Env
from tests.support.servers import free_port, serve_app

pytestmark = pytest.mark.anyio


@dataclass
class Receiver:
    """Merchant endpoints at `/{name}`: each answers its queued statuses, then 200."""

    url: str = ""
    answers: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    bodies: dict[str, bytes] = field(default_factory=dict)  # a reply body per endpoint
    received: dict[str, list[tuple[dict[str, str], bytes]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            name = request.path_params["name"]
            self.received[name].append((dict(request.headers), await request.body()))
            queued = self.answers[name]
            status = queued.pop(0) if queued else 200
            return Response(self.bodies.get(name, b""), status_code=status)

        return Starlette(routes=[Route("/{name}", hook, methods=["POST"])])

    def types(self, name: str) -> list[str]:
        return sorted(json.loads(body)["type"] for _, body in self.received[name])


@pytest.fixture(scope="module")
def server() -> Iterator[Receiver]:
    receiver = Receiver()
    with serve_app(receiver.app()) as url:
        receiver.url = url
        yield receiver


@pytest.fixture
def receiver(server: Receiver) -> Receiver:
    server.answers.clear()
    server.received.clear()
    server.bodies.clear()
    return server


def endpoint(env: Env, rx: Receiver, name: str, types: list[str] | None = None) -> dict[str, Any]:
    return create_endpoint(env.hub, env.merchant_id, f"{rx.url}/{name}", types or [], actor="t")


def paid_order(env: Env) -> str:
    order_id = env.order()
    record_manual_payment(
        env.hub,
        env.merchant_id,
        order_id,
        amount=20_000,
        reference=order_id,
        note="",
        actor="op",
        source_ip=None,
    )
    return order_id


def delivery(env: Env, event_type: str) -> dict[str, Any]:
    [event] = env.rows(OutboxEvent, event_type=event_type)
    return env.one(Delivery, event_id=event["id"])


async def test_events_fan_out_to_matching_enabled_endpoints_of_their_merchant(
    env: Env, frozen: FrozenClock, receiver: Receiver
) -> None:
    everything = endpoint(env, receiver, "all")
    only_paid = endpoint(env, receiver, "paid", ["order.paid"])
    off = endpoint(env, receiver, "off")
    disable_endpoint(env.hub, env.merchant_id, off["id"], actor="t")
    other = create_merchant(env.hub, "Other shop", actor="t")
    create_endpoint(env.hub, other, f"{receiver.url}/other", [], actor="t")

    order_id = paid_order(env)  # order.created, order.paid
    started = await env.start(env.order(), "payos")  # order.created
    await env.fault("payos", "wrong_amount")
    await env.sim_pay(started.payment_id)  # payment.review + operator.alert
    assert "operator.alert" in env.outbox_types()

    assert fan_out(env.hub) == 5  # 4 merchant events to "all", order.paid to "paid"
    assert fan_out(env.hub) == 0  # each event fans out once
    assert await deliver_due(env.hub) == 5
    assert receiver.types("all") == [
        "order.created",
        "order.created",
        "order.paid",
        "payment.review",
    ]
    assert receiver.types("paid") == ["order.paid"]
    assert receiver.types("off") == receiver.types("other") == []
    [(_, body)] = receiver.received["paid"]
    assert json.loads(body)["data"]["order_id"] == order_id
    assert env.count(Delivery, endpoint_id=everything["id"], state="delivered") == 4
    assert env.count(Delivery, endpoint_id=only_paid["id"], state="delivered") == 1
    env.assert_invariants()


async def test_a_delivery_is_a_standard_webhook(
    env: Env, frozen: FrozenClock, receiver: Receiver
) -> None:
    secret = endpoint(env, receiver, "hook", ["order.paid"])["secret"]
    assert secret.startswith("whsec_")
    [stored] = env.rows(WebhookEndpoint)
    assert secret.encode() not in stored["secret_ciphertext"]
    assert all("secret" not in e for e in list_endpoints(env.hub, env.merchant_id))
    order_id = paid_order(env)
    fan_out(env.hub)
    await deliver_due(env.hub)

    [(headers, body)] = receiver.received["hook"]
    payload = Webhook(secret).verify(body, headers)
    [event] = env.rows(OutboxEvent, event_type="order.paid")
    assert headers["webhook-id"] == event["id"] == payload["id"]
    assert headers["webhook-timestamp"] == str(int(frozen.now().timestamp()))
    assert payload["type"] == "order.paid"
    assert payload["data"]["order_id"] == order_id
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(order_id.encode(), b"ord_forged"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint(env, receiver, "other")["secret"]).verify(body, headers)
    sent = delivery(env, "order.paid")
    assert (sent["state"], sent["attempts"], sent["last_status"]) == ("delivered", 1, 200)


async def test_failed_deliveries_are_retried_on_the_schedule_with_a_stable_id(
    env: Env, frozen: FrozenClock, receiver: Receiver
) -> None:
    secret = endpoint(env, receiver, "flaky", ["order.paid"])["secret"]
    receiver.answers["flaky"] = [500, 503]
    paid_order(env)
    fan_out(env.hub)

    delays = []
    for _ in range(2):
        sent_at = frozen.now()
        assert await deliver_due(env.hub) == 1
        due = as_utc(delivery(env, "order.paid")["next_attempt_at"])
        delays.append(due - sent_at)
        assert await deliver_due(env.hub) == 0  # not due yet
        frozen.advance(due - sent_at)
    assert await deliver_due(env.hub) == 1

    for delay, planned in zip(delays, RETRY_SCHEDULE, strict=False):
        assert planned * 0.9 <= delay <= planned * 1.1  # the schedule, with ±10 % jitter
    sent = delivery(env, "order.paid")
    assert (sent["state"], sent["attempts"]) == ("delivered", 3)
    attempts = env.rows(DeliveryAttempt, delivery_id=sent["id"])
    assert [a["status_code"] for a in sorted(attempts, key=lambda a: a["id"])] == [500, 503, 200]
    ids = {headers["webhook-id"] for headers, _ in receiver.received["flaky"]}
    assert len(ids) == 1
    headers, body = receiver.received["flaky"][0]
    assert Webhook(secret).verify(body, headers)["type"] == "order.paid"


async def test_a_delivery_gives_up_after_the_last_retry(
    env: Env, frozen: FrozenClock, receiver: Receiver
) -> None:
    port = free_port()  # nothing listens there: every attempt is a connection error
    create_endpoint(env.hub, env.merchant_id, f"http://127.0.0.1:{port}/x", [], actor="t")
    env.order()
    fan_out(env.hub)
    for _ in range(len(RETRY_SCHEDULE) + 1):
        assert await deliver_due(env.hub) == 1
        frozen.advance(timedelta(hours=30))
    assert await deliver_due(env.hub) == 0

    gave_up = delivery(env, "order.created")
    assert (gave_up["state"], gave_up["attempts"]) == ("failed", len(RETRY_SCHEDULE) + 1)
    attempts = env.rows(DeliveryAttempt, delivery_id=gave_up["id"])
    assert {(a["status_code"], a["error"]) for a in attempts} == {
        (None, "connection failed: ConnectError")
    }
    assert env.one(WebhookEndpoint)["enabled"] is True  # unreachable is not gone


async def test_gone_disables_the_endpoint_and_nothing_more_is_sent(
    env: Env, frozen: FrozenClock, receiver: Receiver
) -> None:
    gone = endpoint(env, receiver, "gone")
    kept = endpoint(env, receiver, "kept")
    receiver.answers["gone"] = [410]
    order_id = env.order()
    await cancel_order(env.hub, env.merchant_id, order_id, actor="t")
    assert fan_out(env.hub) == 4  # order.created and order.cancelled, to each

    await deliver_due(env.hub)
    assert len(receiver.received["gone"]) == 1  # its second delivery is not even tried
    assert receiver.types("kept") == ["order.cancelled", "order.created"]
    row = env.one(WebhookEndpoint, id=gone["id"])
    assert row["enabled"] is False and "410" in row["disabled_reason"]
    assert env.count(AuditEntry, action="webhook_endpoint.disabled", subject=gone["id"]) == 1
    assert env.count(Delivery, endpoint_id=gone["id"], state="failed") == 1

    env.order()
    assert fan_out(env.hub) == 1  # only to the endpoint still enabled
    frozen.advance(timedelta(days=2))
    await deliver_due(env.hub)
    assert len(receiver.received["gone"]) == 1
    assert env.one(WebhookEndpoint, id=kept["id"])["enabled"] is True


async def test_redelivery_sends_the_same_event_again(
    env: Env, frozen: FrozenClock, receiver: Receiver
) -> None:
    endpoint(env, receiver, "hook", ["order.paid"])
    paid_order(env)
    fan_out(env.hub)
    await deliver_due(env.hub)
    [event] = env.rows(OutboxEvent, event_type="order.paid")
    assert await deliver_due(env.hub) == 0  # delivered: not sent again by itself

    assert redeliver(env.hub, env.merchant_id, event["id"], actor="op") == 1
    assert await deliver_due(env.hub) == 1
    first, again = receiver.received["hook"]
    assert first[1] == again[1]
    assert first[0]["webhook-id"] == again[0]["webhook-id"] == event["id"]
    log = event_deliveries(env.hub, env.merchant_id, event["id"])
    assert [(d["state"], d["attempts"]) for d in log] == [("delivered", 2)]
    assert [a["status"] for a in log[0]["log"]] == ["2xx", "2xx"]
    assert env.count(AuditEntry, action="event.redelivered", subject=event["id"]) == 1

    other = create_merchant(env.hub, "Other shop", actor="t")
    with pytest.raises(NotFound):
        redeliver(env.hub, other, event["id"], actor="op")
    with pytest.raises(NotFound):
        redeliver(env.hub, env.merchant_id, "evt_missing", actor="op")


async def test_endpoints_are_validated(env: Env, receiver: Receiver) -> None:
    for url in ("ftp://example.com/hook", "not a url", "/relative"):
        with pytest.raises(InvalidRequest):
            create_endpoint(env.hub, env.merchant_id, url, [], actor="t")
    for types in (["order.shipped"], ["operator.alert"]):
        with pytest.raises(InvalidRequest):
            create_endpoint(env.hub, env.merchant_id, f"{receiver.url}/x", types, actor="t")
    assert env.count(WebhookEndpoint) == 0


def old_row(env: Env, url: str, *, readable_secret: bool = True) -> str:
    """An endpoint row as registration before the outbound policy wrote it."""
    endpoint_id = new_id("we")
    aad = f"webhook_endpoint:{endpoint_id if readable_secret else 'another'}"
    blob, key_id = encrypt_credentials(env.hub.require_master_key(), aad, {"secret": new_secret()})
    now = env.hub.clock.now()
    with env.hub.db.write() as tx:
        outbox.add_endpoint(
            tx,
            id=endpoint_id,
            merchant_id=env.merchant_id,
            url=url,
            secret_ciphertext=blob,
            secret_key_id=key_id,
            event_types={"only": []},
            enabled=True,
            created_at=now,
            updated_at=now,
        )
    return endpoint_id


async def test_the_policy_is_checked_at_registration_and_again_at_every_delivery(
    env: Env, frozen: FrozenClock, receiver: Receiver
) -> None:
    allowed = list(env.hub.settings.outbound_allow)
    env.hub.settings.outbound_allow = []
    with pytest.raises(OutboundRefused) as refused:
        endpoint(env, receiver, "hook")
    assert refused.value.rule == "loopback"
    assert env.count(WebhookEndpoint) == 0

    env.hub.settings.outbound_allow = allowed
    endpoint(env, receiver, "hook", ["order.paid"])
    paid_order(env)
    fan_out(env.hub)
    env.hub.settings.outbound_allow = []  # e.g. the operator narrowed the allow-list
    assert await deliver_due(env.hub) == 1
    assert receiver.received["hook"] == []
    refused_delivery = delivery(env, "order.paid")
    assert (refused_delivery["state"], refused_delivery["attempts"]) == ("pending", 1)
    assert refused_delivery["last_error"] == REFUSED_BY_POLICY
    waited = as_utc(refused_delivery["next_attempt_at"]) - frozen.now()
    assert RETRY_SCHEDULE[0] * 0.9 <= waited <= RETRY_SCHEDULE[0] * 1.1

    env.hub.settings.outbound_allow = allowed
    frozen.advance(waited)
    assert await deliver_due(env.hub) == 1
    assert len(receiver.received["hook"]) == 1
    sent = delivery(env, "order.paid")
    log = event_deliveries(env.hub, env.merchant_id, sent["event_id"])
    assert [a["status"] for a in log[0]["log"]] == ["refused", "2xx"]


async def test_one_broken_delivery_never_ends_the_pass(
    env: Env, frozen: FrozenClock, receiver: Receiver
) -> None:
    # Rows registration never accepted in any version, and one whose secret cannot be read.
    unsendable = [old_row(env, "http://[::1/x"), old_row(env, "http://exa mple.com/")]
    unreadable = old_row(env, f"{receiver.url}/locked", readable_secret=False)
    healthy = endpoint(env, receiver, "ok")
    env.order()
    assert fan_out(env.hub) == 4
    assert await deliver_due(env.hub) == 4
    assert len(receiver.received["ok"]) == 1
    assert receiver.received["locked"] == []  # never sent unsigned
    assert env.one(Delivery, endpoint_id=healthy["id"])["state"] == "delivered"
    for endpoint_id in [*unsendable, unreadable]:
        failed = env.one(Delivery, endpoint_id=endpoint_id)
        assert (failed["state"], failed["attempts"], failed["last_status"]) == ("pending", 1, None)
    errors = {env.one(Delivery, endpoint_id=e)["last_error"] for e in unsendable}
    assert errors == {REFUSED_BY_POLICY}
    assert "secret" in env.one(Delivery, endpoint_id=unreadable)["last_error"]


async def test_replies_are_capped_and_merchants_see_only_a_status_class(
    env: Env, frozen: FrozenClock, receiver: Receiver
) -> None:
    endpoint(env, receiver, "chatty", ["order.paid"])
    receiver.answers["chatty"] = [404, 503]
    receiver.bodies["chatty"] = b"<html>\x00" + b"internal detail " * 500
    paid_order(env)
    fan_out(env.hub)
    for _ in range(3):
        await deliver_due(env.hub)
        frozen.advance(timedelta(hours=1))
    sent = delivery(env, "order.paid")
    attempts = sorted(env.rows(DeliveryAttempt, delivery_id=sent["id"]), key=lambda a: a["id"])
    assert [a["status_code"] for a in attempts] == [404, 503, 200]  # kept for the operator
    assert all(len(a["response_body"]) <= REPLY_BYTES_KEPT for a in attempts)  # characters
    assert attempts[0]["response_body"].startswith("<html>\ufffdinternal detail")

    log = event_deliveries(env.hub, env.merchant_id, sent["event_id"])
    [shown] = log
    assert [a["status"] for a in shown["log"]] == ["4xx", "5xx", "2xx"]
    assert all(set(a) == {"at", "status"} for a in shown["log"])
    assert all(a["at"].endswith("+00:00") and "." not in a["at"] for a in shown["log"])


async def test_after_rotation_the_old_key_can_go_and_deliveries_and_payments_still_work(
    env: Env, frozen: FrozenClock, receiver: Receiver
) -> None:
    from payhub.services.keyring import rotate_keys
    from payhub.services.vault import MasterKey, generate_master_key
    from payhub.store.models import AuditEntry, GatewayAccount

    secret = endpoint(env, receiver, "hook", ["order.paid"])["secret"]
    old = env.hub.master_key
    assert old is not None
    new = MasterKey(generate_master_key())
    env.hub.master_key, env.hub.previous_keys = new, [old]
    accounts = env.count(GatewayAccount)
    assert accounts >= 1
    assert rotate_keys(env.hub, actor="test") == {
        "gateway_account.credentials": accounts,
        "webhook_endpoint.secret": 1,
        "notification_settings.secrets": 0,
        "customer_token_issuer.secret": 0,
    }
    assert rotate_keys(env.hub, actor="test") == {
        "gateway_account.credentials": 0,
        "webhook_endpoint.secret": 0,
        "notification_settings.secrets": 0,
        "customer_token_issuer.secret": 0,
    }
    env.hub.previous_keys = []  # the old key is dropped from the keyring
    env.hub.forget_adapters()
    [stored] = env.rows(WebhookEndpoint)
    assert stored["secret_key_id"] == new.key_id
    assert {a["credentials_key_id"] for a in env.rows(GatewayAccount)} == {new.key_id}
    assert env.count(AuditEntry, action="webhook_endpoint.rekeyed") == 1

    # A payment through a gateway account, then the worker delivers its order.paid.
    order_id, _ = await env.paid_order("payos")
    fan_out(env.hub)
    assert await deliver_due(env.hub) == 1
    [(headers, body)] = receiver.received["hook"]
    payload = Webhook(secret).verify(body, headers)  # still signed with the same secret
    assert payload["data"]["order_id"] == order_id
    assert delivery(env, "order.paid")["state"] == "delivered"
    env.assert_invariants()


async def test_an_event_is_the_snapshot_of_its_moment_and_one_object_everywhere(
    env: Env, frozen: FrozenClock, receiver: Receiver
) -> None:
    endpoint(env, receiver, "snap")
    order_id = paid_order(env)
    [created] = env.rows(OutboxEvent, event_type="order.created")
    [paid] = env.rows(OutboxEvent, event_type="order.paid")
    then = get_event(env.hub, env.merchant_id, created["id"])
    now = get_event(env.hub, env.merchant_id, paid["id"])
    assert list(then) == list(now) == ["id", "type", "created", "livemode", "data"]
    # Written when the order was created, it still says so after the order is paid.
    assert then["data"]["object"]["id"] == order_id
    assert (then["data"]["object"]["status"], then["data"]["object"]["payments"]) == (
        "awaiting_payment",
        [],
    )
    assert now["data"]["object"]["status"] == "paid"
    assert now["data"]["object"]["payments"][0]["status"] == "succeeded"
    assert now["data"]["object"]["timeline"][-1]["kind"] == "order.paid"
    assert now["data"]["object"]["hosted_checkout_url"] == hosted_checkout_url(env.hub, order_id)
    listed = events_page(env.hub, env.merchant_id, limit=10)["data"]
    assert [e for e in listed if e["id"] == paid["id"]] == [now]
    fan_out(env.hub)
    await deliver_due(env.hub)
    bodies = [json.loads(body) for _, body in receiver.received["snap"]]
    assert sorted(bodies, key=lambda e: e["type"]) == [then, now]
    other = create_merchant(env.hub, "Other shop", actor="t")
    with pytest.raises(NotFound):
        get_event(env.hub, other, paid["id"])
