"""Routing in start_payment, on both databases with the PayOS and MoMo simulators: auto
picks by the merchant's priorities, falls back only when the failed create made nothing,
uses a link a lost create did make, refuses a gateway in the wrong mode, and the operator
controls (priority, default, per-currency order, switch) are audited."""

from __future__ import annotations

import httpx
import pytest

from payhub.errors import GatewayCallLost, ModeMismatch, NoGatewayAvailable
from payhub.gateways.base import Environment
from payhub.gateways.registry import entry
from payhub.services import routing
from payhub.services.accounts import configure_account
from payhub.services.checkout import StartedPayment, start_payment
from payhub.services.orders import ItemDraft
from payhub.store.models import AuditEntry, GatewayAccount, Payment
from tests.services.conftest import Env, answer_lost

pytestmark = pytest.mark.anyio

PAYOS_CREATE = "/v2/payment-requests"
MOMO_CREATE = "/v2/gateway/api/create"


def payos_first(env: Env) -> None:
    routing.set_currency_priorities(env.hub, env.merchant_id, "VND", ["payos", "momo"], actor="t")


async def auto(env: Env, order_id: str) -> StartedPayment:
    return await start_payment(env.hub, env.merchant_id, order_id, "auto", actor="test")


async def test_auto_follows_priorities_then_the_default_gateway(env: Env) -> None:
    # Equal priorities: the gateway name decides, then the default gateway breaks the tie.
    started = await start_payment(env.hub, env.merchant_id, env.order(), None, actor="test")
    assert started.routing is not None and started.routing.gateway == "momo"
    routing.set_default_gateway(env.hub, env.merchant_id, "payos", actor="t")
    started = await auto(env, env.order())
    assert started.routing is not None and started.routing.gateway == "payos"
    routing.set_priority(env.hub, env.merchant_id, "momo", Environment.SIMULATOR, 5, actor="t")
    started = await auto(env, env.order())
    assert started.routing is not None and started.routing.gateway == "momo"
    payos_first(env)
    started = await auto(env, env.order())
    assert started.routing is not None and started.routing.gateway == "payos"
    assert started.routing.tried == (
        {
            "gateway": "payos",
            "account_id": env.th.accounts["payos"],
            "outcome": "created",
            "reason": None,
        },
    )
    actions = {r["action"] for r in env.rows(AuditEntry, merchant_id=env.merchant_id)}
    assert {
        "routing.default_gateway",
        "routing.currency_priorities",
        "gateway_account.priority",
    } <= actions


async def test_a_500_on_create_falls_back_after_the_query_proves_nothing_was_made(
    env: Env,
) -> None:
    payos_first(env)
    await env.fault("payos", "create_500")
    order_id = env.order()
    started = await auto(env, order_id)
    report = started.routing
    assert report is not None
    assert report.gateway == "momo"
    assert [(t["gateway"], t["outcome"], t["reason"]) for t in report.tried] == [
        ("payos", "failed", "not_created"),
        ("momo", "created", None),
    ]
    rows = {r["gateway"]: r["status"] for r in env.rows(Payment, order_id=order_id)}
    assert rows == {"payos": "failed", "momo": "pending"}
    await env.sim_pay(started.payment_id)
    assert env.order_row(order_id)["status"] == "paid"
    assert env.count(Payment, order_id=order_id, status="succeeded") == 1
    env.assert_invariants()


async def test_momo_answering_502_falls_back_once_its_query_says_no_such_order(
    env: Env,
) -> None:
    await env.fault("momo", "create_500")  # MoMo's own: HTTP 502, the order never stored
    order_id = env.order()
    started = await auto(env, order_id)  # equal priorities: momo first by name
    report = started.routing
    assert report is not None
    assert [(t["gateway"], t["reason"]) for t in report.tried] == [
        ("momo", "not_created"),
        ("payos", None),
    ]
    rows = {r["gateway"]: r["status"] for r in env.rows(Payment, order_id=order_id)}
    assert rows == {"momo": "failed", "payos": "pending"}
    env.assert_invariants()


async def test_a_documented_refusal_falls_back_without_a_query(env: Env) -> None:
    payos_first(env)
    await env.fault("payos", "create_refused")
    order_id = env.order()
    started = await auto(env, order_id)
    report = started.routing
    assert report is not None
    assert report.gateway == "momo"
    assert report.tried[0]["outcome"] == "failed" and report.tried[0]["reason"] == "20"
    gets = [c for c in env.gateway_calls.calls if c.startswith(PAYOS_CREATE + "/")]
    assert gets == []  # known refusal: nothing to ask
    env.assert_invariants()


async def test_a_lost_answer_whose_link_exists_is_used_and_nothing_falls_back(env: Env) -> None:
    payos_first(env)
    env.gateway_calls.faults[PAYOS_CREATE] = answer_lost
    order_id = env.order()
    started = await auto(env, order_id)
    report = started.routing
    assert report is not None
    assert report.gateway == "payos"
    assert [t["outcome"] for t in report.tried] == ["recovered"]
    [row] = env.rows(Payment, order_id=order_id)
    assert row["gateway"] == "payos" and row["status"] == "pending"
    assert row["checkout_url"].startswith("http://127.0.0.1:18101/web/")
    assert env.count(Payment, gateway="momo") == 0
    await env.sim_pay(started.payment_id)
    assert env.order_row(order_id)["status"] == "paid"
    env.assert_invariants()


async def test_a_lost_answer_the_query_cannot_settle_stops_routing(env: Env) -> None:
    payos_first(env)
    env.gateway_calls.faults[PAYOS_CREATE] = answer_lost
    forward = env.gateway_calls.handle_async_request

    async def link_query_down(request: httpx.Request) -> httpx.Response:
        # The recovery query (GET /v2/payment-requests/{orderCode}) cannot be answered.
        if request.method == "GET" and request.url.path.startswith(PAYOS_CREATE + "/"):
            return httpx.Response(503)
        return await forward(request)

    env.gateway_calls.handle_async_request = link_query_down
    order_id = env.order()
    with pytest.raises(GatewayCallLost):
        await auto(env, order_id)
    [row] = env.rows(Payment, order_id=order_id)
    assert row["gateway"] == "payos" and row["status"] == "unknown"
    assert env.count(Payment, gateway="momo") == 0


async def test_no_candidate_left_is_no_gateway_available_with_retry_after(env: Env) -> None:
    await env.fault("payos", "create_refused")
    await env.fault("momo", "create_refused")
    order_id = env.order()
    with pytest.raises(NoGatewayAvailable) as caught:
        await auto(env, order_id)
    assert caught.value.retry_after >= 1
    tried = caught.value.extra["routing"]["tried"]
    assert sorted(t["gateway"] for t in tried) == ["momo", "payos"]
    assert {r["status"] for r in env.rows(Payment, order_id=order_id)} == {"failed"}
    env.assert_invariants()


async def test_an_order_in_a_currency_no_account_takes_is_no_gateway_available(env: Env) -> None:
    order_id = env.order([ItemDraft(sku="pack-my")], currency="MYR")
    with pytest.raises(NoGatewayAvailable) as caught:
        await auto(env, order_id)
    skipped = caught.value.extra["routing"]["skipped"]
    assert {(s["gateway"], s["reason"]) for s in skipped} == {
        ("payos", "currency"),
        ("momo", "currency"),
    }


async def test_a_live_order_on_a_simulator_only_gateway_is_a_mode_mismatch(env: Env) -> None:
    order_id = env.order(livemode=True)
    with pytest.raises(ModeMismatch, match=r"live order \(sk_live_ key\) pays only"):
        await start_payment(env.hub, env.merchant_id, order_id, "payos", actor="test")
    with pytest.raises(NoGatewayAvailable) as caught:
        await auto(env, order_id)
    skipped = caught.value.extra["routing"]["skipped"]
    assert {s["reason"] for s in skipped} == {"mode"}
    assert env.count(Payment, order_id=order_id) == 0


def _configure(env: Env, gateway: str, environment: Environment, enabled: bool = True) -> str:
    profile = entry(gateway).sandbox_profile()
    names = {f.name for f in entry(gateway).adapter.credential_fields}
    return configure_account(
        env.hub,
        merchant_id=env.merchant_id,
        gateway=gateway,
        environment=environment,
        credentials={k: v for k, v in profile.credentials.items() if k in names},
        base_url="http://127.0.0.1:18101",
        enabled=enabled,
        actor="test",
    )


async def test_switch_enables_one_environment_and_disables_the_other_audited(env: Env) -> None:
    sandbox = _configure(env, "payos", Environment.SANDBOX)
    production = _configure(env, "payos", Environment.PRODUCTION, enabled=False)
    switched = routing.switch_environment(
        env.hub, env.merchant_id, "payos", Environment.PRODUCTION, actor="ops"
    )
    assert switched == production
    enabled = {r["id"]: r["enabled"] for r in env.rows(GatewayAccount, gateway="payos")}
    assert enabled[production] is True and enabled[sandbox] is False
    [audit] = env.rows(AuditEntry, action="gateway_account.switch")
    assert audit["actor"] == "ops" and audit["subject"] == production
    routing.switch_environment(env.hub, env.merchant_id, "payos", Environment.SANDBOX, actor="ops")
    enabled = {r["id"]: r["enabled"] for r in env.rows(GatewayAccount, gateway="payos")}
    assert enabled[production] is False and enabled[sandbox] is True
    assert env.count(AuditEntry, action="gateway_account.switch") == 2


async def test_one_mode_never_routes_to_the_same_gateway_twice(env: Env) -> None:
    _configure(env, "payos", Environment.SANDBOX)  # besides the simulator account
    with env.hub.db.session() as session:
        route = routing.plan_route(
            env.hub, session, env.merchant_id, currency="VND", amount_minor=20_000, livemode=False
        )
    assert sorted(c.gateway for c in route.candidates) == ["momo", "payos"]
    assert [s.reason for s in route.skipped] == ["duplicate"]
