"""A case's reference number is taken as its registration commits, not before.

The year's counter row is locked from the statement that takes the next number until the
transaction ends, so every registration queues behind the one holding it. Taken by the
registering transaction itself, that lock was held across the round trips to the outbox
write and the COMMIT, and across the intake process's own scheduling between them: under
load, tens of milliseconds per registration, which capped registrations at about 40/s. A
deferred constraint trigger takes the number inside COMMIT instead, so the lock is held
only while the server finishes the commit. Numbers stay gap-free: a transaction that rolls
back never reaches its deferred triggers, and one whose commit fails gives its number back.

The trigger also writes the number into the case's registration event in the outbox (the
event whose id is the case's correlation id), which was staged with a placeholder. The
statements are mpa_intake.adapters.reference_ddl's, frozen there.

Revision ID: intake_0008
Revises: intake_0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

from mpa_intake.adapters.reference_ddl import drop_reference_at_commit_v1, reference_at_commit_v1

revision: str = "intake_0008"
down_revision: str | None = "intake_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in reference_at_commit_v1():
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_reference_at_commit_v1():
        op.execute(statement)
