"""A hub with its gateways' simulators in-process, for the service tests.

Every test using `env` runs on SQLite and on PostgreSQL (marked `postgres`). The hub's HTTP
client reaches each simulator through an `httpx.ASGITransport`; each simulator's
notifications come back through `services.inbound.receive_notification`, the pipeline
itself, not the HTTP layer. Nothing of payhub is mocked: outcomes are driven through the
simulators' `/__sim/` control API, results are read in SQL.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql
from pydantic import SecretStr
from sqlalchemy import Table, func, select
from sqlalchemy.engine import URL, make_url

from payhub.clock import FrozenClock
from payhub.gateways.base import InboundRequest
from payhub.services.checkout import StartedPayment, callback_url, start_payment
from payhub.services.context import Hub, build_hub
from payhub.services.inbound import receive_notification
from payhub.services.orders import CustomerDraft, ItemDraft, OrderDraft, create_order
from payhub.settings import Settings
from payhub.store.invariants import check_invariants
from payhub.store.models import Order, OutboxEvent, Payment, Product
from payhub.store.tables import table_of
from tests.support.hub import (
    LOOPBACK,
    MASTER_KEY,
    HubUnderTest,
    connect_gateway,
    database_url,
    make_hub,
    simulator_app,
)

# Where the hub believes each simulator lives (never listened on: the transport routes).
SIM_URLS = {"payos": "http://127.0.0.1:18101", "momo": "http://127.0.0.1:18102"}
PUBLIC_URL = "http://127.0.0.1:8000"


class HubCallbacks(httpx.AsyncBaseTransport):
    """The hub's `/callbacks/{gateway}/{account}` as a simulator reaches it: each
    notification is handed to `receive_notification` and its exact reply returned."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.replies: list[int] = []
        # While `hold` is set, notifications are kept in `held` (answered 503, the gateway
        # will retry) instead of being run: a test can then deliver them as it likes.
        self.hold = False
        self.held: list[tuple[str, str, InboundRequest]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        prefix, gateway, account_id = request.url.path.strip("/").split("/")
        assert prefix == "callbacks", request.url
        raw = InboundRequest(
            method=request.method,
            path=request.url.path,
            query_string=request.url.query,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.aread(),
            remote_addr="127.0.0.1",
        )
        if self.hold:
            self.held.append((gateway, account_id, raw))
            return httpx.Response(503)
        reply = await receive_notification(self.hub, gateway, account_id, raw)
        self.replies.append(reply.status_code)
        headers = {"content-type": reply.media_type} if reply.media_type else {}
        return httpx.Response(reply.status_code, content=reply.body, headers=headers)


Forward = Callable[[httpx.Request], Awaitable[httpx.Response]]
Fault = httpx.Response | type[httpx.TransportError] | Callable[[httpx.Request, Forward], Any]


class ByOrigin(httpx.AsyncBaseTransport):
    """Routes the hub's gateway calls to the simulator at the request's origin. `faults`
    may stand in for the simulator on a path (failure shapes it cannot produce): a
    response, a transport error to raise, or `async hook(request, forward)`."""

    def __init__(self) -> None:
        self.routes: dict[str, httpx.AsyncBaseTransport] = {}
        self.faults: dict[str, Fault] = {}
        self.calls: list[str] = []

    async def forward(self, request: httpx.Request) -> httpx.Response:
        origin = f"{request.url.scheme}://{request.url.netloc.decode()}"
        return await self.routes[origin].handle_async_request(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.path)
        fault = self.faults.get(request.url.path)
        if fault is None:
            return await self.forward(request)
        if isinstance(fault, httpx.Response):
            return fault
        if isinstance(fault, type):
            raise fault("injected by the test", request=request)
        response: httpx.Response = await fault(request, self.forward)
        return response


async def answer_lost(request: httpx.Request, forward: Forward) -> httpx.Response:
    """The gateway does the work, its answer never arrives."""
    await forward(request)
    raise httpx.ReadTimeout("answer lost (injected by the test)", request=request)


@dataclass
class Env:
    th: HubUnderTest
    gateway_calls: ByOrigin
    callbacks: HubCallbacks
    sims: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    _refs: int = 0

    @property
    def hub(self) -> Hub:
        return self.th.hub

    @property
    def merchant_id(self) -> str:
        return self.th.merchant_id

    # -- acting ------------------------------------------------------------------------

    def order(
        self,
        items: list[ItemDraft] | None = None,
        *,
        customer: str | None = "bao",
        **draft: Any,
    ) -> str:
        self._refs += 1
        return create_order(
            self.hub,
            self.merchant_id,
            OrderDraft(
                merchant_reference=draft.pop("merchant_reference", f"m-{self._refs}"),
                currency=draft.pop("currency", "VND"),
                items=items if items is not None else [ItemDraft(sku="pack-100")],
                customer=CustomerDraft(external_id=customer) if customer else None,
                **draft,
            ),
        )

    async def start(self, order_id: str, gateway: str = "payos") -> StartedPayment:
        return await start_payment(self.hub, self.merchant_id, order_id, gateway, actor="test")

    async def sim_pay(self, payment_id: str, outcome: str = "paid", **body: Any) -> None:
        """Drive `outcome` at the attempt's simulator and wait for its notifications."""
        payment = self.payment(payment_id)
        sim = self.sims[payment["gateway"]]
        r = await sim.post(
            f"/__sim/pay/{payment['gateway_reference']}", json={"outcome": outcome, **body}
        )
        assert r.status_code == 200, r.text
        await self.flush(payment["gateway"])

    async def fault(self, gateway: str, name: str, count: int = 1) -> None:
        r = await self.sims[gateway].post("/__sim/faults", json={"fault": name, "count": count})
        assert r.status_code == 200, r.text

    async def flush(self, gateway: str) -> None:
        r = await self.sims[gateway].post("/__sim/flush")
        assert r.status_code == 200, r.text

    async def paid_order(self, gateway: str = "payos", **draft: Any) -> tuple[str, str]:
        """An order paid through `gateway`'s simulator: (order id, payment id)."""
        order_id = self.order(**draft)
        started = await self.start(order_id, gateway)
        await self.sim_pay(started.payment_id)
        assert self.order_row(order_id)["status"] == "paid"
        return order_id, started.payment_id

    # -- reading (SQL) -------------------------------------------------------------------

    def rows(self, model: Any, **where: Any) -> list[dict[str, Any]]:
        table: Table = table_of(model)
        query = select(table).where(*(table.c[k] == v for k, v in where.items()))
        with self.hub.db.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def count(self, model: Any, **where: Any) -> int:
        table: Table = table_of(model)
        query = select(func.count()).select_from(table)
        query = query.where(*(table.c[k] == v for k, v in where.items()))
        with self.hub.db.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def one(self, model: Any, **where: Any) -> dict[str, Any]:
        [row] = self.rows(model, **where)
        return row

    def order_row(self, order_id: str) -> dict[str, Any]:
        return self.one(Order, id=order_id)

    def payment(self, payment_id: str) -> dict[str, Any]:
        return self.one(Payment, id=payment_id)

    def stock(self, sku: str) -> int:
        return int(self.one(Product, merchant_id=self.merchant_id, sku=sku)["stock_available"])

    def outbox_types(self, **where: Any) -> list[str]:
        return sorted(r["event_type"] for r in self.rows(OutboxEvent, **where))

    def assert_invariants(self) -> None:
        assert check_invariants(self.hub.db.engine) == {}


@dataclass(frozen=True)
class Seed:
    """A migrated database holding one merchant, its products and gateway accounts,
    built once per engine and copied for every test (migrating per test is slow)."""

    kind: str
    url: str
    merchant_id: str
    api_key: str
    accounts: dict[str, str]


def _settings(url: str) -> Settings:
    return Settings(
        database_url=url,
        master_key=SecretStr(MASTER_KEY),
        public_url=PUBLIC_URL,
        customer_jwt_secret=SecretStr("customer-secret-for-tests-0123456789abcdef"),
        outbound_allow=list(LOOPBACK),
    )


def _seed(kind: str, tmp: Path) -> Seed:
    th = make_hub(database_url(kind, tmp), public_url=PUBLIC_URL)
    for gateway, sim_url in SIM_URLS.items():
        connect_gateway(th, gateway, sim_url)
    th.hub.db.dispose()
    return Seed(kind, th.hub.settings.database_url, th.merchant_id, th.api_key, th.accounts)


def _copy(seed: Seed, tmp_path: Path) -> str:
    if seed.kind == "sqlite":
        target = tmp_path / "payhub.db"
        source = sqlite3.connect(make_url(seed.url).database or "")
        copy = sqlite3.connect(target)
        with source, copy:
            source.backup(copy)
        source.close()
        copy.close()
        return f"sqlite:///{target}"
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = make_url(seed.url)
    _admin(url, sql.SQL("CREATE DATABASE {} TEMPLATE {}"), name, url.database or "")
    return url.set(database=name).render_as_string(hide_password=False)


def _admin(url: URL, statement: sql.SQL, *names: str) -> None:
    admin = url.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(statement.format(*(sql.Identifier(n) for n in names)))


@pytest.fixture(scope="session")
def seeds() -> Iterator[dict[str, Seed]]:
    built: dict[str, Seed] = {}
    yield built
    if "postgres" in built:
        url = make_url(built["postgres"].url)
        _admin(url, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)"), url.database or "")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def seeded_url(
    request: pytest.FixtureRequest,
    seeds: dict[str, Seed],
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
) -> Iterator[tuple[Seed, str]]:
    kind = request.param
    if kind not in seeds:
        seeds[kind] = _seed(kind, tmp_path_factory.mktemp(f"seed-{kind}"))
    url = _copy(seeds[kind], tmp_path)
    yield seeds[kind], url
    if kind == "postgres":
        parsed = make_url(url)
        _admin(parsed, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)"), parsed.database or "")


def build_env(seed: Seed, url: str) -> Env:
    hub = build_hub(_settings(url))
    th = HubUnderTest(
        hub=hub,
        app=None,
        merchant_id=seed.merchant_id,
        api_key=seed.api_key,
        accounts=dict(seed.accounts),
    )
    routes = ByOrigin()
    callbacks = HubCallbacks(hub)
    env = Env(th=th, gateway_calls=routes, callbacks=callbacks)
    for gateway, sim_url in SIM_URLS.items():
        app = simulator_app(
            gateway,
            sim_url,
            transport=callbacks,
            attempts=2,
            interval=0.01,
            webhook_url=callback_url(hub, gateway, seed.accounts[gateway]),
        )
        routes.routes[sim_url] = httpx.ASGITransport(app=app)
        env.sims[gateway] = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=sim_url
        )
    hub.http = httpx.AsyncClient(transport=routes, timeout=10)
    return env


@pytest.fixture
async def env(seeded_url: tuple[Seed, str]) -> AsyncIterator[Env]:
    built = build_env(*seeded_url)
    yield built
    for client in built.sims.values():
        await client.aclose()
    await built.hub.http.aclose()
    built.hub.db.dispose()


@pytest.fixture
def frozen(env: Env) -> Iterator[FrozenClock]:
    """The hub's clock, frozen at the real now (the simulators keep real time)."""
    clock = FrozenClock(env.hub.clock.now())
    env.hub.clock = clock
    yield clock
