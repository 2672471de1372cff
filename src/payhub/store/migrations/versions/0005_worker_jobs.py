"""worker jobs: delivery leases, per-attempt reconciliation schedule, refund re-checks,
attempts closed at the gateway

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _lease_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        for column in _lease_columns():
            batch_op.add_column(column)
    with op.batch_alter_table("payments", schema=None) as batch_op:
        for column in _lease_columns():
            batch_op.add_column(column)
        batch_op.add_column(sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("check_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("gateway_closed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_payments_next_check", ["status", "next_check_at"], unique=False)
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        for column in _lease_columns():
            batch_op.add_column(column)
        batch_op.add_column(sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("check_count", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        for name in ("check_count", "next_check_at", "claimed_by", "claimed_until"):
            batch_op.drop_column(name)
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_next_check")
        for name in (
            "gateway_closed_at",
            "check_count",
            "next_check_at",
            "claimed_by",
            "claimed_until",
        ):
            batch_op.drop_column(name)
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        for name in ("claimed_by", "claimed_until"):
            batch_op.drop_column(name)
