"""The circuit breaker per gateway account, on both databases: N consecutive failed creates
open it (one `gateway.unhealthy` alert per opening), routing skips it while open, after the
cool-down exactly one probe is let through (claimed in SQL), a good probe closes it and a
failed one re-opens it quietly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from payhub.clock import FrozenClock
from payhub.errors import GatewayCallRefused, NoGatewayAvailable
from payhub.services import routing
from payhub.services.checkout import StartedPayment, start_payment
from payhub.store.models import GatewayHealth, OutboxEvent
from tests.services.conftest import Env

pytestmark = pytest.mark.anyio

THRESHOLD = 3
COOLDOWN = 60.0


@pytest.fixture
def circuit(env: Env, frozen: FrozenClock) -> Iterator[FrozenClock]:
    env.hub.settings = env.hub.settings.model_copy(
        update={"circuit_failure_threshold": THRESHOLD, "circuit_cooldown_seconds": COOLDOWN}
    )
    routing.set_currency_priorities(env.hub, env.merchant_id, "VND", ["payos", "momo"], actor="t")
    yield frozen


def health(env: Env) -> dict[str, object]:
    return env.one(GatewayHealth, account_id=env.th.accounts["payos"])


def alerts(env: Env, kind: str) -> list[dict[str, object]]:
    rows = env.rows(OutboxEvent, event_type="operator.alert")
    return [r for r in rows if r["payload"]["data"]["kind"] == kind]


async def fail_payos(env: Env, times: int) -> None:
    for _ in range(times):
        await env.fault("payos", "create_refused")
        with pytest.raises(GatewayCallRefused):
            await start_payment(env.hub, env.merchant_id, env.order(), "payos", actor="test")


async def auto(env: Env) -> StartedPayment:
    return await start_payment(env.hub, env.merchant_id, env.order(), "auto", actor="test")


async def test_the_circuit_opens_after_n_failures_and_alerts_once(
    env: Env, circuit: FrozenClock
) -> None:
    await fail_payos(env, THRESHOLD - 1)
    assert health(env)["state"] == "closed" and health(env)["consecutive_failures"] == 2
    assert alerts(env, "gateway.unhealthy") == []
    await fail_payos(env, 1)
    assert health(env)["state"] == "open"
    [alert] = alerts(env, "gateway.unhealthy")
    assert alert["payload"]["data"]["gateway"] == "payos"  # type: ignore[index]

    # While open: auto routes around it, naming why; the gateway by name is a 503.
    started = await auto(env)
    assert started.routing is not None and started.routing.gateway == "momo"
    assert {"gateway": "payos", "environment": "simulator", "reason": "circuit_open"} in (
        started.routing.skipped
    )
    circuit.advance(timedelta(seconds=20))
    with pytest.raises(NoGatewayAvailable) as caught:
        await start_payment(env.hub, env.merchant_id, env.order(), "payos", actor="test")
    assert caught.value.retry_after == 40
    assert len(alerts(env, "gateway.unhealthy")) == 1


async def test_one_probe_after_the_cooldown_and_a_good_one_closes_the_circuit(
    env: Env, circuit: FrozenClock
) -> None:
    await fail_payos(env, THRESHOLD)
    circuit.advance(timedelta(seconds=COOLDOWN - 1))
    assert (await auto(env)).routing.gateway == "momo"  # type: ignore[union-attr]
    circuit.advance(timedelta(seconds=1))
    started = await auto(env)  # the probe
    assert started.routing is not None and started.routing.gateway == "payos"
    row = health(env)
    assert row["state"] == "closed" and row["consecutive_failures"] == 0
    assert row["last_success_at"] is not None
    assert len(alerts(env, "gateway.recovered")) == 1
    assert len(alerts(env, "gateway.unhealthy")) == 1


async def test_a_failed_probe_reopens_the_circuit_without_a_second_alert(
    env: Env, circuit: FrozenClock
) -> None:
    await fail_payos(env, THRESHOLD)
    circuit.advance(timedelta(seconds=COOLDOWN))
    await env.fault("payos", "create_refused")
    started = await auto(env)  # the probe fails, momo takes the payment
    assert started.routing is not None and started.routing.gateway == "momo"
    assert [t["outcome"] for t in started.routing.tried] == ["failed", "created"]
    row = health(env)
    assert row["state"] == "open" and row["consecutive_failures"] == THRESHOLD + 1
    assert len(alerts(env, "gateway.unhealthy")) == 1
    # Open again for a whole cool-down from the failed probe.
    circuit.advance(timedelta(seconds=COOLDOWN - 1))
    assert (await auto(env)).routing.gateway == "momo"  # type: ignore[union-attr]


async def test_exactly_one_caller_claims_the_probe(env: Env, circuit: FrozenClock) -> None:
    await fail_payos(env, THRESHOLD)
    account = env.th.accounts["payos"]
    assert routing.claim_probe(env.hub, account) is False  # cool-down not over
    circuit.advance(timedelta(seconds=COOLDOWN))
    assert [routing.claim_probe(env.hub, account) for _ in range(3)] == [True, False, False]
    assert health(env)["state"] == "half_open"
    # A probe whose process died is taken over once it is stale.
    circuit.advance(routing.stale_probe(env.hub))
    assert routing.claim_probe(env.hub, account) is True


async def test_health_view_shows_the_circuit(env: Env, circuit: FrozenClock) -> None:
    await fail_payos(env, THRESHOLD)
    view = {h.gateway: h for h in routing.gateway_health_view(env.hub, env.merchant_id)}
    assert view["payos"].state == "open" and view["payos"].consecutive_failures == THRESHOLD
    assert view["payos"].health_dict()["last_failure_at"] is not None
    assert view["momo"].state == "closed"
