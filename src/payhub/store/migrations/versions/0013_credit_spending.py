"""credits can be spent: debits and operator adjustments on the credit ledger

Credit entries no longer need an order (a debit or an adjustment has none); each entry
records the balance it left, and a debit carries the merchant's reference, unique per
(merchant, account), so a retried debit can never charge twice.

Revision ID: 0013
Revises: 0008
Create Date: 2026-12-01 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("credit_entries", schema=None) as batch_op:
        batch_op.alter_column("order_id", existing_type=sa.String(length=40), nullable=True)
        batch_op.add_column(sa.Column("balance_after", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("reference", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("description", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("metadata", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("actor", sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_credit_entries_merchant_id"),
            ["merchant_id", "account_id", "reference"],
        )


def downgrade() -> None:
    # Below 0013 an entry needs an order, so debits and adjustments could only be dropped,
    # leaving balances that their ledger no longer explains: refuse instead.
    spent = (
        op.get_bind()
        .execute(sa.text("SELECT COUNT(*) FROM credit_entries WHERE order_id IS NULL"))
        .scalar_one()
    )
    if spent:
        raise RuntimeError(
            f"{spent} credit debits/adjustments exist: downgrading below 0013 would lose them"
        )
    with op.batch_alter_table("credit_entries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_credit_entries_merchant_id"), type_="unique")
        batch_op.drop_column("actor")
        batch_op.drop_column("metadata")
        batch_op.drop_column("description")
        batch_op.drop_column("reference")
        batch_op.drop_column("balance_after")
        batch_op.alter_column("order_id", existing_type=sa.String(length=40), nullable=False)
