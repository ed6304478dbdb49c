"""The directory snapshot's catch-up by index (issue 13): the directory's own events in the
outbox, by position, a partial index beside the outbox's own.

Revision ID: referral_0008
Revises: referral_0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "referral_0008"
down_revision: str | None = "referral_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_outbox_directory_events",
        "outbox",
        ["position"],
        postgresql_where=sa.text("event_type LIKE 'org.mpa.directory.%'"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_directory_events", table_name="outbox")
