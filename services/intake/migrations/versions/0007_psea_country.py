"""PSEA complaints belong to the country office that received it (the focal points'
scope): a column of its own, indexed for the focal point's list.

Revision ID: intake_0007
Revises: intake_0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "intake_0007"
down_revision: str | None = "intake_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("psea_complaints", sa.Column("country", sa.String(2), nullable=True))
    # Complaints recorded before keep none: only a focal point who reaches all sees them.
    op.create_index("ix_psea_complaints_country", "psea_complaints", ["country", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_psea_complaints_country", table_name="psea_complaints")
    op.drop_column("psea_complaints", "country")
