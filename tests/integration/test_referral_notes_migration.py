"""The migration that encrypts referral notes (referral_0004) seals the notes already
stored, and its downgrade gives them back: no note is lost, none stays readable."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from mpa_referral.adapters.notes import NoteCipher
from mpa_referral.settings import ReferralSettings
from tests.conftest import service_owner_database_url

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
NOTE = "Declined: no bed tonight (fictional)"


def _alembic(schema: str, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", "services/referral/alembic.ini", *args],
        cwd=ROOT,
        env={**os.environ, "REFERRAL_DATABASE_SCHEMA": schema},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


async def _sql(schema: str, statement: str, **params: Any) -> list[Any]:
    engine = create_async_engine(
        service_owner_database_url("referral"),
        connect_args={"server_settings": {"search_path": schema}},
    )
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement), params)
            return list(result.all()) if result.returns_rows else []
    finally:
        await engine.dispose()


async def test_existing_notes_are_sealed_by_the_migration_and_unsealed_by_its_downgrade() -> None:
    schema = f"m_{uuid.uuid4().hex[:10]}"
    case, need, referral, event = (uuid.uuid4() for _ in range(4))
    try:
        _alembic(schema, "upgrade", "referral_0003")
        await _sql(
            schema,
            "INSERT INTO cases (case_id, case_reference, correlation_id, age_band, sex, "
            "languages, country, vulnerabilities, do_not_contact, safe_contact_method, status) "
            "VALUES (:c, 'MPA-2026-000001', :c, '24_26', 'female', '{fr}', 'NE', '{}', false, "
            "'phone_call', 'open')",
            c=case,
        )
        await _sql(
            schema,
            "INSERT INTO case_needs (need_id, case_id, category, urgency) "
            "VALUES (:n, :c, 'food', 'low')",
            n=need,
            c=case,
        )
        await _sql(
            schema,
            "INSERT INTO referrals (id, case_id, need_id, category, urgency, country, state, "
            "requested_by) VALUES (:r, :c, :n, 'food', 'low', 'NE', 'declined', 'caseworker:x')",
            r=referral,
            c=case,
            n=need,
        )
        await _sql(
            schema,
            "INSERT INTO referral_history (referral_id, actor_id, actor_role, to_state, "
            "event_type, event_id, note) VALUES (:r, 'partner:x', 'partner', 'declined', "
            "'org.mpa.referral.declined.v1', :e, :note)",
            r=referral,
            e=event,
            note=NOTE,
        )
        _alembic(schema, "upgrade", "head")
        ((readable, sealed),) = await _sql(
            schema, "SELECT h::text LIKE '%fictional%', note_sealed FROM referral_history h"
        )
        assert not readable
        cipher = NoteCipher.from_settings(ReferralSettings())
        assert cipher.open(referral, event, bytes(sealed)) == NOTE
        _alembic(schema, "downgrade", "referral_0003")
        assert await _sql(schema, "SELECT note FROM referral_history") == [(NOTE,)]
    finally:
        await _sql(schema, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
