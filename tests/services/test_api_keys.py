"""API keys on both databases: issued (the first is the owner key), listed, revoked at once,
rotated with an overlap that ends on the FrozenClock, last use stamped at most once a
minute, and the key routes refused to standard keys. Requests go through the real app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from payhub.asgi import create_app
from payhub.clock import FrozenClock
from payhub.domain.errors import Conflict, InvalidRequest, NotFound, Unauthorized
from payhub.services import api_keys
from payhub.store import reads
from payhub.store.models import ApiKey, AuditEntry
from tests.services.conftest import Env

pytestmark = pytest.mark.anyio


@pytest.fixture
async def http(env: Env) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(env.hub))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def authenticate(env: Env, key: str) -> api_keys.Principal:
    with env.hub.db.session() as session:
        return api_keys.authenticate_api_key(session, key, env.hub.clock.now())


async def test_keys_are_issued_listed_and_audited_by_prefix(env: Env) -> None:
    [seeded] = await reads.api_keys(env.hub.db, env.merchant_id)
    assert seeded.role == "owner"  # the merchant's first key
    issued = api_keys.create_api_key(
        env.hub, env.merchant_id, mode="live", label="backend", actor="test"
    )
    assert issued.key.startswith("sk_live_") and issued.view.role == "standard"
    keys = await reads.api_keys(env.hub.db, env.merchant_id)
    assert [(k.mode, k.role) for k in keys] == [("test", "owner"), ("live", "standard")]
    listed = keys[1].as_dict()
    assert listed["prefix"] == issued.key[:16] and listed["livemode"] is True
    assert issued.key not in str(listed)
    row = env.one(ApiKey, id=issued.view.id)
    assert row["key_hash"] == api_keys.hash_api_key(issued.key) and issued.key not in str(row)
    audit = env.one(AuditEntry, action="api_key.issued", subject=issued.view.id)
    assert audit["after"]["prefix"] == issued.key[:16] and issued.key not in str(audit)
    with pytest.raises(InvalidRequest):
        api_keys.create_api_key(env.hub, env.merchant_id, mode="prod", actor="test")
    with pytest.raises(NotFound):
        api_keys.create_api_key(env.hub, "mer_nobody", actor="test")


async def test_a_revoked_key_is_refused_at_once(env: Env, http: httpx.AsyncClient) -> None:
    issued = api_keys.create_api_key(env.hub, env.merchant_id, actor="test")
    assert (await http.get("/v1/orders", headers=bearer(issued.key))).status_code == 200
    view = api_keys.revoke_api_key(env.hub, env.merchant_id, issued.view.id, actor="test")
    assert view.revoked_at is not None
    r = await http.get("/v1/orders", headers=bearer(issued.key))
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    with pytest.raises(Unauthorized):
        authenticate(env, issued.key)
    assert env.count(AuditEntry, action="api_key.revoked", subject=issued.view.id) == 1
    # Another merchant's key id is unknown to this merchant.
    with pytest.raises(NotFound):
        api_keys.revoke_api_key(env.hub, "mer_other", issued.view.id, actor="test")


async def test_rotation_keeps_the_old_key_for_the_overlap_only(
    env: Env, frozen: FrozenClock, http: httpx.AsyncClient
) -> None:
    old = api_keys.create_api_key(env.hub, env.merchant_id, label="app", actor="test")
    new, old_view = api_keys.rotate_api_key(
        env.hub, env.merchant_id, old.view.id, overlap=timedelta(hours=2), actor="test"
    )
    assert old_view.expires_at == frozen.now() + timedelta(hours=2)
    assert old_view.replaced_by == new.view.id
    assert (new.view.mode, new.view.role, new.view.label) == ("test", "standard", "app")
    frozen.advance(timedelta(hours=2) - timedelta(seconds=1))
    assert authenticate(env, old.key).key_id == old.view.id  # still inside the overlap
    assert (await http.get("/v1/orders", headers=bearer(old.key))).status_code == 200
    frozen.advance(timedelta(seconds=1))
    with pytest.raises(Unauthorized):
        authenticate(env, old.key)
    assert (await http.get("/v1/orders", headers=bearer(old.key))).status_code == 401
    assert (await http.get("/v1/orders", headers=bearer(new.key))).status_code == 200
    # An expired key cannot be rotated again, nor can an overlap exceed 7 days.
    with pytest.raises(Conflict):
        api_keys.rotate_api_key(env.hub, env.merchant_id, old.view.id, actor="test")
    with pytest.raises(InvalidRequest):
        api_keys.rotate_api_key(
            env.hub, env.merchant_id, new.view.id, overlap=timedelta(days=8), actor="test"
        )
    audit = env.one(AuditEntry, action="api_key.rotated", subject=old.view.id)
    assert audit["after"]["prefix"] == new.key[:16] and new.key not in str(audit)


async def test_last_use_is_stamped_at_most_once_a_minute(
    env: Env, frozen: FrozenClock, http: httpx.AsyncClient
) -> None:
    issued = api_keys.create_api_key(env.hub, env.merchant_id, actor="test")
    assert env.one(ApiKey, id=issued.view.id)["last_used_at"] is None
    await http.get("/v1/orders", headers=bearer(issued.key))
    first = env.one(ApiKey, id=issued.view.id)["last_used_at"]
    assert first is not None
    frozen.advance(timedelta(seconds=59))
    await http.get("/v1/orders", headers=bearer(issued.key))
    assert env.one(ApiKey, id=issued.view.id)["last_used_at"] == first
    frozen.advance(timedelta(seconds=1))
    await http.get("/v1/orders", headers=bearer(issued.key))
    later = env.one(ApiKey, id=issued.view.id)["last_used_at"]
    assert later is not None and later > first


async def test_only_owner_keys_manage_keys_over_the_api(env: Env, http: httpx.AsyncClient) -> None:
    owner = bearer(env.th.api_key)
    standard = api_keys.create_api_key(env.hub, env.merchant_id, actor="test")
    for method, path in [
        ("GET", "/v1/api_keys"),
        ("POST", "/v1/api_keys"),
        ("POST", f"/v1/api_keys/{standard.view.id}/revoke"),
        ("POST", f"/v1/api_keys/{standard.view.id}/rotate"),
    ]:
        r = await http.request(method, path, headers=bearer(standard.key), json={})
        assert r.status_code == 403, (method, path, r.text)

    created = await http.post(
        "/v1/api_keys",
        headers={**owner, "Idempotency-Key": "make-key-1"},
        json={"mode": "live", "label": "ci"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["key"].startswith("sk_live_") and body["role"] == "standard"
    # The idempotent replay does not hold the key.
    replay = await http.post(
        "/v1/api_keys",
        headers={**owner, "Idempotency-Key": "make-key-1"},
        json={"mode": "live", "label": "ci"},
    )
    assert replay.status_code == 201 and replay.json()["key"] is None
    assert replay.json()["key_redacted"] is True

    listed = (await http.get("/v1/api_keys", headers=owner)).json()["data"]
    assert body["id"] in [k["id"] for k in listed]
    assert all("key" not in k and "key_hash" not in k for k in listed)

    rotated = await http.post(
        f"/v1/api_keys/{body['id']}/rotate", headers=owner, json={"overlap_seconds": 60}
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["replaces"]["id"] == body["id"]
    too_long = await http.post(
        f"/v1/api_keys/{rotated.json()['id']}/rotate",
        headers=owner,
        json={"overlap_seconds": 8 * 86400},
    )
    assert too_long.status_code == 422

    revoked = await http.post(f"/v1/api_keys/{rotated.json()['id']}/revoke", headers=owner)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert (await http.get("/v1/orders", headers=bearer(rotated.json()["key"]))).status_code == 401
    unknown = await http.post("/v1/api_keys/key_nope/revoke", headers=owner)
    assert unknown.status_code == 404
