"""gateway routing: per-account health and circuit, per-merchant routing choices

Every existing gateway account gets a closed circuit.

Revision ID: 0007
Revises: 0010
Create Date: 2026-12-01 17:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gateway_health",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_timeout_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("probe_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["gateway_accounts.id"],
            name=op.f("fk_gateway_health_account_id_gateway_accounts"),
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_gateway_health")),
    )
    op.create_table(
        "merchant_routing",
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("default_gateway", sa.String(length=32), nullable=True),
        sa.Column("currency_priorities", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_merchant_routing_merchant_id_merchants"),
        ),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_merchant_routing")),
    )
    op.execute(
        "INSERT INTO gateway_health (account_id, merchant_id, state, consecutive_failures,"
        " updated_at) SELECT id, merchant_id, 'closed', 0, updated_at FROM gateway_accounts"
    )


def downgrade() -> None:
    op.drop_table("merchant_routing")
    op.drop_table("gateway_health")
