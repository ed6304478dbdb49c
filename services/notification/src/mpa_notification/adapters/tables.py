"""The notification service's tables (SQLAlchemy Core metadata; Alembic migrations follow it)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from mpa_common.messaging.tables import add_messaging_tables

metadata = MetaData()
outbox, processed_events = add_messaging_tables(metadata)


def _timestamps() -> tuple[Column[object], Column[object]]:
    return (
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


# A partner's webhook endpoints. Secrets are AES-GCM ciphertexts (adapters.secrets); during a
# rotation the previous secret keeps signing until `previous_secret_expires_at`.
endpoints = Table(
    "endpoints",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("partner_id", UUID(as_uuid=True), nullable=False),
    Column("url", Text, nullable=False),
    Column("description", String(500), nullable=False, server_default=""),
    Column("event_types", ARRAY(String(200)), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", String(40), nullable=True),
    Column("rate_limit_per_second", Integer, nullable=True),
    Column("max_in_flight", Integer, nullable=True),
    Column("secret", LargeBinary, nullable=False),
    Column("previous_secret", LargeBinary, nullable=True),
    Column("previous_secret_expires_at", DateTime(timezone=True), nullable=True),
    # Start of the current unbroken run of failed attempts; cleared by any success.
    Column("failing_since", DateTime(timezone=True), nullable=True),
    Column("consecutive_failures", Integer, nullable=False, server_default="0"),
    *_timestamps(),
    Column("deleted_at", DateTime(timezone=True), nullable=True),
    Index("ix_endpoints_partner", "partner_id"),
)

# The recipient registry: e-mail addresses of partners, referrers and country supervisors.
# `owner` is the partner id, the referrer's actor id or the country code, by `kind`.
contacts = Table(
    "contacts",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("owner", String(80), nullable=False),
    Column("email", String(320), nullable=False),
    Column("language", String(3), nullable=False),
    *_timestamps(),
    UniqueConstraint("kind", "owner", "email", name="uq_contacts_kind_owner_email"),
)

# What this service knows of each referral from its events: who asked for it and where,
# so that later events can reach the referrer and the country's supervisors.
referrals = Table(
    "referrals",
    metadata,
    Column("referral_id", UUID(as_uuid=True), primary_key=True),
    Column("case_id", UUID(as_uuid=True), nullable=False),
    Column("referrer_actor_id", String(80), nullable=True),
    Column("country", String(2), nullable=True),
    Column("partner_id", UUID(as_uuid=True), nullable=True),
    Column("state", String(20), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# What this service knows of each partner from the directory's events: whether it is
# active. A partner it never heard of counts as active.
partners = Table(
    "partners",
    metadata,
    Column("partner_id", UUID(as_uuid=True), primary_key=True),
    Column("active", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# One notification to one target (a webhook endpoint, or an e-mail address) and its
# durable retry state. The dispatcher claims due rows with FOR UPDATE SKIP LOCKED.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("channel", String(10), nullable=False),
    Column("audience", String(20), nullable=False),
    Column("endpoint_id", UUID(as_uuid=True), ForeignKey("endpoints.id"), nullable=True),
    Column("email", String(320), nullable=True),
    # The registry entry the address came from (outcome events name it, never the address).
    # No foreign key: the log outlives a contact that is removed.
    Column("contact_id", UUID(as_uuid=True), nullable=True),
    Column("language", String(3), nullable=True),
    # The partner the notification concerns (its recipient, or the referral's partner when
    # a referrer or supervisors are told). Partners see only rows whose audience is theirs.
    Column("partner_id", UUID(as_uuid=True), nullable=True),
    Column("event_type", String(200), nullable=False),
    Column("trigger_event_id", UUID(as_uuid=True), nullable=True),
    Column("correlation_id", UUID(as_uuid=True), nullable=True),
    Column("referral_id", UUID(as_uuid=True), nullable=True),
    Column("case_id", UUID(as_uuid=True), nullable=True),
    Column("body", JSONB, nullable=False),
    Column("state", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    # Attempts in the current run of the schedule; a manual retry or recovery restarts it.
    Column("schedule_position", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_failure", String(40), nullable=True),
    Column("last_status_code", Integer, nullable=True),
    *_timestamps(),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    # When a dispatcher last claimed it, and until when that attempt is in flight (cleared
    # when its result is recorded): every replica counts them to respect an endpoint's
    # concurrency and rate limits together.
    Column("claimed_at", DateTime(timezone=True), nullable=True),
    Column("leased_until", DateTime(timezone=True), nullable=True),
    Index(
        "ix_deliveries_due",
        "next_attempt_at",
        postgresql_where=text("state = 'pending'"),
    ),
    Index(
        "ix_deliveries_leased",
        "leased_until",
        postgresql_where=text("leased_until IS NOT NULL"),
    ),
    Index("ix_deliveries_claimed", "claimed_at"),
    Index("ix_deliveries_endpoint_created", "endpoint_id", "created_at"),
    Index("ix_deliveries_partner_created", "partner_id", "created_at"),
    Index("ix_deliveries_created", "created_at", "id"),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("delivery_id", UUID(as_uuid=True), ForeignKey("deliveries.id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("latency_ms", Integer, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("failure", String(40), nullable=True),
    Column("error", String(300), nullable=True),
    Index("ix_delivery_attempts_delivery", "delivery_id", "attempt"),
)
