"""The `payhub` command."""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Annotated

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from payhub.gateways.base import Environment, NotSupported
from payhub.services.context import Hub
from payhub.settings import get_settings

if TYPE_CHECKING:
    from payhub.store.reads import ValidationView

app = typer.Typer(help="payhub: a self-hosted payment hub", no_args_is_help=True)
db_app = typer.Typer(help="database")
merchant_app = typer.Typer(help="merchants")
gateway_app = typer.Typer(help="gateway accounts (credentials are write-only)")
keys_app = typer.Typer(help="the credential vault's master key")
notify_app = typer.Typer(help="e-mail and Telegram notifications (secrets are write-only)")
credits_app = typer.Typer(help="customers' credit balances")
key_app = typer.Typer(help="merchants' API keys (shown once, stored hashed)")
customer_tokens_app = typer.Typer(help="the issuers whose customer tokens a merchant trusts")
admin_app = typer.Typer(help="the operator console's users")
app.add_typer(db_app, name="db")
app.add_typer(merchant_app, name="merchant")
app.add_typer(gateway_app, name="gateway")
app.add_typer(keys_app, name="keys")
app.add_typer(notify_app, name="notify")
app.add_typer(credits_app, name="credits")
app.add_typer(key_app, name="api-key")
app.add_typer(customer_tokens_app, name="customer-tokens")
app.add_typer(admin_app, name="admin")
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
    from payhub.serving import server_config

    _configure_logging()
    hub = _hub()
    app = create_app(hub, own_process=True)
    uvicorn.Server(server_config(app, hub.settings, host=host, port=port, log_config=None)).run()


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


@app.command()
def prune() -> None:
    """Delete old rows: inbound requests no payment event refers to, expired idempotency
    keys, attempt rows of finished webhook deliveries (see PAYHUB_*_RETENTION_DAYS)."""
    from payhub.services.retention import prune as prune_rows

    report = prune_rows(_hub())
    table = Table("table", "rows deleted")
    for name, count in report.as_dict().items():
        table.add_row(name, str(count))
    console.print(table)


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
    no_validate: Annotated[
        bool, typer.Option("--no-validate", help="save without asking the gateway")
    ] = False,
    priority: Annotated[
        int | None, typer.Option(help="routing priority, lower first (new accounts: 100)")
    ] = None,
) -> None:
    """Set (write-only) credentials and settings of a merchant's gateway account, then ask
    the gateway whether they are good (exit 1 if it says no, 3 if it could not tell)."""
    from payhub.services.accounts import configure_account

    hub = _hub()
    account_id = configure_account(
        hub,
        merchant_id=merchant,
        gateway=gateway,
        environment=environment,
        credentials=_pairs(cred or [], "--cred"),
        settings=_pairs(setting or [], "--setting"),
        base_url=base_url,
        enabled=not disable,
        priority=priority,
        actor="cli",
    )
    console.print(f"gateway account {account_id} saved")
    if no_validate:
        console.print("not validated with the gateway (--no-validate)")
        return
    _validate_or_exit(hub, merchant, gateway, environment)


def _validate_or_exit(
    hub: Hub, merchant: str, gateway: str, environment: Environment | None
) -> bool:
    """Validate the account against the gateway and print the answer; exit 1 when the
    gateway refused the credentials, 3 when it could not tell. True when valid."""
    from payhub.errors import DomainError
    from payhub.services.credential_check import ValidationResult, validate_account

    async def validate() -> ValidationResult:
        try:
            return await validate_account(hub, merchant, gateway, environment, actor="cli")
        finally:
            await hub.http.aclose()

    try:
        result = asyncio.run(validate())
    except DomainError as exc:  # no such account, unknown gateway
        console.print(f"cannot validate: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    answer = f"{gateway} answered {result.code}: {result.message}"
    answer += f" (checked with {result.checked_with})"
    if result.valid is True:
        console.print(f"credentials valid: {answer}", markup=False, highlight=False, soft_wrap=True)
        return True
    if result.valid is False:
        console.print(
            f"credentials INVALID: {answer}\nThe account {result.account_id} is saved and "
            "marked invalid; fix the credentials and run `payhub gateway set` again.",
            markup=False,
            soft_wrap=True,
            highlight=False,
        )
        raise typer.Exit(1)
    console.print(
        f"credentials not validated, the gateway could not tell: {answer}\n"
        f"Try again with `payhub gateway check {merchant} {gateway}`.",
        markup=False,
        soft_wrap=True,
        highlight=False,
    )
    raise typer.Exit(3)


@gateway_app.command("list")
def gateway_list(merchant: str) -> None:
    """Show a merchant's gateway accounts: which credential fields are set, never values."""
    import anyio

    from payhub.gateways.registry import entry, gateway_names
    from payhub.services.routing import gateway_health_view, routing_choices
    from payhub.store import reads

    hub = _hub()
    known = gateway_names()
    health = {h.account_id: h for h in gateway_health_view(hub, merchant)}
    table = Table("account", "gateway", "env", "enabled", "credentials set", "missing")
    listed = anyio.run(reads.gateway_accounts, hub.db, merchant)
    health_table = Table("account", "priority", "circuit", "failures", "last failure")
    for account in listed:
        h = health.get(account.id)
        health_table.add_row(
            account.id,
            str(account.priority),
            h.state if h else "closed",
            str(h.consecutive_failures if h else 0),
            (h.health_dict()["last_failure_at"] or "-") if h else "-",
        )
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
    for account in listed:
        console.print(
            f"{account.id} {account.gateway}/{account.environment}: "
            + _validation_line(account.validation),
            markup=False,
            soft_wrap=True,
            highlight=False,
        )
    console.print(health_table)
    choices = routing_choices(hub, merchant)
    console.print(f"default gateway: {choices.default_gateway or '-'}")
    for currency, order in sorted(choices.currency_priorities.items()):
        console.print(f"{currency} order: {', '.join(order)}")


def _validation_line(validation: ValidationView) -> str:
    """The last validation of an account against its gateway, for `gateway list`."""
    if validation.checked_at is None:
        return "credentials never validated with the gateway"
    verdict = {True: "valid", False: "INVALID", None: "unknown"}[validation.ok]
    return (
        f"credentials {verdict} ({validation.code}: {validation.message}), "
        f"checked {validation.checked_at:%Y-%m-%d %H:%M:%S}"
    )


@gateway_app.command("default")
def gateway_default(merchant: str, gateway: str) -> None:
    """Set the merchant's default gateway (routing prefers it among equal ranks); "none"
    clears it."""
    from payhub.services.routing import set_default_gateway

    choice = None if gateway == "none" else gateway
    set_default_gateway(_hub(), merchant, choice, actor="cli")
    console.print(f"default gateway of {merchant}: {choice or '-'}")


@gateway_app.command("priority")
def gateway_priority(
    merchant: str,
    gateways: Annotated[str, typer.Argument(help='comma-separated, best first; "" clears')],
    currency: Annotated[str, typer.Option(help="the currency this order is for")],
) -> None:
    """Set the order routing tries gateways in for one currency (before account priority)."""
    from payhub.services.routing import set_currency_priorities

    names = [g.strip() for g in gateways.split(",") if g.strip()]
    set_currency_priorities(_hub(), merchant, currency, names, actor="cli")
    console.print(f"{currency.upper()} order of {merchant}: {', '.join(names) or '-'}")


@gateway_app.command("switch")
def gateway_switch(
    merchant: str,
    gateway: str,
    to: Annotated[Environment, typer.Option("--to", help="production or sandbox")],
) -> None:
    """Enable the gateway's account in one environment and disable the other (audited)."""
    from payhub.services.routing import switch_environment

    account_id = switch_environment(_hub(), merchant, gateway, to, actor="cli")
    console.print(f"{gateway} of {merchant} now uses {to.value} account {account_id}")


@gateway_app.command("check")
def gateway_check(
    merchant: str,
    gateway: str,
    environment: Annotated[
        Environment | None, typer.Option("--env", help="default: the enabled account")
    ] = None,
) -> None:
    """Check an account against the gateway: its credentials by a harmless call (exit 1 if
    the gateway refuses them, 3 if it could not tell), then, where the gateway keeps one,
    the webhook URL confirmed with it."""
    from payhub.errors import GatewayError
    from payhub.services.accounts import build_adapter, enabled_account
    from payhub.services.checkout import callback_url

    hub = _hub()
    _validate_or_exit(hub, merchant, gateway, environment)
    hub = _hub()  # the validation closed the first hub's HTTP client
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
        except GatewayError as exc:
            return f"{gateway} did not confirm the notification URL {url}: {exc.message}"
        finally:
            await hub.http.aclose()

    console.print(asyncio.run(register()), markup=False, highlight=False, soft_wrap=True)


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every encrypted column (gateway credentials, webhook secrets, …) under
    PAYHUB_MASTER_KEY; old keys come from PAYHUB_PREVIOUS_MASTER_KEYS (comma-separated)."""
    from payhub.services.keyring import rotate_keys

    rewritten = rotate_keys(_hub(), actor="cli")
    for column, count in rewritten.items():
        console.print(f"{column}: re-encrypted {count} row(s)")


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new random master key (32 bytes, base64)."""
    from payhub.services.vault import generate_master_key

    console.print(generate_master_key())


def _list_option(values: list[str] | None) -> list[str] | None:
    """Repeatable options and comma lists alike; `--x ""` clears the list."""
    if values is None:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@notify_app.command("set")
def notify_set(
    merchant: str,
    smtp_host: Annotated[str | None, typer.Option(help="SMTP server host")] = None,
    smtp_port: Annotated[int | None, typer.Option(help="SMTP port (465 tls, 587)")] = None,
    smtp_security: Annotated[str | None, typer.Option(help="tls | starttls | none")] = None,
    smtp_user: Annotated[str | None, typer.Option(help="SMTP login")] = None,
    smtp_password: Annotated[
        str | None, typer.Option(help="SMTP password (stored in the vault; '' clears)")
    ] = None,
    sender: Annotated[str | None, typer.Option(help="sender address (From)")] = None,
    sender_name: Annotated[str | None, typer.Option(help="sender display name")] = None,
    telegram_token: Annotated[
        str | None, typer.Option(help="Telegram bot token (stored in the vault; '' clears)")
    ] = None,
    telegram_chat: Annotated[
        list[str] | None, typer.Option(help="Telegram chat id for alerts (repeat; '' clears)")
    ] = None,
    operator_email: Annotated[
        list[str] | None, typer.Option(help="operator e-mail for alerts (repeat; '' clears)")
    ] = None,
    route: Annotated[
        list[str] | None,
        typer.Option(help="alert routing KIND=email,telegram (KIND '*' for the rest; repeat)"),
    ] = None,
    locale: Annotated[str | None, typer.Option(help="default locale: vi | en | ms")] = None,
    customer_emails: Annotated[
        bool | None, typer.Option(help="e-mail customers (confirmations, failures, refunds)")
    ] = None,
) -> None:
    """Set a merchant's notification settings (only the options given change)."""
    from payhub.services.notifications import (
        NotificationSettingsChange,
        configure_notifications,
    )

    routes = None
    if route:
        routes = {
            kind: _list_option([channels]) or []
            for kind, channels in _pairs(route, "--route").items()
        }
    change = NotificationSettingsChange(
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        smtp_security=smtp_security,
        smtp_user=smtp_user,
        smtp_password=smtp_password,
        sender_address=sender,
        sender_name=sender_name,
        telegram_bot_token=telegram_token,
        telegram_chat_ids=_list_option(telegram_chat),
        operator_emails=_list_option(operator_email),
        alert_routes=routes,
        default_locale=locale,
        customer_emails=customer_emails,
    )
    view = configure_notifications(_hub(), merchant, change, actor="cli")
    for name, value in view.items():
        console.print(f"{name:<18} {value}")


@notify_app.command("show")
def notify_show(merchant: str) -> None:
    """Show a merchant's notification settings: which secrets are set, never their values."""
    from payhub.services.notifications import show_settings

    view = show_settings(_hub(), merchant)
    if view is None:
        console.print(f"{merchant} has no notification settings")
        raise typer.Exit(1)
    for name, value in view.items():
        console.print(f"{name:<18} {value}")


@notify_app.command("template")
def notify_template(
    merchant: str,
    name: str,
    locale: Annotated[str, typer.Option(help="vi | en | ms")] = "en",
    subject: Annotated[str, typer.Option(help="subject line (a Jinja2 template)")] = "",
    text_file: Annotated[str | None, typer.Option("--text", help="text body file")] = None,
    html_file: Annotated[str | None, typer.Option("--html", help="HTML body file")] = None,
) -> None:
    """Store a merchant's template from files: an override of a built-in one
    (payment_confirmation, payment_failed, refund_issued, operator_alert,
    operator_alert_telegram) or an extra one an order names in `metadata.notify`."""
    from pathlib import Path

    from payhub.services.notifications import set_template

    if text_file is None:
        raise typer.BadParameter("--text FILE is required")
    set_template(
        _hub(),
        merchant,
        name,
        locale,
        subject=subject,
        text=Path(text_file).read_text(encoding="utf-8"),
        html=Path(html_file).read_text(encoding="utf-8") if html_file else None,
        actor="cli",
    )
    console.print(f"template {name} ({locale}) saved for {merchant}")


@notify_app.command("test")
def notify_test(merchant: Annotated[str, typer.Option(help="merchant id")]) -> None:
    """Send a test e-mail and Telegram message now and print what each answered."""
    from payhub.services.notifications import send_test_notifications

    hub = _hub()

    async def run() -> list[dict[str, object]]:
        try:
            return await send_test_notifications(hub, merchant)
        finally:
            await hub.http.aclose()

    failed = False
    for result in asyncio.run(run()):
        reason = f" ({result['reason']})" if result.get("reason") else ""
        console.print(
            f"{result['channel']:<9} {result['recipient'] or '-'}: {result['result']}{reason}"
        )
        failed = failed or result["result"] not in ("sent",)
    if failed:
        raise typer.Exit(1)


@credits_app.command("adjust")
def credits_adjust(
    merchant: str,
    customer: str,
    amount: Annotated[int, typer.Option(help="signed: credits to add, or to take (< 0)")],
    reason: Annotated[str, typer.Option(help="why: kept in the ledger and the audit log")],
) -> None:
    """Correct a customer's credit balance (never below zero)."""
    from payhub.errors import DomainError
    from payhub.services.ledger import adjust_credits

    try:
        movement = adjust_credits(_hub(), merchant, customer, amount, reason, "cli")
    except DomainError as exc:
        console.print(f"[red]refused:[/red] {exc.detail}")
        raise typer.Exit(1) from exc
    console.print(
        f"customer {customer}: {amount:+d} credits, balance {movement.entry.balance_after}"
    )


def _key_table(keys: list[dict[str, object]]) -> Table:
    table = Table("id", "prefix", "mode", "role", "label", "created", "last used", "state")
    for k in keys:
        state = "revoked" if k["revoked_at"] else "active"
        if not k["revoked_at"] and k["expires_at"]:
            state = f"expires {k['expires_at']}"
        table.add_row(
            str(k["id"]),
            str(k["prefix"]),
            str(k["mode"]),
            str(k["role"]),
            str(k["label"]),
            str(k["created_at"]),
            str(k["last_used_at"] or "never"),
            state,
        )
    return table


@key_app.command("create")
def key_create(
    merchant: str,
    mode: Annotated[str, typer.Option(help="test | live")] = "test",
    label: str = "",
    role: Annotated[str, typer.Option(help="owner | standard")] = "standard",
) -> None:
    """Issue an API key and print it once (a merchant's first key is its owner key)."""
    from payhub.services.api_keys import create_api_key

    issued = create_api_key(_hub(), merchant, mode=mode, label=label, role=role, actor="cli")
    console.print(_key_table([issued.view.as_dict()]))
    console.print(f"API key (shown once): {issued.key}", soft_wrap=True)


@key_app.command("list")
def key_list(merchant: str) -> None:
    """A merchant's API keys: prefix, mode, role, created, last used, revoked or expiring."""
    import anyio

    from payhub.store import reads

    keys = anyio.run(reads.api_keys, _hub().db, merchant)
    console.print(_key_table([k.as_dict() for k in keys]))


@key_app.command("revoke")
def key_revoke(key_id: str) -> None:
    """Revoke a key now: its next request is 401."""
    from payhub.services.api_keys import revoke_api_key

    view = revoke_api_key(_hub(), None, key_id, actor="cli")
    console.print(f"API key {view.id} ({view.prefix}…) revoked at {view.revoked_at}")


@key_app.command("rotate")
def key_rotate(
    key_id: str,
    overlap: Annotated[str, typer.Option(help="how long the old key keeps working")] = "24h",
) -> None:
    """Issue a replacement key (printed once); the old one works for the overlap
    (e.g. 24h, 90m, 7d at most), then 401."""
    from payhub.services.api_keys import parse_overlap, rotate_api_key

    issued, old = rotate_api_key(_hub(), None, key_id, overlap=parse_overlap(overlap), actor="cli")
    console.print(_key_table([old.as_dict(), issued.view.as_dict()]))
    console.print(f"new API key (shown once): {issued.key}", soft_wrap=True)
    console.print(f"{old.prefix}… keeps working until {old.expires_at}")


@customer_tokens_app.command("set")
def customer_tokens_set(
    merchant: str,
    issuer: Annotated[str, typer.Option(help="the tokens' iss")],
    audience: Annotated[str, typer.Option(help="the tokens' aud")],
    jwks_url: Annotated[str | None, typer.Option(help="the issuer's JWKS URL")] = None,
    secret_env: Annotated[
        str | None,
        typer.Option(help="name of an environment variable holding the HS256 shared secret"),
    ] = None,
    claim: Annotated[str, typer.Option(help="the claim holding the customer's id")] = "sub",
    alg: Annotated[list[str] | None, typer.Option(help="allowed algorithm (repeat)")] = None,
    live: Annotated[bool, typer.Option("--live/--test", help="the tokens' mode")] = False,
) -> None:
    """Trust an issuer's customer tokens for a merchant (JWKS URL or shared secret)."""
    from payhub.services.customer_tokens import set_issuer

    secret = None
    if secret_env is not None:
        secret = os.environ.get(secret_env)
        if not secret:
            raise typer.BadParameter(f"environment variable {secret_env} is empty or unset")
    view = set_issuer(
        _hub(),
        merchant,
        issuer=issuer,
        audience=audience,
        jwks_url=jwks_url,
        secret=secret,
        customer_claim=claim,
        algorithms=alg or None,
        livemode=live,
        actor="cli",
    )
    console.print(f"issuer {view.issuer} ({view.audience}) saved for {merchant}: {view.id}")


@customer_tokens_app.command("show")
def customer_tokens_show(merchant: str) -> None:
    """The issuers a merchant trusts (never the shared secret)."""
    from payhub.services.customer_tokens import list_issuers

    table = Table("issuer", "audience", "key", "claim", "algorithms", "mode")
    for view in list_issuers(_hub(), merchant):
        key = view.jwks_url or ("shared secret" if view.has_secret else "-")
        mode = "live" if view.livemode else "test"
        table.add_row(
            view.issuer, view.audience, key, view.customer_claim, ", ".join(view.algorithms), mode
        )
    console.print(table)


@customer_tokens_app.command("remove")
def customer_tokens_remove(
    merchant: str,
    issuer: Annotated[str, typer.Option(help="the tokens' iss")],
    audience: Annotated[str | None, typer.Option(help="only this aud")] = None,
) -> None:
    """Stop trusting an issuer: its tokens are refused from the next request on."""
    from payhub.services.customer_tokens import remove_issuer

    removed = remove_issuer(_hub(), merchant, issuer, audience=audience, actor="cli")
    console.print(f"{removed} issuer(s) removed for {merchant}")


@admin_app.command("create-user")
def admin_create_user(
    email: Annotated[str, typer.Option(help="the login")],
    role: Annotated[str, typer.Option(help="owner | operator | viewer")] = "owner",
    merchant: Annotated[str | None, typer.Option(help="the user's merchant id")] = None,
    hub_admin: Annotated[
        bool, typer.Option("--hub-admin", help="no merchant: switches between all of them")
    ] = False,
    name: Annotated[str, typer.Option(help="display name")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Create a console user. The password is asked for (twice) or read from stdin, never
    taken from the command line, where the shell history would keep it."""
    import sys

    from payhub.domain.errors import DomainError
    from payhub.services.console_users import create_user

    if hub_admin == (merchant is not None):
        raise typer.BadParameter("give either --merchant MID or --hub-admin")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user_id = create_user(
            _hub(),
            email=email,
            password=password,
            role=role,
            merchant_id=None if hub_admin else merchant,
            name=name,
            actor="cli",
        )
    except DomainError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from None
    where = "hub admin" if hub_admin else f"merchant {merchant}"
    console.print(f"console user [bold]{user_id}[/bold] ({email.strip().lower()}, {role}, {where})")
