"""A merchant's profile: name and checkout branding, validated, audited, read back."""

from __future__ import annotations

import pytest

from payhub.domain.errors import InvalidRequest, NotFound
from payhub.services.merchants import update_merchant_profile
from payhub.store import reads
from payhub.store.models import AuditEntry, Merchant
from tests.services.conftest import Env

pytestmark = pytest.mark.anyio


async def test_branding_is_saved_audited_and_read(env: Env) -> None:
    view = update_merchant_profile(
        env.hub,
        env.merchant_id,
        name="Tiệm Hoa Sen",
        logo_url="https://cdn.example.com/logo.png",
        brand_color="#E4007C",
        default_locale="vi",
        actor="test",
    )
    assert view["brand_color"] == "#e4007c"
    profile = await reads.merchant_profile(env.hub.db, env.merchant_id)
    assert profile is not None
    assert (profile.name, profile.logo_url, profile.default_locale) == (
        "Tiệm Hoa Sen",
        "https://cdn.example.com/logo.png",
        "vi",
    )
    audit = env.one(AuditEntry, action="merchant.profile_updated")
    assert audit["actor"] == "test"
    # A field left out is kept; None clears it.
    update_merchant_profile(env.hub, env.merchant_id, logo_url=None, actor="test")
    row = env.one(Merchant, id=env.merchant_id)
    assert (row["logo_url"], row["brand_color"]) == (None, "#e4007c")


@pytest.mark.parametrize(
    "change",
    [
        {"brand_color": "red"},
        {"brand_color": "#12345"},
        {"default_locale": "fr"},
        {"logo_url": "javascript:alert(1)"},
        {"logo_url": "//evil.example/x.png"},
        {"logo_url": 'https://x.example/"onerror="x'},
        {"name": " "},
    ],
)
async def test_bad_branding_is_refused_and_changes_nothing(
    env: Env, change: dict[str, str]
) -> None:
    before = env.one(Merchant, id=env.merchant_id)
    with pytest.raises(InvalidRequest):
        update_merchant_profile(env.hub, env.merchant_id, actor="test", **change)
    assert env.one(Merchant, id=env.merchant_id) == before


async def test_an_unknown_merchant_is_not_found(env: Env) -> None:
    with pytest.raises(NotFound):
        update_merchant_profile(env.hub, "mer_nope", name="x", actor="test")


async def test_orders_carry_their_mode(env: Env) -> None:
    order_id = env.order()
    assert env.order_row(order_id)["livemode"] in (False, 0)
    live_id = env.order(livemode=True)
    assert env.order_row(live_id)["livemode"] in (True, 1)
    view = await reads.order_view(env.hub.db, env.merchant_id, order_id)
    assert view is not None and view.as_dict()["livemode"] is False
