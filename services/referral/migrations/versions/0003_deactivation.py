"""Services keep why they were deactivated; referrals are found by the service holding them.

Revision ID: referral_0003
Revises: referral_0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "referral_0003"
down_revision: str | None = "referral_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("services", sa.Column("deactivation_reason", sa.String(40), nullable=True))
    op.create_index("ix_referrals_service_id", "referrals", ["service_id"])


def downgrade() -> None:
    op.drop_index("ix_referrals_service_id", table_name="referrals")
    op.drop_column("services", "deactivation_reason")
