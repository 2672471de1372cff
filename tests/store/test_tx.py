"""What services hold on a transaction: a `Tx` to hand to store operations, nothing to
query with."""

from __future__ import annotations

import anyio
import pytest

from payhub.store import journal
from payhub.store.db import Database
from payhub.store.tx import Tx
from tests.store.conftest import NOW


def test_a_write_transaction_offers_nothing_to_query_with(db: Database) -> None:
    with db.write() as tx:
        assert isinstance(tx, Tx)
        for name in ("execute", "scalar", "scalars", "get", "add", "delete", "flush", "commit"):
            assert not hasattr(tx, name), name
        with pytest.raises(AttributeError):
            tx.anything = 1  # type: ignore[attr-defined]  # no __dict__: slots only


def test_run_write_hands_its_function_a_tx(db: Database) -> None:
    def write(tx: Tx, subject: str) -> str:
        assert isinstance(tx, Tx)
        journal.add_audit(tx, merchant_id=None, actor="t", action="a", subject=subject, now=NOW)
        return subject

    assert anyio.run(db.run_write, write, "s1") == "s1"
