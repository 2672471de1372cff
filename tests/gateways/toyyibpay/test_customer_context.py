"""ToyyibPay's createBill has no parameter for the customer's IP, language or User-Agent:
a request that carries them sends the same form as one without them, none holding those
values. (The simulator keeps bills, not the raw form, so the form is read on the way out.)"""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from .test_adapter import checkout_request, make_adapter

pytestmark = pytest.mark.anyio


async def test_the_customer_context_changes_nothing_in_create_bill() -> None:
    forms: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        forms.append(dict(httpx.QueryParams(request.content.decode())))
        return httpx.Response(200, text='[{"BillCode":"gcbhict9"}]')

    adapter = make_adapter(handler)
    plain = checkout_request()
    await adapter.create_checkout(plain)
    await adapter.create_checkout(
        dataclasses.replace(
            plain, client_ip="203.0.113.7", locale="ms", user_agent="Mozilla/5.0 (Android)"
        )
    )
    assert len(forms) == 2 and forms[0] == forms[1]
    assert not set(forms[1].values()) & {"203.0.113.7", "ms", "Mozilla/5.0 (Android)"}
