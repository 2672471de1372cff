"""A client generated from the live /openapi.json by openapi-python-client drives a whole
flow against a hub over loopback HTTP: create an order, start a PayOS payment, pay it in the
sandbox, read the order paid; and the 404, 409 and 422 answers parse as the typed problem
model (not `None`, not a crash)."""

from __future__ import annotations

import importlib
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.conformance import load_driver, running

pytestmark = pytest.mark.e2e


def _generate(openapi: dict[str, Any], into: Path) -> Any:
    spec = into / "openapi.json"
    spec.write_text(httpx.Response(200, json=openapi).text)
    config = into / "generator.yaml"
    config.write_text("post_hooks: []\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(spec),
            "--meta",
            "none",
            "--output-path",
            str(into / "payhub_client"),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(into))
    try:
        return importlib.import_module("payhub_client")
    finally:
        sys.path.remove(str(into))


def test_a_generated_client_drives_a_whole_flow(sqlite_url: str, tmp_path: Path) -> None:
    driver = load_driver("payos")
    with running(driver, sqlite_url) as env:
        client_pkg = _generate(env.api.get("/openapi.json").json(), tmp_path)
        api = importlib.import_module("payhub_client.api.merchant_api_v_1")
        models = importlib.import_module("payhub_client.models")
        for name in ("create_order", "start_payment", "get_order", "list_events"):
            importlib.import_module(f"payhub_client.api.merchant_api_v_1.{name}")
        token = env.th.headers["Authorization"].partition(" ")[2]
        client = client_pkg.AuthenticatedClient(base_url=env.hub_url, token=token)

        body = models.OrderIn.from_dict(
            {
                "merchant_reference": "gen-1",
                "currency": "VND",
                "items": [{"sku": driver.sku}],
                "customer": driver.customer,
                "metadata": {"booking": "B-7"},
            }
        )
        created = api.create_order.sync(client=client, body=body, idempotency_key="gen-1")
        assert isinstance(created, models.Order), created
        assert created.hosted_checkout_url.startswith(env.hub_url + "/pay/")
        assert created.metadata.to_dict() == {"booking": "B-7"}

        payment = api.start_payment.sync(
            created.id, client=client, body=models.PaymentIn(gateway="payos")
        )
        assert isinstance(payment, models.StartedPayment), payment
        assert payment.reused is False
        driver.pay(env, payment.to_dict())

        deadline = time.monotonic() + 10
        order = api.get_order.sync(created.id, client=client)
        while isinstance(order, models.Order) and order.status != "paid":
            assert time.monotonic() < deadline, order
            time.sleep(0.05)
            order = api.get_order.sync(created.id, client=client)
        assert isinstance(order, models.Order)
        assert order.status == "paid"
        assert order.payments[0].status == "succeeded"
        assert order.payments[0].gateway_txn_id  # PayOS's bank reference
        assert order.customer is not None and order.customer.external_id == "alice"

        events = api.list_events.sync(client=client, limit=50)
        assert isinstance(events, models.EventList)
        paid = [e for e in events.data if e.type_ == "order.paid"]
        assert len(paid) == 1
        assert isinstance(paid[0].data.object_, models.Order)
        assert paid[0].data.object_.status == "paid"

        missing = api.get_order.sync("ord_nosuchorder", client=client)
        assert isinstance(missing, models.Problem), missing
        assert (missing.status, missing.type_) == (404, "https://payhub.dev/problems/not-found")

        again = api.start_payment.sync(
            created.id, client=client, body=models.PaymentIn(gateway="payos")
        )
        assert isinstance(again, models.Problem), again
        assert again.status == 409
        assert again.type_.endswith("/order-already-paid")

        invalid = models.OrderIn.from_dict(
            {"merchant_reference": "gen-2", "currency": "VND", "items": []}
        )
        refused = api.create_order.sync(client=client, body=invalid)
        assert isinstance(refused, models.Problem), refused
        assert refused.status == 422
        assert not isinstance(refused.errors, type(None))
        assert [e.loc for e in refused.errors] == [["body", "items"]]
