"""Rights of the audit service's runtime role (it is not the schema owner).

The service runs as AUDIT_RUNTIME_ROLE (local stack: mpa_audit_app); migrations run as the
owner. The runtime role gets exactly what the messaging plumbing needs; the audit log's own
tables grant it SELECT and INSERT only (their migrations), never UPDATE or DELETE.

Revision ID: audit_0002
Revises: audit_0001
Create Date: 2026-11-23
"""

import os
from collections.abc import Sequence

from alembic import op

revision: str = "audit_0002"
down_revision: str | None = "audit_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNTIME_ROLE = os.environ.get("AUDIT_RUNTIME_ROLE", "mpa_audit_app")


def upgrade() -> None:
    # The schema the tables are created in (public, or AUDIT_DATABASE_SCHEMA's).
    op.execute(
        "DO $$ BEGIN EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), "
        f"'{RUNTIME_ROLE}'); END $$"
    )
    # The relay reads the outbox and marks rows sent; consumers record processed events.
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON outbox TO {RUNTIME_ROLE}")
    op.execute(f"GRANT SELECT, INSERT ON processed_events TO {RUNTIME_ROLE}")
    op.execute(
        "DO $$ BEGIN EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA %I TO %I', "
        f"current_schema(), '{RUNTIME_ROLE}'); END $$"
    )


def downgrade() -> None:
    op.execute(f"REVOKE ALL ON outbox, processed_events FROM {RUNTIME_ROLE}")
    op.execute(
        "DO $$ BEGIN EXECUTE format('REVOKE USAGE ON ALL SEQUENCES IN SCHEMA %I FROM %I', "
        f"current_schema(), '{RUNTIME_ROLE}'); END $$"
    )
    op.execute(
        "DO $$ BEGIN EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM %I', current_schema(), "
        f"'{RUNTIME_ROLE}'); END $$"
    )
