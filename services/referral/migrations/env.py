"""Alembic environment of the referral service."""

from mpa_common.migrations import run_alembic_env
from mpa_referral.adapters.tables import metadata
from mpa_referral.settings import ReferralSettings

run_alembic_env(metadata, ReferralSettings())
