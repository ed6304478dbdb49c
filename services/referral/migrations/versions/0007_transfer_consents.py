"""Cross-border work (issue 17): the person's consents to transfers of their data abroad,
learnt from intake's `transfer_consent_recorded.v1` / `transfer_consent_withdrawn.v1`; a
transnational referral waits for one naming its country.

Revision ID: referral_0007
Revises: referral_0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "referral_0007"
down_revision: str | None = "referral_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "cases",
        sa.Column(
            "transfer_consents",
            postgresql.JSONB(),
            nullable=False,
            server_default=sa.text("'[]'::jsonb"),
        ),
    )


def downgrade() -> None:
    op.drop_column("cases", "transfer_consents")
