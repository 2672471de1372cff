"""The money invariants, checked in SQL. Used after every concurrency and fault test and
by `make bench`; each query returns the rows that violate its rule (none is healthy)."""

from __future__ import annotations

from sqlalchemy import Engine, text

INVARIANTS: dict[str, str] = {
    "paid order without exactly one credit grant": """
        SELECT o.id FROM orders o
        WHERE o.status IN ('paid', 'partially_refunded', 'refunded')
          AND o.credits_to_grant > 0 AND o.customer_id IS NOT NULL
          AND (SELECT COUNT(*) FROM credit_entries c
               WHERE c.order_id = o.id AND c.reason = 'order_paid') <> 1
    """,
    "credit grant without a paid order": """
        SELECT c.order_id FROM credit_entries c JOIN orders o ON o.id = c.order_id
        WHERE c.reason = 'order_paid'
          AND o.status NOT IN ('paid', 'partially_refunded', 'refunded')
    """,
    "credit balance differs from its ledger": """
        SELECT a.id FROM credit_accounts a
        WHERE a.balance <> COALESCE(
            (SELECT SUM(c.amount) FROM credit_entries c WHERE c.account_id = a.id), 0)
    """,
    "debit or adjustment left a balance below zero": """
        SELECT id FROM credit_entries
        WHERE reason IN ('debit', 'adjustment') AND balance_after < 0
    """,
    "debit that adds credits": """
        SELECT id FROM credit_entries WHERE reason = 'debit' AND amount >= 0
    """,
    "credit entry's balance_after differs from its account's running sum": """
        SELECT id FROM (
            SELECT id, balance_after,
                   SUM(amount) OVER (PARTITION BY account_id ORDER BY id) AS running
            FROM credit_entries) e
        WHERE balance_after IS NOT NULL AND balance_after <> running
    """,
    "negative stock": "SELECT id FROM products WHERE stock_available < 0",
    "stock released more than once": """
        SELECT order_id, product_id FROM stock_movements WHERE reason = 'release'
        GROUP BY order_id, product_id HAVING COUNT(*) > 1
    """,
    "stock released without a reservation": """
        SELECT r.order_id FROM stock_movements r
        WHERE r.reason = 'release' AND NOT EXISTS (
            SELECT 1 FROM stock_movements s WHERE s.order_id = r.order_id
              AND s.product_id = r.product_id AND s.reason = 'reserve')
    """,
    "paid order still holding released stock": """
        SELECT DISTINCT m.order_id FROM stock_movements m JOIN orders o ON o.id = m.order_id
        WHERE m.reason = 'release' AND o.status IN ('paid', 'awaiting_payment')
    """,
    "paid order without a succeeded attempt": """
        SELECT o.id FROM orders o
        WHERE o.status IN ('paid', 'partially_refunded', 'refunded') AND NOT EXISTS (
            SELECT 1 FROM payments p WHERE p.id = o.paid_payment_id AND p.status = 'succeeded')
    """,
    "order paid by more than one succeeded attempt": """
        SELECT order_id FROM payments WHERE status = 'succeeded'
        GROUP BY order_id HAVING COUNT(*) > 1
    """,
    "succeeded attempt whose order is not paid": """
        SELECT p.id FROM payments p JOIN orders o ON o.id = p.order_id
        WHERE p.status = 'succeeded' AND o.status NOT IN ('paid', 'partially_refunded', 'refunded')
    """,
    "paid order without exactly one order.paid event": """
        SELECT o.id FROM orders o
        WHERE o.status IN ('paid', 'partially_refunded', 'refunded')
          AND (SELECT COUNT(*) FROM outbox e WHERE e.event_key = 'order.paid:' || o.id) <> 1
    """,
    "applied success event without its effect": """
        SELECT e.id FROM payment_events e JOIN payments p ON p.id = e.payment_id
        WHERE e.payment_status_after = 'succeeded' AND p.status <> 'succeeded'
    """,
    "refunds exceed the captured amount": """
        SELECT p.id FROM payments p
        WHERE (SELECT COALESCE(SUM(r.amount_minor), 0) FROM refunds r
               WHERE r.payment_id = p.id AND r.status IN ('pending', 'succeeded'))
              > COALESCE(p.received_minor, p.amount_minor)
    """,
}


def check_invariants(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every violated invariant with (up to 20 of) its offending rows."""
    violations: dict[str, list[tuple[object, ...]]] = {}
    with engine.connect() as conn:
        for name, query in INVARIANTS.items():
            rows = [tuple(r) for r in conn.execute(text(query)).fetchmany(20)]
            if rows:
                violations[name] = rows
    return violations
