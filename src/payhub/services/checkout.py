"""Starting payment attempts, refreshing them by server-side query, cancelling orders.

An attempt row is written (`initiated`) and committed before the gateway is called, so a
lost answer leaves an `unknown` attempt that a query can resolve, never a payment we forgot.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from anyio import to_thread

from payhub.clock import as_utc
from payhub.domain import routing as rules
from payhub.domain.errors import (
    AttemptInFlight,
    Conflict,
    GatewayNotAvailable,
    InvalidRequest,
    NotFound,
    OrderAlreadyPaid,
    OrderNotPayable,
)
from payhub.domain.lifecycle import (
    ORDER_HOLDS_STOCK,
    ORDER_IS_PAID,
    OrderEvent,
    OrderStatus,
    PaymentEvent,
    PaymentStatus,
    next_payment_status,
)
from payhub.errors import GatewayCallFailed as GatewayCallFailed
from payhub.errors import ModeMismatch, NoGatewayAvailable
from payhub.gateways.base import (
    Checkout,
    CheckoutRequest,
    Gateway,
    GatewayError,
    GatewayRejected,
    GatewayStatus,
    GatewayUnavailable,
    InvalidPaymentRequest,
    LineItem,
    NotSupported,
    Payer,
    PaymentRef,
    RecoversCheckout,
    StatusReport,
)
from payhub.gateways.registry import entry, gateway_names
from payhub.money import Money
from payhub.services import hosted, routing
from payhub.services.accounts import (
    build_adapter,
    load_account,
    remember_account_settings,
)
from payhub.services.context import Hub
from payhub.services.modes import ensure_mode_allows
from payhub.services.orders import cancel_order_locally, get_order
from payhub.services.settlement import GatewayReport, apply_report, transition_order
from payhub.store import attempts, customers, orders
from payhub.store.ids import new_id
from payhub.store.journal import add_audit, add_timeline
from payhub.store.models import Order, Payment
from payhub.store.tx import Reader, retry_write_conflicts

log = logging.getLogger(__name__)


AUTO = "auto"


@dataclass(frozen=True, slots=True)
class RoutingReport:
    """Which gateway a payment went to, which were tried first (and why they were left),
    and which accounts routing skipped."""

    gateway: str
    tried: tuple[dict[str, str | None], ...]
    skipped: tuple[dict[str, str], ...]

    def as_dict(self) -> dict[str, object]:
        return {"gateway": self.gateway, "tried": list(self.tried), "skipped": list(self.skipped)}


@dataclass(frozen=True, slots=True)
class StartedPayment:
    payment_id: str
    reused: bool
    routing: RoutingReport | None = None


def callback_url(hub: Hub, gateway: str, account_id: str) -> str:
    return f"{hub.settings.public_url.rstrip('/')}/callbacks/{gateway}/{account_id}"


def return_url(hub: Hub, gateway: str, payment_id: str) -> str:
    """Where the gateway sends the customer's browser back: it carries the result page's
    token, so the customer lands on a result page that works."""
    token = hosted.result_token(hub, payment_id)
    return f"{hub.settings.public_url.rstrip('/')}/return/{gateway}/{payment_id}/{token}"


def _skipped_dicts(skipped: Sequence[rules.Skipped]) -> tuple[dict[str, str], ...]:
    return tuple(
        {"gateway": s.gateway, "environment": s.environment, "reason": s.reason} for s in skipped
    )


async def start_payment(
    hub: Hub,
    merchant_id: str,
    order_id: str,
    gateway: str | None = AUTO,
    *,
    client_ip: str = "127.0.0.1",
    locale: str | None = None,
    user_agent: str | None = None,
    options: dict[str, str] | None = None,
    actor: str = "api",
) -> StartedPayment:
    """Create (or return the live) attempt for `order_id` on `gateway`, or, for `"auto"`
    (or None), on the first routing candidate that creates a link.

    Auto falls back to the next candidate only when the failed create is known to have
    created nothing (`payhub.domain.routing.classify_create_failure`); when that is not
    known, the attempt's reference is queried: a link found there is the answer, "nothing
    there" lets routing go on, and an answer that cannot tell stops with the retry-later
    problem (never a second link that could reach the same customer).

    `client_ip`, `locale` and `user_agent` are the customer's (the hosted checkout passes
    the browser's); `locale` defaults to the order's, then Vietnamese. Adapters send them
    where their gateway has a field for them."""
    auto = gateway is None or gateway == AUTO
    plan = await to_thread.run_sync(_plan, hub, merchant_id, order_id, None if auto else gateway)
    if isinstance(plan, StartedPayment):
        return plan
    candidates, skipped = list(plan[0]), list(plan[1])
    tried: list[dict[str, str | None]] = []
    for candidate in candidates:
        if candidate.probe and not await to_thread.run_sync(
            routing.claim_probe, hub, candidate.account_id
        ):
            skipped.append(
                rules.Skipped(
                    candidate.account_id,
                    candidate.gateway,
                    candidate.environment,
                    rules.CIRCUIT_OPEN,
                )
            )
            continue
        outcome = await _try_candidate(
            hub,
            merchant_id,
            order_id,
            candidate,
            auto,
            client_ip,
            locale,
            user_agent,
            options or {},
            actor,
        )
        if isinstance(outcome, tuple):
            started, how = outcome
            if started.reused:
                return started
            tried.append(
                {
                    "gateway": candidate.gateway,
                    "account_id": candidate.account_id,
                    "outcome": how,
                    "reason": None,
                }
            )
            return replace(
                started,
                routing=RoutingReport(candidate.gateway, tuple(tried), _skipped_dicts(skipped)),
            )
        tried.append(
            {
                "gateway": candidate.gateway,
                "account_id": candidate.account_id,
                "outcome": "failed",
                "reason": outcome,
            }
        )
    retry_after = await to_thread.run_sync(_retry_after, hub, skipped)
    report = {"tried": tried, "skipped": list(_skipped_dicts(skipped))}
    what = "no gateway account" if auto else f"no {gateway} account"
    raise NoGatewayAvailable(
        f"{what} can take this payment now: "
        + ("every candidate failed without creating a link" if tried else "none is available")
        + f"; retry after {retry_after} s",
        retry_after=retry_after,
        routing=report,
    )


def _retry_after(hub: Hub, skipped: Sequence[rules.Skipped]) -> int:
    with hub.db.session() as session:
        return routing.retry_after_seconds(hub, session, skipped)


async def _try_candidate(
    hub: Hub,
    merchant_id: str,
    order_id: str,
    candidate: rules.Candidate,
    auto: bool,
    client_ip: str,
    locale: str | None,
    user_agent: str | None,
    options: dict[str, str],
    actor: str,
) -> tuple[StartedPayment, str] | str:
    """One create call on `candidate`: the started payment and how (`created`, or
    `recovered`: the link a lost create made, found by a query), or (auto only) the reason
    to go on to the next candidate. Raises when routing must stop."""
    gateway = candidate.gateway
    prepared = await to_thread.run_sync(
        _prepare_attempt, hub, merchant_id, order_id, gateway, actor, candidate.account_id
    )
    if isinstance(prepared, StartedPayment):
        return prepared, "reused"
    request, account_id, payment_id = prepared
    adapter = await to_thread.run_sync(_adapter_for_account, hub, account_id)
    try:
        checkout = await adapter.create_checkout(
            _with_options(request, client_ip, locale, user_agent, options)
        )
    except GatewayError as exc:
        verdict = rules.classify_create_failure(exc)
        if verdict is rules.CreateFailure.NOTHING_CREATED:
            await to_thread.run_sync(
                _record_create_failure, hub, payment_id, PaymentEvent.GATEWAY_REJECTED, exc
            )
            if auto:
                return exc.gateway_code or exc.code
            if isinstance(exc, InvalidPaymentRequest):
                raise InvalidRequest(f"{gateway}: {exc.message}") from None
            raise GatewayCallFailed.from_gateway(
                f"{gateway} refused the payment: {exc.message}", exc
            ) from None
        await to_thread.run_sync(
            _record_create_failure, hub, payment_id, PaymentEvent.GATEWAY_ANSWER_LOST, exc
        )
        lost = GatewayCallFailed.from_gateway(f"{gateway} did not answer: {exc.message}", exc)
        if not auto or not isinstance(adapter, RecoversCheckout):
            raise lost from None
        found = await _recover(hub, adapter, payment_id)
        if found is None:
            raise lost from None
        if isinstance(found, Checkout):
            await to_thread.run_sync(_record_checkout, hub, payment_id, account_id, found, False)
            return StartedPayment(payment_id=payment_id, reused=False), "recovered"
        return found  # proven: nothing was created
    await to_thread.run_sync(_record_checkout, hub, payment_id, account_id, checkout, True)
    return StartedPayment(payment_id=payment_id, reused=False), "created"


async def _recover(hub: Hub, adapter: RecoversCheckout, payment_id: str) -> Checkout | str | None:
    """After a create whose answer was lost: the link the gateway holds (use it), a reason
    string when the gateway proves it holds none (the attempt is failed, routing may go
    on), or None when its answer cannot tell (stop)."""
    with hub.db.session() as session:
        payment = attempts.find_attempt(session, payment_id)
        assert payment is not None
        ref = payment_ref(payment)
    try:
        found = await adapter.recover_checkout(ref)
    except GatewayError as exc:
        log.info("recovery query of %s failed: %s", payment_id, type(exc).__name__)
        return None
    if found is not None:
        return found
    proof = GatewayRejected(
        "the gateway's query shows the lost create made nothing", gateway_code="not_created"
    )
    await to_thread.run_sync(
        _record_create_failure, hub, payment_id, PaymentEvent.REPORTED_FAILED, proof, False
    )
    return "not_created"


def _plan(
    hub: Hub, merchant_id: str, order_id: str, gateway: str | None
) -> StartedPayment | tuple[tuple[rules.Candidate, ...], tuple[rules.Skipped, ...]]:
    """Routing's candidates for the order (only `gateway`'s when one is named), or the live
    attempt to hand back."""
    now = hub.clock.now()
    with hub.db.session() as session:
        details = get_order(session, merchant_id, order_id)
        _check_payable(details, order_id, now)
        route = routing.plan_route(
            hub,
            session,
            merchant_id,
            currency=details.currency,
            amount_minor=details.total_minor,
            livemode=details.livemode,
        )
        candidates = route.candidates
        if gateway is not None:
            candidates = tuple(c for c in candidates if c.gateway == gateway)
            if not candidates:
                _refuse_named(gateway, route, details.livemode, details)
        for c in candidates:
            live = attempts.newest_pending_attempt(session, order_id, c.gateway)
            if live is not None and (live.expires_at is None or as_utc(live.expires_at) > now):
                return StartedPayment(payment_id=live.id, reused=True)
        return candidates, route.skipped


def routed_gateways(hub: Hub, order_id: str) -> list[str]:
    """The gateways routing would try for the order, best first (the hosted checkout's
    choices, its first one the default); empty for an unknown order."""
    with hub.db.session() as session:
        order = orders.find_order(session, order_id)
        if order is None:
            return []
        route = routing.plan_route(
            hub,
            session,
            order.merchant_id,
            currency=order.currency,
            amount_minor=order.total_minor,
            livemode=order.livemode,
        )
        return [c.gateway for c in route.candidates]


def _check_payable(details: Order, order_id: str, now: datetime) -> None:
    status = OrderStatus(details.status)
    if status in ORDER_IS_PAID:
        raise OrderAlreadyPaid(f"order {order_id} is already paid")
    if status not in ORDER_HOLDS_STOCK:
        raise OrderNotPayable(f"order {order_id} is {status.value}")
    if as_utc(details.expires_at) <= now:
        raise OrderNotPayable(f"order {order_id} has expired")


def _refuse_named(gateway: str, route: rules.Route, livemode: bool, order: Order) -> None:
    """Why the named gateway cannot take the order, as the problem the caller gets."""
    reasons = [s.reason for s in route.skipped if s.gateway == gateway]
    usable = [r for r in reasons if r not in (rules.DISABLED, rules.MODE)]
    if not usable and rules.MODE in reasons:
        if livemode:
            why = "a live order (sk_live_ key) pays only through production accounts"
        else:
            why = (
                "a test order (sk_test_ key) pays only through simulator or sandbox accounts; "
                "for production use an sk_live_ key"
            )
        raise ModeMismatch(f"{gateway} has no account in this order's mode: {why}")
    if not usable:
        raise GatewayNotAvailable(f"{gateway} is not enabled for this merchant")
    reason = usable[0]
    if reason == rules.NOT_READY:
        raise GatewayNotAvailable(f"{gateway} is enabled but its credentials are incomplete")
    if reason == rules.CURRENCY:
        raise GatewayNotAvailable(f"{gateway} does not take {order.currency}")
    if reason == rules.AMOUNT_LIMITS:
        limits = entry(gateway).adapter.capabilities.limits_for(order.currency)
        assert limits is not None
        amount = Money(order.total_minor, order.currency)
        raise GatewayNotAvailable(
            f"{gateway} takes {Money(limits.min_minor, order.currency).display()} to "
            f"{Money(limits.max_minor, order.currency).display()}; "
            f"this order is {amount.display()}"
        )
    # circuit_open: left to the caller's loop, which answers no-gateway-available


def _with_options(
    request: CheckoutRequest,
    client_ip: str,
    locale: str | None,
    user_agent: str | None,
    options: dict[str, str],
) -> CheckoutRequest:
    return replace(
        request,
        client_ip=client_ip,
        locale=locale or request.locale,
        user_agent=user_agent,
        options={**request.options, **options},
    )


@retry_write_conflicts
def _prepare_attempt(
    hub: Hub, merchant_id: str, order_id: str, gateway: str, actor: str, account_id: str
) -> StartedPayment | tuple[CheckoutRequest, str, str]:
    now = hub.clock.now()
    with hub.db.write() as tx:
        details = get_order(tx, merchant_id, order_id)
        order = attempts.lock_order(tx, order_id)
        _check_payable(details, order_id, now)
        account = load_account(tx, account_id, gateway)
        if not account.enabled:
            raise GatewayNotAvailable(f"{gateway} is not enabled for this merchant")
        # Routing chose this account for the order's mode; checked again where the attempt
        # is written, so no path can pay a test order through a production account.
        ensure_mode_allows(bool(details.livemode), account.environment)
        adapter = build_adapter(hub, account)
        limits = adapter.capabilities.limits_for(order.currency)
        if limits is None:
            raise GatewayNotAvailable(f"{gateway} does not take {order.currency}")
        amount = Money(order.total_minor, order.currency)
        if not limits.min_minor <= amount.minor <= limits.max_minor:
            raise GatewayNotAvailable(
                f"{gateway} takes {Money(limits.min_minor, order.currency).display()} to "
                f"{Money(limits.max_minor, order.currency).display()}; "
                f"this order is {amount.display()}"
            )
        live = attempts.newest_pending_attempt(tx, order_id, gateway)
        if live is not None and (live.expires_at is None or as_utc(live.expires_at) > now):
            return StartedPayment(payment_id=live.id, reused=True)
        # A create call still in flight for this order and gateway: answer "retry", never
        # open a second link. An attempt stuck in `initiated` far past the gateway timeout
        # (a crashed process) no longer blocks new attempts.
        in_flight_since = now - timedelta(seconds=2 * hub.settings.gateway_timeout_seconds)
        if attempts.attempt_in_flight(tx, order_id, gateway, in_flight_since):
            raise AttemptInFlight(
                f"a {gateway} payment for order {order_id} is being created; retry shortly"
            )
        expires_at = min(as_utc(details.expires_at), now + adapter.capabilities.link_ttl)
        payment_id = new_id("pay")
        serial = attempts.open_attempt(
            tx,
            payment_id=payment_id,
            merchant_id=merchant_id,
            order_id=order_id,
            gateway_account_id=account.id,
            gateway=gateway,
            gateway_reference=f"pending:{new_id('ref')}",
            status=PaymentStatus.INITIATED.value,
            amount_minor=order.total_minor,
            currency=order.currency,
            gateway_data={},
            expires_at=expires_at,
            now=now,
        )
        reference = adapter.new_reference(serial, now)
        attempts.set_reference(tx, payment_id, reference)
        transition_order(tx, order, OrderEvent.ATTEMPT_STARTED, now, actor=actor)
        attempts.save(tx, order)
        add_timeline(
            tx,
            merchant_id=merchant_id,
            order_id=order_id,
            payment_id=payment_id,
            kind="payment.initiated",
            message=f"{gateway} attempt {reference} started",
            now=now,
        )
        request = CheckoutRequest(
            reference=reference,
            amount=amount,
            description=details.description or order.merchant_reference,
            notify_url=callback_url(hub, gateway, account.id),
            return_url=return_url(hub, gateway, payment_id),
            cancel_url=return_url(hub, gateway, payment_id),
            expires_at=expires_at,
            now=now,
            locale=details.locale or "vi",
            items=_line_items(tx, details),
            payer=_payer(tx, details),
        )
        return request, account.id, payment_id


def _line_items(reader: Reader, order: Order) -> tuple[LineItem, ...]:
    rows = orders.items_of(reader, order.id)
    return tuple(
        LineItem(
            name=r.name, quantity=r.quantity, unit_price=Money(r.unit_price_minor, order.currency)
        )
        for r in rows
    )


def _payer(reader: Reader, order: Order) -> Payer:
    if order.customer_id is None:
        return Payer()
    c = customers.find_customer(reader, order.customer_id)
    return Payer() if c is None else Payer(name=c.name, email=c.email, phone=c.phone)


@retry_write_conflicts
def _record_checkout(
    hub: Hub, payment_id: str, account_id: str, checkout: Checkout, healthy: bool = True
) -> None:
    """The gateway's link becomes the attempt's checkout; `healthy`: the create call itself
    answered (a link recovered after a lost answer was a failed call)."""
    now = hub.clock.now()
    with hub.db.write() as tx:
        if healthy:
            routing.record_create_success(tx, hub, load_account(tx, account_id), now)
        payment = attempts.lock_attempt(tx, payment_id)
        assert payment is not None
        after = next_payment_status(PaymentStatus(payment.status), PaymentEvent.GATEWAY_ACCEPTED)
        attempts.record_checkout(
            tx,
            payment_id,
            status=payment.status if after is None else after.value,
            reference=checkout.reference,
            checkout_url=checkout.checkout_url,
            qr_content=checkout.qr_content,
            deeplink=checkout.deeplink,
            gateway_data=dict(checkout.gateway_data),
            expires_at=checkout.expires_at,
            now=now,
        )
        remember_account_settings(tx, account_id, checkout.account_settings, now)
    if checkout.account_settings:
        hub.forget_adapters()


@retry_write_conflicts
def _record_create_failure(
    hub: Hub, payment_id: str, event: PaymentEvent, exc: GatewayError, counts: bool = True
) -> None:
    """The create call failed (`counts`: against the account's health, once per call)."""
    now = hub.clock.now()
    with hub.db.write() as tx:
        payment = attempts.lock_attempt(tx, payment_id)
        assert payment is not None
        if counts and payment.gateway_account_id is not None:
            routing.record_create_failure(
                tx, hub, load_account(tx, payment.gateway_account_id), exc, now
            )
        after = next_payment_status(PaymentStatus(payment.status), event)
        if after is not None:
            payment.status = after.value
        payment.failure_code = exc.gateway_code
        payment.failure_message = exc.message[:500]
        payment.updated_at = now
        attempts.save(tx, payment)
        add_timeline(
            tx,
            merchant_id=payment.merchant_id,
            order_id=payment.order_id,
            payment_id=payment.id,
            kind=f"payment.{payment.status}",
            message=f"{payment.gateway} create failed: {exc.message}"[:500],
            now=now,
        )


def payment_ref(payment: Payment) -> PaymentRef:
    return PaymentRef(
        reference=payment.gateway_reference,
        amount=Money(payment.amount_minor, payment.currency),
        created_at=as_utc(payment.created_at),
        gateway_data={str(k): str(v) for k, v in payment.gateway_data.items()},
        gateway_txn_id=payment.gateway_txn_id,
    )


def report_from_query(report: StatusReport) -> GatewayReport:
    return GatewayReport(
        status=report.status,
        dedupe_key=report.dedupe_key(),
        gateway_code=report.gateway_code,
        amount=report.amount_paid,
        source="query",
        message=report.message,
        gateway_txn_id=report.gateway_txn_id,
        payload={k: _jsonable(v) for k, v in report.raw.items()},
    )


def _jsonable(value: object) -> object:
    if isinstance(value, str | int | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def _adapter_for_account(hub: Hub, account_id: str) -> Gateway:
    with hub.db.session() as session:
        return build_adapter(hub, load_account(session, account_id))


def _query_target(
    hub: Hub, payment_id: str, merchant_id: str | None
) -> tuple[Gateway, PaymentRef] | str:
    """What to ask the gateway about the attempt, or its status when it cannot be asked."""
    with hub.db.session() as session:
        payment = attempts.find_attempt(session, payment_id)
        if payment is None or (merchant_id is not None and payment.merchant_id != merchant_id):
            raise NotFound(f"no payment {payment_id}")
        if payment.gateway_reference.startswith("pending:") or payment.gateway_account_id is None:
            return payment.status
        return build_adapter(hub, load_account(session, payment.gateway_account_id)), payment_ref(
            payment
        )


def _current_status(hub: Hub, payment_id: str) -> str:
    with hub.db.session() as session:
        status = attempts.attempt_status(session, payment_id)
        assert status is not None
        return status


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """One status query of an attempt: its status afterwards, whether the gateway was asked
    at all, and whether it asked to be asked less often (a gateway's "too many queries",
    HTTP 429)."""

    status: str
    asked: bool
    throttled: bool = False
    retry_after: float | None = None
    error: str | None = None  # the gateway error's code, when the query failed


def gateway_throttled(exc: GatewayError) -> bool:
    """The gateway asked to be called less often (it named a delay, or answered 429)."""
    if not isinstance(exc, GatewayUnavailable):
        return False
    return exc.retry_after is not None or exc.gateway_code == "http_429"


async def check_attempt(hub: Hub, payment_id: str, merchant_id: str | None = None) -> CheckOutcome:
    """Ask the gateway for the attempt's status and apply a settling answer."""
    target = await to_thread.run_sync(_query_target, hub, payment_id, merchant_id)
    if isinstance(target, str):
        return CheckOutcome(target, asked=False)
    adapter, ref = target
    try:
        status = await adapter.query(ref)
    except NotSupported:
        return CheckOutcome(await to_thread.run_sync(_current_status, hub, payment_id), False)
    except GatewayError as exc:
        log.info("query of %s failed: %s", payment_id, type(exc).__name__)
        current = await to_thread.run_sync(_current_status, hub, payment_id)
        retry_after = exc.retry_after if isinstance(exc, GatewayUnavailable) else None
        return CheckOutcome(
            current, True, gateway_throttled(exc), retry_after, exc.gateway_code or exc.code
        )
    if status.status == GatewayStatus.UNKNOWN:
        return CheckOutcome(await to_thread.run_sync(_current_status, hub, payment_id), True)
    applied = await to_thread.run_sync(_apply_query, hub, payment_id, report_from_query(status))
    return CheckOutcome(applied, True)


async def refresh_payment(hub: Hub, payment_id: str, merchant_id: str | None = None) -> str:
    """Ask the gateway for the attempt's status and apply a settling answer. Returns the
    attempt's status afterwards. Used by `?refresh=true`, the return page and the worker."""
    return (await check_attempt(hub, payment_id, merchant_id)).status


@retry_write_conflicts
def _apply_query(hub: Hub, payment_id: str, report: GatewayReport) -> str:
    now = hub.clock.now()
    with hub.db.write() as tx:
        locked = attempts.lock_attempt_and_order(tx, payment_id)
        assert locked is not None
        payment, order = locked
        if report.status == GatewayStatus.PENDING and payment.status == PaymentStatus.PENDING:
            return payment.status
        apply_report(tx, payment, order, report, now)
        return payment.status


def _live_targets(hub: Hub, order_id: str) -> list[tuple[str, Gateway, PaymentRef]]:
    """The order's attempts a gateway may still take money on, with their adapters."""
    with hub.db.session() as session:
        live = attempts.live_attempts(
            session, order_id, [PaymentStatus.PENDING.value, PaymentStatus.UNKNOWN.value]
        )
        return [
            (p.id, build_adapter(hub, load_account(session, p.gateway_account_id)), payment_ref(p))
            for p in live
            if p.gateway_account_id is not None
        ]


async def _cancel_at_gateways(
    targets: list[tuple[str, Gateway, PaymentRef]], hub: Hub | None = None
) -> list[str]:
    """Best effort: a link that cannot be cancelled (already paid, no cancel API) is left;
    money arriving on it later goes to review. Returns the attempts closed (or with nothing
    to close), which the worker's close job must leave alone; with `hub`, each is marked so
    at once (callers that go on to change the order mark them in that transaction)."""
    closed: list[str] = []
    for payment_id, adapter, ref in targets:
        try:
            await adapter.cancel(ref)
        except NotSupported:
            pass
        except GatewayError as exc:
            log.warning("gateway cancel of %s failed: %s", ref.reference, type(exc).__name__)
            continue
        closed.append(payment_id)
        if hub is not None:
            await to_thread.run_sync(_mark_closed, hub, payment_id)
    return closed


def _mark_closed(hub: Hub, payment_id: str) -> None:
    with hub.db.write() as tx:
        attempts.mark_closed_at_gateway(tx, payment_id, hub.clock.now())


# Attempts the hub gave up on whose link may still take money: a failed attempt of an order
# cancelled on failure, and any left open when an order was cancelled or expired.
_CLOSE_STATUSES = [
    PaymentStatus.FAILED.value,
    PaymentStatus.CANCELLED.value,
    PaymentStatus.EXPIRED.value,
]
_CLOSE_ORDER_STATUSES = [OrderStatus.CANCELLED.value, OrderStatus.EXPIRED.value]


def _claim_to_close(
    hub: Hub, worker: str, gateways: list[str], lease: timedelta, limit: int
) -> list[tuple[str, Gateway, PaymentRef]]:
    now = hub.clock.now()
    with hub.db.write() as tx:
        ids = attempts.claim_attempts_to_close(
            tx,
            now,
            statuses=_CLOSE_STATUSES,
            order_statuses=_CLOSE_ORDER_STATUSES,
            gateways=gateways,
            worker=worker,
            lease_until=now + lease,
            limit=limit,
        )
    targets: list[tuple[str, Gateway, PaymentRef]] = []
    with hub.db.session() as session:
        for payment_id in ids:
            p = attempts.find_attempt(session, payment_id)
            if p is None or p.gateway_account_id is None:
                continue
            adapter = build_adapter(hub, load_account(session, p.gateway_account_id))
            targets.append((p.id, adapter, payment_ref(p)))
    return targets


async def close_abandoned_attempts(
    hub: Hub, *, worker: str, lease: timedelta = timedelta(minutes=5), limit: int = 50
) -> int:
    """Close at the gateway the links and bills of attempts the hub gave up on (cancel on
    failure, cancel, expiry), where the gateway has an operation for it. A gateway that
    fails the call is asked again once the claim's lease has passed. How many were claimed."""
    gateways = [name for name in gateway_names() if entry(name).adapter.capabilities.cancel]
    targets = await to_thread.run_sync(_claim_to_close, hub, worker, gateways, lease, limit)
    await _cancel_at_gateways(targets, hub)
    return len(targets)


def _order_holds_stock(hub: Hub, merchant_id: str, order_id: str) -> None:
    with hub.db.session() as session:
        order = get_order(session, merchant_id, order_id)
        if OrderStatus(order.status) not in ORDER_HOLDS_STOCK:
            raise Conflict(f"order is {order.status}; only unpaid orders can be cancelled")


async def cancel_order(
    hub: Hub, merchant_id: str, order_id: str, *, actor: str, source_ip: str | None = None
) -> None:
    """Cancel the order: live attempts are cancelled at the gateway (best effort), then
    locally with the stock released exactly once."""
    await to_thread.run_sync(_order_holds_stock, hub, merchant_id, order_id)
    closed = await _cancel_at_gateways(await to_thread.run_sync(_live_targets, hub, order_id))
    await to_thread.run_sync(_cancel_locally, hub, merchant_id, order_id, actor, source_ip, closed)


@retry_write_conflicts
def _cancel_locally(
    hub: Hub,
    merchant_id: str,
    order_id: str,
    actor: str,
    source_ip: str | None,
    closed_at_gateway: list[str],
) -> None:
    now = hub.clock.now()
    with hub.db.write() as tx:
        # The order first, then its attempts: the lock order every writer of both keeps.
        order = attempts.lock_order(tx, order_id)
        cancel_order_locally(tx, order, now, actor=actor, event=OrderEvent.CANCEL_REQUESTED)
        for payment_id in closed_at_gateway:
            attempts.mark_closed_at_gateway(tx, payment_id, now)
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="order.cancel",
            subject=order_id,
            source_ip=source_ip,
            now=now,
        )


def _due_orders(hub: Hub, now: datetime, grace: timedelta) -> list[str]:
    with hub.db.session() as session:
        return orders.due_orders(session, [s.value for s in ORDER_HOLDS_STOCK], now - grace, 500)


@retry_write_conflicts
def _expire_locally(hub: Hub, order_id: str, now: datetime) -> bool:
    with hub.db.write() as tx:
        order = attempts.lock_order(tx, order_id)
        if OrderStatus(order.status) not in ORDER_HOLDS_STOCK:
            return False  # paid (or cancelled) meanwhile
        cancel_order_locally(tx, order, now, actor="worker", event=OrderEvent.EXPIRY_REACHED)
        return True


async def expire_due_orders(
    hub: Hub, now: datetime | None = None, grace: timedelta = timedelta(minutes=2)
) -> int:
    """Expire unpaid orders past their expiry plus a grace period for late notices.

    Each order's live attempts are queried first (a payment that went through settles
    instead of expiring), then cancelled at their gateways, then the order expires and
    its stock is released once."""
    now = now or hub.clock.now()
    count = 0
    for order_id in await to_thread.run_sync(_due_orders, hub, now, grace):
        for payment_id, _, _ in await to_thread.run_sync(_live_targets, hub, order_id):
            await refresh_payment(hub, payment_id)
        await _cancel_at_gateways(await to_thread.run_sync(_live_targets, hub, order_id), hub)
        if await to_thread.run_sync(_expire_locally, hub, order_id, now):
            count += 1
    return count
