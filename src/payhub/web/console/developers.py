"""The console's developers page (`/console/developers`): webhook endpoints, API keys and
the event log with each event's deliveries.

A new endpoint's `whsec_` secret, a rotated one and a new API key are shown once, on the
page that answers the POST (served `no-store` like every console page), and never again:
the store keeps the secret encrypted and only a hash of the key. Changes go through
`services.webhooks`, `services.webhook_endpoints` and `services.merchants`, audited with
the console user as the actor.
"""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Form
from fastapi.responses import Response

from payhub.services import api_keys as keys_service
from payhub.services import webhook_endpoints, webhooks
from payhub.store import reads
from payhub.store.reads.console_pages import event_page
from payhub.store.reads.console_pages import webhook_endpoints as endpoints
from payhub.web.console.auth import ConsoleDep, allowed
from payhub.web.console.i18n import translator
from payhub.web.console.rendering import Console
from payhub.web.console.roles import Action

router = APIRouter()

EventTypes = Annotated[list[str], Form(max_length=20)]


@router.get("/developers")
async def developers_page(console: ConsoleDep) -> Response:
    merchant_id = console.merchant_id
    return console.render(
        "developers/index.html",
        title="Developers",
        endpoints=await endpoints(console.hub.db, merchant_id),
        keys=await reads.api_keys(console.hub.db, merchant_id),
        now=console.hub.clock.now(),
        event_types=webhooks.MERCHANT_EVENT_TYPES,
    )


def _shown_once(console: Console, title: str, label: str, value: str, note: str) -> Response:
    return console.render(
        "developers/shown_once.html", title=title, label=label, value=value, note=note
    )


@router.post("/developers/endpoints")
async def create_endpoint(
    console: Annotated[Console, allowed(Action.WEBHOOKS_MANAGE)],
    url: Annotated[str, Form(min_length=8, max_length=2000)],
    event_types: EventTypes = [],  # noqa: B006 - FastAPI copies form defaults
) -> Response:
    created = await to_thread.run_sync(
        lambda: webhooks.create_endpoint(
            console.hub, console.merchant_id, url.strip(), event_types, actor=console.actor
        )
    )
    _ = translator(console.locale)
    return _shown_once(
        console,
        "Webhook endpoint created",
        _("Signing secret of") + f" {created['url']}",
        str(created["secret"]),
        _("Copy it now: it is shown only once. Verify every delivery's signature with it."),
    )


@router.post("/developers/endpoints/{endpoint_id}/rotate")
async def rotate_secret(
    console: Annotated[Console, allowed(Action.WEBHOOKS_MANAGE)], endpoint_id: str
) -> Response:
    rotated = await to_thread.run_sync(
        lambda: webhook_endpoints.rotate_endpoint_secret(
            console.hub, console.merchant_id, endpoint_id, actor=console.actor
        )
    )
    _ = translator(console.locale)
    return _shown_once(
        console,
        "Secret rotated",
        _("New signing secret of") + f" {rotated['url']}",
        str(rotated["secret"]),
        _("Copy it now: it is shown only once. The old secret no longer signs deliveries."),
    )


@router.post("/developers/endpoints/{endpoint_id}/enabled")
async def set_endpoint_enabled(
    console: Annotated[Console, allowed(Action.WEBHOOKS_MANAGE)],
    endpoint_id: str,
    enabled: Annotated[bool, Form()],
) -> Response:
    if enabled:
        await to_thread.run_sync(
            lambda: webhook_endpoints.enable_endpoint(
                console.hub, console.merchant_id, endpoint_id, actor=console.actor
            )
        )
    else:
        await to_thread.run_sync(
            lambda: webhooks.disable_endpoint(
                console.hub, console.merchant_id, endpoint_id, actor=console.actor
            )
        )
    _ = translator(console.locale)
    return console.redirect(
        "/developers", flash=_("Endpoint enabled.") if enabled else _("Endpoint disabled.")
    )


@router.post("/developers/endpoints/{endpoint_id}/events")
async def set_event_filter(
    console: Annotated[Console, allowed(Action.WEBHOOKS_MANAGE)],
    endpoint_id: str,
    event_types: EventTypes = [],  # noqa: B006 - FastAPI copies form defaults
) -> Response:
    await to_thread.run_sync(
        lambda: webhook_endpoints.set_endpoint_event_types(
            console.hub, console.merchant_id, endpoint_id, event_types, actor=console.actor
        )
    )
    _ = translator(console.locale)
    return console.redirect("/developers", flash=_("Event filter saved."))


@router.post("/developers/keys")
async def issue_key(
    console: Annotated[Console, allowed(Action.API_KEYS)],
    mode: Annotated[str, Form(pattern="^(test|live)$")] = "test",
    label: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(pattern="^(owner|standard)$")] = "standard",
) -> Response:
    issued = await to_thread.run_sync(
        lambda: keys_service.create_api_key(
            console.hub,
            console.merchant_id,
            mode=mode,
            label=label.strip(),
            role=role,
            actor=console.actor,
        )
    )
    _ = translator(console.locale)
    return _shown_once(
        console,
        "API key created",
        _("API key") + (f" {label.strip()}" if label.strip() else ""),
        issued.key,
        _("Copy it now: it is shown only once. payhub keeps only its hash."),
    )


@router.post("/developers/keys/{key_id}/revoke")
async def revoke_key(
    console: Annotated[Console, allowed(Action.API_KEYS)], key_id: str
) -> Response:
    """Revoked at once: the next request with the key is refused (401)."""
    view = await to_thread.run_sync(
        lambda: keys_service.revoke_api_key(
            console.hub, console.merchant_id, key_id, actor=console.actor
        )
    )
    _ = translator(console.locale)
    return console.redirect("/developers", flash=_("API key revoked:") + f" {view.prefix}…")


@router.post("/developers/keys/{key_id}/rotate")
async def rotate_key(
    console: Annotated[Console, allowed(Action.API_KEYS)],
    key_id: str,
    overlap: Annotated[str, Form(max_length=10)] = "24h",
) -> Response:
    """A new key like the old one, shown once; the old one keeps working for `overlap`."""
    span = keys_service.parse_overlap(overlap or "24h")
    issued, old = await to_thread.run_sync(
        lambda: keys_service.rotate_api_key(
            console.hub, console.merchant_id, key_id, overlap=span, actor=console.actor
        )
    )
    _ = translator(console.locale)
    return _shown_once(
        console,
        "API key rotated",
        _("New API key replacing") + f" {old.prefix}…",
        issued.key,
        _("Copy it now: it is shown only once. The old key works until")
        + f" {old.expires_at.isoformat(timespec='minutes') if old.expires_at else '—'}.",
    )


@router.get("/developers/events")
async def events_page(console: ConsoleDep, type: str = "", cursor: str | None = None) -> Response:
    page = await event_page(
        console.hub.db, console.merchant_id, event_type=type[:64], cursor=cursor or None
    )
    return console.render("developers/events.html", title="Events", page=page, type=type)


@router.get("/developers/events/{event_id}")
async def event_detail(console: ConsoleDep, event_id: str) -> Response:
    """The event object as endpoints receive it, and its deliveries with their attempts."""
    event = await to_thread.run_sync(
        lambda: webhooks.get_event(console.hub, console.merchant_id, event_id)
    )
    deliveries = await to_thread.run_sync(
        lambda: webhooks.event_deliveries(console.hub, console.merchant_id, event_id)
    )
    urls = {e.id: e.url for e in await endpoints(console.hub.db, console.merchant_id)}
    return console.render(
        "developers/event.html", title="Event", event=event, deliveries=deliveries, urls=urls
    )


@router.post("/developers/events/{event_id}/redeliver")
async def redeliver(
    console: Annotated[Console, allowed(Action.REDELIVER)], event_id: str
) -> Response:
    count = await to_thread.run_sync(
        lambda: webhooks.redeliver(console.hub, console.merchant_id, event_id, actor=console.actor)
    )
    _ = translator(console.locale)
    return console.redirect(
        f"/developers/events/{event_id}", flash=_("Deliveries due again:") + f" {count}"
    )
