"""The log cannot be changed by the service, and what a superuser changes is found (issue 5).

The runtime role's rights are checked in the real mpa_audit database (migrations applied):
UPDATE, DELETE and TRUNCATE of log rows are refused. Tampering runs in a private schema as
the local `postgres` superuser, who can switch the trigger off: the API's integrity check
then names what no longer adds up.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from mpa_audit.adapters.tables import APPEND_ONLY_TABLES_V2, LOG_TABLES
from mpa_audit.domain.leaf import RecordOrigin
from mpa_cli.stack.topics import ensure_topics
from mpa_contracts.envelope import Envelope, new_envelope
from mpa_contracts.events.case import CaseClosedV1
from mpa_contracts.vocabularies import ActorRole, CaseClosureReason
from tests.conftest import service_owner_database_url
from tests.integration.audit_support import (
    append,
    audit_settings,
    create_audit_schema,
    delete_topics,
    drop_audit_schema,
    running_audit_app,
    runtime_engine,
    superuser_execute,
)

pytestmark = pytest.mark.integration

LEAVES = 13


def _event() -> Envelope:
    return new_envelope(
        CaseClosedV1(
            case_id=uuid.uuid4(),
            reason=CaseClosureReason.DUPLICATE,
            actor_id="caseworker:audit-test",
            actor_role=ActorRole.CASEWORKER,
        ),
        source="urn:mpa:service:intake",
    )


@pytest.mark.parametrize("table", [t.name for t in (*LOG_TABLES, *APPEND_ONLY_TABLES_V2)])
@pytest.mark.parametrize(
    "statement",
    ["UPDATE {table} SET {column} = {column}", "DELETE FROM {table}", "TRUNCATE {table}"],
)
async def test_the_runtime_role_cannot_change_the_real_log(table: str, statement: str) -> None:
    column = (
        next(t for t in (*LOG_TABLES, *APPEND_ONLY_TABLES_V2) if t.name == table)
        .columns.values()[0]
        .name
    )
    engine = runtime_engine()
    try:
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError) as refused:
                await connection.execute(text(statement.format(table=table, column=column)))
            assert isinstance(refused.value.orig.__cause__, asyncpg.InsufficientPrivilegeError)
            assert "permission denied" in str(refused.value)
            await connection.rollback()
            # ...while it may read and append (its grants are exactly SELECT, INSERT).
            # Table names come from the fixed LOG_TABLES, never from input.
            await connection.execute(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
            rights = await connection.execute(
                text(
                    "SELECT privilege_type FROM information_schema.role_table_grants "
                    "WHERE grantee = current_user AND table_name = :table "
                    "AND table_schema = 'public'"
                ),
                {"table": table},
            )
            assert sorted(r.privilege_type for r in rights) == ["INSERT", "SELECT"]
    finally:
        await engine.dispose()


@pytest.fixture
async def private_log(
    bootstrap_servers: str, tmp_path: Path
) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    schema = await create_audit_schema()
    topics = await ensure_topics(bootstrap_servers, f"{schema}.")
    engine = runtime_engine(schema)
    try:
        for offset in range(LEAVES):
            await append(engine, _event(), RecordOrigin("t.mpa.case.v1", 0, offset))
        settings = audit_settings(schema, f"{schema}.", tmp_path / "key.pem")
        async with running_audit_app(settings) as client:
            yield schema, client
    finally:
        await engine.dispose()
        await delete_topics(bootstrap_servers, topics)
        await drop_audit_schema(schema)


async def test_the_trigger_refuses_even_the_owner(
    private_log: tuple[str, httpx.AsyncClient],
) -> None:
    schema, _ = private_log
    owner = await asyncpg.connect(
        service_owner_database_url("audit").replace("postgresql+asyncpg", "postgresql"),
        server_settings={"search_path": schema},
    )
    try:
        for statement in (
            "UPDATE log_entries SET event_type = 'x' WHERE seq = 0",
            "DELETE FROM merkle_nodes WHERE level = 1",
            "TRUNCATE tree_heads",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await owner.execute(statement)
    finally:
        await owner.close()


async def _findings(client: httpx.AsyncClient) -> set[str]:
    """What the full recomputation (the on-demand job) finds."""
    response = await client.get("/v1/audit/health/integrity", params={"scope": "full"})
    if response.status_code == 200:
        return set()
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {finding["check"] for finding in response.json()["findings"]}


async def test_the_integrity_check_finds_what_a_superuser_changed(
    private_log: tuple[str, httpx.AsyncClient],
) -> None:
    schema, client = private_log
    signed = (await client.get("/v1/audit/tree-head")).json()
    assert signed["tree_size"] == LEAVES
    assert await _findings(client) == set()

    # 1. A leaf's bytes edited in place: its hash no longer matches.
    changed = await superuser_execute(
        schema,
        "UPDATE log_entries SET leaf = convert_to(replace(convert_from(leaf, 'UTF8'), "
        "'duplicate', 'needs_met'), 'UTF8') WHERE seq = 5",
    )
    assert changed == "UPDATE 1"
    assert "leaf_hash" in await _findings(client)

    # 2. ...and its hash recomputed: now the parent node does not match.
    await superuser_execute(
        schema,
        "UPDATE log_entries SET leaf_hash = sha256('\\x00'::bytea || leaf) WHERE seq = 5",
    )
    assert await _findings(client) >= {"node_hash"}

    # 3. ...and every node above it recomputed: the signed tree head's root is off.
    await superuser_execute(
        schema,
        "UPDATE merkle_nodes n SET hash = sha256('\\x01'::bytea || l.leaf_hash || r.leaf_hash) "
        "FROM log_entries l, log_entries r WHERE n.level = 1 "
        "AND l.seq = 2 * n.node_index AND r.seq = 2 * n.node_index + 1",
    )
    for level in (2, 3):
        await superuser_execute(
            schema,
            "UPDATE merkle_nodes n SET hash = sha256('\\x01'::bytea || l.hash || r.hash) "
            "FROM merkle_nodes l, merkle_nodes r WHERE n.level = $1 "
            "AND l.level = $1 - 1 AND r.level = $1 - 1 "
            "AND l.node_index = 2 * n.node_index AND r.node_index = 2 * n.node_index + 1",
            level,
        )
    assert await _findings(client) == {"tree_head_root"}

    # 4. A row deleted outright.
    await superuser_execute(schema, "DELETE FROM log_entries WHERE seq = 2")
    assert {"contiguity", "node_hash"} <= await _findings(client)


async def test_a_query_column_changed_behind_the_leaf_is_found(
    private_log: tuple[str, httpx.AsyncClient],
) -> None:
    schema, client = private_log
    await superuser_execute(
        schema, "UPDATE log_entries SET actor_id = 'caseworker:someone-else' WHERE seq = 3"
    )
    assert await _findings(client) == {"indexed_columns"}
