"""The inbound pipeline: gateway notifications and browser returns.

1. Every request leaves an `inbound_requests` row, accepted or rejected, with its raw bytes
   (trimmed when it verified nothing: an unknown account, a bad signature; see
   store.inbound_log). Such a request is first offered to the caller's `admit_unverified`
   (the API's rate limit), which may refuse it: then nothing is recorded at all.
2. The adapter verifies the signature over the exact bytes received, then parses.
   A bad signature changes nothing but an audit entry and that row.
3. One durable transaction: lock the attempt, record the event under its unique dedupe key,
   apply the transition and its effects (services.settlement).
4. Only then is the gateway answered, in its own ack format.

A notification that cannot be trusted alone (`notification_needs_confirmation`) is
confirmed by a server-side query before it may settle. Browser returns only read; a
still-pending attempt may trigger a query, when the caller's `may_query` allows it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from anyio import to_thread

from payhub.domain.lifecycle import PAYMENT_LIVE, PaymentStatus
from payhub.errors import RateLimited
from payhub.gateways.base import (
    ApplyOutcome,
    Environment,
    Gateway,
    GatewayConfig,
    GatewayError,
    GatewayMisconfigured,
    GatewayStatus,
    InboundRequest,
    InvalidSignature,
    MalformedNotification,
    Notification,
    Reply,
    ReturnInfo,
)
from payhub.gateways.registry import entry
from payhub.services import reconcile
from payhub.services.accounts import build_adapter
from payhub.services.checkout import payment_ref, report_from_query
from payhub.services.context import Hub
from payhub.services.settlement import GatewayReport, apply_report
from payhub.store import accounts, attempts, events, orders
from payhub.store.inbound_log import record_inbound, stage_inbound_outcome
from payhub.store.journal import add_audit
from payhub.store.models import Payment
from payhub.store.tx import ConstraintViolation, Tx

log = logging.getLogger(__name__)

_SETTLING = frozenset(
    {GatewayStatus.SUCCEEDED, GatewayStatus.PARTIALLY_PAID, GatewayStatus.AUTHORIZED}
)
_STORED_HEADERS = ("content-type", "user-agent", "x-forwarded-for", "content-length")
# Rejections of notifications that did verify: their rows are kept whole.
_VERIFIED_REJECTIONS = frozenset({ApplyOutcome.ERROR.value, ApplyOutcome.UNKNOWN_PAYMENT.value})


@dataclass(frozen=True, slots=True)
class _Account:
    id: str
    merchant_id: str
    gateway: str
    adapter: Gateway


def _cached_account(hub: Hub, gateway: str, account_id: str) -> _Account | None:
    """The account from the cache (no I/O), or None when it must be loaded."""
    cached = hub.adapter_cache.get(f"inbound:{account_id}")
    if cached is None or hub.monotonic() - cached[0] >= hub.adapter_cache_ttl:
        return None
    account = cached[1]
    assert isinstance(account, _Account)
    return account if account.gateway == gateway else None


_ACCOUNT_LOADING = threading.Lock()


def _load_account(hub: Hub, gateway: str, account_id: str) -> _Account | None:
    """The account and its adapter, cached like adapters (see Hub.adapter_cache_ttl).

    One load at a time: when the cached entry expires under load, every request in flight
    misses it at once, and all but the first find it reloaded."""
    with _ACCOUNT_LOADING:
        cached = _cached_account(hub, gateway, account_id)
        if cached is not None:
            return cached
        with hub.db.session() as session:
            row = accounts.find_account(session, account_id)
            if row is None:
                return None
            account = _Account(row.id, row.merchant_id, row.gateway, build_adapter(hub, row))
        hub.adapter_cache[f"inbound:{account_id}"] = (hub.monotonic(), account)
    return account if account.gateway == gateway else None


def _admit_all(source_ip: str | None) -> None:
    return None


async def receive_notification(
    hub: Hub,
    gateway: str,
    account_id: str,
    raw: InboundRequest,
    *,
    admit_unverified: Callable[[str | None], None] = _admit_all,
) -> Reply:
    """Run one notification through the pipeline and return the gateway's exact answer.

    `admit_unverified(source_ip)` is called before a request that verified nothing is
    recorded; whatever it raises (payhub.errors.RateLimited) propagates, nothing recorded.

    When payhub cannot do its part (the database is unreachable, so the account cannot be
    loaded or the request cannot even be recorded), the answer is the gateway's own "try
    again" (the adapter's reply to `ApplyOutcome.ERROR`), never a generic 500 the gateway
    might read as final."""
    try:
        return await _receive_notification(hub, gateway, account_id, raw, admit_unverified)
    except RateLimited:
        raise  # the caller's 429: over budget, nothing recorded
    except Exception:
        log.exception("a %s notification could not be received; the gateway will retry", gateway)
        return retry_reply(hub, gateway)


def retry_reply(hub: Hub, gateway: str) -> Reply:
    """The gateway's "try again" answer, without its account: replies need no credentials."""
    try:
        adapter_class = entry(gateway).adapter
    except KeyError:
        return Reply(503, b'{"error":"try again"}', "application/json")
    config = GatewayConfig(credentials={}, base_url="", environment=Environment.SIMULATOR)
    return adapter_class(config, hub.http).notification_reply(ApplyOutcome.ERROR)


async def _receive_notification(
    hub: Hub,
    gateway: str,
    account_id: str,
    raw: InboundRequest,
    admit_unverified: Callable[[str | None], None],
) -> Reply:
    # Both come from the path, as the client wrote it (%00 included): made storable, and
    # the name cut to its column (no gateway's name is that long, so none is matched).
    gateway, account_id = _storable(gateway)[:32], _storable(account_id)
    account = _cached_account(hub, gateway, account_id)
    if account is None:
        account = await to_thread.run_sync(_load_account, hub, gateway, account_id)
    if account is None:
        admit_unverified(raw.remote_addr)
        await hub.db.run_write(
            _record_rejected,
            hub.clock.now(),
            gateway,
            None,
            None,
            raw,
            "unknown_account",
            "no such account",
        )
        return Reply(404, b'{"error":"unknown gateway account"}', "application/json")
    adapter = account.adapter
    try:
        notification = adapter.verify_notification(raw)
    except InvalidSignature as exc:
        admit_unverified(raw.remote_addr)
        await _reject(hub, account, raw, ApplyOutcome.INVALID_SIGNATURE, exc.message)
        return adapter.notification_reply(ApplyOutcome.INVALID_SIGNATURE)
    except MalformedNotification as exc:
        admit_unverified(raw.remote_addr)
        await _reject(hub, account, raw, ApplyOutcome.MALFORMED, exc.message)
        return adapter.notification_reply(ApplyOutcome.MALFORMED)
    except GatewayMisconfigured as exc:
        # The account lacks a credential: payhub's fault, so the gateway should retry.
        await _reject(hub, account, raw, ApplyOutcome.ERROR, exc.message)
        return adapter.notification_reply(ApplyOutcome.ERROR)
    except Exception as exc:
        # An input the adapter's parser did not foresee: still the gateway's rejection,
        # recorded; logged, since the parser should have refused it by name.
        log.exception("a %s notification broke its parser", gateway)
        detail = f"unparseable ({type(exc).__name__})"
        await _reject(hub, account, raw, ApplyOutcome.MALFORMED, detail)
        return adapter.notification_reply(ApplyOutcome.MALFORMED)

    report = GatewayReport(
        status=notification.status,
        dedupe_key=notification.dedupe_key,
        gateway_code=notification.gateway_code,
        amount=notification.amount,
        source="notification",
        message=notification.message,
        gateway_txn_id=notification.gateway_txn_id,
        payload=_jsonable_payload(notification),
    )
    if adapter.capabilities.notification_needs_confirmation and notification.status in _SETTLING:
        confirmed = await _confirm_by_query(hub, account, adapter, notification)
        if confirmed is None:
            found = await to_thread.run_sync(_find_payment, hub, account.id, notification.reference)
            outcome = ApplyOutcome.UNKNOWN_PAYMENT if found is None else ApplyOutcome.ERROR
            await _reject(
                hub, account, raw, outcome, "valid hash but not confirmed by query; nothing settled"
            )
            return adapter.notification_reply(outcome)
        report = confirmed

    try:
        outcome = await hub.db.run_write(
            _apply_notification,
            hub.clock.now(),
            gateway,
            account,
            raw,
            notification.reference,
            report,
        )
    except ConstraintViolation:
        # A concurrent copy of the same event won the race (PostgreSQL); it is recorded,
        # and this copy gets its own row. Any other refused write recorded nothing:
        # "already processed" would make the gateway stop retrying a notification that was
        # never applied.
        if await to_thread.run_sync(_event_recorded, hub, account.id, report.dedupe_key):
            outcome = ApplyOutcome.DUPLICATE
            await hub.db.run_write(
                _record_inbound,
                hub.clock.now(),
                gateway,
                account.id,
                account.merchant_id,
                raw,
                outcome.value,
                "a concurrent copy recorded this fact first",
            )
        else:
            outcome = await _record_error(hub, gateway, account, raw)
    except Exception:
        outcome = await _record_error(hub, gateway, account, raw)
    return adapter.notification_reply(outcome)


async def _reject(
    hub: Hub, account: _Account, raw: InboundRequest, outcome: ApplyOutcome, detail: str
) -> None:
    await hub.db.run_write(
        _record_rejected,
        hub.clock.now(),
        account.gateway,
        account.id,
        account.merchant_id,
        raw,
        outcome.value,
        detail,
    )


async def _record_error(
    hub: Hub, gateway: str, account: _Account, raw: InboundRequest
) -> ApplyOutcome:
    log.exception("applying a %s notification failed", gateway)
    await _reject(hub, account, raw, ApplyOutcome.ERROR, "internal error; the gateway will retry")
    return ApplyOutcome.ERROR


def _event_recorded(hub: Hub, account_id: str, dedupe_key: str) -> bool:
    with hub.db.session() as session:
        return events.event_recorded(session, account_id, dedupe_key)


async def _confirm_by_query(
    hub: Hub, account: _Account, adapter: Gateway, notification: Notification
) -> GatewayReport | None:
    """The server-side answer that replaces an untrusted notification, or None."""
    payment = await to_thread.run_sync(_find_payment, hub, account.id, notification.reference)
    if payment is None:
        return None
    try:
        status = await adapter.query(payment_ref(payment))
    except GatewayError:
        return None
    if status.status == GatewayStatus.UNKNOWN:
        return None
    report = report_from_query(status)
    # When the query confirms the notification, the notification's key is kept, so its
    # retries are answered as duplicates once the confirmed fact is recorded. When it says
    # something else (still pending), that fact goes under the query's own key: the
    # notification's key must stay free for the gateway's genuine notice of that status.
    confirmed = report.status == notification.status
    return GatewayReport(
        status=report.status,
        dedupe_key=notification.dedupe_key if confirmed else report.dedupe_key,
        gateway_code=report.gateway_code,
        amount=report.amount,
        source="notification+query",
        message=report.message,
        gateway_txn_id=report.gateway_txn_id or notification.gateway_txn_id,
        payload={"notification": _jsonable_payload(notification), "query": report.payload},
    )


def _find_payment(hub: Hub, account_id: str, reference: str) -> Payment | None:
    with hub.db.session() as session:
        return attempts.find_attempt_by_reference(session, account_id, reference)


def _record_request(
    tx: Tx,
    gateway: str,
    account_id: str | None,
    merchant_id: str | None,
    raw: InboundRequest,
    kind: str,
    outcome: str,
    detail: str,
    payment_id: str | None,
    now: datetime,
    keep_whole: bool = True,
) -> int:
    return record_inbound(
        tx,
        merchant_id=merchant_id,
        gateway=gateway,
        account_id=account_id,
        kind=kind,
        method=raw.method,
        path=_storable(raw.path[:500]),
        query_string=_storable(raw.query_string.decode("latin-1")),
        headers={k: _storable(v) for k, v in raw.headers.items() if k in _STORED_HEADERS},
        body=raw.body,
        source_ip=raw.remote_addr,
        outcome=outcome,
        detail=_storable(detail[:500]),
        payment_id=payment_id,
        now=now,
        keep_whole=keep_whole,
    )


def _storable(text: str) -> str:
    """Text as a text column takes it: PostgreSQL refuses NUL; the raw bytes are kept in
    the body column (query strings and paths are shown with NUL as U+FFFD)."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _apply_notification(
    tx: Tx,
    now: datetime,
    gateway: str,
    account: _Account,
    raw: InboundRequest,
    reference: str,
    report: GatewayReport,
) -> ApplyOutcome:
    """Step 3 of the pipeline, inside the caller's transaction (see Database.run_write)."""
    locked = attempts.lock_attempt_and_order_by_reference(tx, account.id, reference)

    def record(outcome: str, detail: str, payment_id: str | None) -> int:
        return _record_inbound(
            tx, now, gateway, account.id, account.merchant_id, raw, outcome, detail, payment_id
        )

    if locked is None:
        record(
            ApplyOutcome.UNKNOWN_PAYMENT.value, f"verified, but no attempt {reference} here", None
        )
        return ApplyOutcome.UNKNOWN_PAYMENT
    payment, order = locked
    if events.event_recorded(tx, account.id, report.dedupe_key):
        # A retry of a fact already applied: its own row, and nothing else.
        record(ApplyOutcome.DUPLICATE.value, _outcome_detail(report, payment.status), payment.id)
        return ApplyOutcome.DUPLICATE
    row_id = record("processing", "", payment.id)
    outcome = apply_report(
        tx, payment, order, report, now, event_is_new=True, inbound_request_id=row_id
    )
    stage_inbound_outcome(tx, row_id, outcome.value, _outcome_detail(report, payment.status))
    return outcome


def _outcome_detail(report: GatewayReport, payment_status: str) -> str:
    return f"{report.status.value} code {report.gateway_code}; attempt {payment_status}"[:500]


def _record_inbound(
    tx: Tx,
    now: datetime,
    gateway: str,
    account_id: str | None,
    merchant_id: str | None,
    raw: InboundRequest,
    outcome: str,
    detail: str,
    payment_id: str | None = None,
    keep_whole: bool = True,
) -> int:
    return _record_request(
        tx,
        gateway,
        account_id,
        merchant_id,
        raw,
        "notification",
        outcome,
        detail,
        payment_id,
        now,
        keep_whole,
    )


def _record_rejected(
    tx: Tx,
    now: datetime,
    gateway: str,
    account_id: str | None,
    merchant_id: str | None,
    raw: InboundRequest,
    outcome: str,
    detail: str,
) -> None:
    """A notification that settles nothing: its row, and an audit entry. The row is kept
    trimmed unless the notification verified (confirmation failed, or an internal error)."""
    verified = outcome in _VERIFIED_REJECTIONS
    row_id = _record_inbound(
        tx, now, gateway, account_id, merchant_id, raw, outcome, detail, keep_whole=verified
    )
    add_audit(
        tx,
        merchant_id=merchant_id,
        actor=f"inbound:{gateway}",
        action=f"notification.{outcome}",
        subject=f"inbound_request:{row_id}",
        source_ip=raw.remote_addr,
        after={"detail": detail[:200]},
        now=now,
    )


def _jsonable_payload(notification: Notification) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in notification.payload.items():
        out[str(key)] = value if isinstance(value, str | int | bool | type(None)) else str(value)
    return out


# ------------------------------------------------------------------ browser returns


@dataclass(frozen=True, slots=True)
class ReturnView:
    payment_id: str
    order_id: str
    merchant_id: str
    status: str
    order_status: str
    claimed: ReturnInfo | None
    merchant_return_url: str | None


def _query_always(payment_id: str) -> bool:
    return True


async def receive_return(
    hub: Hub,
    gateway: str,
    payment_id: str,
    raw: InboundRequest,
    *,
    may_query: Callable[[str], bool] = _query_always,
) -> ReturnView | None:
    """Log the browser return, maybe refresh by server-side query, and report the truth.

    A still-live attempt is queried only when `may_query(payment_id)` says so (the API
    allows one query per attempt per interval); otherwise the stored state is shown."""
    gateway, payment_id = _storable(gateway)[:32], _storable(payment_id)
    found = await to_thread.run_sync(_payment_and_adapter, hub, gateway, payment_id)
    if found is None:
        return None
    payment, adapter = found
    claimed: ReturnInfo | None
    try:
        claimed = adapter.verify_return(raw)
    except GatewayError:
        claimed = None
    await hub.db.run_write(_record_return, hub.clock.now(), gateway, payment, raw, claimed)
    if (
        PaymentStatus(payment.status) in PAYMENT_LIVE
        and adapter.capabilities.query
        and may_query(payment.id)
    ):
        # Counts as a scheduled check: the worker's next query of it moves on.
        await reconcile.check_on_schedule(hub, payment.id, worker=None)
    return await to_thread.run_sync(_return_view, hub, payment_id, claimed)


def _payment_and_adapter(hub: Hub, gateway: str, payment_id: str) -> tuple[Payment, Gateway] | None:
    with hub.db.session() as session:
        payment = attempts.find_attempt(session, payment_id)
        if payment is None or payment.gateway != gateway or payment.gateway_account_id is None:
            return None
        row = accounts.find_account(session, payment.gateway_account_id)
        assert row is not None
        return payment, build_adapter(hub, row)


def _record_return(
    tx: Tx,
    now: datetime,
    gateway: str,
    payment: Payment,
    raw: InboundRequest,
    claimed: ReturnInfo | None,
) -> None:
    detail = (
        "unparseable"
        if claimed is None
        else (
            f"claims {claimed.claimed_status.value}; signature "
            f"{'valid' if claimed.signature_valid else 'absent/invalid'}; display only"
        )
    )
    _record_request(
        tx,
        gateway,
        payment.gateway_account_id,
        payment.merchant_id,
        raw,
        "return",
        "displayed",
        detail,
        payment.id,
        now,
        claimed is not None and claimed.signature_valid,
    )


def _return_view(hub: Hub, payment_id: str, claimed: ReturnInfo | None) -> ReturnView:
    with hub.db.session() as session:
        payment = attempts.find_attempt(session, payment_id)
        assert payment is not None
        order = orders.find_order(session, payment.order_id)
        assert order is not None
        return ReturnView(
            payment_id=payment.id,
            order_id=order.id,
            merchant_id=order.merchant_id,
            status=payment.status,
            order_status=order.status,
            claimed=claimed,
            merchant_return_url=order.return_url,
        )
