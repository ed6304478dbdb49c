"""Endpoints, recipient registry, known referrals, deliveries and their attempts.

Revision ID: notification_0002
Revises: notification_0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "notification_0002"
down_revision: str | None = "notification_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    ]


def upgrade() -> None:
    uuid = postgresql.UUID(as_uuid=True)
    op.create_table(
        "endpoints",
        sa.Column("id", uuid, primary_key=True),
        sa.Column("partner_id", uuid, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("description", sa.String(500), nullable=False, server_default=""),
        sa.Column("event_types", postgresql.ARRAY(sa.String(200)), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(40), nullable=True),
        sa.Column("rate_limit_per_second", sa.Integer(), nullable=True),
        sa.Column("max_in_flight", sa.Integer(), nullable=True),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("previous_secret", sa.LargeBinary(), nullable=True),
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False, server_default="0"),
        *_timestamps(),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_endpoints_partner", "endpoints", ["partner_id"])
    op.create_table(
        "contacts",
        sa.Column("id", uuid, primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("owner", sa.String(80), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("language", sa.String(3), nullable=False),
        *_timestamps(),
        sa.UniqueConstraint("kind", "owner", "email", name="uq_contacts_kind_owner_email"),
    )
    op.create_table(
        "referrals",
        sa.Column("referral_id", uuid, primary_key=True),
        sa.Column("case_id", uuid, nullable=False),
        sa.Column("referrer_actor_id", sa.String(80), nullable=True),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("partner_id", uuid, nullable=True),
        sa.Column("state", sa.String(20), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", uuid, primary_key=True),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("audience", sa.String(20), nullable=False),
        sa.Column("endpoint_id", uuid, sa.ForeignKey("endpoints.id"), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("language", sa.String(3), nullable=True),
        sa.Column("partner_id", uuid, nullable=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("trigger_event_id", uuid, nullable=True),
        sa.Column("correlation_id", uuid, nullable=True),
        sa.Column("referral_id", uuid, nullable=True),
        sa.Column("case_id", uuid, nullable=True),
        sa.Column("body", postgresql.JSONB(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("schedule_position", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure", sa.String(40), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        *_timestamps(),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_deliveries_due",
        "deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index("ix_deliveries_endpoint_created", "deliveries", ["endpoint_id", "created_at"])
    op.create_index("ix_deliveries_partner_created", "deliveries", ["partner_id", "created_at"])
    op.create_index("ix_deliveries_created", "deliveries", ["created_at", "id"])
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("delivery_id", uuid, sa.ForeignKey("deliveries.id"), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("failure", sa.String(40), nullable=True),
        sa.Column("error", sa.String(300), nullable=True),
    )
    op.create_index(
        "ix_delivery_attempts_delivery", "delivery_attempts", ["delivery_id", "attempt"]
    )


def downgrade() -> None:
    op.drop_table("delivery_attempts")
    op.drop_table("deliveries")
    op.drop_table("referrals")
    op.drop_table("contacts")
    op.drop_table("endpoints")
