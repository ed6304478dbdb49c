"""The notification service's tables (SQLAlchemy Core metadata; Alembic migrations follow it)."""

from __future__ import annotations

from sqlalchemy import MetaData

from mpa_common.messaging.tables import add_messaging_tables

metadata = MetaData()
outbox, processed_events = add_messaging_tables(metadata)
