"""Server-to-server notifications of a sandbox: retry schedule, fault queue, delivery log.

A sandbox builds each notification as an `OutboundCall` after asking `take_fault()` what to
do to it (a tampered or wrong-amount notice is shaped by the sandbox, which knows what its
signature covers); `send()` applies the delivery faults (duplicate, delay, drop, reorder) and
retries until the gateway's own acknowledgement rule is met.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import secrets
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx


class Fault(enum.StrEnum):
    """What to do to the next notification(s)."""

    DUPLICATE = "duplicate"  # deliver the same signed notification twice
    DELAY = "delay"  # hold it for `delay_seconds` before the first attempt
    DROP = "drop"  # never send it (the "IPN never arrived" case)
    REORDER = "reorder"  # hold it until the next notification has been sent
    TAMPER = "tamper"  # change a signed field after signing: must be rejected
    WRONG_AMOUNT = "wrong_amount"  # sign a different amount: a valid but mismatched notice


@dataclass(slots=True)
class RetryPolicy:
    """How often a notification is re-sent when not acknowledged."""

    max_attempts: int = 1
    interval_seconds: float = 300.0
    backoff: float = 1.0
    timeout_seconds: float = 10.0


@dataclass(slots=True)
class OutboundCall:
    """One notification as the simulator will send it."""

    method: str
    url: str
    params: Mapping[str, str] | None = None  # query string (for a notification sent as a GET)
    json_body: Any = None  # serialised with the gateway's own encoder into `content`
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    label: str = ""


@dataclass(slots=True)
class DeliveryAttempt:
    at: str
    status_code: int | None
    response_body: str
    error: str | None = None


@dataclass(slots=True)
class Delivery:
    id: str
    label: str
    url: str
    fault: str | None
    state: str = "scheduled"  # scheduled | delivered | gave_up | dropped | held
    attempts: list[DeliveryAttempt] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Notifier:
    """Sends a simulator's server-to-server notifications in the background."""

    def __init__(
        self,
        policy: RetryPolicy,
        is_acknowledged: Callable[[httpx.Response], bool],
        transport: httpx.AsyncBaseTransport | None = None,
        delay_seconds: float = 2.0,
    ) -> None:
        self.policy = policy
        self.is_acknowledged = is_acknowledged
        self.transport = transport
        self.delay_seconds = delay_seconds
        self.deliveries: list[Delivery] = []
        self._faults: deque[Fault] = deque()
        self._held: list[tuple[Delivery, OutboundCall]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    # -- faults ---------------------------------------------------------------------------

    def inject(self, fault: Fault, count: int = 1) -> None:
        self._faults.extend([fault] * count)

    def take_fault(self) -> Fault | None:
        return self._faults.popleft() if self._faults else None

    def pending_faults(self) -> list[str]:
        return [f.value for f in self._faults]

    def reset(self) -> None:
        self._faults.clear()
        self._held.clear()
        self.deliveries.clear()

    # -- sending --------------------------------------------------------------------------

    def send(self, call: OutboundCall, fault: Fault | None) -> Delivery:
        """Schedule `call`; `fault` is what `take_fault()` returned when it was built."""
        delivery = Delivery(
            id=secrets.token_hex(8),
            label=call.label,
            url=call.url,
            fault=fault.value if fault else None,
        )
        self.deliveries.append(delivery)
        if fault is Fault.DROP:
            delivery.state = "dropped"
            return delivery
        if fault is Fault.REORDER:
            delivery.state = "held"
            self._held.append((delivery, call))
            return delivery
        held, self._held = self._held, []
        delay = self.delay_seconds if fault is Fault.DELAY else 0.0
        self._spawn(self._deliver(delivery, call, delay))
        if fault is Fault.DUPLICATE:
            twin = Delivery(
                id=secrets.token_hex(8), label=call.label, url=call.url, fault="duplicate-copy"
            )
            self.deliveries.append(twin)
            self._spawn(self._deliver(twin, call, 0.0))
        for held_delivery, held_call in held:
            # Sent after the notification that overtook it.
            self._spawn(self._deliver(held_delivery, held_call, 0.05))
        return delivery

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, delivery: Delivery, call: OutboundCall, delay: float) -> None:
        delivery.state = "scheduled"
        if delay:
            await asyncio.sleep(delay)
        interval = self.policy.interval_seconds
        async with httpx.AsyncClient(
            transport=self.transport, timeout=self.policy.timeout_seconds
        ) as client:
            for attempt in range(1, self.policy.max_attempts + 1):
                status: int | None = None
                body = ""
                error: str | None = None
                acknowledged = False
                try:
                    response = await client.request(
                        call.method,
                        call.url,
                        params=dict(call.params) if call.params is not None else None,
                        content=call.content,
                        headers=dict(call.headers),
                    )
                    status = response.status_code
                    body = response.text[:500]
                    acknowledged = self.is_acknowledged(response)
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                delivery.attempts.append(
                    DeliveryAttempt(
                        at=datetime.now(UTC).isoformat(),
                        status_code=status,
                        response_body=body,
                        error=error,
                    )
                )
                if acknowledged:
                    delivery.state = "delivered"
                    return
                if attempt < self.policy.max_attempts:
                    await asyncio.sleep(interval)
                    interval *= self.policy.backoff
            delivery.state = "gave_up"

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until every scheduled delivery has finished (tests, `/__sim/flush`)."""
        async with asyncio.timeout(timeout):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
