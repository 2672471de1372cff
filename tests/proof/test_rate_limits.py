"""The probe of issue #11 (items 4 and 5) replayed against a real hub and the VNPay sandbox
over loopback: guessed API keys, forged customer tokens, guessed checkout links, an order
burst on one key, 400 unauthenticated 60 KB callbacks, 100 browser returns for one pending
payment. Each is refused with 429 + `Retry-After` (problem+json) once its budget is spent,
while the callers the budgets protect (a merchant elsewhere, the gateway's verified
callbacks) go through. Budgets are set tight here, per day (a sliding window counts the
previous window in part: a day's makes a test straddling a window's edge all but
impossible); the defaults are far above what any test or the demo does.

The hub trusts 127.0.0.1 as a proxy, so a request naming `X-Forwarded-For: 203.0.113.7`
comes from the attacker's address and one without it from 127.0.0.1."""

from __future__ import annotations

import functools
import hashlib
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from payhub.asgi import create_app
from payhub.services.hosted import result_path, result_token
from payhub.store.inbound_log import TRIMMED_BODY_BYTES
from tests.e2e.drivers.vnpay import DRIVER
from tests.support.conformance import PROBLEM, Env, running
from tests.support.hub import HubUnderTest
from tests.support.templates import seeded_hub

pytestmark = pytest.mark.e2e

ATTACKER = {"X-Forwarded-For": "203.0.113.7"}
CUSTOMER_SECRET = "customer-secret-for-tests-0123456789abcdef"  # tests.support.hub.make_hub


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def seeded(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], HubUnderTest]:
    return functools.partial(seeded_hub, request.param, tmp_path)


@pytest.fixture
def seeded_sqlite(tmp_path: Path) -> Callable[[str], HubUnderTest]:
    """The limits of the API do not depend on the database: SQLite only."""
    return functools.partial(seeded_hub, "sqlite", tmp_path)


@contextmanager
def hub(seeded: Callable[[str], HubUnderTest], **settings: Any) -> Iterator[Env]:
    """Hub (trusting 127.0.0.1 as a proxy, with `settings`) and VNPay sandbox on loopback."""

    def build(hub_url: str) -> HubUnderTest:
        th = seeded(hub_url)
        th.hub.settings = th.hub.settings.model_copy(
            update={"trusted_proxies": "127.0.0.1", **settings}
        )
        th.app = create_app(th.hub)
        return th

    with running(DRIVER, build) as env:
        yield env


def assert_rate_limited(r: httpx.Response, window: int = 86_400) -> None:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith(PROBLEM), r.headers
    body = r.json()
    assert body["type"] == "https://payhub.dev/problems/rate-limited", body
    assert body["status"] == 429 and body["retry_safe"] is True
    retry_after = int(r.headers["retry-after"])
    assert 1 <= retry_after <= window and body["retry_after"] == retry_after


def statuses(responses: list[httpx.Response]) -> list[int]:
    return [r.status_code for r in responses]


# ----------------------------------------------------------------------------- auth


def test_guessed_api_keys_get_401_then_429_and_a_merchant_elsewhere_is_not_slowed(
    seeded_sqlite: Callable[[str], HubUnderTest],
) -> None:
    with hub(seeded_sqlite, rate_limit_auth_failures_per_ip="5/day") as env:
        # The legitimate merchant first: 20 requests spend nothing of the failure budget.
        assert statuses([env.api.get("/v1/orders") for _ in range(20)]) == [200] * 20
        keys = [f"sk_test_{secrets.token_urlsafe(32)}" for _ in range(30)]
        guesses = [
            env.api.get("/v1/orders", headers={**ATTACKER, "Authorization": f"Bearer {key}"})
            for key in keys
        ]
        assert statuses(guesses[:5]) == [401] * 5
        for r in guesses[5:]:
            assert_rate_limited(r)
        # The attacker's address is refused, whatever it sends (even a real key); POSTs too.
        assert_rate_limited(env.api.get("/v1/orders", headers=ATTACKER))
        assert_rate_limited(env.api.post("/v1/orders", json={}, headers=ATTACKER))
        # The merchant, from its own address, is not slowed.
        assert statuses([env.api.get("/v1/orders") for _ in range(20)]) == [200] * 20


def test_forged_and_expired_customer_tokens_get_401_then_429(
    seeded_sqlite: Callable[[str], HubUnderTest],
) -> None:
    with hub(seeded_sqlite, rate_limit_auth_failures_per_ip="5/day") as env:
        order = env.order("jwt-1")
        mid = env.th.merchant_id

        def token(secret: str, exp: float, sub: str = "binh") -> str:
            claims = {"sub": sub, "mid": mid, "iat": int(exp) - 60, "exp": int(exp)}
            return jwt.encode(claims, secret, algorithm="HS256")

        now = time.time()
        forged = [token(secrets.token_hex(32), now + 60) for _ in range(4)]
        forged += [token(CUSTOMER_SECRET, now - 120), "eyJhbGciOiJub25lIn0.e30.", "x.y.z"]
        answers = [
            env.api.get(
                f"/v1/orders/{order['id']}",
                headers={**ATTACKER, "Authorization": f"Bearer {bad}"},
            )
            for bad in forged * 3
        ]
        assert statuses(answers[:5]) == [401] * 5
        for r in answers[5:]:
            assert_rate_limited(r)
        # The customer's real token, from the customer's address, works.
        own = env.api.get(
            f"/v1/orders/{order['id']}",
            headers={"Authorization": f"Bearer {token(CUSTOMER_SECRET, now + 60)}"},
        )
        assert own.status_code == 200, own.text


def test_guessed_checkout_link_tokens_get_403_then_429(
    seeded_sqlite: Callable[[str], HubUnderTest],
) -> None:
    with hub(seeded_sqlite, rate_limit_auth_failures_per_ip="5/day") as env:
        order = env.order("link-1")
        link = httpx.URL(order["hosted_checkout_url"])
        path = f"/pay/{order['id']}"
        with httpx.Client(base_url=env.hub_url, headers=ATTACKER, timeout=30) as browser:

            def guess() -> httpx.Response:
                return browser.get(path, params={"token": secrets.token_hex(16)})

            guesses = [guess() for _ in range(4)]
            guesses.append(browser.post(path, data={"gateway": "vnpay", "token": "0" * 32}))
            guesses += [guess() for _ in range(5)]
            # Even the right token is refused to the guesser now.
            guesses.append(browser.get(path, params={"token": link.params["token"]}))
        assert statuses(guesses[:5]) == [403] * 5
        for r in guesses[5:]:
            assert_rate_limited(r)
        # The customer's browser, elsewhere, opens its link.
        page = httpx.get(str(link), timeout=30)
        assert page.status_code == 200 and "vnpay" in page.text.lower()


# ----------------------------------------------------------------------------- per key


def test_an_order_burst_on_one_key_is_cut_at_its_write_budget(
    seeded_sqlite: Callable[[str], HubUnderTest],
) -> None:
    with hub(seeded_sqlite, rate_limit_writes_per_api_key="5/day") as env:
        body = {"currency": "VND", "items": [{"sku": "pack-100"}], "customer": DRIVER.customer}
        burst = [
            env.api.post("/v1/orders", json={**body, "merchant_reference": f"burst-{i}"})
            for i in range(12)
        ]
        assert statuses(burst[:5]) == [201] * 5
        for r in burst[5:]:
            assert_rate_limited(r)
        # A refused request did nothing: five orders, and the key can still read.
        assert env.count("orders") == 5
        assert env.api.get("/v1/orders").status_code == 200
        # Another key of the same merchant has its own budget.
        from payhub.services.merchants import issue_api_key

        other = issue_api_key(env.th.hub, env.th.merchant_id, actor="test")
        r = env.api.post(
            "/v1/orders",
            json={**body, "merchant_reference": "other-key"},
            headers={"Authorization": f"Bearer {other}"},
        )
        assert r.status_code == 201, r.text


def test_every_request_of_a_key_counts_against_its_budget(
    seeded_sqlite: Callable[[str], HubUnderTest],
) -> None:
    with hub(seeded_sqlite, rate_limit_per_api_key="10/day") as env:
        answers = [env.api.get("/v1/products") for _ in range(14)]
        assert statuses(answers[:10]) == [200] * 10
        for r in answers[10:]:
            assert_rate_limited(r)


# ----------------------------------------------------------------------------- callbacks


def database_bytes(env: Env) -> int:
    """The bytes the database's data occupies now (SQLite: pages in use, the WAL's
    included; PostgreSQL: pg_database_size)."""
    if env.th.hub.db.engine.dialect.name == "sqlite":
        pages = env.column("pragma page_count")[0] - env.column("pragma freelist_count")[0]
        return int(pages * env.column("pragma page_size")[0])
    return int(env.column("select pg_database_size(current_database())")[0])


def test_unverified_callbacks_are_kept_trimmed_and_limited_while_the_gateway_gets_through(
    seeded: Callable[[str], HubUnderTest],
) -> None:
    admitted = 50
    with hub(seeded, rate_limit_unverified_callbacks_per_ip=f"{admitted}/day") as env:
        before = database_bytes(env)
        first = b""
        answers: Counter[int] = Counter()
        with httpx.Client(base_url=env.hub_url, timeout=30) as attacker:
            for i in range(400):
                body = os.urandom(60_000)  # random: no compression can hide a whole body
                first = first or body
                r = attacker.post(
                    f"/callbacks/vnpay/gwa_nosuch{i % 7}",
                    content=body,
                    headers={"content-type": "application/x-www-form-urlencoded"},
                )
                answers[r.status_code] += 1
                if r.status_code == 429:
                    assert_rate_limited(r)
        assert answers == {404: admitted, 429: 400 - admitted}
        grown = database_bytes(env) - before
        # Each admitted row keeps 2 KiB of its body plus a row, an audit entry and index
        # entries (well under 1 KiB); a fixed allowance covers pages a table starts.
        # Untrimmed, 50 rows would be 3 MB; 400 rows of 2 KiB would be 800 KiB.
        bound = admitted * (TRIMMED_BODY_BYTES + 1024) + 256 * 1024
        assert grown <= bound, (grown, bound)
        rows = env.rows(
            "select body, body_size, body_sha256 from inbound_requests"
            " where outcome = 'unknown_account' order by id"
        )
        assert len(rows) == admitted
        assert all(len(bytes(b)) == TRIMMED_BODY_BYTES and size == 60_000 for b, size, _ in rows)
        assert bytes(rows[0][0]) == first[:TRIMMED_BODY_BYTES]
        assert rows[0][2] == hashlib.sha256(first).hexdigest()

        # The budget of the address is spent; a verified IPN from that same address (the
        # sandbox runs on 127.0.0.1 too) still settles the order.
        order = env.order("after-the-storm")
        payment = env.start(order["id"])
        DRIVER.pay(env, payment)
        assert env.wait_status(order["id"], "paid")["status"] == "paid"
        [delivery] = DRIVER.deliveries(env, payment)
        assert env.acks(delivery) == [DRIVER.ack_ok]
        # A forged IPN for the known account verifies nothing: refused, not recorded.
        logged = env.count("inbound_requests")
        forged = httpx.get(env.callback_url + "?vnp_TxnRef=x&vnp_SecureHash=00", timeout=30)
        assert_rate_limited(forged)
        assert env.count("inbound_requests") == logged
        env.no_violations()


# ----------------------------------------------------------------------------- returns


def test_browser_returns_for_a_pending_payment_query_the_gateway_once_per_interval(
    seeded: Callable[[str], HubUnderTest],
) -> None:
    with hub(seeded, return_query_interval_seconds=3600) as env:
        order = env.order("returns-1")
        payment = env.start(order["id"])
        DRIVER.check_checkout(env, payment)  # the buyer opened the pay URL; not paid yet
        return_url = env.hub_url + env.return_path(payment["id"])
        with httpx.Client(timeout=30) as browser:
            returns = [browser.get(return_url) for _ in range(100)]
        assert {(r.status_code, r.headers["location"]) for r in returns} == {
            (303, result_path(env.th.hub, payment["id"]))
        }
        queries = env.sim.get("/__sim/queries")
        assert queries.status_code == 200, queries.text
        assert queries.json()["querydr"] == {payment["gateway_reference"]: 1}
        # Each return still leaves its row (trimmed: none of them is signed) and shows
        # the stored state.
        assert env.count("inbound_requests", "kind = 'return' and body_sha256 is not null") == 100
        token = result_token(env.th.hub, payment["id"])
        status = httpx.get(
            f"{env.hub_url}/pay/status/{payment['id']}?token={token}", timeout=30
        ).json()
        assert status["status"] == "pending"
        # Paying settles through the IPN, as ever; the return afterwards needs no query.
        DRIVER.pay(env, payment)
        assert env.wait_status(order["id"], "paid")["status"] == "paid"
        assert httpx.get(return_url, timeout=30).status_code == 303
        assert env.sim.get("/__sim/queries").json()["querydr"] == {payment["gateway_reference"]: 1}
        env.no_violations()


def test_public_routes_are_limited_per_client_address(
    seeded_sqlite: Callable[[str], HubUnderTest],
) -> None:
    with hub(seeded_sqlite, rate_limit_public_per_ip="8/day") as env:
        path = "/pay/status/pay_nosuch"
        with httpx.Client(base_url=env.hub_url, headers=ATTACKER, timeout=30) as attacker:
            answers = [attacker.get(path) for _ in range(12)]
        assert statuses(answers[:8]) == [403] * 8  # no result token
        for r in answers[8:]:
            assert_rate_limited(r)
        # Another address has its own budget.
        assert httpx.get(env.hub_url + path, timeout=30).status_code == 403
