"""Directory, case read model, referrals with routing attempts and history, durable timers.

Revision ID: referral_0002
Revises: referral_0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "referral_0002"
down_revision: str | None = "referral_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UUID = postgresql.UUID(as_uuid=True)
JSONB = postgresql.JSONB()


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("partner_type", sa.String(40), nullable=False),
        sa.Column("countries", postgresql.ARRAY(sa.String(2)), nullable=False),
        sa.Column("designations", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("contacts", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("deactivation_reason", sa.String(40), nullable=True),
        sa.Column("is_demo", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        *_timestamps(),
    )
    op.create_table(
        "services",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("partner_id", UUID, sa.ForeignKey("partners.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("coverage", JSONB, nullable=False),
        sa.Column("coverage_countries", postgresql.ARRAY(sa.String(2)), nullable=False),
        sa.Column("languages", postgresql.ARRAY(sa.String(3)), nullable=False),
        sa.Column("min_age", sa.Integer(), nullable=True),
        sa.Column("max_age", sa.Integer(), nullable=True),
        sa.Column("sexes", postgresql.ARRAY(sa.String(20)), nullable=False),
        sa.Column("nationalities_served", postgresql.ARRAY(sa.String(2)), nullable=False),
        sa.Column("nationalities_excluded", postgresql.ARRAY(sa.String(2)), nullable=False),
        sa.Column("vulnerabilities_required", postgresql.ARRAY(sa.String(40)), nullable=False),
        sa.Column("vulnerability_focus", postgresql.ARRAY(sa.String(40)), nullable=False),
        sa.Column("capacity_total", sa.Integer(), nullable=True),
        sa.Column("capacity_available", sa.Integer(), nullable=True),
        sa.Column("capacity_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opening_hours", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("sla_hours", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("free_of_charge", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("fees_description", sa.String(500), nullable=True),
        sa.Column("contacts", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("assured_date", sa.Date(), nullable=True),
        sa.Column("gbv_sensitive", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("is_demo", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        *_timestamps(),
        sa.CheckConstraint(
            "capacity_available IS NULL OR (capacity_available >= 0 AND "
            "(capacity_total IS NULL OR capacity_available <= capacity_total))",
            name="ck_services_capacity_within_total",
        ),
    )
    op.create_index("ix_services_partner_id", "services", ["partner_id"])
    op.create_index("ix_services_category", "services", ["category"])
    op.create_index(
        "ix_services_coverage_countries", "services", ["coverage_countries"], postgresql_using="gin"
    )
    op.create_table(
        "cases",
        sa.Column("case_id", UUID, primary_key=True),
        sa.Column("case_reference", sa.String(20), nullable=False),
        sa.Column("correlation_id", UUID, nullable=False),
        sa.Column("age_band", sa.String(10), nullable=False),
        sa.Column("sex", sa.String(20), nullable=False),
        sa.Column("nationality", sa.String(2), nullable=True),
        sa.Column("languages", postgresql.ARRAY(sa.String(3)), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("admin_area", sa.String(6), nullable=True),
        sa.Column("vulnerabilities", postgresql.ARRAY(sa.String(40)), nullable=False),
        sa.Column("consent", JSONB, nullable=True),
        sa.Column("do_not_contact", sa.Boolean(), nullable=False),
        sa.Column("safe_contact_method", sa.String(30), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        *_timestamps(),
    )
    op.create_table(
        "case_needs",
        sa.Column("need_id", UUID, primary_key=True),
        sa.Column("case_id", UUID, sa.ForeignKey("cases.case_id"), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("urgency", sa.String(10), nullable=False),
        sa.Column("assistance_country", sa.String(2), nullable=True),
        sa.Column("mandatory_rule", sa.String(40), nullable=True),
        sa.Column(
            "added_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("ix_case_needs_case_id", "case_needs", ["case_id"])
    op.create_table(
        "referrals",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("case_id", UUID, sa.ForeignKey("cases.case_id"), nullable=False),
        sa.Column("need_id", UUID, sa.ForeignKey("case_needs.need_id"), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("urgency", sa.String(10), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("partner_id", UUID, nullable=True),
        sa.Column("service_id", UUID, nullable=True),
        sa.Column("holds_capacity", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("attempt", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("reroute_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("mandatory_rule", sa.String(40), nullable=True),
        sa.Column("chosen_service_id", UUID, nullable=True),
        sa.Column("consent_override_reason", sa.String(40), nullable=True),
        sa.Column("requested_by", sa.String(80), nullable=False),
        sa.Column("routed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acceptance_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_reason", sa.String(60), nullable=True),
        sa.Column("outcome", sa.String(40), nullable=True),
        *_timestamps(),
    )
    op.create_index(
        "ux_referrals_open_need",
        "referrals",
        ["need_id"],
        unique=True,
        postgresql_where=sa.text(
            "state IN ('requested', 'routed', 'accepted', 'in_progress', 'on_hold')"
        ),
    )
    op.create_index("ix_referrals_case_id", "referrals", ["case_id"])
    op.create_index("ix_referrals_partner_created", "referrals", ["partner_id", "created_at"])
    op.create_index("ix_referrals_state", "referrals", ["state"])
    op.create_table(
        "routing_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("referral_id", UUID, sa.ForeignKey("referrals.id"), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rule_set", sa.String(60), nullable=False),
        sa.Column("partner_id", UUID, nullable=True),
        sa.Column("service_id", UUID, nullable=True),
        sa.Column("candidates", JSONB, nullable=False),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response", sa.String(20), nullable=True),
        sa.UniqueConstraint("referral_id", "attempt", name="uq_routing_attempts_referral_attempt"),
    )
    op.create_index("ix_routing_attempts_partner_id", "routing_attempts", ["partner_id"])
    op.create_table(
        "referral_history",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("referral_id", UUID, sa.ForeignKey("referrals.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("actor_id", sa.String(80), nullable=False),
        sa.Column("actor_role", sa.String(20), nullable=False),
        sa.Column("from_state", sa.String(20), nullable=True),
        sa.Column("to_state", sa.String(20), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("event_id", UUID, nullable=False),
        sa.Column("reason", sa.String(60), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_index("ix_referral_history_referral_id", "referral_history", ["referral_id"])
    op.create_table(
        "timers",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("subject_id", UUID, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(40), nullable=True),
    )
    op.create_index(
        "ix_timers_due", "timers", ["due_at"], postgresql_where=sa.text("fired_at IS NULL")
    )
    op.create_index("ix_timers_subject", "timers", ["kind", "subject_id"])


def downgrade() -> None:
    for table in (
        "timers",
        "referral_history",
        "routing_attempts",
        "referrals",
        "case_needs",
        "cases",
        "services",
        "partners",
    ):
        op.drop_table(table)
