"""Interop with the npm `vnpay` 2.5.0 library (lehuygiang28/vnpay) over real loopback HTTP.

The library's `buildPaymentUrl` output must be accepted by our simulator, and its
`verifyIpnCall` / `verifyReturnUrl` / `queryDr` must accept what our simulator sends. Node
is driven by a small script written to a temp dir, with JSON in and out. The package is
installed with npm into var/npm-vnpay (gitignored) only when it is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from payhub.gateways import simkit
from payhub.gateways.vnpay import wire
from payhub.gateways.vnpay.simulator import create_simulator
from tests.support.servers import serve_app

from .harness import HASH_SECRET, TMN_CODE, profile

pytestmark = pytest.mark.node

NPM_VERSION = "2.5.0"
CACHE = Path(__file__).resolve().parents[3] / "var" / "npm-vnpay"

SCRIPT = r"""
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const input = JSON.parse(readFileSync(0, 'utf8'));
const require = createRequire(input.cache + '/package.json');
const { VNPay, ignoreLogger } = require('vnpay');
const vnpay = new VNPay({
  tmnCode: input.tmnCode,
  secureSecret: input.secret,
  vnpayHost: input.host,
  queryDrAndRefundHost: input.host,
  hashAlgorithm: 'SHA512',
  enableLog: false,
  loggerFn: ignoreLogger,
});
const out = [];
for (const action of input.actions) {
  const query = () => Object.fromEntries(new URLSearchParams(action.query));
  if (action.op === 'build') out.push(vnpay.buildPaymentUrl(action.data));
  else if (action.op === 'verifyIpn') out.push(vnpay.verifyIpnCall(query()));
  else if (action.op === 'verifyReturn') out.push(vnpay.verifyReturnUrl(query()));
  else if (action.op === 'queryDr') out.push(await vnpay.queryDr(action.data));
  else throw new Error('unknown op ' + action.op);
}
process.stdout.write(JSON.stringify(out));
"""


def _installed_version() -> str | None:
    manifest = CACHE / "node_modules" / "vnpay" / "package.json"
    if not manifest.exists():
        return None
    return str(json.loads(manifest.read_text())["version"])


@pytest.fixture(scope="module")
def npm_vnpay() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js/npm are not installed")
    if _installed_version() != NPM_VERSION:
        CACHE.mkdir(parents=True, exist_ok=True)
        manifest = CACHE / "package.json"
        if not manifest.exists():
            manifest.write_text('{"name": "payhub-npm-vnpay-cache", "private": true}\n')
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", f"vnpay@{NPM_VERSION}"],
            cwd=CACHE,
            check=True,
            capture_output=True,
            timeout=300,
        )
    assert _installed_version() == NPM_VERSION
    return CACHE


@pytest.fixture
def node_script(tmp_path: Path) -> Path:
    path = tmp_path / "vnpay_interop.mjs"
    path.write_text(SCRIPT)
    return path


@pytest.fixture
def servers() -> Iterator[tuple[str, list[str]]]:
    """The simulator on loopback, with its terminal's IPN URL pointing at a recorder."""
    received: list[str] = []

    async def ipn(request: Request) -> JSONResponse:
        received.append(request.scope["query_string"].decode())
        return JSONResponse({"RspCode": "00", "Message": "Confirm Success"})

    recorder = Starlette(routes=[Route("/ipn", ipn, methods=["GET"])])
    with serve_app(recorder) as recorder_url:
        options = simkit.SimulatorOptions(
            public_url="http://127.0.0.1",
            profile=profile(),
            retry=simkit.RetryPolicy(max_attempts=3, interval_seconds=0.0),
            extra={"ipn_url": f"{recorder_url}/ipn?source=vnpay"},
        )
        with serve_app(create_simulator(options)) as sim_url:
            yield sim_url, received


def run_node(
    script: Path, host: str, actions: list[dict[str, Any]], secret: str = HASH_SECRET
) -> list[Any]:
    payload = {
        "cache": str(CACHE),
        "tmnCode": TMN_CODE,
        "secret": secret,
        "host": host,
        "actions": actions,
    }
    # npm vnpay computes its default vnp_CreateDate from the host's local clock fields,
    # which is only right when the host zone is UTC; our tests pass explicit dates anyway.
    env = {**os.environ, "TZ": "UTC"}
    done = subprocess.run(
        ["node", str(script)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def pay_data(txn_ref: str, now: datetime, with_dates: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "vnp_Amount": 150_000,
        "vnp_IpAddr": "127.0.0.1",
        "vnp_TxnRef": txn_ref,
        "vnp_OrderInfo": f"Thanh toan don hang {txn_ref}",
        "vnp_OrderType": "other",
        "vnp_ReturnUrl": "https://shop.example/vnpay/return",
        "vnp_Locale": "vn",
    }
    if with_dates:
        data["vnp_CreateDate"] = int(wire.format_vnp_time(now))
        data["vnp_ExpireDate"] = int(wire.format_vnp_time(now + timedelta(minutes=15)))
    return data


def test_npm_vnpay_round_trip_with_the_simulator(
    npm_vnpay: Path, node_script: Path, servers: tuple[str, list[str]]
) -> None:
    sim_url, received = servers
    now = datetime.now(UTC)
    txn_ref = f"NPM{int(now.timestamp())}"
    (url, default_dates_url) = run_node(
        node_script,
        sim_url,
        [
            {"op": "build", "data": pay_data(txn_ref, now)},
            {"op": "build", "data": pay_data(txn_ref + "D", now, with_dates=False)},
        ],
    )
    assert url.startswith(sim_url + wire.PAY_PATH + "?")
    with httpx.Client(base_url=sim_url) as client:
        for built in (url, default_dates_url):
            opened = client.get(built)
            assert opened.status_code == 302
            assert opened.headers["location"].startswith(wire.CHECKOUT_PATH), opened.headers

        paid = client.post(f"/__sim/pay/{txn_ref}", json={"outcome": "success"}).json()
        client.post("/__sim/flush")
    assert len(received) == 1
    ipn_query = received[0]
    assert dict(parse_qsl(ipn_query))["source"] == "vnpay"
    return_query = urlsplit(paid["return_url"]).query
    without_source = "&".join(p for p in ipn_query.split("&") if not p.startswith("source="))

    ipn_check, return_check, query_check = run_node(
        node_script,
        sim_url,
        [
            # npm vnpay hashes every key it is given, so the IPN URL's own `source=` goes.
            {"op": "verifyIpn", "query": without_source},
            {"op": "verifyReturn", "query": return_query},
            {
                "op": "queryDr",
                "data": {
                    "vnp_RequestId": f"Q{int(now.timestamp())}",
                    "vnp_IpAddr": "127.0.0.1",
                    "vnp_TxnRef": txn_ref,
                    # The original pay vnp_CreateDate, as the URL was built with it.
                    "vnp_TransactionDate": int(wire.format_vnp_time(now)),
                    "vnp_OrderInfo": f"Truy van GD {txn_ref}",
                    "vnp_CreateDate": int(wire.format_vnp_time(datetime.now(UTC))),
                },
            },
        ],
    )
    for check in (ipn_check, return_check):
        assert check["isVerified"] is True, check
        assert check["isSuccess"] is True
        assert check["vnp_Amount"] == 150_000
        assert check["vnp_TxnRef"] == txn_ref
    assert query_check["isVerified"] is True, query_check
    assert query_check["vnp_ResponseCode"] == "00"
    assert query_check["vnp_TransactionStatus"] == "00"
    assert query_check["vnp_Amount"] == "15000000"


def test_npm_vnpay_detects_a_wrong_secret_and_the_simulator_refuses_it(
    npm_vnpay: Path, node_script: Path, servers: tuple[str, list[str]]
) -> None:
    sim_url, _ = servers
    now = datetime.now(UTC)
    (url,) = run_node(
        node_script,
        sim_url,
        [{"op": "build", "data": pay_data("NPMBAD1", now)}],
        secret="not-the-terminal-secret",
    )
    with httpx.Client(base_url=sim_url) as client:
        opened = client.get(url)
        assert opened.headers["location"] == f"{wire.ERROR_PATH}?code=70"
        # And npm's verifier, holding the wrong secret, refuses our signed callback.
        good = run_node(node_script, sim_url, [{"op": "build", "data": pay_data("NPMOK1", now)}])
        assert client.get(good[0]).status_code == 302
        paid = client.post("/__sim/pay/NPMOK1", json={"outcome": "cancel"}).json()
    (check,) = run_node(
        node_script,
        sim_url,
        [{"op": "verifyReturn", "query": urlsplit(paid["return_url"]).query}],
        secret="not-the-terminal-secret",
    )
    assert check["isVerified"] is False
