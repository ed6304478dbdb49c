"""Case ownership for scoped access: the owning caseworker, team, agency and country office.

Existing cases are owned by whoever registered them, in the country they were registered
in (teams and agencies unknown: only their owner and their country office see them).

Revision ID: intake_0003
Revises: intake_0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "intake_0003"
down_revision: str | None = "intake_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("owner_id", sa.String(80), nullable=True))
    op.add_column("cases", sa.Column("owner_team", sa.String(64), nullable=True))
    op.add_column("cases", sa.Column("owner_agency", sa.String(64), nullable=True))
    op.add_column("cases", sa.Column("owner_country", sa.String(2), nullable=True))
    op.execute("UPDATE cases SET owner_id = registered_by, owner_country = country")
    op.alter_column("cases", "owner_id", nullable=False)
    op.alter_column("cases", "owner_country", nullable=False)
    op.create_index("ix_cases_owner_id", "cases", ["owner_id", "registered_at"])
    op.create_index("ix_cases_owner_team", "cases", ["owner_team", "registered_at"])
    op.create_index("ix_cases_owner_agency", "cases", ["owner_agency", "registered_at"])
    op.create_index("ix_cases_owner_country", "cases", ["owner_country", "registered_at"])


def downgrade() -> None:
    for name in ("owner_country", "owner_agency", "owner_team", "owner_id"):
        op.drop_index(f"ix_cases_{name}", table_name="cases")
        op.drop_column("cases", name)
