"""The referral service's tables (SQLAlchemy Core metadata; Alembic migrations follow it).

Directory (partners, services), the pseudonymous case read model (cases, case_needs),
referrals with their routing attempts (each holding the explanation) and history, and
generic durable timers. Contacts are organisational contact points: they stay here and
never go into events.
"""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
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
from sqlalchemy.dialects.postgresql import JSONB, UUID

from mpa_common.messaging.tables import add_messaging_tables

metadata = MetaData()
outbox, processed_events = add_messaging_tables(metadata)
# The directory snapshot catches up on the directory's own events after a position
# (adapters/directory_snapshot.py): a few among a week of every event. Through this index
# whatever plan PostgreSQL made while the outbox was young (a `position >` range alone
# looks like a third of the table to a generic plan: a sequential scan).
DIRECTORY_EVENT_PREFIX = "org.mpa.directory."
DIRECTORY_EVENTS_PREDICATE = f"event_type LIKE '{DIRECTORY_EVENT_PREFIX}%'"
Index(
    "ix_outbox_directory_events",
    outbox.c.position,
    postgresql_where=text(DIRECTORY_EVENTS_PREDICATE),
)


def _timestamps() -> list[Column[object]]:
    return [
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ]


partners = Table(
    "partners",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("partner_type", String(40), nullable=False),
    Column("countries", ARRAY(String(2)), nullable=False),
    # [{"role": ..., "country": ..., "admin_areas": [...]}]
    Column("designations", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("contacts", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("deactivation_reason", String(40), nullable=True),
    Column("is_demo", Boolean, nullable=False, server_default=text("false")),
    *_timestamps(),
)

services = Table(
    "services",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("partner_id", UUID(as_uuid=True), ForeignKey("partners.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("category", String(40), nullable=False),
    Column("status", String(30), nullable=False),
    # [{"country": ..., "admin_areas": [...]}]; countries repeated below for an indexed filter.
    Column("coverage", JSONB, nullable=False),
    Column("coverage_countries", ARRAY(String(2)), nullable=False),
    Column("languages", ARRAY(String(3)), nullable=False),
    Column("min_age", Integer, nullable=True),
    Column("max_age", Integer, nullable=True),
    Column("sexes", ARRAY(String(20)), nullable=False),
    Column("nationalities_served", ARRAY(String(2)), nullable=False),
    Column("nationalities_excluded", ARRAY(String(2)), nullable=False),
    Column("vulnerabilities_required", ARRAY(String(40)), nullable=False),
    Column("vulnerability_focus", ARRAY(String(40)), nullable=False),
    Column("capacity_total", Integer, nullable=True),
    Column("capacity_available", Integer, nullable=True),
    Column("capacity_updated_at", DateTime(timezone=True), nullable=True),
    Column("opening_hours", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    # {"critical": hours, ...}: a service's own, shorter, response promise per urgency.
    Column("sla_hours", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("free_of_charge", Boolean, nullable=False, server_default=text("true")),
    Column("fees_description", String(500), nullable=True),
    Column("contacts", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("assured_date", Date, nullable=True),
    Column("gbv_sensitive", Boolean, nullable=False, server_default=text("false")),
    Column("deactivation_reason", String(40), nullable=True),  # set while status is inactive
    # Whose deactivation it is (the actor's role): a partner lifts only its own.
    Column("deactivated_by", String(20), nullable=True),
    Column("is_demo", Boolean, nullable=False, server_default=text("false")),
    *_timestamps(),
    CheckConstraint(
        "capacity_available IS NULL OR (capacity_available >= 0 AND "
        "(capacity_total IS NULL OR capacity_available <= capacity_total))",
        name="ck_services_capacity_within_total",
    ),
    Index("ix_services_partner_id", "partner_id"),
    Index("ix_services_category", "category"),
    Index("ix_services_coverage_countries", "coverage_countries", postgresql_using="gin"),
)

cases = Table(
    "cases",
    metadata,
    Column("case_id", UUID(as_uuid=True), primary_key=True),
    Column("case_reference", String(20), nullable=False),
    # The story's correlation id: events this service emits about the case carry it on.
    Column("correlation_id", UUID(as_uuid=True), nullable=False),
    Column("age_band", String(10), nullable=False),
    Column("sex", String(20), nullable=False),
    Column("nationality", String(2), nullable=True),
    Column("languages", ARRAY(String(3)), nullable=False),
    Column("country", String(2), nullable=False),
    Column("admin_area", String(6), nullable=True),
    Column("vulnerabilities", ARRAY(String(40)), nullable=False),
    # {"consent_id", "scopes", "expires_at", "refused_partner_ids", "refused_partner_types"}
    Column("consent", JSONB, nullable=True),
    Column("do_not_contact", Boolean, nullable=False),
    Column("safe_contact_method", String(30), nullable=False),
    Column("status", String(10), nullable=False),
    # Intake erased the person's data: the notes about the case are destroyed here too.
    Column("personal_data_erased", Boolean, nullable=False, server_default=text("false")),
    # When intake recorded a best-interests determination for the child (issue 17).
    Column("best_interests_determined_at", DateTime(timezone=True), nullable=True),
    # The person's consents to transfers of their data abroad (issue 17):
    # [{"transfer_consent_id", "countries", "expires_at"}]
    Column("transfer_consents", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    *_timestamps(),
)

case_needs = Table(
    "case_needs",
    metadata,
    Column("need_id", UUID(as_uuid=True), primary_key=True),
    Column("case_id", UUID(as_uuid=True), ForeignKey("cases.case_id"), nullable=False),
    Column("category", String(40), nullable=False),
    Column("urgency", String(10), nullable=False),
    Column("assistance_country", String(2), nullable=True),
    Column("mandatory_rule", String(40), nullable=True),
    Column("added_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_case_needs_case_id", "case_id"),
)

referrals = Table(
    "referrals",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("case_id", UUID(as_uuid=True), ForeignKey("cases.case_id"), nullable=False),
    Column("need_id", UUID(as_uuid=True), ForeignKey("case_needs.need_id"), nullable=False),
    Column("category", String(40), nullable=False),
    Column("urgency", String(10), nullable=False),
    Column("country", String(2), nullable=False),  # where the service is wanted
    Column("state", String(20), nullable=False),
    Column("partner_id", UUID(as_uuid=True), nullable=True),
    Column("service_id", UUID(as_uuid=True), nullable=True),
    Column("holds_capacity", Boolean, nullable=False, server_default=text("false")),
    Column("attempt", Integer, nullable=False, server_default=text("0")),
    Column("reroute_count", Integer, nullable=False, server_default=text("0")),
    Column("mandatory_rule", String(40), nullable=True),
    Column("chosen_service_id", UUID(as_uuid=True), nullable=True),
    Column("consent_override_reason", String(40), nullable=True),
    Column("requested_by", String(80), nullable=False),
    Column("routed_at", DateTime(timezone=True), nullable=True),
    Column("acceptance_due_at", DateTime(timezone=True), nullable=True),
    Column("accepted_at", DateTime(timezone=True), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("status_reason", String(60), nullable=True),
    Column("outcome", String(40), nullable=True),
    *_timestamps(),
    # One referral at work per need: a replayed event or a double click never adds a second.
    Index(
        "ux_referrals_open_need",
        "need_id",
        unique=True,
        postgresql_where=text(
            "state IN ('requested', 'routed', 'accepted', 'in_progress', 'on_hold')"
        ),
    ),
    Index("ix_referrals_case_id", "case_id"),
    Index("ix_referrals_partner_created", "partner_id", "created_at"),
    Index("ix_referrals_service_id", "service_id"),  # what a departing service holds
    Index("ix_referrals_state", "state"),
)

# One row per routing of a referral: the explanation (every candidate considered, the rule
# that passed or failed it, its score) and what the chosen partner did with it.
routing_attempts = Table(
    "routing_attempts",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("referral_id", UUID(as_uuid=True), ForeignKey("referrals.id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("rule_set", String(60), nullable=False),
    Column("partner_id", UUID(as_uuid=True), nullable=True),
    Column("service_id", UUID(as_uuid=True), nullable=True),
    Column("candidates", JSONB, nullable=False),
    Column("responded_at", DateTime(timezone=True), nullable=True),
    # accepted | declined | sla_breached | cancelled; None while the partner has not answered
    Column("response", String(20), nullable=True),
    UniqueConstraint("referral_id", "attempt", name="uq_routing_attempts_referral_attempt"),
    Index("ix_routing_attempts_partner_id", "partner_id"),
    # Whose track record changed lately (the directory snapshot refreshes only those).
    Index("ix_routing_attempts_responded_at", "responded_at"),
)

referral_history = Table(
    "referral_history",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("referral_id", UUID(as_uuid=True), ForeignKey("referrals.id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor_id", String(80), nullable=False),
    Column("actor_role", String(20), nullable=False),
    Column("from_state", String(20), nullable=True),
    Column("to_state", String(20), nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("reason", String(60), nullable=True),
    # The partner the entry concerns (routed to it, its answer, its work): a partner reads
    # only the entries about itself.
    Column("partner_id", UUID(as_uuid=True), nullable=True),
    # Free text, AES-GCM encrypted (adapters/notes.py); destroyed when the case's personal
    # data is erased, which `note_erased` then records.
    Column("note_sealed", LargeBinary, nullable=True),
    Column("note_erased", Boolean, nullable=False, server_default=text("false")),
    Index("ix_referral_history_referral_id", "referral_id"),
)

# Durable timers of any kind (SLA deadlines today, legal clocks later): claimed with
# SELECT ... FOR UPDATE SKIP LOCKED in the transaction that applies them, so each fires once.
timers = Table(
    "timers",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("kind", String(60), nullable=False),
    Column("subject_id", UUID(as_uuid=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("payload", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("fired_at", DateTime(timezone=True), nullable=True),
    Column("outcome", String(40), nullable=True),
    # Failed firings so far (a timer's own failures; an outage is not counted).
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Index("ix_timers_due", "due_at", postgresql_where=text("fired_at IS NULL")),
    Index("ix_timers_subject", "kind", "subject_id"),
)

# The person's feedback on a referral's service (issue 17), learnt from intake's events: the
# partner that delivered it, codes only; `anonymous` says the partner sees it only within
# its figures.
service_feedback = Table(
    "service_feedback",
    metadata,
    Column("feedback_id", UUID(as_uuid=True), primary_key=True),
    Column("referral_id", UUID(as_uuid=True), nullable=False),
    Column("partner_id", UUID(as_uuid=True), nullable=False),
    Column("service_id", UUID(as_uuid=True), nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("received", String(40), nullable=False),
    Column("quality", String(40), nullable=True),
    Column("waiting_time", String(40), nullable=True),
    Column("felt_safe", Boolean, nullable=True),
    Column("anonymous", Boolean, nullable=False),
    Index("ix_service_feedback_partner", "partner_id", "recorded_at"),
)
