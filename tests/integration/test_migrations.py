"""Each service's Alembic history, applied to its real database, matches its table models."""

from __future__ import annotations

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from mpa_common.settings import SERVICE_PORTS
from tests.conftest import service_owner_database_url

pytestmark = pytest.mark.integration


def _differences(connection: Connection, metadata: MetaData) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


@pytest.mark.parametrize("service", list(SERVICE_PORTS))
async def test_migrations_match_the_models(service: str) -> None:
    metadata = importlib.import_module(f"mpa_{service}.adapters.tables").metadata
    engine = create_async_engine(service_owner_database_url(service))
    try:
        async with engine.connect() as connection:
            revision = await connection.run_sync(
                lambda c: MigrationContext.configure(c).get_current_revision()
            )
            differences = await connection.run_sync(_differences, metadata)
    finally:
        await engine.dispose()
    assert revision is not None, f"{service}: no migration applied (run `mpa db migrate`)"
    assert differences == [], f"{service}: models and migrations differ: {differences}"
