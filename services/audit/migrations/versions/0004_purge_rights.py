"""Let the runtime role purge the messaging plumbing (never the log).

The relay's leader deletes published outbox rows and old processed-event ledger entries;
those tables are delivery machinery, not the audit log, whose tables stay SELECT/INSERT only.

Revision ID: audit_0004
Revises: audit_0003
Create Date: 2026-11-23
"""

import os
from collections.abc import Sequence

from alembic import op

revision: str = "audit_0004"
down_revision: str | None = "audit_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNTIME_ROLE = os.environ.get("AUDIT_RUNTIME_ROLE", "mpa_audit_app")


def upgrade() -> None:
    op.execute(f"GRANT DELETE ON outbox, processed_events TO {RUNTIME_ROLE}")


def downgrade() -> None:
    op.execute(f"REVOKE DELETE ON outbox, processed_events FROM {RUNTIME_ROLE}")
