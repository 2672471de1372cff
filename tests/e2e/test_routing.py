"""Routing end to end: the hub and two gateway sandboxes (PayOS, MoMo) as real servers on
loopback, on SQLite and PostgreSQL, faults injected in the sandboxes' create calls.

PayOS is the merchant's first choice for VND, MoMo the second. Scenarios: a 500 on PayOS's
create → paid once through MoMo; a PayOS create that times out after making its link → that
link, no fallback; everything down → 503 with Retry-After; the circuit opens after N
failures, is skipped while open, lets one probe through after the cool-down and closes on a
good one (one alert); a test key on a production-only gateway → 422 mode-mismatch;
/v1/gateways without duplicates; `payhub gateway switch` audited. Money invariants are
checked in SQL after each."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from payhub.asgi import create_app
from payhub.cli import app as cli_app
from payhub.clock import FrozenClock
from payhub.gateways.base import Environment
from payhub.gateways.registry import entry
from payhub.services import routing
from payhub.services.accounts import configure_account
from payhub.services.context import build_hub
from payhub.settings import get_settings
from payhub.store.invariants import check_invariants
from payhub.store.models import AuditEntry, GatewayAccount, OutboxEvent, Payment
from tests.support.hub import MASTER_KEY, HubUnderTest, connect_gateway, simulator_app
from tests.support.servers import free_port, serve_app
from tests.support.templates import seeded_database_url

pytestmark = pytest.mark.e2e

THRESHOLD = 2
COOLDOWN = 60.0
TIMEOUT = 2.0  # the hub's gateway timeout; the stalled create answers after 5 s


@dataclass
class Routed:
    th: HubUnderTest
    clock: FrozenClock
    hub_url: str
    sim_urls: dict[str, str]
    api: httpx.Client
    sims: dict[str, httpx.Client]

    def order(self, ref: str) -> str:
        return str(self.order_body(ref)["id"])

    def order_body(self, ref: str) -> dict[str, Any]:
        body = {
            "merchant_reference": ref,
            "currency": "VND",
            "items": [{"sku": "pack-100"}],
            "customer": {"external_id": "bao", "name": "Bao", "email": "bao@example.vn"},
        }
        r = self.api.post("/v1/orders", json=body, headers={"Idempotency-Key": f"k-{ref}"})
        assert r.status_code == 201, r.text
        return dict(r.json())

    def start(self, order_id: str, gateway: str | None = None) -> httpx.Response:
        body = {} if gateway is None else {"gateway": gateway}
        return self.api.post(f"/v1/orders/{order_id}/payments", json=body)

    def fault(self, gateway: str, name: str, **body: Any) -> None:
        r = self.sims[gateway].post("/__sim/faults", json={"fault": name, **body})
        assert r.status_code == 200, r.text

    def pay(self, gateway: str, reference: str) -> None:
        r = self.sims[gateway].post(f"/__sim/pay/{reference}", json={"outcome": "paid"})
        assert r.status_code == 200, r.text
        assert self.sims[gateway].post("/__sim/flush").status_code == 200

    def wait_paid(self, order_id: str) -> None:
        deadline = time.monotonic() + 20
        while self.api.get(f"/v1/orders/{order_id}").json()["status"] != "paid":
            assert time.monotonic() < deadline, "the order was never paid"
            time.sleep(0.05)

    def attempts(self, order_id: str) -> list[tuple[str, str]]:
        with self.th.hub.db.session() as s:
            rows = s.scalars(select(Payment).where(Payment.order_id == order_id)).all()
            return sorted((p.gateway, p.status) for p in rows)

    def alerts(self, kind: str) -> int:
        with self.th.hub.db.session() as s:
            rows = s.scalars(select(OutboxEvent).where(OutboxEvent.event_type == "operator.alert"))
            return sum(1 for r in rows if r.payload["data"]["kind"] == kind)

    def no_violations(self) -> None:
        assert check_invariants(self.th.hub.db.engine) == {}


@pytest.fixture(params=["sqlite", "postgres"])
def routed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Routed]:
    hub_port = free_port()
    hub_url = f"http://127.0.0.1:{hub_port}"
    ports = {"payos": free_port(), "momo": free_port()}
    sim_urls = {g: f"http://127.0.0.1:{p}" for g, p in ports.items()}
    url, template = seeded_database_url(request.param, tmp_path)
    settings = template.settings.model_copy(
        update={
            "database_url": url,
            "public_url": hub_url,
            "gateway_timeout_seconds": TIMEOUT,
            "circuit_failure_threshold": THRESHOLD,
            "circuit_cooldown_seconds": COOLDOWN,
        }
    )
    clock = FrozenClock(datetime.now(UTC))
    hub = build_hub(settings, clock=clock)
    th = HubUnderTest(
        hub=hub, app=create_app(hub), merchant_id=template.merchant_id, api_key=template.api_key
    )
    apps = {}
    for gateway, sim_url in sim_urls.items():
        account = connect_gateway(th, gateway, sim_url)
        extra = {"webhook_url": f"{hub_url}/callbacks/{gateway}/{account}"}
        apps[gateway] = simulator_app(gateway, sim_url, **(extra if gateway == "payos" else {}))
    routing.set_currency_priorities(hub, th.merchant_id, "VND", ["payos", "momo"], actor="test")
    try:
        with (
            serve_app(th.app, hub_port),
            serve_app(apps["payos"], ports["payos"]),
            serve_app(apps["momo"], ports["momo"]),
            httpx.Client(base_url=hub_url, headers=th.headers, timeout=30) as api,
            httpx.Client(base_url=sim_urls["payos"], timeout=30) as payos,
            httpx.Client(base_url=sim_urls["momo"], timeout=30) as momo,
        ):
            yield Routed(th, clock, hub_url, sim_urls, api, {"payos": payos, "momo": momo})
    finally:
        hub.db.dispose()


def test_a_500_on_the_first_gateway_pays_once_on_the_second(routed: Routed) -> None:
    routed.fault("payos", "create_500")
    order_id = routed.order("o-fallback")
    r = routed.start(order_id)  # no gateway: auto
    assert r.status_code == 200, r.text
    payment = r.json()
    assert payment["gateway"] == "momo"
    tried = payment["routing"]["tried"]
    assert [(t["gateway"], t["outcome"]) for t in tried] == [
        ("payos", "failed"),
        ("momo", "created"),
    ]
    assert routed.attempts(order_id) == [("momo", "pending"), ("payos", "failed")]
    routed.pay("momo", payment["gateway_reference"])
    routed.wait_paid(order_id)
    assert routed.attempts(order_id) == [("momo", "succeeded"), ("payos", "failed")]
    routed.no_violations()


def test_a_timed_out_create_whose_link_exists_is_used_without_fallback(routed: Routed) -> None:
    routed.fault("payos", "create_timeout", stall=5)
    order_id = routed.order("o-timeout")
    r = routed.start(order_id, "auto")
    assert r.status_code == 200, r.text
    payment = r.json()
    assert payment["gateway"] == "payos" and payment["status"] == "pending"
    assert payment["checkout_url"].startswith(routed.sim_urls["payos"] + "/web/")
    tried = payment["routing"]["tried"]
    assert [(t["gateway"], t["outcome"]) for t in tried] == [("payos", "recovered")]
    assert routed.attempts(order_id) == [("payos", "pending")]
    routed.pay("payos", payment["gateway_reference"])
    routed.wait_paid(order_id)
    assert routed.attempts(order_id) == [("payos", "succeeded")]
    routed.no_violations()


def test_every_candidate_down_is_a_503_with_retry_after(routed: Routed) -> None:
    routed.fault("payos", "create_500")
    # MoMo's account points at a closed port: the connection is refused.
    configure_account(
        routed.th.hub,
        merchant_id=routed.th.merchant_id,
        gateway="momo",
        environment=Environment.SIMULATOR,
        credentials={},
        base_url=f"http://127.0.0.1:{free_port()}",
        actor="test",
    )
    order_id = routed.order("o-down")
    r = routed.start(order_id)
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert int(r.headers["retry-after"]) >= 1
    body = r.json()
    assert body["type"].endswith("/no-gateway-available") and body["retry_safe"] is True
    reasons = {t["gateway"]: t["reason"] for t in body["routing"]["tried"]}
    assert reasons == {"payos": "not_created", "momo": "connection"}
    assert routed.attempts(order_id) == [("momo", "failed"), ("payos", "failed")]
    routed.no_violations()


def test_the_circuit_opens_is_skipped_probes_once_and_closes(routed: Routed) -> None:
    for n in range(THRESHOLD):
        routed.fault("payos", "create_refused")
        r = routed.start(routed.order(f"o-fail-{n}"), "payos")
        assert r.status_code == 502, r.text
    listed = {g["gateway"]: g for g in routed.api.get("/v1/gateways").json()["data"]}
    assert listed["payos"]["health"]["state"] == "open"
    assert listed["payos"]["health"]["consecutive_failures"] == THRESHOLD
    assert routed.alerts("gateway.unhealthy") == 1

    r = routed.start(routed.order("o-skipped"))
    assert r.status_code == 200 and r.json()["gateway"] == "momo"
    assert {"gateway": "payos", "environment": "simulator", "reason": "circuit_open"} in (
        r.json()["routing"]["skipped"]
    )
    r = routed.start(routed.order("o-named-while-open"), "payos")
    assert r.status_code == 503 and int(r.headers["retry-after"]) == int(COOLDOWN)

    routed.clock.advance(timedelta(seconds=COOLDOWN))
    r = routed.start(routed.order("o-probe"))
    assert r.status_code == 200 and r.json()["gateway"] == "payos"  # the one probe, good
    listed = {g["gateway"]: g for g in routed.api.get("/v1/gateways").json()["data"]}
    assert listed["payos"]["health"]["state"] == "closed"
    assert routed.alerts("gateway.unhealthy") == 1
    assert routed.alerts("gateway.recovered") == 1
    routed.no_violations()


def test_a_test_key_on_a_production_only_gateway_is_a_mode_mismatch(routed: Routed) -> None:
    hub, merchant = routed.th.hub, routed.th.merchant_id
    profile = entry("payos").sandbox_profile()
    configure_account(
        hub,
        merchant_id=merchant,
        gateway="payos",
        environment=Environment.SIMULATOR,
        credentials={},
        enabled=False,
        actor="test",
    )
    configure_account(
        hub,
        merchant_id=merchant,
        gateway="payos",
        environment=Environment.PRODUCTION,
        credentials=dict(profile.credentials),
        base_url=routed.sim_urls["payos"],
        actor="test",
    )
    order_id = routed.order("o-mode")
    r = routed.start(order_id, "payos")
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["type"].endswith("/mode-mismatch")
    assert "test order (sk_test_ key) pays only through simulator or sandbox" in body["detail"]
    assert routed.attempts(order_id) == []
    # Auto goes around it: the production account is skipped for its mode.
    r = routed.start(order_id)
    assert r.status_code == 200 and r.json()["gateway"] == "momo"
    assert {"gateway": "payos", "environment": "production", "reason": "mode"} in (
        r.json()["routing"]["skipped"]
    )


def test_gateways_are_listed_once_with_environment_priority_and_health(routed: Routed) -> None:
    configure_account(
        routed.th.hub,
        merchant_id=routed.th.merchant_id,
        gateway="payos",
        environment=Environment.SANDBOX,
        credentials=dict(entry("payos").sandbox_profile().credentials),
        base_url=routed.sim_urls["payos"],
        priority=10,
        actor="test",
    )
    data = routed.api.get("/v1/gateways").json()["data"]
    names = [g["gateway"] for g in data]
    assert sorted(names) == ["momo", "payos"]
    payos = next(g for g in data if g["gateway"] == "payos")
    assert payos["environment"] == "sandbox" and payos["priority"] == 10
    assert payos["health"] == {
        "state": "closed",
        "consecutive_failures": 0,
        "last_failure_at": None,
    }


def test_switch_command_is_audited(routed: Routed, monkeypatch: pytest.MonkeyPatch) -> None:
    hub, merchant = routed.th.hub, routed.th.merchant_id
    credentials = dict(entry("payos").sandbox_profile().credentials)
    for environment in (Environment.SANDBOX, Environment.PRODUCTION):
        configure_account(
            hub,
            merchant_id=merchant,
            gateway="payos",
            environment=environment,
            credentials=credentials,
            base_url=routed.sim_urls["payos"],
            enabled=environment is Environment.SANDBOX,
            actor="test",
        )
    monkeypatch.setenv("PAYHUB_DATABASE_URL", hub.settings.database_url)
    monkeypatch.setenv("PAYHUB_MASTER_KEY", MASTER_KEY)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            cli_app, ["gateway", "switch", merchant, "payos", "--to", "production"]
        )
        assert result.exit_code == 0, result.output
        listing = CliRunner().invoke(cli_app, ["gateway", "list", merchant])
        assert listing.exit_code == 0 and "closed" in listing.output
    finally:
        get_settings.cache_clear()
    with hub.db.session() as s:
        accounts = s.scalars(select(GatewayAccount).where(GatewayAccount.gateway == "payos")).all()
        enabled = {a.environment: a.enabled for a in accounts}
        [audit] = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "gateway_account.switch")
        ).all()
    assert enabled["production"] is True and enabled["sandbox"] is False
    assert audit.actor == "cli" and audit.merchant_id == merchant


def test_the_hosted_checkout_offers_gateways_in_routing_order(routed: Routed) -> None:
    url = routed.order_body("o-hosted")["hosted_checkout_url"]
    names = {g: entry(g).adapter.display_name for g in ("payos", "momo")}
    page = httpx.get(url, timeout=10).text
    assert page.index(f"Pay with {names['payos']}") < page.index(f"Pay with {names['momo']}")
    routing.set_currency_priorities(
        routed.th.hub, routed.th.merchant_id, "VND", ["momo", "payos"], actor="test"
    )
    page = httpx.get(url, timeout=10).text
    assert page.index(f"Pay with {names['momo']}") < page.index(f"Pay with {names['payos']}")
