"""The `payhub` command."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from payhub.gateways.base import Environment, NotSupported
from payhub.services.context import Hub
from payhub.settings import get_settings

app = typer.Typer(help="payhub: a self-hosted payment hub", no_args_is_help=True)
db_app = typer.Typer(help="database")
merchant_app = typer.Typer(help="merchants")
gateway_app = typer.Typer(help="gateway accounts (credentials are write-only)")
keys_app = typer.Typer(help="the credential vault's master key")
app.add_typer(db_app, name="db")
app.add_typer(merchant_app, name="merchant")
app.add_typer(gateway_app, name="gateway")
app.add_typer(keys_app, name="keys")
console = Console()


def _hub() -> Hub:
    from payhub.services.context import build_hub
    from payhub.services.vault import MasterKey

    hub = build_hub(get_settings())
    previous = os.environ.get("PAYHUB_PREVIOUS_MASTER_KEYS", "")
    hub.previous_keys = [MasterKey(k.strip()) for k in previous.split(",") if k.strip()]
    return hub


def _configure_logging() -> None:
    from payhub.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, json=settings.log_json)


def _pairs(values: list[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        name, sep, content = value.partition("=")
        if not sep:
            raise typer.BadParameter(f"{what} must be NAME=VALUE, got {name!r}")
        out[name] = content
    return out


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the hub's HTTP server."""
    from payhub.asgi import create_app

    _configure_logging()
    uvicorn.run(create_app(_hub(), own_process=True), host=host, port=port, log_config=None)


@app.command()
def worker(
    interval: Annotated[
        float | None, typer.Option(help="seconds between delivery runs (default: setting)")
    ] = None,
) -> None:
    """Run the worker's jobs forever: deliver events, reconcile attempts, track refunds,
    expire orders, prune. Many may run on PostgreSQL; on SQLite a second one is refused."""
    from payhub.worker import run_forever, single_worker_lock, sqlite_lock_path

    _configure_logging()
    settings = get_settings()
    lock = single_worker_lock(settings.database_url)
    if lock is None:
        console.print(
            "[red]another payhub worker is running on this SQLite database "
            f"(lock {sqlite_lock_path(settings.database_url)} is held). On SQLite run exactly "
            "one worker; use PostgreSQL to run several.[/red]"
        )
        raise typer.Exit(code=3)
    try:
        asyncio.run(run_forever(_hub(), interval))
    finally:
        lock.release()


@app.command()
def sandbox(
    gateway: Annotated[str | None, typer.Option(help="one gateway; default all")] = None,
    port: Annotated[int | None, typer.Option(help="port (with --gateway)")] = None,
) -> None:
    """Run the gateways' local simulators, each on its own port."""
    from payhub.demo import run_simulators

    asyncio.run(run_simulators(gateway, port))


@app.command()
def demo(
    port: int = 8000,
    reset: Annotated[bool, typer.Option(help="start from an empty database")] = False,
) -> None:
    """Everything on one machine: SQLite, hub, worker and every gateway's sandbox."""
    from payhub.demo import run_demo

    _configure_logging()
    asyncio.run(run_demo(port=port, reset=reset))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations."""
    from payhub.store.migrate import upgrade

    upgrade(get_settings().database_url)
    console.print("database is up to date")


@merchant_app.command("create")
def merchant_create(name: str, mode: str = "test") -> None:
    """Create a merchant and print its first API key (shown once)."""
    from payhub.services.merchants import create_merchant, issue_api_key

    hub = _hub()
    merchant_id = create_merchant(hub, name, actor="cli")
    key = issue_api_key(hub, merchant_id, mode=mode, actor="cli")
    console.print(f"merchant [bold]{merchant_id}[/bold]\nAPI key (shown once): {key}")


@gateway_app.command("set")
def gateway_set(
    merchant: str,
    gateway: str,
    environment: Annotated[Environment, typer.Option("--env")] = Environment.SANDBOX,
    cred: Annotated[list[str] | None, typer.Option(help="credential NAME=VALUE")] = None,
    setting: Annotated[list[str] | None, typer.Option(help="setting NAME=VALUE")] = None,
    base_url: str | None = None,
    disable: bool = False,
) -> None:
    """Set (write-only) credentials and settings of a merchant's gateway account."""
    from payhub.services.accounts import configure_account

    account_id = configure_account(
        _hub(),
        merchant_id=merchant,
        gateway=gateway,
        environment=environment,
        credentials=_pairs(cred or [], "--cred"),
        settings=_pairs(setting or [], "--setting"),
        base_url=base_url,
        enabled=not disable,
        actor="cli",
    )
    console.print(f"gateway account {account_id} saved")


@gateway_app.command("list")
def gateway_list(merchant: str) -> None:
    """Show a merchant's gateway accounts: which credential fields are set, never values."""
    import anyio

    from payhub.gateways.registry import entry, gateway_names
    from payhub.store import reads

    hub = _hub()
    known = gateway_names()
    table = Table("account", "gateway", "env", "enabled", "credentials set", "missing")
    for account in anyio.run(reads.gateway_accounts, hub.db, merchant):
        fields = (
            entry(account.gateway).adapter.credential_fields if account.gateway in known else ()
        )
        table.add_row(
            account.id,
            account.gateway,
            account.environment,
            "yes" if account.enabled else "no",
            ", ".join(f.name for f in fields if f.name in account.fields_set),
            ", ".join(account.missing(f.name for f in fields if f.required)) or "-",
        )
    console.print(table)


@gateway_app.command("check")
def gateway_check(merchant: str, gateway: str) -> None:
    """Check an account: credentials complete, decryptable, and (where the gateway keeps
    one) the webhook URL confirmed with the gateway."""
    from payhub.services.accounts import build_adapter, enabled_account
    from payhub.services.checkout import callback_url

    hub = _hub()
    with hub.db.session() as session:
        row = enabled_account(session, merchant, gateway)
        adapter = build_adapter(hub, row)
        account_id = row.id
    url = callback_url(hub, gateway, account_id)

    async def register() -> str:
        try:
            await adapter.register_notification_url(url)
            return f"notification URL confirmed with {gateway}: {url}"
        except NotSupported:
            return f"register this notification URL with {gateway}: {url}"
        finally:
            await hub.http.aclose()

    console.print("credentials complete and decryptable")
    console.print(asyncio.run(register()))


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every gateway account under PAYHUB_MASTER_KEY; old keys come from
    PAYHUB_PREVIOUS_MASTER_KEYS (comma-separated)."""
    from payhub.services.accounts import rotate_keys

    count = rotate_keys(_hub(), actor="cli")
    console.print(f"re-encrypted {count} gateway account(s)")


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new random master key (32 bytes, base64)."""
    from payhub.services.vault import generate_master_key

    console.print(generate_master_key())
