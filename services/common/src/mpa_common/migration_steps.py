"""Schema steps every service's Alembic history applies, frozen by version.

A step is never edited once released (migrations must replay identically): a change to the
messaging tables is a new function, `messaging_v2`, called by a new revision in each service.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mpa_common.messaging.tables import DROP_NOTIFY_TRIGGER_SQL, NOTIFY_TRIGGER_SQL


def messaging_v1_upgrade() -> None:
    """The transactional outbox, the idempotent consumers' ledger and the relay's trigger."""
    op.create_table(
        "outbox",
        sa.Column("position", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("event_id", postgresql.UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("kafka_key", sa.LargeBinary(), nullable=False),
        sa.Column("envelope", postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["position"],
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_index("ix_outbox_published_at", "outbox", ["published_at"])
    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(200), primary_key=True),
        sa.Column("event_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    for statement in NOTIFY_TRIGGER_SQL:
        op.execute(statement)


def messaging_v1_downgrade() -> None:
    for statement in DROP_NOTIFY_TRIGGER_SQL:
        op.execute(statement)
    op.drop_table("processed_events")
    op.drop_table("outbox")
