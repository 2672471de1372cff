"""The OpenAPI document is the merchant API's contract: its operations (method, path,
operation id) are pinned here, so moving routes between modules cannot drop, add or rename
one unnoticed."""

from __future__ import annotations

from payhub.api import v1
from tests.support.hub import make_hub

OPERATIONS = {
    ("POST", "/v1/orders", "create_order_v1_orders_post"),
    ("GET", "/v1/orders", "list_orders_v1_orders_get"),
    ("GET", "/v1/orders/{order_id}", "get_order_v1_orders__order_id__get"),
    ("POST", "/v1/orders/{order_id}/payments", "start_payment_v1_orders__order_id__payments_post"),
    ("POST", "/v1/orders/{order_id}/cancel", "cancel_order_v1_orders__order_id__cancel_post"),
    (
        "POST",
        "/v1/orders/{order_id}/manual-payments",
        "record_manual_payment_v1_orders__order_id__manual_payments_post",
    ),
    ("GET", "/v1/payments/{payment_id}", "get_payment_v1_payments__payment_id__get"),
    (
        "POST",
        "/v1/payments/{payment_id}/refunds",
        "create_refund_v1_payments__payment_id__refunds_post",
    ),
    (
        "GET",
        "/v1/payments/{payment_id}/refunds",
        "list_refunds_v1_payments__payment_id__refunds_get",
    ),
    (
        "POST",
        "/v1/payments/{payment_id}/accept",
        "accept_payment_v1_payments__payment_id__accept_post",
    ),
    ("GET", "/v1/products", "list_products_v1_products_get"),
    ("GET", "/v1/notifications", "list_notifications_v1_notifications_get"),
    ("PUT", "/v1/products/{sku}", "put_product_v1_products__sku__put"),
    (
        "GET",
        "/v1/customers/{external_id}/credits",
        "customer_credits_v1_customers__external_id__credits_get",
    ),
    (
        "POST",
        "/v1/customers/{external_id}/credits/debit",
        "debit_credits_v1_customers__external_id__credits_debit_post",
    ),
    (
        "POST",
        "/v1/customers/{external_id}/credits/adjustments",
        "adjust_credits_v1_customers__external_id__credits_adjustments_post",
    ),
    ("GET", "/v1/gateways", "available_gateways_v1_gateways_get"),
    (
        "POST",
        "/v1/gateways/{gateway}/validate",
        "validate_gateway_v1_gateways__gateway__validate_post",
    ),
    ("GET", "/v1/webhook-endpoints", "list_webhook_endpoints_v1_webhook_endpoints_get"),
    ("POST", "/v1/webhook-endpoints", "create_webhook_endpoint_v1_webhook_endpoints_post"),
    (
        "DELETE",
        "/v1/webhook-endpoints/{endpoint_id}",
        "disable_webhook_endpoint_v1_webhook_endpoints__endpoint_id__delete",
    ),
    ("GET", "/v1/events", "list_events_v1_events_get"),
    ("GET", "/v1/events/{event_id}", "get_event_v1_events__event_id__get"),
    (
        "POST",
        "/v1/events/{event_id}/redeliver",
        "redeliver_event_v1_events__event_id__redeliver_post",
    ),
    ("GET", "/v1/review-queue", "review_queue_v1_review_queue_get"),
    ("GET", "/v1/api_keys", "list_api_keys_v1_api_keys_get"),
    ("POST", "/v1/api_keys", "create_api_key_v1_api_keys_post"),
    ("POST", "/v1/api_keys/{key_id}/revoke", "revoke_api_key_v1_api_keys__key_id__revoke_post"),
    ("POST", "/v1/api_keys/{key_id}/rotate", "rotate_api_key_v1_api_keys__key_id__rotate_post"),
}


def test_openapi_operations_are_unchanged(sqlite_url: str) -> None:
    th = make_hub(sqlite_url)
    try:
        spec = th.app.openapi()
    finally:
        th.hub.db.dispose()
    operations = {
        (method.upper(), path, op["operationId"])
        for path, item in spec["paths"].items()
        for method, op in item.items()
    }
    assert operations == OPERATIONS
    tags = {tag for item in spec["paths"].values() for op in item.values() for tag in op["tags"]}
    assert tags == {"merchant API v1"}


def test_every_resource_module_serves_under_v1() -> None:
    for resource in v1.RESOURCES:
        assert resource.__doc__, f"{resource.__name__} has no module docstring"
        assert resource.router.routes, f"{resource.__name__} serves nothing"


def test_every_operation_documents_its_problem_answers(sqlite_url: str) -> None:
    th = make_hub(sqlite_url)
    try:
        spec = th.app.openapi()
    finally:
        th.hub.db.dispose()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for status in ("400", "401", "404", "409", "422", "429", "502"):
                content = op["responses"][status]["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)


def test_a_405_lists_every_method_of_the_path(sqlite_url: str) -> None:
    import httpx

    th = make_hub(sqlite_url)
    try:
        transport = httpx.ASGITransport(app=th.app)

        async def probe() -> httpx.Response:
            async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
                return await c.request("PATCH", "/v1/orders", headers=th.headers)

        import anyio

        r = anyio.run(probe)
    finally:
        th.hub.db.dispose()
    assert r.status_code == 405
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["allow"] == "GET, POST"
