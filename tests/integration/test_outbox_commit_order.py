"""The outbox's two commit orders on the real database (issue 13): with `PER_KEY` only
writers of the same Kafka key queue — a writer of another key commits while the first is
still open — and each key's rows still get positions in commit order, which the relay then
publishes in that order; with `TABLE` every writer queues behind every other."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import text

from mpa_common.messaging.outbox import CommitOrder, stage_events
from tests.integration.messaging_harness import (
    Playground,
    case_event,
    read_topic,
)

pytestmark = pytest.mark.integration
STILL_WAITING = 0.7  # seconds a queued writer is given to show it is not queued


async def _write(ground: Playground, key: uuid.UUID, order: CommitOrder) -> None:
    async with ground.sessions() as session, session.begin():
        await stage_events(
            session,
            ground.outbox,
            [case_event(key)],
            topic_prefix=ground.topic_prefix,
            commit_order=order,
        )


async def _positions(ground: Playground, key: uuid.UUID) -> list[int]:
    async with ground.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT position FROM outbox WHERE kafka_key = :k ORDER BY position"),
            {"k": str(key).encode()},
        )
        return [row.position for row in rows]


async def test_per_key_order_queues_only_writers_of_the_same_key(playground: Playground) -> None:
    first_key, other_key = uuid.uuid4(), uuid.uuid4()
    first = case_event(first_key)
    async with playground.sessions() as open_session:
        await open_session.begin()
        await stage_events(
            open_session,
            playground.outbox,
            [first],
            topic_prefix=playground.topic_prefix,
            commit_order=CommitOrder.PER_KEY,
        )
        # Open, uncommitted, holding its key. Another key does not wait for it ...
        await asyncio.wait_for(_write(playground, other_key, CommitOrder.PER_KEY), 5)
        # ... the same key does.
        same = asyncio.create_task(_write(playground, first_key, CommitOrder.PER_KEY))
        await asyncio.sleep(STILL_WAITING)
        assert not same.done()
        await open_session.commit()
    await asyncio.wait_for(same, 5)
    first_position, second_position = await _positions(playground, first_key)
    assert first_position < second_position  # position order = commit order, per key

    relay = playground.relay()
    await relay.start()
    records = await read_topic(playground.bootstrap_servers, playground.case_topic, expected=3)
    keyed = [dict(r.headers)["ce_id"] for r in records if r.key == str(first_key).encode()]
    assert len(keyed) == 2
    assert keyed[0] == str(first.id).encode()  # the first committed is published first


async def test_table_order_queues_every_writer(playground: Playground) -> None:
    async with playground.sessions() as open_session:
        await open_session.begin()
        await stage_events(
            open_session,
            playground.outbox,
            [case_event(uuid.uuid4())],
            topic_prefix=playground.topic_prefix,
            commit_order=CommitOrder.TABLE,
        )
        other = asyncio.create_task(_write(playground, uuid.uuid4(), CommitOrder.TABLE))
        await asyncio.sleep(STILL_WAITING)
        assert not other.done()
        await open_session.commit()
    await asyncio.wait_for(other, 5)
