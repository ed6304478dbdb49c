"""The audit log on the real Kafka and PostgreSQL (issue 5).

One scenario publishes every event type of the contracts (fresh ids) through a private set
of topics, republishes some (a relay's duplicate), and replays everything under another
consumer group: every event is in the log exactly once, seqs are contiguous from 0, coverage
accounts for every offset, and the API's proofs match an RFC 6962 implementation written
here from the RFC's definitions. Two concurrent writers keep the log contiguous.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from mpa_audit.adapters.uow import AuditUnitOfWork
from mpa_audit.domain.leaf import RecordOrigin
from mpa_audit_verify.checkpoint import verify_signed_tree_head
from mpa_audit_verify.note import parse_verifier_key
from mpa_cli.stack.topics import ensure_topics
from mpa_common.messaging.consumer import EventConsumer
from mpa_contracts.envelope import Envelope
from mpa_contracts.topics import MAIN_TOPICS, topic_for_event_type
from tests.integration.audit_support import (
    all_events,
    append,
    audit_settings,
    canonical_leaf,
    create_audit_schema,
    delete_topics,
    drop_audit_schema,
    eventually,
    log_consumer,
    publish,
    rfc_leaf_hash,
    rfc_mth,
    rfc_path,
    rfc_proof,
    running_audit_app,
    runtime_engine,
    scenario,
    unb64,
)

pytestmark = pytest.mark.integration


@dataclass
class Scenario:
    client: httpx.AsyncClient
    envelopes: list[Envelope]
    case_id: uuid.UUID
    schema: str
    prefix: str


@pytest.fixture(scope="module")
async def logged(
    bootstrap_servers: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Scenario]:
    schema = await create_audit_schema()
    prefix = f"{schema}."
    topics = await ensure_topics(bootstrap_servers, prefix)
    settings = audit_settings(schema, prefix, tmp_path_factory.mktemp("keys") / "key.pem")
    envelopes, case_id = scenario()
    try:
        async with running_audit_app(settings) as client:
            # Three events published twice: the second copies sit at new offsets.
            await publish(bootstrap_servers, prefix, [*envelopes, *envelopes[:3]])

            async def all_logged() -> bool:
                coverage = (await client.get("/v1/audit/coverage")).json()
                return all(p["lag"] == 0 for p in coverage["partitions"]) and sum(
                    p["logged"] for p in coverage["partitions"]
                ) == len(envelopes)

            await eventually(all_logged, what="every published record accounted for")
            yield Scenario(client, envelopes, case_id, schema, prefix)
    finally:
        await delete_topics(bootstrap_servers, topics)
        await drop_audit_schema(schema)


async def test_every_event_is_logged_exactly_once_with_contiguous_seqs(logged: Scenario) -> None:
    events = await all_events(logged.client)
    assert [e["seq"] for e in events] == list(range(len(logged.envelopes)))
    assert sorted(e["event"]["id"] for e in events) == sorted(str(e.id) for e in logged.envelopes)
    for event in events:
        # The API shows what the leaf commits to, and the leaf is the documented encoding.
        assert unb64(event["leaf_hash"]) == rfc_leaf_hash(canonical_leaf(event))
        assert event["origin"]["topic"].endswith(topic_for_event_type(event["event"]["type"]).name)
    one = (await logged.client.get(f"/v1/audit/events/{events[5]['seq']}")).json()
    assert one == events[5]
    missing = await logged.client.get("/v1/audit/events/999999")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_a_replay_under_another_consumer_group_adds_nothing(
    logged: Scenario, bootstrap_servers: str
) -> None:
    engine = runtime_engine(logged.schema)
    prefix = logged.prefix
    replay = log_consumer(
        engine,
        group_id=f"replay-{uuid.uuid4().hex[:8]}",
        bootstrap_servers=bootstrap_servers,
        topic_prefix=prefix,
    )
    await replay.start()
    try:
        total = len(logged.envelopes) + 3
        await eventually(lambda: _handled(replay, total), what="the replay to read everything")
    finally:
        await replay.stop()
        await engine.dispose()
    events = await all_events(logged.client)
    assert [e["seq"] for e in events] == list(range(len(logged.envelopes)))


async def _handled(consumer: EventConsumer[AuditUnitOfWork], total: int) -> bool:
    return consumer.handled + consumer.skipped_duplicates >= total


async def test_coverage_accounts_for_every_offset(logged: Scenario) -> None:
    response = await logged.client.get("/v1/audit/coverage")
    coverage = response.json()
    assert response.status_code == 200, coverage
    partitions = coverage["partitions"]
    assert len(partitions) == len(MAIN_TOPICS) * 6
    assert coverage["complete"] is True
    assert sum(p["logged"] for p in partitions) == len(logged.envelopes)
    assert sum(p["duplicates"] for p in partitions) == 3
    for partition in partitions:
        assert partition["next_offset"] == partition["end_offset"]
        assert partition["gaps"] == []
        assert partition["lag"] == 0


async def test_inclusion_and_consistency_proofs_verify_independently(logged: Scenario) -> None:
    client = logged.client
    key = parse_verifier_key((await client.get("/v1/audit/public-key")).json()["verifier_key"])
    head = (await client.get("/v1/audit/tree-head")).json()
    signed = verify_signed_tree_head(head["checkpoint"], key.public_key, key.name)
    size = signed.tree_size
    events = await all_events(client)
    leaves = [rfc_leaf_hash(canonical_leaf(e)) for e in events[:size]]
    assert rfc_mth(leaves) == signed.root_hash == unb64(head["root_hash"])

    for seq in range(size):
        response = await client.get(
            "/v1/audit/proofs/inclusion", params={"seq": seq, "tree_size": size}
        )
        proof = response.json()
        assert response.status_code == 200, proof
        assert [unb64(h) for h in proof["audit_path"]] == rfc_path(seq, leaves)
        assert unb64(proof["leaf_hash"]) == leaves[seq]
    for first in range(1, size + 1):
        response = await client.get(
            "/v1/audit/proofs/consistency", params={"first": first, "second": size}
        )
        proof = response.json()
        assert [unb64(h) for h in proof["proof"]] == rfc_proof(first, leaves)
        assert unb64(proof["first_root_hash"]) == rfc_mth(leaves[:first])

    beyond = await client.get("/v1/audit/proofs/inclusion", params={"seq": size, "tree_size": size})
    assert beyond.status_code == 422
    too_big = await client.get("/v1/audit/proofs/consistency", params={"first": 1, "second": 10**6})
    assert too_big.status_code == 422


async def test_case_timeline_holds_every_service_and_the_data_accesses(logged: Scenario) -> None:
    response = await logged.client.get(f"/v1/audit/cases/{logged.case_id}/timeline")
    timeline = response.json()
    assert response.status_code == 200, timeline
    types = {e["event"]["type"] for e in timeline["events"]}
    expected = {e.type for e in logged.envelopes if hasattr(e.data, "case_id")}
    assert types == expected
    assert "org.mpa.access.personal_data_accessed.v1" in types
    assert {e["event"]["source"] for e in timeline["events"]} == {
        "urn:mpa:service:intake",
        "urn:mpa:service:referral",
        "urn:mpa:service:notification",
    }
    times = [e["event"]["time"] for e in timeline["events"]]
    assert times == sorted(times)


async def test_filters_and_cursor_pagination(logged: Scenario) -> None:
    client = logged.client
    story = logged.envelopes[0].correlation_id
    in_story = await all_events(client, correlation_id=str(story))
    assert {e["event"]["id"] for e in in_story} == {
        str(e.id) for e in logged.envelopes if e.correlation_id == story
    }
    closed = await all_events(client, type="org.mpa.case.closed.v1")
    assert [e["event"]["type"] for e in closed] == ["org.mpa.case.closed.v1"]
    actor = next(e.actor_id for e in logged.envelopes if e.actor_id)
    by_actor = await all_events(client, actor_id=actor)
    assert by_actor
    assert all(e["event"]["actorid"] == actor for e in by_actor)
    times = sorted(e.time for e in logged.envelopes)
    window = await all_events(
        client, since=times[3].isoformat(), until=(times[-1] + timedelta(seconds=1)).isoformat()
    )
    assert len(window) == len(times) - 3

    pages: list[int] = []
    params: dict[str, Any] = {"limit": 4}
    while True:
        page = (await client.get("/v1/audit/events", params=params)).json()
        pages.extend(e["seq"] for e in page["items"])
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    assert pages == list(range(len(logged.envelopes)))
    assert (await client.get("/v1/audit/events", params={"cursor": "x"})).status_code == 422


async def test_auditors_only(logged: Scenario) -> None:
    from mpa_common.auth import Role, mint_dev_token

    operator = mint_dev_token([Role.OPERATOR])
    response = await logged.client.get(
        "/v1/audit/events", headers={"authorization": f"Bearer {operator}"}
    )
    assert response.status_code == 403
    assert (
        await logged.client.get("/v1/audit/events", headers={"authorization": ""})
    ).status_code == 401
    # The public key is public.
    anonymous = await logged.client.get("/v1/audit/public-key", headers={"authorization": ""})
    assert anonymous.status_code == 200


async def test_two_writers_append_contiguously_and_the_tree_stays_sound(
    tmp_path: Path, bootstrap_servers: str
) -> None:
    """Two replicas appending at once (separate connection pools): seqs stay contiguous
    and the stored nodes add up to the root an independent implementation computes."""
    schema = await create_audit_schema()
    topics = await ensure_topics(bootstrap_servers, f"{schema}.")
    engines = [runtime_engine(schema), runtime_engine(schema)]
    try:
        batches = [scenario()[0] + scenario()[0], scenario()[0]]

        async def write(engine_index: int, batch: list[Envelope]) -> None:
            for offset, envelope in enumerate(batch):
                origin = RecordOrigin(f"writer{engine_index}", 0, offset)
                await append(engines[engine_index], envelope, origin)

        await asyncio.gather(write(0, batches[0]), write(1, batches[1]))
        settings = audit_settings(schema, f"{schema}.", tmp_path / "key.pem")
        async with running_audit_app(settings) as client:
            events = await all_events(client)
            total = sum(len(b) for b in batches)
            assert [e["seq"] for e in events] == list(range(total))
            leaves = [rfc_leaf_hash(canonical_leaf(e)) for e in events]
            head = (await client.get("/v1/audit/tree-head")).json()
            assert head["tree_size"] == total
            assert unb64(head["root_hash"]) == rfc_mth(leaves)
            integrity = await client.get("/v1/audit/health/integrity")
            assert integrity.status_code == 200, integrity.text
            assert integrity.json()["status"] == "intact"
    finally:
        for engine in engines:
            await engine.dispose()
        await delete_topics(bootstrap_servers, topics)
        await drop_audit_schema(schema)
