"""Persistence: SQLAlchemy 2 models, engine and transactions, Alembic migrations, and the
named operations that services call.

Services hold a `tx.Tx` (from `Database.write()` or `Database.run_write`) or a read session
and pass it to operations named for what they mean, in modules named for what they hold:

    attempts       lock an attempt (and its order) as records, save them, open an attempt
    events         has this fact been recorded, record it
    inbound_log    record an inbound request, stage its outcome
    journal        stage audit, timeline and outbox rows
    credits        open a credit account, post credits
    stock          take and put back stock, movements
    orders, customers, catalog, merchants, accounts, refunds, outbox, idempotency_keys

The machinery that makes the webhook path fast (group_commit, direct, staging, rows,
tables) and the staged-read guard are private to store/: an import-linter contract keeps
services from importing them, or SQLAlchemy.
"""
