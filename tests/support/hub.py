"""Build real hubs for tests: migrated database (SQLite or PostgreSQL), vault key, a demo
merchant with an API key, and gateway accounts pointed at simulators."""

from __future__ import annotations

import base64
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from payhub.asgi import create_app
from payhub.gateways.base import Environment
from payhub.gateways.registry import entry
from payhub.gateways.simkit import RetryPolicy, SimulatorOptions
from payhub.services.accounts import configure_account
from payhub.services.context import Hub, build_hub
from payhub.services.merchants import create_merchant, issue_api_key, upsert_product
from payhub.settings import Settings
from payhub.store.migrate import upgrade
from tests.support.postgres import fresh_database, postgres_url

MASTER_KEY = base64.b64encode(b"k" * 32).decode()
# The outbound allow-list of test hubs: their webhook receivers listen on loopback.
LOOPBACK = ("127.0.0.0/8", "::1")


def database_url(kind: str, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'payhub.db'}"
    base = postgres_url()
    if base is None:
        import pytest

        pytest.skip("PostgreSQL server binaries are not installed")
    return fresh_database(base, f"t_{uuid.uuid4().hex[:16]}")


@dataclass
class HubUnderTest:
    hub: Hub
    app: Any
    merchant_id: str
    api_key: str
    accounts: dict[str, str] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def make_hub(
    url: str,
    public_url: str = "http://127.0.0.1:8000",
    outbound_allow: tuple[str, ...] = LOOPBACK,
) -> HubUnderTest:
    """A migrated hub with a merchant; `outbound_allow=()` leaves the allow-list unset."""
    upgrade(url)
    settings = Settings(
        database_url=url,
        master_key=SecretStr(MASTER_KEY),
        public_url=public_url,
        customer_jwt_secret=SecretStr("customer-secret-for-tests-0123456789abcdef"),
        outbound_allow=list(outbound_allow),
    )
    hub = build_hub(settings)
    merchant_id = create_merchant(hub, "Test Shop", actor="test")
    api_key = issue_api_key(hub, merchant_id, actor="test")
    upsert_product(
        hub,
        merchant_id,
        sku="pack-100",
        name="100 credits",
        price=20_000,
        currency="VND",
        credits=100,
        actor="test",
    )
    upsert_product(
        hub,
        merchant_id,
        sku="tshirt",
        name="T-shirt",
        price=150_000,
        currency="VND",
        track_stock=True,
        stock=5,
        actor="test",
    )
    upsert_product(
        hub,
        merchant_id,
        sku="pack-my",
        name="100 credits MYR",
        price=1_050,
        currency="MYR",
        credits=100,
        actor="test",
    )
    return HubUnderTest(hub=hub, app=create_app(hub), merchant_id=merchant_id, api_key=api_key)


def connect_gateway(th: HubUnderTest, gateway: str, sim_url: str, **settings: str) -> str:
    """Configure the merchant's account for `gateway` with its sandbox profile."""
    gw = entry(gateway)
    profile = gw.sandbox_profile()
    names = {f.name for f in gw.adapter.credential_fields}
    account_id = configure_account(
        th.hub,
        merchant_id=th.merchant_id,
        gateway=gateway,
        environment=Environment.SIMULATOR,
        credentials={k: v for k, v in profile.credentials.items() if k in names},
        settings={
            **{k: v for k, v in profile.credentials.items() if k not in names},
            **profile.settings,
            **settings,
        },
        base_url=sim_url,
        actor="test",
    )
    th.accounts[gateway] = account_id
    return account_id


def simulator_app(
    gateway: str,
    sim_url: str,
    transport: httpx.AsyncBaseTransport | None = None,
    attempts: int = 3,
    interval: float = 0.05,
    **extra: str,
) -> Any:
    gw = entry(gateway)
    return gw.create_simulator(
        SimulatorOptions(
            public_url=sim_url,
            profile=gw.sandbox_profile(),
            retry=RetryPolicy(max_attempts=attempts, interval_seconds=interval),
            transport=transport,
            extra=extra,
        )
    )


def new_reference() -> str:
    return f"ref-{secrets.token_hex(6)}"


def run_worker_task(hub: Hub, task: Any, *args: Any) -> Any:
    """Run a worker coroutine (e.g. expire_due_orders) from a test thread while the hub's
    server runs in its own event loop: the task gets its own HTTP client and adapters, as
    a separate `payhub worker` process would."""
    import anyio

    async def run() -> Any:
        server_http = hub.http
        hub.http = httpx.AsyncClient(timeout=30)
        hub.forget_adapters()
        try:
            return await task(hub, *args)
        finally:
            await hub.http.aclose()
            hub.http = server_http
            hub.forget_adapters()

    return anyio.run(run)
