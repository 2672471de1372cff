"""Use cases: checkout, inbound notifications, settlement, refunds, vault, ledger, stock."""
