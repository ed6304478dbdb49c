"""Alembic environment of the intake service."""

from mpa_common.migrations import run_alembic_env
from mpa_intake.adapters.tables import metadata
from mpa_intake.settings import IntakeSettings

run_alembic_env(metadata, IntakeSettings())
