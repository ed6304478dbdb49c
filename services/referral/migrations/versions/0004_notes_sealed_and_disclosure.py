"""Notes encrypted at rest and erasable, history entries name the partner they concern,
whose deactivation a service's is, timers count their failures, track records refresh by
answer time.

Existing notes are encrypted here with the configured key (REFERRAL_NOTES_KEY; the
development key outside production), then the plaintext column goes. Existing history
entries name no partner: partners no longer see them (referrers and auditors still do).

Revision ID: referral_0004
Revises: referral_0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision: str = "referral_0004"
down_revision: str | None = "referral_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _cipher():  # type: ignore[no-untyped-def]
    from mpa_referral.adapters.notes import NoteCipher
    from mpa_referral.settings import ReferralSettings

    return NoteCipher.from_settings(ReferralSettings())


def upgrade() -> None:
    op.add_column("services", sa.Column("deactivated_by", sa.String(20), nullable=True))
    op.add_column(
        "cases",
        sa.Column(
            "personal_data_erased", sa.Boolean(), nullable=False, server_default=sa.text("false")
        ),
    )
    op.add_column(
        "timers",
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )
    op.create_index("ix_routing_attempts_responded_at", "routing_attempts", ["responded_at"])
    op.add_column("referral_history", sa.Column("partner_id", UUID(as_uuid=True), nullable=True))
    op.add_column("referral_history", sa.Column("note_sealed", sa.LargeBinary(), nullable=True))
    op.add_column(
        "referral_history",
        sa.Column("note_erased", sa.Boolean(), nullable=False, server_default=sa.text("false")),
    )
    connection = op.get_bind()
    notes = connection.execute(
        sa.text(
            "SELECT id, referral_id, event_id, note FROM referral_history WHERE note IS NOT NULL"
        )
    ).all()
    if notes:
        cipher = _cipher()
        for row_id, referral_id, event_id, note in notes:
            connection.execute(
                sa.text("UPDATE referral_history SET note_sealed = :sealed WHERE id = :id"),
                {"sealed": cipher.seal(referral_id, event_id, note), "id": row_id},
            )
    op.drop_column("referral_history", "note")


def downgrade() -> None:
    op.add_column("referral_history", sa.Column("note", sa.Text(), nullable=True))
    connection = op.get_bind()
    sealed = connection.execute(
        sa.text(
            "SELECT id, referral_id, event_id, note_sealed FROM referral_history "
            "WHERE note_sealed IS NOT NULL"
        )
    ).all()
    if sealed:
        cipher = _cipher()
        for row_id, referral_id, event_id, ciphertext in sealed:
            connection.execute(
                sa.text("UPDATE referral_history SET note = :note WHERE id = :id"),
                {"note": cipher.open(referral_id, event_id, bytes(ciphertext)), "id": row_id},
            )
    op.drop_column("referral_history", "note_erased")
    op.drop_column("referral_history", "note_sealed")
    op.drop_column("referral_history", "partner_id")
    op.drop_index("ix_routing_attempts_responded_at", table_name="routing_attempts")
    op.drop_column("timers", "attempts")
    op.drop_column("cases", "personal_data_erased")
    op.drop_column("services", "deactivated_by")
