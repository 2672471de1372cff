"""The SSRF proof: the probe's URLs make no connection, at registration or at delivery.

Real TCP listeners on loopback (127.0.0.1 on several ports, 127.0.0.2, ::1 when the host
has it) count every connection they accept. A real hub with the allow-list unset refuses
each matrix URL at registration with a 422 problem. The same URLs, written straight into
`webhook_endpoints` through the store operation (as rows registered before the policy
existed would be), are refused again at delivery by a worker pass that completes and
still delivers the event to the one receiver its allow-list names (127.0.0.3). The
listeners end the test with 0 connections, and then prove they would have counted one.

Nothing outside 127.0.0.0/8 and ::1 is ever contacted: private and metadata URLs are
refused before any connection, and the only name resolved is `localhost`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta

import anyio
import httpx
import pytest
from sqlalchemy import select

from payhub.clock import as_utc
from payhub.services.context import Hub, build_hub
from payhub.services.vault import encrypt_credentials
from payhub.services.webhooks import REFUSED_BY_POLICY, create_endpoint, new_secret
from payhub.store import outbox
from payhub.store.ids import new_id
from payhub.store.models import Delivery, DeliveryAttempt
from payhub.worker import run_once
from tests.support.hub import HubUnderTest, make_hub
from tests.support.listeners import CountingListener, counting_listener, ipv6_loopback_available
from tests.support.servers import free_port, serve_app

pytestmark = pytest.mark.e2e


def matrix(a: int, b: int, c: int, two: int, six: int | None) -> list[str]:
    """The probe's URLs, aimed at the listeners: 127.0.0.1 on ports a, b, c; 127.0.0.2 on
    `two`; ::1 on `six`."""
    urls = [
        f"http://127.0.0.1:{a}/hook",
        f"http://127.0.0.2:{two}/hook",
        f"http://localhost:{a}/hook",
        f"http://2130706433:{b}/hook",
        f"http://0x7f000001:{c}/hook",
        f"http://017700000001:{a}/hook",
        f"http://127.1:{b}/hook",
        f"http://0.0.0.0:{c}/hook",
        f"http://[::ffff:127.0.0.1]:{a}/hook",
        f"http://user:pw@127.0.0.1:{b}/hook",
        f"http://0177.0.0.1:{c}/x",
        f"http://0x7f.1:{a}/hook",
        f"https://127.0.0.1:{b}/hook",
        f"http://127.0.0.1.:{c}/hook",
    ]
    if six is not None:
        urls += [f"http://[::1]:{six}/hook", f"http://[0:0:0:0:0:0:0:1]:{six}/hook"]
    return urls


# Refused before any connection could be tried (nothing listens there, nothing may).
NEVER_CONTACTED = [
    "http://10.0.0.1/hook",
    "http://172.16.0.1/hook",
    "http://192.168.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/hook",
    "http://[fd00::1]/hook",
    "http://[fe80::1]/hook",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://metadata/hook",
    "http://instance-data/latest/",
]

# Old rows registration never let through in any version, which httpx cannot even send:
# each must be one failed attempt, not the end of the pass.
UNSENDABLE = ["http://[::1/hook", "http://exa mple.com/hook", "ftp://127.0.0.1/x"]


class Listeners:
    def __init__(self, stack: ExitStack) -> None:
        self.all: list[CountingListener] = [
            stack.enter_context(counting_listener("127.0.0.1")) for _ in range(3)
        ]
        self.all.append(stack.enter_context(counting_listener("127.0.0.2")))
        self.six = None
        if ipv6_loopback_available():
            self.six = stack.enter_context(counting_listener("::1"))
            self.all.append(self.six)

    def urls(self) -> list[str]:
        a, b, c, two = (listener.port for listener in self.all[:4])
        return matrix(a, b, c, two, self.six.port if self.six else None)

    @property
    def connections(self) -> int:
        return sum(listener.accepted for listener in self.all)


@pytest.fixture
def listeners() -> Iterator[Listeners]:
    with ExitStack() as stack:
        yield Listeners(stack)


@pytest.fixture
def hub(sqlite_url: str) -> Iterator[tuple[HubUnderTest, httpx.Client]]:
    port = free_port()
    th = make_hub(sqlite_url, public_url=f"http://127.0.0.1:{port}", outbound_allow=())
    assert th.hub.settings.outbound_allow == []
    with (
        serve_app(th.app, port) as url,
        httpx.Client(base_url=url, headers=th.headers, timeout=30) as api,
    ):
        yield th, api
    th.hub.db.dispose()


def insert_old_row(hub: Hub, merchant_id: str, url: str) -> str:
    """An endpoint row written as registration before the policy would have written it."""
    endpoint_id = new_id("we")
    blob, key_id = encrypt_credentials(
        hub.require_master_key(), f"webhook_endpoint:{endpoint_id}", {"secret": new_secret()}
    )
    now = hub.clock.now()
    with hub.db.write() as tx:
        outbox.add_endpoint(
            tx,
            id=endpoint_id,
            merchant_id=merchant_id,
            url=url,
            secret_ciphertext=blob,
            secret_key_id=key_id,
            event_types={"only": []},
            enabled=True,
            created_at=now,
            updated_at=now,
        )
    return endpoint_id


def test_every_matrix_url_is_refused_at_registration_and_at_delivery(
    hub: tuple[HubUnderTest, httpx.Client], listeners: Listeners
) -> None:
    th, api = hub
    urls = listeners.urls()

    # 1. Registration through the API: a 422 problem naming the rule, never an address.
    for url in urls + NEVER_CONTACTED:
        r = api.post("/v1/webhook-endpoints", json={"url": url})
        assert r.status_code == 422, (url, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["type"].endswith("/outbound-refused"), (url, problem)
        assert problem["rule"] and "outbound policy" in problem["detail"]
        assert "127.0.0.1" not in problem["detail"] and "::1" not in problem["detail"]
    assert api.get("/v1/webhook-endpoints").json()["data"] == []
    assert listeners.connections == 0

    # 2. The same URLs as old rows, and a worker whose allow-list names one receiver only.
    with counting_listener("127.0.0.3") as healthy:
        settings = th.hub.settings.model_copy(update={"outbound_allow": ["127.0.0.3"]})
        worker_hub = build_hub(settings)
        for url in urls + NEVER_CONTACTED + UNSENDABLE:
            insert_old_row(worker_hub, th.merchant_id, url)
        good = create_endpoint(
            worker_hub,
            th.merchant_id,
            f"http://127.0.0.3:{healthy.port}/hook",
            [],
            actor="t",
        )
        order = api.post(
            "/v1/orders",
            json={
                "merchant_reference": "ssrf-1",
                "currency": "VND",
                "items": [{"sku": "pack-100"}],
                "customer": {"external_id": "alice"},
            },
        ).json()
        result = anyio.run(run_once, worker_hub)
        worker_hub.db.dispose()

    # The pass completed (reconciliation and expiry ran after the deliveries) ...
    assert set(result) >= {"fanned_out", "sent", "reconciled", "expired"}
    expected = len(urls + NEVER_CONTACTED + UNSENDABLE) + 1
    assert result["fanned_out"] == result["sent"] == expected
    # ... the healthy receiver got the event, once, signed ...
    assert healthy.accepted == 1
    [request] = healthy.received
    assert b"POST /hook HTTP/1.1" in request and b"webhook-signature: v1," in request
    # ... and the probe's listeners were never connected to.
    assert listeners.connections == 0

    with th.hub.db.session() as session:
        deliveries = list(session.scalars(select(Delivery)))
        attempts = {a.delivery_id: a for a in session.scalars(select(DeliveryAttempt))}
    assert len(deliveries) == len(attempts) == expected
    for d in deliveries:
        attempt = attempts[d.id]
        if d.endpoint_id == good["id"]:
            assert (d.state, attempt.status_code) == ("delivered", 200)
            continue
        # A refused delivery is a failed attempt, retried on the normal schedule.
        assert (d.state, d.attempts, d.last_status) == ("pending", 1, None)
        assert attempt.error == REFUSED_BY_POLICY
        delay = as_utc(d.next_attempt_at) - as_utc(attempt.attempted_at)
        assert timedelta(seconds=4.5) <= delay <= timedelta(seconds=5.5)

    # The merchant's delivery log shows status classes only.
    [event] = [e for e in api.get("/v1/events").json()["data"] if e["type"] == "order.created"]
    assert event["data"]["order_id"] == order["id"]
    log = api.get(f"/v1/events/{event['id']}/deliveries", params={"limit": 200}).json()
    statuses = sorted(entry["status"] for d in log["data"] for entry in d["log"])
    assert statuses == ["2xx"] + ["refused"] * (expected - 1)
    for d in log["data"]:
        assert set(d["log"][0]) == {"at", "status"}
    assert "127.0.0" not in json.dumps(log)

    # The listeners did count: one direct connection each is seen.
    for listener in listeners.all:
        host = f"[{listener.host}]" if ":" in listener.host else listener.host
        httpx.get(f"http://{host}:{listener.port}/", timeout=5)
    assert [listener.accepted for listener in listeners.all] == [1] * len(listeners.all)
