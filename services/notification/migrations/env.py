"""Alembic environment of the notification service."""

from mpa_common.migrations import run_alembic_env
from mpa_notification.adapters.tables import metadata
from mpa_notification.settings import NotificationSettings

run_alembic_env(metadata, NotificationSettings())
