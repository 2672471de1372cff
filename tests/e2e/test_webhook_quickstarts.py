"""The webhook quickstarts' receivers, run as written in docs/quickstart/, against real
deliveries from the hub's worker over loopback HTTP.

Python: the receiver block of python.md is executed and served; the worker delivers to it,
it verifies with the official `standardwebhooks` library, and a tampered copy of the
delivery is refused. Node: when `node` and `npm` exist and the npm registry answers, the
`standardwebhooks` package is installed into a temporary directory and node.md's receiver
runs on a delivery captured from the worker, and on a tampered copy."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import HTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payhub.store.invariants import check_invariants
from payhub.worker import deliver_events
from tests.support.hub import HubUnderTest, connect_gateway, make_hub, simulator_app
from tests.support.servers import free_port, serve_app

pytestmark = pytest.mark.e2e

QUICKSTARTS = Path(__file__).resolve().parents[2] / "docs" / "quickstart"
WEBHOOK_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type")


def code_block(page: str, first_line: str) -> str:
    """The fenced code block of docs/quickstart/`page` whose first line starts with
    `first_line`."""
    text = (QUICKSTARTS / page).read_text(encoding="utf-8")
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE):
        if block.startswith(first_line):
            return str(block)
    raise AssertionError(f"{page} has no code block starting {first_line!r}")


@dataclass
class Env:
    th: HubUnderTest
    api: httpx.Client
    sim: httpx.Client

    def endpoint(self, url: str, *event_types: str) -> str:
        r = self.api.post("/v1/webhook-endpoints", json={"url": url, "event_types": event_types})
        assert r.status_code == 201, r.text
        secret: str = r.json()["secret"]
        return secret

    def paid_order(self, ref: str) -> str:
        order = self.api.post(
            "/v1/orders",
            json={
                "merchant_reference": ref,
                "currency": "VND",
                "items": [{"sku": "pack-100"}],
                "customer": {"external_id": "alice"},
            },
        ).json()
        payment = self.api.post(
            f"/v1/orders/{order['id']}/payments", json={"gateway": "payos"}
        ).json()
        paid = self.sim.post(f"/__sim/pay/{payment['gateway_reference']}", json={"outcome": "paid"})
        assert paid.status_code == 200, paid.text
        self.sim.post("/__sim/flush")
        assert self.api.get(f"/v1/orders/{order['id']}").json()["status"] == "paid"
        order_id: str = order["id"]
        return order_id

    def deliver(self) -> None:
        anyio.run(deliver_events, self.th.hub)


@pytest.fixture
def env(sqlite_url: str) -> Iterator[Env]:
    hub_port, sim_port = free_port(), free_port()
    hub_url, sim_url = f"http://127.0.0.1:{hub_port}", f"http://127.0.0.1:{sim_port}"
    th = make_hub(sqlite_url, public_url=hub_url)
    account = connect_gateway(th, "payos", sim_url)
    sim = simulator_app("payos", sim_url, webhook_url=f"{hub_url}/callbacks/payos/{account}")
    with (
        serve_app(th.app, hub_port),
        serve_app(sim, sim_port),
        httpx.Client(base_url=hub_url, headers=th.headers, timeout=30) as api,
        httpx.Client(base_url=sim_url, timeout=30) as sim_client,
    ):
        yield Env(th, api, sim_client)
    th.hub.db.dispose()


def test_the_python_quickstart_verifies_a_real_delivery_and_refuses_a_tampered_one(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/payhub-events"
    secret = env.endpoint(url, "order.paid", "credits.debited")
    monkeypatch.setenv("PAYHUB_WEBHOOK_SECRET", secret)
    quickstart: dict[str, Any] = {"__name__": "payhub_events"}  # not __main__: no server
    exec(compile(code_block("python.md", "# payhub_events.py"), "python.md", "exec"), quickstart)

    verified: list[dict[str, Any]] = []
    captured: list[tuple[dict[str, str], bytes]] = []
    quickstart["on_event"] = verified.append  # the quickstart's handler calls it by name

    class Capturing(quickstart["PayhubEvents"]):  # type: ignore[misc]
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            captured.append((dict(self.headers), body))
            self.rfile = io.BytesIO(body)
            super().do_POST()

        def log_message(self, *_: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", port), Capturing)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        order_id = env.paid_order("qs-py-1")
        debit = env.api.post(
            "/v1/customers/alice/credits/debit", json={"amount": 40, "reference": "qs-spend"}
        )
        assert debit.status_code == 201, debit.text
        env.deliver()

        by_type = {e["type"]: e for e in verified}
        assert sorted(by_type) == ["credits.debited", "order.paid"] and len(verified) == 2
        assert by_type["order.paid"]["data"]["order_id"] == order_id
        assert by_type["credits.debited"]["data"]["amount"] == -40
        assert by_type["credits.debited"]["data"]["balance_after"] == 60
        for headers, delivered in captured:
            # The delivered body is the event object `GET /v1/events/{id}` answers; its
            # deliveries are a list of their own.
            event_id = headers["webhook-id"]
            assert env.api.get(f"/v1/events/{event_id}").json() == json.loads(delivered)
            deliveries = env.api.get(f"/v1/events/{event_id}/deliveries").json()
            assert [d["state"] for d in deliveries["data"]] == ["delivered"]

        [(headers, body)] = [c for c in captured if b'"order.paid"' in c[1]]
        verify = quickstart["verify_payhub_event"]
        assert verify(secret, body, headers)["data"]["order_id"] == order_id
        tampered = body.replace(order_id.encode(), (order_id[:-1] + "x").encode())
        assert tampered != body
        with pytest.raises(WebhookVerificationError):
            verify(secret, tampered, headers)
        with pytest.raises(WebhookVerificationError):  # another endpoint's secret
            verify("whsec_" + "QUJD" * 8, body, headers)

        forwarded = {k: headers[k] for k in headers if k.lower() in WEBHOOK_HEADERS}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as receiver:
            assert (
                receiver.post("/payhub-events", content=tampered, headers=forwarded).status_code
                == 400
            )
            again = receiver.post("/payhub-events", content=body, headers=forwarded)
            assert again.status_code == 204
        assert len(verified) == 2  # the replayed webhook-id was acted on once
    finally:
        server.shutdown()
        server.server_close()
    assert check_invariants(env.th.hub.db.engine) == {}


@dataclass
class Capture:
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            self.received.append((dict(request.headers), await request.body()))
            return Response(status_code=204)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


def _npm_install(directory: Path) -> None:
    """`npm install standardwebhooks` into `directory`, or skip saying why it could not."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed: the Node quickstart is not run")
    try:
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--silent", "standardwebhooks@1"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=180,
        )
    except subprocess.TimeoutExpired:
        pytest.skip("the npm registry did not answer within 180 s: standardwebhooks not installed")
    if done.returncode != 0:
        pytest.skip(
            f"npm could not install standardwebhooks (registry unreachable?): {done.stderr[-300:]}"
        )


def _wait_for_port(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"node exited: {process.stderr.read() if process.stderr else ''}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("the node receiver did not start listening")


def test_the_node_quickstart_verifies_a_captured_delivery(env: Env, tmp_path: Path) -> None:
    _npm_install(tmp_path)
    capture = Capture()
    with serve_app(capture.app()) as origin:
        secret = env.endpoint(f"{origin}/hook", "order.paid")
        order_id = env.paid_order("qs-node-1")
        env.deliver()
    [(headers, body)] = capture.received
    forwarded = {k: v for k, v in headers.items() if k in WEBHOOK_HEADERS}

    (tmp_path / "payhub-events.js").write_text(
        code_block("node.md", "// payhub-events.js"), encoding="utf-8"
    )
    port = free_port()
    node = subprocess.Popen(
        ["node", "payhub-events.js"],
        cwd=tmp_path,
        env={**os.environ, "PAYHUB_WEBHOOK_SECRET": secret, "PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_port(port, node)
        tampered = body.replace(b'"type"', b'"type" ', 1)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as receiver:
            assert (
                receiver.post("/payhub-events", content=tampered, headers=forwarded).status_code
                == 400
            )
            assert (
                receiver.post("/payhub-events", content=body, headers=forwarded).status_code == 204
            )
            unsigned = {k: v for k, v in forwarded.items() if k != "webhook-signature"}
            assert (
                receiver.post("/payhub-events", content=body, headers=unsigned).status_code == 400
            )
    finally:
        node.terminate()
        out, err = node.communicate(timeout=10)
    assert out.splitlines() == [f"paid: {order_id}"], (out, err)
    assert json.loads(body)["type"] == "order.paid"


def _curl_check(script: str, directory: Path, headers: dict[str, str], secret: str) -> str:
    """Run the curl page's signature check in `directory` (which holds body.json)."""
    done = subprocess.run(
        [
            "bash",
            "-c",
            f'ID="$1" TS="$2" SECRET="$3"\n{script}',
            "check",
            headers["webhook-id"],
            headers["webhook-timestamp"],
            secret,
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.strip()


def test_the_curl_quickstart_recomputes_the_signature_of_a_delivery(
    env: Env, tmp_path: Path
) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: the curl quickstart's check is not run")
    capture = Capture()
    with serve_app(capture.app()) as origin:
        secret = env.endpoint(f"{origin}/hook", "order.paid")
        env.paid_order("qs-curl-1")
        env.deliver()
    [(headers, body)] = capture.received
    # The page's check without its first line (placeholders for the id and timestamp).
    script = "\n".join(code_block("curl.md", "ID=evt_… TS=").splitlines()[1:])
    (tmp_path / "body.json").write_bytes(body)
    signature = _curl_check(script, tmp_path, headers, secret)
    assert "v1," + signature in headers["webhook-signature"].split(" ")
    (tmp_path / "body.json").write_bytes(body.replace(b"order.paid", b"order.paiD"))
    assert _curl_check(script, tmp_path, headers, secret) != signature
