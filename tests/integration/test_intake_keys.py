"""Master key rotation on the real database: old wraps still open, `rewrap` moves every data
key under the active master key without touching ciphertexts, and the old key can then go.

Runs in a private schema: the shared intake database holds cases wrapped by other tests'
keys, which this test must neither need nor touch.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import sys
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from mpa_contracts.vocabularies import ActorRole, ErasureBasis
from mpa_intake.adapters.crypto import (
    MasterKeyring,
    MatchKeyer,
    PersonalDataVault,
    UndecryptableData,
    parse_master_keys,
)
from mpa_intake.adapters.tables import metadata
from mpa_intake.adapters.unit_of_work import unit_of_work_factory
from mpa_intake.app.cases import erase_personal_data, register_case
from mpa_intake.app.commands import RegisterCase
from mpa_intake.app.context import UNSCOPED, Actor, IntakeContext
from mpa_intake.app.keys import rewrap_data_keys
from mpa_intake.app.reads import read_case
from tests.conftest import service_database_url
from tests.integration.intake_support import FictionalPerson, case_body

pytestmark = pytest.mark.integration

OPERATOR = Actor(subject="op-keys", actor_id="operator:op-keys", role=ActorRole.OPERATOR)
ADMIN = Actor(subject="dpo-keys", actor_id="admin:dpo-keys", role=ActorRole.ADMIN)
KEY_A = "old-a:" + base64.b64encode(secrets.token_bytes(32)).decode()
KEY_B = "new-b:" + base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
async def private_schema() -> AsyncIterator[AsyncEngine]:
    schema = f"t_keys_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(service_database_url("intake"))
    async with admin.begin() as connection:
        await connection.execute(text(f"CREATE SCHEMA {schema}"))
        await connection.execute(text(f"SET search_path TO {schema}"))
        await connection.run_sync(metadata.create_all)
    engine = create_async_engine(
        service_database_url("intake"), connect_args={"server_settings": {"search_path": schema}}
    )
    try:
        yield engine
    finally:
        await engine.dispose()
        async with admin.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await admin.dispose()


def _context(engine: AsyncEngine, keys: str, active: str) -> IntakeContext:
    return IntakeContext(
        unit_of_work=unit_of_work_factory(async_sessionmaker(engine, expire_on_commit=False)),
        vault=PersonalDataVault(MasterKeyring(parse_master_keys(keys), active)),
        matcher=MatchKeyer(secrets.token_bytes(32)),
        scopes=UNSCOPED,
    )


async def _ciphertexts(engine: AsyncEngine) -> dict[uuid.UUID, tuple[str | None, bytes | None]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT case_id, master_key_id, personal_data FROM cases")
        )
        return {row.case_id: (row.master_key_id, row.personal_data) for row in rows}


async def test_rotation_rewraps_every_data_key_under_the_active_key(
    private_schema: AsyncEngine,
) -> None:
    before_rotation = _context(private_schema, KEY_A, "old-a")
    people = [FictionalPerson.new() for _ in range(3)]
    ids = [
        (
            await register_case(
                before_rotation, OPERATOR, RegisterCase.model_validate(case_body(p))
            )
        ).case_id
        for p in people
    ]
    await erase_personal_data(before_rotation, ADMIN, ids[2], ErasureBasis.DATA_SUBJECT_REQUEST)
    before = await _ciphertexts(private_schema)

    # Both keys configured, B active: new cases use B, A's cases still open.
    rotating = _context(private_schema, f"{KEY_A},{KEY_B}", "new-b")
    assert (await read_case(rotating, OPERATOR, ids[0])).person.given_name == people[0].given_name
    newer = await register_case(
        rotating, OPERATOR, RegisterCase.model_validate(case_body(FictionalPerson.new()))
    )
    assert (await _ciphertexts(private_schema))[newer.case_id][0] == "new-b"

    report = await rewrap_data_keys(rotating, batch_size=1)
    assert report.rewrapped == 2  # the erased case has no key left to rewrap
    assert report.cases_by_master_key == {"new-b": 3}
    after = await _ciphertexts(private_schema)
    for case_id in ids[:2]:
        assert after[case_id] == ("new-b", before[case_id][1])  # same ciphertext, new wrap
    assert after[ids[2]] == (None, None)

    # Key A can now be retired: everything still opens with B alone.
    retired = _context(private_schema, KEY_B, "new-b")
    for person, case_id in zip(people[:2], ids[:2], strict=True):
        assert (
            await read_case(retired, OPERATOR, case_id)
        ).person.family_name == person.family_name
    assert (await rewrap_data_keys(retired)).rewrapped == 0

    # Without the key that wrapped it, a data key does not open.
    async with retired.unit_of_work() as uow:
        stored = await uow.cases.get(ids[0])
    assert stored is not None
    assert stored.sealed is not None
    with pytest.raises(UndecryptableData):
        before_rotation.vault.open(ids[0], stored.sealed)


async def test_rewrap_keys_command_rewraps_the_services_own_schema(
    private_schema: AsyncEngine,
) -> None:
    """`mpa intake rewrap-keys` with INTAKE_DATABASE_SCHEMA set works on that schema — the
    one the service runs on — so retiring the old key afterwards keeps its cases readable
    (it used to rewrap `public` and leave the service's cases under the retired key)."""
    schema = await _schema_of(private_schema)
    before_rotation = _context(private_schema, KEY_A, "old-a")
    people = [FictionalPerson.new() for _ in range(2)]
    ids = [
        (
            await register_case(
                before_rotation, OPERATOR, RegisterCase.model_validate(case_body(p))
            )
        ).case_id
        for p in people
    ]
    env = {
        **os.environ,
        "INTAKE_DATABASE_URL": service_database_url("intake"),
        "INTAKE_DATABASE_SCHEMA": schema,
        "INTAKE_MASTER_KEYS": f"{KEY_A},{KEY_B}",
        "INTAKE_ACTIVE_MASTER_KEY": "new-b",
        "INTAKE_MATCHING_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    command = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mpa_cli.main",
        "intake",
        "rewrap-keys",
        "--batch-size",
        "1",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(command.communicate(), 60)
    assert command.returncode == 0, err.decode()
    report = json.loads(out)
    assert report["rewrapped"] == 2
    assert report["cases_by_master_key"] == {"new-b": 2}

    retired = _context(private_schema, KEY_B, "new-b")  # key A is gone now
    for person, case_id in zip(people, ids, strict=True):
        assert (await read_case(retired, OPERATOR, case_id)).person.given_name == person.given_name


async def _schema_of(engine: AsyncEngine) -> str:
    async with engine.connect() as connection:
        return str((await connection.execute(text("SELECT current_schema()"))).scalar_one())
