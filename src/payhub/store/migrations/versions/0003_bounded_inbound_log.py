"""bounded inbound log: body size and digest of trimmed rows, indexes for pruning

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 14:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_size", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("body_sha256", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_inbound_requests_received_at"), ["received_at"], unique=False
        )
    with op.batch_alter_table("payment_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_events_inbound_request_id"),
            ["inbound_request_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("payment_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_events_inbound_request_id"))
    with op.batch_alter_table("inbound_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_requests_received_at"))
        batch_op.drop_column("body_sha256")
        batch_op.drop_column("body_size")
