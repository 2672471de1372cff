"""The console's gateways page (`/console/gateways`): each gateway account's environment,
enabled state, priority, amount limits and which credentials are set; owners set or
replace credentials and enable or disable an account.

Credentials are write-only: the page says only whether a field is "set" (the read model
does not even read the ciphertext), the form's inputs are always empty, and an empty input
leaves the stored value as it is. Every change goes through `services.accounts`, audited
with the console user as the actor.
"""

from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Form
from fastapi.responses import Response

from payhub.domain.errors import InvalidRequest, NotFound
from payhub.gateways.base import Environment
from payhub.gateways.registry import entry, gateway_names
from payhub.services.accounts import configure_account
from payhub.services.credential_check import validate_account
from payhub.services.routing import gateway_health_view, set_priority, switch_environment
from payhub.store import reads
from payhub.web.console.auth import ConsoleDep, allowed
from payhub.web.console.i18n import translator
from payhub.web.console.rendering import Console
from payhub.web.console.roles import Action

router = APIRouter()

CREDENTIAL_PREFIX = "credential."
MAX_CREDENTIAL_LENGTH = 4096


def _environments(console: Console) -> list[str]:
    if console.hub.settings.production:
        return [Environment.SANDBOX.value, Environment.PRODUCTION.value]
    return [e.value for e in Environment]


def _gateway_facts(name: str) -> dict[str, Any]:
    adapter = entry(name).adapter
    return {
        "name": name,
        "fields": [
            {
                "name": f.name,
                "secret": f.secret,
                "required": f.required,
                "description": f.description,
            }
            for f in adapter.credential_fields
        ],
        "limits": [
            {
                "currency": currency,
                "min": limits.min_minor,
                "max": limits.max_minor,
            }
            for currency, limits in sorted(adapter.capabilities.currencies.items())
        ],
    }


@router.get("/gateways")
async def gateways_page(console: ConsoleDep) -> Response:
    accounts = await reads.gateway_accounts(console.hub.db, console.merchant_id)
    facts = {name: _gateway_facts(name) for name in gateway_names()}
    health = {
        h.account_id: h
        for h in await to_thread.run_sync(
            lambda: gateway_health_view(console.hub, console.merchant_id)
        )
    }
    pairs = {(a.gateway, a.environment) for a in accounts}
    return console.render(
        "gateways/index.html",
        title="Gateways",
        accounts=accounts,
        facts=facts,
        environments=_environments(console),
        health=health,
        pairs=pairs,
    )


def _environment(value: str) -> Environment:
    try:
        return Environment(value)
    except ValueError:
        raise InvalidRequest(f"unknown environment {value[:40]!r}") from None


@router.post("/gateways/credentials")
async def set_credentials(
    console: Annotated[Console, allowed(Action.GATEWAY_CREDENTIALS)],
    gateway: Annotated[str, Form(min_length=1, max_length=40)],
    environment: Annotated[str, Form(min_length=1, max_length=40)],
) -> Response:
    """Create the account for (gateway, environment), or replace the credential fields
    given on an existing one; its enabled state and priority are kept."""
    if gateway not in gateway_names():
        raise InvalidRequest(f"unknown gateway {gateway[:40]!r}")
    env = _environment(environment)
    form = await console.request.form()
    known = {f.name for f in entry(gateway).adapter.credential_fields}
    credentials: dict[str, str] = {}
    for key, value in form.multi_items():
        if not key.startswith(CREDENTIAL_PREFIX) or not isinstance(value, str):
            continue
        name = key.removeprefix(CREDENTIAL_PREFIX)
        if name not in known:
            raise InvalidRequest(f"{gateway} has no credential field {name[:40]!r}")
        if len(value) > MAX_CREDENTIAL_LENGTH:
            raise InvalidRequest(f"{name} is longer than {MAX_CREDENTIAL_LENGTH} characters")
        if value.strip():
            credentials[name] = value.strip()
    existing = next(
        (
            a
            for a in await reads.gateway_accounts(console.hub.db, console.merchant_id)
            if a.gateway == gateway and a.environment == env.value
        ),
        None,
    )
    if existing is None and not credentials:
        raise InvalidRequest("give at least one credential to create the account")
    await to_thread.run_sync(
        lambda: configure_account(
            console.hub,
            merchant_id=console.merchant_id,
            gateway=gateway,
            environment=env,
            credentials=credentials,
            enabled=existing.enabled if existing else True,
            priority=existing.priority if existing else 100,
            actor=console.actor,
            source_ip=console.client_ip,
        )
    )
    _ = translator(console.locale)
    return console.redirect("/gateways", flash=_("Credentials saved."))


async def _account(console: Console, account_id: str) -> reads.GatewayAccountView:
    for account in await reads.gateway_accounts(console.hub.db, console.merchant_id):
        if account.id == account_id:
            return account
    raise NotFound(f"no gateway account {account_id[:40]}")


@router.post("/gateways/{account_id}/validate")
async def validate_now(
    console: Annotated[Console, allowed(Action.GATEWAY_MANAGE)], account_id: str
) -> Response:
    """Ask the gateway whether the account's credentials are good (one harmless call);
    the answer is stored on the account and audited by `services.credential_check`."""
    account = await _account(console, account_id)
    result = await validate_account(
        console.hub,
        console.merchant_id,
        account.gateway,
        Environment(account.environment),
        actor=console.actor,
        source_ip=console.client_ip,
    )
    _ = translator(console.locale)
    verdict = {"valid": _("Credentials are valid."), "invalid": _("Credentials are invalid.")}
    text = verdict.get(result.verdict, _("The gateway could not tell whether they are valid."))
    kind = {"valid": "ok", "invalid": "bad"}.get(result.verdict, "warn")
    return console.redirect("/gateways", flash=f"{account.gateway}: {text}", kind=kind)


@router.post("/gateways/{account_id}/priority")
async def change_priority(
    console: Annotated[Console, allowed(Action.GATEWAY_MANAGE)],
    account_id: str,
    priority: Annotated[int, Form(ge=0, le=1_000_000)],
) -> Response:
    """Lower is tried first (`services.routing.set_priority`)."""
    account = await _account(console, account_id)
    await to_thread.run_sync(
        lambda: set_priority(
            console.hub,
            console.merchant_id,
            account.gateway,
            Environment(account.environment),
            priority,
            actor=console.actor,
            source_ip=console.client_ip,
        )
    )
    _ = translator(console.locale)
    return console.redirect("/gateways", flash=_("Priority saved."))


@router.post("/gateways/{account_id}/switch")
async def switch(
    console: Annotated[Console, allowed(Action.GATEWAY_MANAGE)], account_id: str
) -> Response:
    """Enable this sandbox or production account and disable the gateway's account in the
    other one, in one audited transaction (`services.routing.switch_environment`)."""
    account = await _account(console, account_id)
    await to_thread.run_sync(
        lambda: switch_environment(
            console.hub,
            console.merchant_id,
            account.gateway,
            _environment(account.environment),
            actor=console.actor,
            source_ip=console.client_ip,
        )
    )
    _ = translator(console.locale)
    return console.redirect(
        "/gateways", flash=f"{account.gateway}: " + _("switched to") + f" {_(account.environment)}"
    )


@router.post("/gateways/{account_id}/enabled")
async def set_enabled(
    console: Annotated[Console, allowed(Action.GATEWAY_MANAGE)],
    account_id: str,
    enabled: Annotated[bool, Form()],
) -> Response:
    account = await _account(console, account_id)
    await to_thread.run_sync(
        lambda: configure_account(
            console.hub,
            merchant_id=console.merchant_id,
            gateway=account.gateway,
            environment=Environment(account.environment),
            credentials={},
            enabled=enabled,
            priority=account.priority,
            actor=console.actor,
            source_ip=console.client_ip,
        )
    )
    _ = translator(console.locale)
    return console.redirect(
        "/gateways", flash=_("Gateway enabled.") if enabled else _("Gateway disabled.")
    )
