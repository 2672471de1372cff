"""Read models: what the merchant API, the web pages, the CLI and the worker read.

Each read is an async function taking the `Database` (the hub's `db`) and returning frozen
values (dataclasses whose `as_dict()` is the JSON the API answers with), or `None` for a
row that does not exist for the caller. Each runs its queries on a read session in a worker
thread, once (`running.run_read`), so callers never hold a session or an ORM object.

    orders            order_view, order_page, payment_view
    api_keys          api_keys (prefix, mode, role, last use; never the key)
    catalog           products, product
    credits           credit_ledger, credit_entries_page, customer_balance, entry_view
    gateway_accounts  gateway_accounts
    merchants         merchant_profile (name and checkout branding)
    console           merchant_choices (the console's merchant switcher)
    console_orders    order_rows, order_record, review_items (the console's order pages)
    dashboard         dashboard (the console's aggregates per day, currency, gateway)
    checkout          hosted_checkout, order_merchant, payment_progress (customer pages)
    attempts          stale_attempts (the worker's reconciliation)
    notifications     notification_log (the e-mail/Telegram delivery log)
    refunds           RefundView (the shape of a refund; services.refunds reads them)
"""

from __future__ import annotations

from payhub.store.reads.api_keys import ApiKeyView, api_keys
from payhub.store.reads.attempts import stale_attempts
from payhub.store.reads.catalog import ProductView, product, products
from payhub.store.reads.checkout import (
    HostedCheckout,
    PaymentProgress,
    hosted_checkout,
    order_merchant,
    payment_progress,
)
from payhub.store.reads.console import MerchantChoice, merchant_choices
from payhub.store.reads.credits import (
    CreditEntryView,
    CreditLedger,
    credit_entries_page,
    credit_ledger,
    customer_balance,
    entry_view,
)
from payhub.store.reads.gateway_accounts import (
    GatewayAccountView,
    ValidationView,
    gateway_accounts,
)
from payhub.store.reads.merchants import MerchantProfile, merchant_profile
from payhub.store.reads.notifications import NotificationView, notification_log
from payhub.store.reads.orders import (
    CustomerView,
    OrderFilter,
    OrderItemView,
    OrderPage,
    OrderSummary,
    OrderView,
    PaymentView,
    TimelineEntryView,
    order_page,
    order_view,
    payment_view,
)
from payhub.store.reads.refunds import RefundView

__all__ = [
    "ApiKeyView",
    "CreditEntryView",
    "CreditLedger",
    "CustomerView",
    "GatewayAccountView",
    "HostedCheckout",
    "MerchantChoice",
    "MerchantProfile",
    "NotificationView",
    "OrderFilter",
    "OrderItemView",
    "OrderPage",
    "OrderSummary",
    "OrderView",
    "PaymentProgress",
    "PaymentView",
    "ProductView",
    "RefundView",
    "TimelineEntryView",
    "ValidationView",
    "api_keys",
    "credit_entries_page",
    "credit_ledger",
    "customer_balance",
    "entry_view",
    "gateway_accounts",
    "hosted_checkout",
    "merchant_choices",
    "merchant_profile",
    "notification_log",
    "order_merchant",
    "order_page",
    "order_view",
    "payment_progress",
    "payment_view",
    "product",
    "products",
    "stale_attempts",
]
