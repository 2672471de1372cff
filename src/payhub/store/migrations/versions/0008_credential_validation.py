"""gateway accounts remember their last credential validation (result, code, message, time)

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-01 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("gateway_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("validated_at", sa.DateTime(timezone=True), nullable=True))
        # NULL with validated_at set: the gateway could not tell (unreachable, 5xx).
        batch_op.add_column(sa.Column("validation_ok", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("validation_code", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("validation_message", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gateway_accounts", schema=None) as batch_op:
        batch_op.drop_column("validation_message")
        batch_op.drop_column("validation_code")
        batch_op.drop_column("validation_ok")
        batch_op.drop_column("validated_at")
