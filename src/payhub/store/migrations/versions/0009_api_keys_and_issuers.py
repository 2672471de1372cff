"""API keys get a role, last use, expiry (rotation) and the key they replaced; merchants get
their own customer-token issuers

Revision ID: 0009
Revises: 0013
Create Date: 2026-12-01 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("role", sa.String(length=16), nullable=False, server_default="standard")
        )
        batch_op.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("replaced_by", sa.String(length=40), nullable=True))
    # Keys issued before roles existed: each merchant's oldest key becomes its owner key.
    op.execute(
        "UPDATE api_keys SET role = 'owner' WHERE id IN ("
        " SELECT k.id FROM api_keys k WHERE NOT EXISTS ("
        "  SELECT 1 FROM api_keys o WHERE o.merchant_id = k.merchant_id"
        "   AND (o.created_at < k.created_at OR (o.created_at = k.created_at AND o.id < k.id))))"
    )
    op.create_table(
        "customer_token_issuers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("audience", sa.String(length=500), nullable=False),
        sa.Column("jwks_url", sa.String(length=1000), nullable=True),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("secret_key_id", sa.String(length=40), nullable=True),
        sa.Column("customer_claim", sa.String(length=100), nullable=False),
        sa.Column("algorithms", sa.JSON(), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_customer_token_issuers_merchant_id_merchants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_token_issuers")),
        sa.UniqueConstraint("issuer", "audience", name=op.f("uq_customer_token_issuers_issuer")),
    )
    op.create_index(
        op.f("ix_customer_token_issuers_merchant_id"),
        "customer_token_issuers",
        ["merchant_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_customer_token_issuers_merchant_id"), table_name="customer_token_issuers"
    )
    op.drop_table("customer_token_issuers")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("replaced_by")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("role")
