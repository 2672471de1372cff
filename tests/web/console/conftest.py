"""A hub with console users, driven in-process over ASGI (real app, real database)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from payhub.services.console_users import create_user
from tests.support.hub import HubUnderTest, make_hub

PASSWORD = "correct horse battery"


@dataclass
class ConsoleClient:
    th: HubUnderTest
    client: httpx.AsyncClient

    async def login(self, email: str, password: str = PASSWORD) -> httpx.Response:
        form = await self.client.get("/console/login")
        token = csrf_of(form.text)
        return await self.client.post(
            "/console/login",
            data={"email": email, "password": password, "csrf_token": token, "next": "/console/"},
        )

    async def csrf(self, path: str = "/console/") -> str:
        return csrf_of((await self.client.get(path)).text)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def add_user(th: HubUnderTest, email: str, role: str, *, hub_admin: bool = False) -> str:
    return create_user(
        th.hub,
        email=email,
        password=PASSWORD,
        role=role,
        merchant_id=None if hub_admin else th.merchant_id,
        actor="test",
    )


@pytest.fixture
async def console(sqlite_url: str) -> AsyncIterator[ConsoleClient]:
    th = make_hub(sqlite_url)
    transport = httpx.ASGITransport(app=th.app, client=("203.0.113.7", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
        yield ConsoleClient(th, c)
    th.hub.db.dispose()
