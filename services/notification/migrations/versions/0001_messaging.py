"""Messaging tables: transactional outbox and processed-events ledger.

Revision ID: notification_0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from mpa_common.migration_steps import messaging_v1_downgrade, messaging_v1_upgrade

revision: str = "notification_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    messaging_v1_upgrade()


def downgrade() -> None:
    messaging_v1_downgrade()
