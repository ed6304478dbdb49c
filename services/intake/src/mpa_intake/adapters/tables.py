"""The intake service's tables (SQLAlchemy Core metadata; Alembic migrations follow it).

No column holds personal data in plaintext: the person's record is the AES-GCM ciphertext
in `cases.personal_data`, duplicate matching uses HMAC digests, and idempotency keeps a
keyed digest of each request body and a response that carries ids only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    event,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.engine import Connection

from mpa_common.messaging.tables import add_messaging_tables
from mpa_common.timers import add_timers_table
from mpa_intake.adapters.reference_ddl import reference_at_commit_v1

metadata = MetaData()
outbox, processed_events = add_messaging_tables(metadata)
# Durable timers (follow-ups falling overdue), shared design with the referral service.
timers = add_timers_table(metadata)

CODE = 40  # length of a vocabulary code column

cases = Table(
    "cases",
    metadata,
    Column("case_id", UUID(as_uuid=True), primary_key=True),
    Column("reference", String(20), nullable=False, unique=True),
    Column("status", String(CODE), nullable=False),
    Column("correlation_id", UUID(as_uuid=True), nullable=False),
    # Pseudonymous routing attributes (what events carry).
    Column("age_band", String(CODE), nullable=False),
    Column("sex", String(CODE), nullable=False),
    Column("nationality", String(2), nullable=True),
    Column("languages", ARRAY(String(3)), nullable=False),
    Column("country", String(2), nullable=False),
    Column("admin_area", String(6), nullable=True),
    Column("vulnerabilities", ARRAY(String(CODE)), nullable=False),
    Column("do_not_contact", Boolean, nullable=False),
    Column("safe_contact_method", String(CODE), nullable=False),
    Column("safe_times", ARRAY(String(CODE)), nullable=False, server_default=text("'{}'")),
    Column("voicemail_allowed", Boolean, nullable=False, server_default=text("false")),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("registered_by", String(80), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("closure_reason", String(CODE), nullable=True),
    # Encrypted personal data; all three are NULL once erased (the row is a tombstone).
    Column("master_key_id", String(64), nullable=True),
    Column("wrapped_data_key", LargeBinary, nullable=True),
    Column("personal_data", LargeBinary, nullable=True),
    Column("erased_at", DateTime(timezone=True), nullable=True),
    Column("erasure_basis", String(CODE), nullable=True),
    # Who is responsible for the case (scoped access): an actor id and org-unit codes.
    Column("owner_id", String(80), nullable=False),
    Column("owner_team", String(64), nullable=True),
    Column("owner_agency", String(64), nullable=True),
    Column("owner_country", String(2), nullable=False),
    # Actor ids that keep access beside the owner's scope (a previous owner, if configured).
    Column("shared_with", ARRAY(String(80)), nullable=False, server_default=text("'{}'")),
    # The latest assessment's risk level.
    Column("risk_level", String(CODE), nullable=True),
    Index("ix_cases_registered", "registered_at", "case_id"),
    Index("ix_cases_owner_id", "owner_id", "registered_at"),
    Index("ix_cases_owner_team", "owner_team", "registered_at"),
    Index("ix_cases_owner_agency", "owner_agency", "registered_at"),
    Index("ix_cases_owner_country", "owner_country", "registered_at"),
    Index("ix_cases_master_key_id", "master_key_id"),
)

case_needs = Table(
    "case_needs",
    metadata,
    Column("need_id", UUID(as_uuid=True), primary_key=True),
    Column("case_id", UUID(as_uuid=True), ForeignKey("cases.case_id"), nullable=False),
    Column("category", String(CODE), nullable=False),
    Column("urgency", String(CODE), nullable=False),
    Column("assistance_country", String(2), nullable=True),
    Column("position", SmallInteger, nullable=False),
    Column("added_at", DateTime(timezone=True), nullable=False),
    Column("added_by", String(80), nullable=False),
    Index("ix_case_needs_case", "case_id", "position"),
    Index("ix_case_needs_category", "category", "case_id"),
)

# Every consent recorded; the one with superseded_at NULL is the case's current consent.
case_consents = Table(
    "case_consents",
    metadata,
    Column("consent_id", UUID(as_uuid=True), primary_key=True),
    Column("case_id", UUID(as_uuid=True), ForeignKey("cases.case_id"), nullable=False),
    Column("scopes", ARRAY(String(CODE)), nullable=False),
    Column("withdrawn_scopes", ARRAY(String(CODE)), nullable=False),
    Column("given_by", String(CODE), nullable=False),
    Column("method", String(CODE), nullable=False),
    Column("obtained_by", String(80), nullable=False),
    Column("obtained_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("refused_partner_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
    Column("refused_partner_types", ARRAY(String(CODE)), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("superseded_at", DateTime(timezone=True), nullable=True),
    Index(
        "ux_case_consents_current",
        "case_id",
        unique=True,
        postgresql_where=text("superseded_at IS NULL"),
    ),
)

# Keyed hashes (HMAC-SHA256) of normalised name + date of birth, and of the phone number.
case_match_keys = Table(
    "case_match_keys",
    metadata,
    Column("case_id", UUID(as_uuid=True), ForeignKey("cases.case_id"), primary_key=True),
    Column("kind", String(CODE), primary_key=True),
    Column("digest", LargeBinary, nullable=False),
    Index("ix_case_match_keys_digest", "kind", "digest"),
)

# Gapless per-year numbering of human references (MPA-<year>-<6 digits>), taken at
# commit by a trigger on `cases` (reference_ddl.py).
case_reference_counters = Table(
    "case_reference_counters",
    metadata,
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("last_number", Integer, nullable=False),
)


@event.listens_for(metadata, "after_create")
def _create_reference_trigger(target: MetaData, connection: Connection, **_: Any) -> None:
    """`metadata.create_all` (tests, benchmarks) makes what revision intake_0008 makes."""
    for statement in reference_at_commit_v1():
        connection.exec_driver_sql(statement)


idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("subject", String(200), primary_key=True),
    Column("idempotency_key", String(200), primary_key=True),
    Column("request_digest", LargeBinary, nullable=False),
    Column("response_status", SmallInteger, nullable=False),
    Column("response_body", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# What intake knows from referral events: which partner holds which referral of a case.
partner_access_grants = Table(
    "partner_access_grants",
    metadata,
    Column("referral_id", UUID(as_uuid=True), primary_key=True),
    Column("case_id", UUID(as_uuid=True), nullable=False),
    Column("need_id", UUID(as_uuid=True), nullable=False),
    Column("partner_id", UUID(as_uuid=True), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("last_event_type", String(200), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_partner_access_grants_case_partner", "case_id", "partner_id"),
)

# The casework of each case (domain.casework): transfers, assessments, interventions,
# follow-ups, approvals and what is known of its referrals; one row per record, its fields
# as JSON (ids, codes and dates only: free text is in the case's encrypted personal data).
casework_records = Table(
    "casework_records",
    metadata,
    Column("record_id", UUID(as_uuid=True), primary_key=True),
    Column("case_id", UUID(as_uuid=True), ForeignKey("cases.case_id"), nullable=False),
    Column("kind", String(CODE), nullable=False),
    Column("state", String(CODE), nullable=False),
    Column("record", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_casework_records_case", "case_id", "kind", "created_at"),
    Index("ix_casework_records_state", "kind", "state", "created_at"),
)

# PSEA complaints (domain.psea): restricted records outside any case. The record's fields
# as JSON (ids, codes, dates, flags); the account and whatever identifies the survivor only
# in `personal_data`, encrypted as a case's is, under a data key of the complaint's own.
psea_complaints = Table(
    "psea_complaints",
    metadata,
    Column("complaint_id", UUID(as_uuid=True), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("record", JSONB, nullable=False),
    Column("master_key_id", String(64), nullable=False),
    Column("wrapped_data_key", LargeBinary, nullable=False),
    Column("personal_data", LargeBinary, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The receiving country office (the focal points' scope); null before it was recorded.
    Column("country", String(2), nullable=True),
    Index("ix_psea_complaints_received", "received_at"),
    Index("ix_psea_complaints_country", "country", "received_at"),
)
