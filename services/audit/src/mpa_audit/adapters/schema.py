"""Database-side protection of the log: the runtime role's rights and the immutability trigger.

`log_protection_v1` and `log_protection_v2` are frozen like migration steps: the audit_0003
and audit_0005 revisions and schemas made by `provision_schema` apply exactly these
statements; a change is a new function and a new revision.
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_V1_TABLES = ("log_entries", "merkle_nodes", "tree_heads", "skipped_offsets")


def log_protection_v1(runtime_role: str) -> list[str]:
    """SQL that makes the log tables append-only, and lets ``runtime_role`` read and append."""
    if not _ROLE_NAME.fullmatch(runtime_role):
        raise ValueError("runtime role must be a plain lower-case identifier")
    statements = [
        """
CREATE OR REPLACE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$
"""
    ]
    for name in _V1_TABLES:
        statements += [
            f"CREATE TRIGGER {name}_append_only BEFORE UPDATE OR DELETE ON {name} "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change()",
            f"CREATE TRIGGER {name}_no_truncate BEFORE TRUNCATE ON {name} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()",
            f"REVOKE ALL ON {name} FROM {runtime_role}",
            f"GRANT SELECT, INSERT ON {name} TO {runtime_role}",
        ]
    return statements


_V2_APPEND_ONLY = ("coverage_gaps", "tree_head_cosignatures", "integrity_checks")


def log_protection_v2(runtime_role: str) -> list[str]:
    """audit_0005's tables: the append-only ones protected like the log; the partitions'
    running accounts (derived, recounted by the full integrity check) also UPDATE-able."""
    if not _ROLE_NAME.fullmatch(runtime_role):
        raise ValueError("runtime role must be a plain lower-case identifier")
    statements: list[str] = []
    for name in _V2_APPEND_ONLY:
        statements += [
            f"CREATE TRIGGER {name}_append_only BEFORE UPDATE OR DELETE ON {name} "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change()",
            f"CREATE TRIGGER {name}_no_truncate BEFORE TRUNCATE ON {name} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()",
            f"REVOKE ALL ON {name} FROM {runtime_role}",
            f"GRANT SELECT, INSERT ON {name} TO {runtime_role}",
        ]
    return [
        *statements,
        "DO $$ BEGIN EXECUTE format('GRANT USAGE ON SEQUENCE %s TO %I', "
        f"pg_get_serial_sequence('integrity_checks', 'id'), '{runtime_role}'); END $$",
        f"REVOKE ALL ON coverage_accounts FROM {runtime_role}",
        f"GRANT SELECT, INSERT, UPDATE ON coverage_accounts TO {runtime_role}",
    ]


def drop_log_protection_v2() -> list[str]:
    statements: list[str] = []
    for name in _V2_APPEND_ONLY:
        statements += [
            f"DROP TRIGGER IF EXISTS {name}_append_only ON {name}",
            f"DROP TRIGGER IF EXISTS {name}_no_truncate ON {name}",
        ]
    return statements


def drop_log_protection_v1() -> list[str]:
    statements: list[str] = []
    for name in _V1_TABLES:
        statements += [
            f"DROP TRIGGER IF EXISTS {name}_append_only ON {name}",
            f"DROP TRIGGER IF EXISTS {name}_no_truncate ON {name}",
        ]
    return [*statements, "DROP FUNCTION IF EXISTS audit_log_refuse_change()"]


async def provision_schema(connection: AsyncConnection, schema: str, runtime_role: str) -> None:
    """Create ``schema`` holding the audit tables, protected and granted as the migrations do
    for `public`: for a log in a schema of its own (AUDIT_DATABASE_SCHEMA), e.g. in tests
    and benchmarks. Runs as the owner, in the caller's transaction."""
    if not _ROLE_NAME.fullmatch(schema):
        raise ValueError("schema must be a plain lower-case identifier")
    from mpa_audit.adapters.tables import metadata

    await connection.execute(text(f"CREATE SCHEMA {schema}"))
    await connection.execute(text(f"SET LOCAL search_path TO {schema}"))
    await connection.run_sync(metadata.create_all)
    statements = [
        *log_protection_v1(runtime_role),
        *log_protection_v2(runtime_role),
        f"GRANT USAGE ON SCHEMA {schema} TO {runtime_role}",
        # What audit_0002 grants on the messaging tables.
        f"GRANT SELECT, INSERT, UPDATE ON outbox TO {runtime_role}",
        f"GRANT SELECT, INSERT ON processed_events TO {runtime_role}",
    ]
    for statement in statements:
        await connection.execute(text(statement))
