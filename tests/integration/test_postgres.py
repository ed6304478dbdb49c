"""SQLAlchemy 2 async + asyncpg against the real local PostgreSQL, and database isolation."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from mpa_common.settings import RUNTIME_ROLES, SERVICE_PORTS
from tests.conftest import service_database_url

pytestmark = pytest.mark.integration


def _asyncpg_dsn(service: str) -> str:
    return service_database_url(service).replace("postgresql+asyncpg://", "postgresql://")


@pytest.mark.parametrize("service", list(SERVICE_PORTS))
async def test_each_service_reaches_its_own_database(service: str) -> None:
    engine = create_async_engine(service_database_url(service))
    try:
        async with engine.begin() as connection:
            row = (
                await connection.execute(text("SELECT current_database(), current_user, version()"))
            ).one()
            total = (
                await connection.execute(
                    text(
                        "SELECT sum(n) FROM (VALUES (CAST(:a AS int)), (CAST(:b AS int))) AS p(n)"
                    ),
                    {"a": 1, "b": 2},
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    assert row[0] == f"mpa_{service}"
    assert row[1] == RUNTIME_ROLES.get(service, f"mpa_{service}")
    assert row[2].startswith("PostgreSQL ")
    assert total == 3


async def test_a_service_role_cannot_open_another_service_database() -> None:
    """Services never share a database: intake's role is refused by referral's database."""
    intake = _asyncpg_dsn("intake")
    referral_db_as_intake = intake.rsplit("/", 1)[0] + "/mpa_referral"
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await asyncpg.connect(referral_db_as_intake)
