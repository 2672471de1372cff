"""The event object: one shape for the delivered webhook body, `/v1/events` items and
`/v1/events/{id}`; and an event's deliveries."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from payhub.api.schemas.common import Cursor, Resource, Timestamp
from payhub.api.schemas.orders import Order, Payment
from payhub.api.schemas.products import Product
from payhub.api.schemas.refunds import Refund


class EventData(Resource):
    """`object` is the snapshot of the object the event is about, taken when the event was
    written (order.* → Order, payment.* → Payment, refund.* → Refund, stock.low →
    Product). Other members are facts of this event (e.g. `credits_granted` on order.paid,
    `reason` on payment.review)."""

    model_config = ConfigDict(extra="allow")

    object: Order | Payment | Refund | Product | None


class Event(Resource):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "evt_a1",
                    "type": "order.paid",
                    "created": "2026-12-01T18:01:00+00:00",
                    "livemode": False,
                    "data": {"object": {"id": "ord_a1", "status": "paid"}, "credits_granted": 100},
                }
            ]
        },
    )

    id: str = Field(description="also the `webhook-id` header of every delivery")
    type: str
    created: Timestamp
    livemode: bool
    data: EventData


class EventList(Resource):
    data: list[Event]
    has_more: bool
    next_cursor: Cursor


class DeliveryAttempt(Resource):
    at: Timestamp
    status: str = Field(description="2xx, 3xx, 4xx, 5xx, timeout, connection_failed, refused")


class Delivery(Resource):
    id: str
    event_id: str
    endpoint_id: str
    state: str = Field(description="pending, delivered or failed")
    attempts: int
    next_attempt_at: Timestamp
    log: list[DeliveryAttempt]


class DeliveryList(Resource):
    data: list[Delivery]
    has_more: bool
    next_cursor: Cursor


class Redelivery(Resource):
    event_id: str
    deliveries_rescheduled: int
