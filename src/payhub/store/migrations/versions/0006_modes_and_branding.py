"""orders carry their mode (test/live); merchants carry their checkout branding

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("livemode", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("logo_url", sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column("brand_color", sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column("default_locale", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_column("default_locale")
        batch_op.drop_column("brand_color")
        batch_op.drop_column("logo_url")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("livemode")
