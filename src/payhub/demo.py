"""`payhub demo` and `payhub sandbox`: the whole flow on one machine, offline.

The demo migrates a SQLite database under var/, seeds a demo merchant with products and
credit packs, points every gateway at its local simulator, then runs the hub, the worker and
every simulator (each on its own port) in one process and prints what to open. A local mail
catcher (SMTP on 127.0.0.1:2525) receives the demo merchant's e-mails, which its page
(http://127.0.0.1:8025) lists: buy a credit pack and the payment confirmation is there.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import SecretStr
from rich.console import Console
from sqlalchemy import select

from payhub.gateways.base import Environment, NotSupported
from payhub.gateways.registry import entry, gateway_names
from payhub.gateways.simkit import sandbox_options

console = Console()
VAR = Path("var")
DEMO_MERCHANT = "mer_demo"
MAIL_SMTP_PORT = 2525
MAIL_PAGE_PORT = 8025

PRODUCTS: list[dict[str, Any]] = [
    {
        "sku": "credits-100",
        "name": "100 credits",
        "price": 20_000,
        "currency": "VND",
        "credits": 100,
    },
    {
        "sku": "credits-550",
        "name": "550 credits",
        "price": 100_000,
        "currency": "VND",
        "credits": 550,
    },
    {
        "sku": "credits-1200",
        "name": "1,200 credits",
        "price": 200_000,
        "currency": "VND",
        "credits": 1200,
    },
    {
        "sku": "tshirt",
        "name": "payhub T-shirt",
        "price": 150_000,
        "currency": "VND",
        "track_stock": True,
        "stock": 25,
        "low_stock_threshold": 5,
    },
    {
        "sku": "credits-my-100",
        "name": "100 credits (MYR)",
        "price": 1_050,
        "currency": "MYR",
        "credits": 100,
    },
]


def _server(app: Any, port: int) -> uvicorn.Server:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    return uvicorn.Server(config)


DEMO_CONSOLE_USER = "owner@demo.payhub.test"


def _console_password() -> str:
    """The demo console owner's password: random, made on the first run and kept in
    `var/console-password` (the database keeps only its argon2id hash)."""
    path = VAR / "console-password"
    if not path.exists():
        VAR.mkdir(exist_ok=True)
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


def ensure_console_owner(hub: Any, merchant_id: str) -> tuple[str, str]:
    """The demo's console owner (created on first run): (e-mail, password)."""
    from contextlib import suppress

    from payhub.domain.errors import Conflict
    from payhub.services.console_users import create_user

    password = _console_password()
    with suppress(Conflict):  # made by an earlier run, with the same password
        create_user(
            hub,
            email=DEMO_CONSOLE_USER,
            password=password,
            role="owner",
            merchant_id=merchant_id,
            name="Demo owner",
            actor="demo",
        )
    return DEMO_CONSOLE_USER, password


def _master_key() -> str:
    path = VAR / "master.key"
    if os.environ.get("PAYHUB_MASTER_KEY"):
        return os.environ["PAYHUB_MASTER_KEY"]
    if not path.exists():
        VAR.mkdir(exist_ok=True)
        path.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
        path.chmod(0o600)
    return path.read_text().strip()


async def run_demo(port: int = 8000, reset: bool = False) -> None:
    from payhub.asgi import create_app
    from payhub.mailcatcher import MailCatcher, mail_page
    from payhub.services.accounts import build_adapter, configure_account
    from payhub.services.checkout import callback_url
    from payhub.services.context import build_hub
    from payhub.services.merchants import create_merchant, issue_api_key, upsert_product
    from payhub.services.notifications import (
        NotificationSettingsChange,
        configure_notifications,
    )
    from payhub.settings import Settings
    from payhub.store.migrate import upgrade
    from payhub.store.models import GatewayAccount, Merchant
    from payhub.worker import run_forever

    VAR.mkdir(exist_ok=True)
    db_path = VAR / "demo.db"
    if reset:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    public_url = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=f"sqlite:///{db_path}",
        master_key=SecretStr(_master_key()),
        public_url=public_url,
        # The demo's webhook receivers run on this machine: loopback is allowed unless
        # PAYHUB_OUTBOUND_ALLOW says otherwise.
        outbound_allow=os.environ.get("PAYHUB_OUTBOUND_ALLOW") or "127.0.0.0/8,::1",
    )
    upgrade(settings.database_url)
    hub = build_hub(settings)
    with hub.db.session() as session:
        exists = session.get(Merchant, DEMO_MERCHANT) is not None
    if not exists:
        create_merchant(hub, "Demo Store", actor="demo", merchant_id=DEMO_MERCHANT)
    for product in PRODUCTS:
        upsert_product(hub, DEMO_MERCHANT, actor="demo", **product)
    api_key = issue_api_key(hub, DEMO_MERCHANT, label="demo", actor="demo")
    console_login = ensure_console_owner(hub, DEMO_MERCHANT)
    configure_notifications(
        hub,
        DEMO_MERCHANT,
        NotificationSettingsChange(
            smtp_host="127.0.0.1",
            smtp_port=MAIL_SMTP_PORT,
            smtp_security="none",
            sender_address="shop@demo.payhub.test",
            sender_name="Demo Store",
            operator_emails=["operator@demo.payhub.test"],
        ),
        actor="demo",
    )
    mail = MailCatcher("127.0.0.1", MAIL_SMTP_PORT)
    mail_url = f"http://127.0.0.1:{MAIL_PAGE_PORT}/"

    # Each gateway's package says where its sandbox runs and how it learns the hub's
    # notification URL (its sandbox profile); this loop names no gateway.
    simulators: list[tuple[str, Any, int]] = []
    for name in gateway_names():
        gw = entry(name)
        profile = gw.sandbox_profile()
        field_names = {f.name for f in gw.adapter.credential_fields}
        sim_url = f"http://127.0.0.1:{profile.default_port}"
        account_id = configure_account(
            hub,
            merchant_id=DEMO_MERCHANT,
            gateway=name,
            environment=Environment.SIMULATOR,
            credentials={k: v for k, v in profile.credentials.items() if k in field_names},
            settings={
                **{k: v for k, v in profile.credentials.items() if k not in field_names},
                **profile.settings,
            },
            base_url=sim_url,
            actor="demo",
        )
        with hub.db.transaction() as session:
            row = session.get(GatewayAccount, account_id)
            assert row is not None
            row.base_url = sim_url
        options = sandbox_options(profile, notify_url=callback_url(hub, name, account_id))
        simulators.append((name, gw.create_simulator(options), profile.default_port))
    hub.forget_adapters()

    app = create_app(hub)
    app.state.demo_merchant_id = DEMO_MERCHANT
    app.state.demo_mail_url = mail_url
    try:
        mail.start()
    except OSError as exc:
        raise SystemExit(f"the mail catcher cannot listen on {MAIL_SMTP_PORT}: {exc}") from None
    servers = [_server(app, port), _server(mail_page(mail), MAIL_PAGE_PORT)] + [
        _server(sim, p) for _, sim, p in simulators
    ]
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    while not all(s.started for s in servers):
        if any(t.done() for t in tasks):
            for t in tasks:
                if t.done() and t.exception():
                    raise t.exception()  # type: ignore[misc]
            raise SystemExit("a server failed to start (is the port in use?)")
        await asyncio.sleep(0.05)

    # Register the notification URL with each gateway that takes one (NotSupported elsewhere).
    with hub.db.session() as session:
        accounts = session.scalars(
            select(GatewayAccount).where(GatewayAccount.merchant_id == DEMO_MERCHANT)
        ).all()
        adapters = [(a.gateway, a.id, build_adapter(hub, a)) for a in accounts]
    for name, account_id, adapter in adapters:
        try:
            await adapter.register_notification_url(callback_url(hub, name, account_id))
        except NotSupported:
            pass
        except Exception as exc:
            console.print(f"[yellow]{name}: could not register the webhook URL: {exc}[/yellow]")

    worker = asyncio.create_task(run_forever(hub, interval=2))
    _print_banner(public_url, api_key, simulators, mail_url, console_login)
    try:
        await asyncio.gather(*tasks)
    finally:
        worker.cancel()
        mail.stop()


def _print_banner(
    public_url: str,
    api_key: str,
    simulators: list[tuple[str, Any, int]],
    mail_url: str,
    console_login: tuple[str, str],
) -> None:
    console.rule("[bold]payhub demo")
    console.print(f"Demo store      {public_url}/demo   (buy a credit pack, pay in the sandbox)")
    console.print(f"Demo mail       {mail_url}   (the e-mails the demo sent: local mail catcher)")
    console.print(f"API docs        {public_url}/docs")
    for name, _, port in simulators:
        console.print(f"{name:<15} http://127.0.0.1:{port}   (local sandbox)")
    console.print(f"Demo API key    {api_key}")
    console.print(f"Console         {public_url}/console   (the operator console)")
    console.print(f"Console login   {console_login[0]} / {console_login[1]}")
    console.print("\nTry it:")
    console.print(
        f"""curl -s {public_url}/v1/orders -H 'Authorization: Bearer {api_key}' \\
  -H 'Content-Type: application/json' -H 'Idempotency-Key: demo-1' \\
  -d '{{"merchant_reference":"demo-1","currency":"VND","items":[{{"sku":"credits-100"}}],
       "customer":{{"external_id":"alice"}}}}'
curl -s {public_url}/v1/orders/ORDER_ID/payments -H 'Authorization: Bearer {api_key}' \\
  -H 'Content-Type: application/json' -d '{{"gateway":"{gateway_names()[0]}"}}'""",
        soft_wrap=True,
    )
    console.rule()


async def run_simulators(gateway: str | None, port: int | None) -> None:
    names = [gateway] if gateway else gateway_names()
    servers = []
    for name in names:
        gw = entry(name)
        profile = gw.sandbox_profile()
        p = port if (port and gateway) else profile.default_port
        servers.append(_server(gw.create_simulator(sandbox_options(profile, port=p)), p))
        console.print(f"{name:<10} sandbox on http://127.0.0.1:{p}")
    await asyncio.gather(*(s.serve() for s in servers))
