"""Fixtures shared by the integration tests (the real broker and database)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.messaging_harness import Playground, open_playground


@pytest.fixture
async def playground(bootstrap_servers: str) -> AsyncIterator[Playground]:
    """A private messaging playground: own schema in the shared stack, own topics."""
    async for ground in open_playground(bootstrap_servers):
        yield ground
