"""Safe contact (issue 17): the safety profile's safe times and whether a voicemail may be
left, beside "do not contact" and the safe channel.

Revision ID: intake_0005
Revises: intake_0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "intake_0005"
down_revision: str | None = "intake_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "cases",
        sa.Column(
            "safe_times",
            postgresql.ARRAY(sa.String(40)),
            nullable=False,
            server_default=sa.text("'{}'"),
        ),
    )
    op.add_column(
        "cases",
        sa.Column(
            "voicemail_allowed", sa.Boolean(), nullable=False, server_default=sa.text("false")
        ),
    )


def downgrade() -> None:
    op.drop_column("cases", "voicemail_allowed")
    op.drop_column("cases", "safe_times")
