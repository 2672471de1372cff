"""`validate_credentials` of every registered gateway, against its simulator served on
loopback: good credentials are valid, a wrong secret is invalid with the gateway's own
documented code, and an unreachable or failing gateway is unknown (None), never valid."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from payhub.gateways.base import CredentialCheck, Environment, GatewayConfig
from payhub.gateways.registry import entry, gateway_names
from payhub.secret import Secret
from tests.support.hub import simulator_app
from tests.support.servers import free_port, serve_app

pytestmark = pytest.mark.anyio

# gateway -> (credential or setting to spoil, the gateway's answer to it)
WRONG: dict[str, list[tuple[str, str]]] = {
    "payos": [("api_key", "401"), ("client_id", "401")],
    "vnpay": [("hash_secret", "97"), ("tmn_code", "02")],
    "momo": [("secret_key", "20"), ("access_key", "20"), ("partner_code", "13")],
    "toyyibpay": [
        ("user_secret_key", "KEY-DID-NOT-EXIST"),
        ("category_code", "CATEGORY-DOES-NOT-EXIST"),
    ],
}


def test_every_gateway_has_wrong_credential_cases() -> None:
    assert sorted(WRONG) == sorted(gateway_names())


@pytest.fixture(scope="module")
def sims() -> Iterator[dict[str, str]]:
    """Every gateway's simulator, served on its own loopback port for the module."""
    urls: dict[str, str] = {}
    servers = []
    try:
        for name in gateway_names():
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            server = serve_app(simulator_app(name, url), port)
            server.__enter__()
            servers.append(server)
            urls[name] = url
        yield urls
    finally:
        for server in reversed(servers):
            server.__exit__(None, None, None)


def _config(gateway: str, base_url: str, **changes: str) -> GatewayConfig:
    gw = entry(gateway)
    profile = gw.sandbox_profile()
    names = {f.name for f in gw.adapter.credential_fields}
    creds = {k: v for k, v in profile.credentials.items() if k in names}
    settings = {
        **{k: v for k, v in profile.credentials.items() if k not in names},
        **profile.settings,
    }
    for key, value in changes.items():
        if key in names:
            creds[key] = value
        else:
            settings[key] = value
    return GatewayConfig(
        credentials={k: Secret(v) for k, v in creds.items()},
        base_url=base_url,
        environment=Environment.SIMULATOR,
        settings=settings,
    )


async def _check(gateway: str, base_url: str, **changes: str) -> CredentialCheck:
    async with httpx.AsyncClient(timeout=5) as http:
        adapter = entry(gateway).adapter(_config(gateway, base_url, **changes), http)
        return await adapter.validate_credentials()


def _secret_values(gateway: str) -> list[str]:
    gw = entry(gateway)
    profile = gw.sandbox_profile()
    secret = {f.name for f in gw.adapter.credential_fields if f.secret}
    return [v for k, v in profile.credentials.items() if k in secret and v]


@pytest.mark.parametrize("gateway", gateway_names())
async def test_good_credentials_are_valid(gateway: str, sims: dict[str, str]) -> None:
    check = await _check(gateway, sims[gateway])
    assert check.valid is True, check
    assert check.checked_with
    for value in _secret_values(gateway):
        assert value not in check.message


@pytest.mark.parametrize(
    ("gateway", "field", "code"),
    [(g, f, c) for g, cases in WRONG.items() for f, c in cases],
)
async def test_a_wrong_credential_is_invalid_with_the_gateways_code(
    gateway: str, field: str, code: str, sims: dict[str, str]
) -> None:
    wrong = "wrongvalue0000000000000000000000"
    check = await _check(gateway, sims[gateway], **{field: wrong})
    assert check.valid is False, check
    assert check.code == code
    assert wrong not in check.message
    for value in _secret_values(gateway):
        assert value not in check.message


async def test_toyyibpay_without_a_category_checks_the_key_alone(sims: dict[str, str]) -> None:
    good = await _check("toyyibpay", sims["toyyibpay"], category_code="")
    assert (good.valid, good.code, good.checked_with) == (True, "success", "checkDuitNowQRStatus")
    bad = await _check("toyyibpay", sims["toyyibpay"], category_code="", user_secret_key="x-y")
    assert (bad.valid, bad.code) == (False, "error")
    assert "Invalid userSecretKey" in bad.message


@pytest.mark.parametrize("gateway", gateway_names())
async def test_an_unreachable_gateway_is_unknown(gateway: str) -> None:
    check = await _check(gateway, f"http://127.0.0.1:{free_port()}")
    assert check.valid is None, check
    assert check.code == "connection"


async def _fail(request: Request) -> PlainTextResponse:
    return PlainTextResponse("upstream exploded", status_code=503)


@pytest.fixture(scope="module")
def failing() -> Iterator[str]:
    """A server that answers 503 to everything, as a gateway in trouble does."""
    app = Starlette(routes=[Route("/{path:path}", _fail, methods=["GET", "POST"])])
    with serve_app(app) as url:
        yield url


@pytest.mark.parametrize("gateway", gateway_names())
async def test_a_failing_gateway_is_unknown(gateway: str, failing: str) -> None:
    check = await _check(gateway, failing)
    assert check.valid is None, check


@pytest.mark.parametrize("gateway", gateway_names())
async def test_a_missing_credential_is_invalid_without_a_call(gateway: str, failing: str) -> None:
    fields = [f.name for f in entry(gateway).adapter.credential_fields if f.required]
    config = _config(gateway, failing)
    creds: Mapping[str, Secret] = {k: v for k, v in config.credentials.items() if k != fields[0]}
    async with httpx.AsyncClient(timeout=5) as http:
        adapter = entry(gateway).adapter(
            GatewayConfig(creds, config.base_url, config.environment, config.settings), http
        )
        check = await adapter.validate_credentials()
    assert check.valid is False, check
