"""A service can live in a schema of its own (<SERVICE>_DATABASE_SCHEMA): migrations create
its tables there and the running service (engine and relay) uses them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from mpa_referral.main import create_app
from mpa_referral.settings import ReferralSettings
from tests.conftest import service_owner_database_url

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
TABLES_IN = "SELECT table_name FROM information_schema.tables WHERE table_schema = :schema"


async def _as_owner(sql: str, **params: str) -> list[str]:
    engine = create_async_engine(service_owner_database_url("referral"))
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(sql), params)
            return [str(v) for v in result.scalars()] if result.returns_rows else []
    finally:
        await engine.dispose()


async def _search_path(engine: AsyncEngine) -> str:
    async with engine.connect() as connection:
        return str((await connection.execute(text("SHOW search_path"))).scalar_one())


def test_a_service_migrates_into_and_runs_from_its_own_schema() -> None:
    schema = f"s_{uuid.uuid4().hex[:10]}"
    try:
        migrate = subprocess.run(
            [
                sys.executable,
                "-m",
                "alembic",
                "-c",
                "services/referral/alembic.ini",
                "upgrade",
                "head",
            ],
            cwd=ROOT,
            env={**os.environ, "REFERRAL_DATABASE_SCHEMA": schema},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert migrate.returncode == 0, migrate.stderr
        tables = set(asyncio.run(_as_owner(TABLES_IN, schema=schema)))
        assert {"outbox", "processed_events", "alembic_version"} <= tables

        settings = ReferralSettings(database_schema=schema, readiness_timeout_seconds=5)
        with TestClient(create_app(settings)) as client:
            assert client.get("/readyz").status_code == 200
            engine = client.app.state.context.engine  # type: ignore[attr-defined]
            assert client.portal is not None
            assert client.portal.call(_search_path, engine) == schema
    finally:
        asyncio.run(_as_owner(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
