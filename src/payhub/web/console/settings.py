"""The console's settings page (`/console/settings`): the merchant's name, logo, brand
colour and default locale (what the hosted checkout shows), and the notification settings
(SMTP, Telegram chat ids, operator addresses) with a "send test" button.

The SMTP password and the Telegram bot token are write-only, like gateway credentials:
the page says whether each is set, its inputs are always empty, an empty input keeps the
stored value and a ticked "clear" box removes it. Changes go through
`services.merchants.update_merchant_profile` and `services.notifications`.
"""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Form
from fastapi.responses import Response

from payhub.services import notifications
from payhub.services.merchants import LOCALES, update_merchant_profile
from payhub.services.notifications import NotificationSettingsChange
from payhub.services.notify_channels import SECURITIES
from payhub.store import reads
from payhub.web.console.auth import ConsoleDep, allowed
from payhub.web.console.i18n import translator
from payhub.web.console.rendering import Console
from payhub.web.console.roles import Action

router = APIRouter()


def _list(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


async def _page(console: Console, test_results: list[dict[str, object]] | None = None) -> Response:
    profile = await reads.merchant_profile(console.hub.db, console.merchant_id)
    notify = await to_thread.run_sync(
        lambda: notifications.show_settings(console.hub, console.merchant_id)
    )
    return console.render(
        "settings/index.html",
        title="Settings",
        profile=profile,
        notify=notify or {},
        locales=LOCALES,
        securities=SECURITIES,
        test_results=test_results,
    )


@router.get("/settings")
async def settings_page(console: ConsoleDep) -> Response:
    return await _page(console)


@router.post("/settings/profile")
async def save_profile(
    console: Annotated[Console, allowed(Action.SETTINGS)],
    name: Annotated[str, Form(min_length=1, max_length=200)],
    logo_url: Annotated[str, Form(max_length=1000)] = "",
    brand_color: Annotated[str, Form(max_length=7)] = "",
    default_locale: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """An empty logo, colour or locale clears it (the checkout then uses its defaults)."""
    await to_thread.run_sync(
        lambda: update_merchant_profile(
            console.hub,
            console.merchant_id,
            name=name,
            logo_url=logo_url.strip() or None,
            brand_color=brand_color.strip() or None,
            default_locale=default_locale.strip() or None,
            actor=console.actor,
        )
    )
    _ = translator(console.locale)
    return console.redirect("/settings", flash=_("Settings saved."))


@router.post("/settings/notifications")
async def save_notifications(
    console: Annotated[Console, allowed(Action.SETTINGS)],
    smtp_host: Annotated[str, Form(max_length=255)] = "",
    smtp_port: Annotated[int | None, Form(ge=0, le=65535)] = None,
    smtp_security: Annotated[str, Form(max_length=16)] = "starttls",
    smtp_user: Annotated[str, Form(max_length=320)] = "",
    smtp_password: Annotated[str, Form(max_length=1024)] = "",
    clear_smtp_password: Annotated[bool, Form()] = False,
    sender_address: Annotated[str, Form(max_length=320)] = "",
    sender_name: Annotated[str, Form(max_length=200)] = "",
    telegram_bot_token: Annotated[str, Form(max_length=1024)] = "",
    clear_telegram_bot_token: Annotated[bool, Form()] = False,
    telegram_chat_ids: Annotated[str, Form(max_length=2000)] = "",
    operator_emails: Annotated[str, Form(max_length=4000)] = "",
    customer_emails: Annotated[bool, Form()] = False,
) -> Response:
    """Every field is saved as given (empty clears it), except the two secrets: empty keeps
    the stored one, "clear" removes it."""
    change = NotificationSettingsChange(
        smtp_host=smtp_host.strip(),
        smtp_port=smtp_port or None,  # empty keeps the port (the service refuses 0)
        smtp_security=smtp_security,
        smtp_user=smtp_user.strip(),
        smtp_password="" if clear_smtp_password else (smtp_password or None),
        sender_address=sender_address.strip(),
        sender_name=sender_name.strip(),
        telegram_bot_token="" if clear_telegram_bot_token else (telegram_bot_token or None),
        telegram_chat_ids=_list(telegram_chat_ids),
        operator_emails=_list(operator_emails),
        customer_emails=customer_emails,
    )
    await to_thread.run_sync(
        lambda: notifications.configure_notifications(
            console.hub, console.merchant_id, change, actor=console.actor
        )
    )
    _ = translator(console.locale)
    return console.redirect("/settings", flash=_("Notification settings saved."))


@router.post("/settings/notifications/test")
async def send_test(console: Annotated[Console, allowed(Action.SETTINGS)]) -> Response:
    results = await notifications.send_test_notifications(console.hub, console.merchant_id)
    return await _page(console, test_results=results)
