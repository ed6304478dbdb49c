"""Deliveries name their contact (outcome events for every recipient) and record their
claim and lease (limits respected across replicas).

Revision ID: notification_0003
Revises: notification_0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "notification_0003"
down_revision: str | None = "notification_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("contact_id", postgresql.UUID(as_uuid=True)))
    op.add_column("deliveries", sa.Column("claimed_at", sa.DateTime(timezone=True)))
    op.add_column("deliveries", sa.Column("leased_until", sa.DateTime(timezone=True)))
    op.create_index(
        "ix_deliveries_leased",
        "deliveries",
        ["leased_until"],
        postgresql_where=sa.text("leased_until IS NOT NULL"),
    )
    op.create_index("ix_deliveries_claimed", "deliveries", ["claimed_at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_claimed", table_name="deliveries")
    op.drop_index("ix_deliveries_leased", table_name="deliveries")
    op.drop_column("deliveries", "leased_until")
    op.drop_column("deliveries", "claimed_at")
    op.drop_column("deliveries", "contact_id")
