"""Cases with encrypted personal data, needs, consent history, match keys, reference
counters, idempotency records and partner access grants.

Revision ID: intake_0002
Revises: intake_0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "intake_0002"
down_revision: str | None = "intake_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CODE = 40


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("case_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("reference", sa.String(20), nullable=False, unique=True),
        sa.Column("status", sa.String(CODE), nullable=False),
        sa.Column("correlation_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("age_band", sa.String(CODE), nullable=False),
        sa.Column("sex", sa.String(CODE), nullable=False),
        sa.Column("nationality", sa.String(2), nullable=True),
        sa.Column("languages", postgresql.ARRAY(sa.String(3)), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("admin_area", sa.String(6), nullable=True),
        sa.Column("vulnerabilities", postgresql.ARRAY(sa.String(CODE)), nullable=False),
        sa.Column("do_not_contact", sa.Boolean(), nullable=False),
        sa.Column("safe_contact_method", sa.String(CODE), nullable=False),
        _ts("registered_at"),
        sa.Column("registered_by", sa.String(80), nullable=False),
        _ts("updated_at"),
        _ts("closed_at", nullable=True),
        sa.Column("closure_reason", sa.String(CODE), nullable=True),
        sa.Column("master_key_id", sa.String(64), nullable=True),
        sa.Column("wrapped_data_key", sa.LargeBinary(), nullable=True),
        sa.Column("personal_data", sa.LargeBinary(), nullable=True),
        _ts("erased_at", nullable=True),
        sa.Column("erasure_basis", sa.String(CODE), nullable=True),
    )
    op.create_index("ix_cases_registered", "cases", ["registered_at", "case_id"])
    op.create_index("ix_cases_master_key_id", "cases", ["master_key_id"])

    op.create_table(
        "case_needs",
        sa.Column("need_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "case_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("cases.case_id"),
            nullable=False,
        ),
        sa.Column("category", sa.String(CODE), nullable=False),
        sa.Column("urgency", sa.String(CODE), nullable=False),
        sa.Column("assistance_country", sa.String(2), nullable=True),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        _ts("added_at"),
        sa.Column("added_by", sa.String(80), nullable=False),
    )
    op.create_index("ix_case_needs_case", "case_needs", ["case_id", "position"])
    op.create_index("ix_case_needs_category", "case_needs", ["category", "case_id"])

    op.create_table(
        "case_consents",
        sa.Column("consent_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "case_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("cases.case_id"),
            nullable=False,
        ),
        sa.Column("scopes", postgresql.ARRAY(sa.String(CODE)), nullable=False),
        sa.Column("withdrawn_scopes", postgresql.ARRAY(sa.String(CODE)), nullable=False),
        sa.Column("given_by", sa.String(CODE), nullable=False),
        sa.Column("method", sa.String(CODE), nullable=False),
        sa.Column("obtained_by", sa.String(80), nullable=False),
        _ts("obtained_at"),
        _ts("expires_at", nullable=True),
        sa.Column(
            "refused_partner_ids", postgresql.ARRAY(postgresql.UUID(as_uuid=True)), nullable=False
        ),
        sa.Column("refused_partner_types", postgresql.ARRAY(sa.String(CODE)), nullable=False),
        _ts("recorded_at"),
        _ts("superseded_at", nullable=True),
    )
    op.create_index(
        "ux_case_consents_current",
        "case_consents",
        ["case_id"],
        unique=True,
        postgresql_where=sa.text("superseded_at IS NULL"),
    )

    op.create_table(
        "case_match_keys",
        sa.Column(
            "case_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("cases.case_id"),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(CODE), primary_key=True),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_case_match_keys_digest", "case_match_keys", ["kind", "digest"])

    op.create_table(
        "case_reference_counters",
        sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
    )

    op.create_table(
        "idempotency_keys",
        sa.Column("subject", sa.String(200), primary_key=True),
        sa.Column("idempotency_key", sa.String(200), primary_key=True),
        sa.Column("request_digest", sa.LargeBinary(), nullable=False),
        sa.Column("response_status", sa.SmallInteger(), nullable=False),
        sa.Column("response_body", postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )

    op.create_table(
        "partner_access_grants",
        sa.Column("referral_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("case_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("need_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("partner_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_event_type", sa.String(200), nullable=False),
        _ts("updated_at"),
    )
    op.create_index(
        "ix_partner_access_grants_case_partner",
        "partner_access_grants",
        ["case_id", "partner_id"],
    )


def downgrade() -> None:
    op.drop_table("partner_access_grants")
    op.drop_table("idempotency_keys")
    op.drop_table("case_reference_counters")
    op.drop_table("case_match_keys")
    op.drop_table("case_consents")
    op.drop_table("case_needs")
    op.drop_table("cases")
