"""join the console's branch (0010) and main's (0009, after 0013 and 0008); no schema change

The console pages need no table of their own. This revision only joins the two heads this
branch has after merging main (0010 and 0008 both revise 0006), so `upgrade head` has one
target; when the integrator chains them one after the other it can be dropped.

Revision ID: 0014
Revises: 0010, 0009
Create Date: 2026-12-01 18:10:00
"""

from collections.abc import Sequence

revision: str = "0014"
down_revision: str | Sequence[str] | None = ("0010", "0009")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
