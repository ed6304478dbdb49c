"""Alembic environment of the audit service."""

from mpa_audit.adapters.tables import metadata
from mpa_audit.settings import AuditSettings
from mpa_common.migrations import run_alembic_env

run_alembic_env(metadata, AuditSettings())
