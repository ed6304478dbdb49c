"""Protection workflows (issue 17): when a best-interests determination was recorded for a
case's child, learnt from intake's `best_interests_determined.v1`; until then return and
family-reunification referrals of an unaccompanied or separated child wait for it.

Revision ID: referral_0005
Revises: referral_0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "referral_0005"
down_revision: str | None = "referral_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "cases",
        sa.Column("best_interests_determined_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("cases", "best_interests_determined_at")
