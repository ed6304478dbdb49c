"""The audit service's tables (SQLAlchemy Core metadata; Alembic migrations follow it)."""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
