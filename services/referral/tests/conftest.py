"""Fixtures of the referral service's fast tests: the in-memory store and a context over it,
and `deliver`, which handles a case event as the consumer does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from mpa_common.messaging.subscriptions import Delivery
from mpa_contracts.events.base import EventData
from mpa_referral.app.common import ReferralContext
from mpa_referral.handlers import CaseEventHandlers
from mpa_referral.testing import MemoryStore, delivery_of

Deliver = Callable[[EventData], Awaitable[Delivery]]


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def context(store: MemoryStore) -> ReferralContext:
    return store.context()


@pytest.fixture
def deliver(context: ReferralContext) -> Deliver:
    """Runs the handler table's handler for an event in a unit of work, then commits."""
    handlers = CaseEventHandlers(context).subscription()

    async def handle(data: EventData) -> Delivery:
        entry = handlers.entry_for(data.event_type)
        assert entry is not None, data.event_type
        delivery = delivery_of(data)
        async with context.units_of_work() as uow:
            await entry.handler(uow, data, delivery)
            await uow.commit()
        return delivery

    return handle
