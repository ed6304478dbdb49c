"""Authenticated producers on the real broker (issue 12, finding 4): SASL/SCRAM and ACLs.

The broker refuses a client without credentials and a wrong password; each service's
principal may write only the topics the contracts' registry says it produces (and the
dead-letter topics of what it consumes), read only what its subscriptions consume, and
use only its own consumer groups. The expected matrix is computed here from the registry
and the subscriptions, then every cell is tried against the broker: a topic added to the
registry is probed too, and stays closed unless it names a producer or a consumer.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)

from mpa_audit.settings import AuditSettings
from mpa_cli.stack.access import SERVICES, access_plan, service_subscriptions
from mpa_cli.stack.topics import ensure_topics
from mpa_common.kafka import client_options, kafka_metadata_ok, operator_options
from mpa_common.messaging.consumer import EventConsumer
from mpa_common.settings import ServiceSettings
from mpa_contracts.envelope import new_envelope, to_kafka_record
from mpa_contracts.events.case import CaseClosedV1
from mpa_contracts.topics import all_topics, service_source, topic_named
from mpa_contracts.vocabularies import ActorRole, CaseClosureReason
from mpa_intake.settings import IntakeSettings
from mpa_notification.settings import NotificationSettings
from mpa_referral.handlers import CASE_CONSUMER_GROUP
from mpa_referral.settings import ReferralSettings
from tests.integration.messaging_harness import Playground, case_event, eventually, read_topic

pytestmark = pytest.mark.integration

SETTINGS: Mapping[str, type[ServiceSettings]] = {
    "intake": IntakeSettings,
    "referral": ReferralSettings,
    "notification": NotificationSettings,
    "audit": AuditSettings,
}


def service_options(service: str) -> dict[str, Any]:
    """What the service's own clients connect with: its settings, as in production."""
    return client_options(SETTINGS[service]())


@pytest.fixture(scope="module")
async def deployment(bootstrap_servers: str) -> AsyncIterator[str]:
    """A topic prefix of this module's own, with its topics and ACLs; deleted afterwards."""
    from aiokafka.admin import AIOKafkaAdminClient

    prefix = f"acl_{uuid.uuid4().hex[:10]}."
    topics = await ensure_topics(bootstrap_servers, prefix)
    yield prefix
    admin = AIOKafkaAdminClient(**operator_options(bootstrap_servers))
    await admin.start()
    try:
        await admin.delete_topics(topics)
    finally:
        await admin.close()


# ---- authentication ------------------------------------------------------------------------


async def test_a_client_without_credentials_is_refused(bootstrap_servers: str) -> None:
    await kafka_metadata_ok(service_options("referral"), timeout=10)  # the broker is up
    with pytest.raises(KafkaConnectionError):
        await kafka_metadata_ok({"bootstrap_servers": bootstrap_servers}, timeout=10)


async def test_a_wrong_password_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    options = service_options("intake")
    await kafka_metadata_ok(options, timeout=10)
    wrong = {**options, "sasl_plain_password": options["sasl_plain_password"] + "x"}
    with caplog.at_level(logging.ERROR, logger="aiokafka"), pytest.raises(KafkaConnectionError):
        await kafka_metadata_ok(wrong, timeout=10)
    assert "SaslAuthenticationFailed" in caplog.text


# ---- the referral principal, one refusal of each kind -----------------------------------------


async def _join_and_fetch(consumer: AIOKafkaConsumer) -> None:
    try:
        await consumer.start()
        await consumer.getmany(timeout_ms=5000)
    finally:
        await consumer.stop()


async def test_the_referral_principal_cannot_produce_to_the_case_topic(deployment: str) -> None:
    producer = AIOKafkaProducer(**service_options("referral"), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(f"{deployment}mpa.referral.v1", b"{}", key=b"k")  # its own
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(f"{deployment}mpa.case.v1", b"{}", key=b"k")
    finally:
        await producer.stop()


async def test_the_referral_principal_cannot_read_a_topic_it_does_not_consume(
    deployment: str,
) -> None:
    reader = AIOKafkaConsumer(
        f"{deployment}mpa.notification.v1",
        **service_options("referral"),
        group_id=f"{deployment}{CASE_CONSUMER_GROUP}",  # its own group
        enable_auto_commit=False,
    )
    with pytest.raises(TopicAuthorizationFailedError):
        await _join_and_fetch(reader)


async def test_the_referral_principal_cannot_join_another_services_group(
    deployment: str,
) -> None:
    [notification_casework] = [
        s.group for s in service_subscriptions()["notification"] if "case" in s.group
    ]
    intruder = AIOKafkaConsumer(
        f"{deployment}mpa.case.v1",  # a topic the referral service does read
        **service_options("referral"),
        group_id=f"{deployment}{notification_casework}",
        enable_auto_commit=False,
    )
    with pytest.raises(GroupAuthorizationFailedError):
        await _join_and_fetch(intruder)


# ---- the whole matrix, from the registry -----------------------------------------------------


def expected_writes(service: str) -> set[str]:
    """Computed from the registry, independently of mpa_cli.stack.access: the topics whose
    producer is the service, and the dead-letter topics of what it consumes."""
    consumed = expected_reads(service)
    return {
        topic.name
        for topic in all_topics()
        if topic.producer == service_source(service)
        or (topic.is_dead_letter and topic.name.removesuffix(".dlq") in consumed)
    }


def expected_reads(service: str) -> set[str]:
    return {name for s in service_subscriptions()[service] for name in s.topics}


def expected_groups(service: str) -> set[str]:
    return {s.group for s in service_subscriptions()[service]}


def test_every_topic_is_produced_by_one_service_and_dead_letter_topics_by_none() -> None:
    for topic in all_topics():
        if topic.is_dead_letter:
            assert topic.producer is None
        else:
            assert topic.producer in {service_source(s) for s in SERVICES}, topic.name


def test_the_access_plan_is_what_the_registry_and_subscriptions_say() -> None:
    plan = access_plan()
    for service in SERVICES:
        mine = [g for g in plan if g.service == service]
        assert {g.name for g in mine if g.operation == "WRITE"} == expected_writes(service)
        assert {
            g.name for g in mine if g.operation == "READ" and g.resource == "TOPIC"
        } == expected_reads(service)
        assert {g.name for g in mine if g.resource == "GROUP"} == expected_groups(service)


async def _can_write(options: Mapping[str, Any], topics: list[str]) -> set[str]:
    producer = AIOKafkaProducer(**options, enable_idempotence=True, acks="all")
    await producer.start()
    allowed: set[str] = set()
    try:
        for topic in topics:
            try:
                await producer.send_and_wait(topic, b"{}", key=b"probe", partition=0)
            except TopicAuthorizationFailedError:
                continue
            allowed.add(topic)
    finally:
        await producer.stop()
    return allowed


async def _can_read(options: Mapping[str, Any], topic: str) -> bool:
    """True when a fetch returns the marker record the admin wrote at partition 0; False
    when the broker refuses (an error, or a topic the principal may not even see)."""
    reader = AIOKafkaConsumer(**options, group_id=None, enable_auto_commit=False)
    await reader.start()
    try:
        partition = TopicPartition(topic, 0)
        reader.assign([partition])
        reader.seek(partition, 0)
        deadline = asyncio.get_running_loop().time() + 4
        while asyncio.get_running_loop().time() < deadline:
            try:
                batches = await reader.getmany(partition, timeout_ms=500)
            except TopicAuthorizationFailedError:
                return False
            if any(r.key == b"marker" for records in batches.values() for r in records):
                return True
        return False
    finally:
        await reader.stop()


async def _can_use_group(options: Mapping[str, Any], group: str, topic: str) -> bool:
    """An offset commit in the group (what a member does after each batch)."""
    member = AIOKafkaConsumer(**options, group_id=group, enable_auto_commit=False)
    await member.start()
    try:
        partition = TopicPartition(topic, 0)
        member.assign([partition])
        try:
            await member.commit({partition: 0})
        except GroupAuthorizationFailedError:
            return False
        return True
    finally:
        await member.stop()


async def test_each_service_can_do_exactly_what_it_needs_and_nothing_more(
    deployment: str, bootstrap_servers: str
) -> None:
    names = [t.name for t in all_topics()]
    prefixed = [f"{deployment}{n}" for n in names]
    admin = AIOKafkaProducer(**operator_options(bootstrap_servers))
    await admin.start()
    try:
        for topic in prefixed:
            await admin.send_and_wait(topic, b"{}", key=b"marker", partition=0)
    finally:
        await admin.stop()
    groups = sorted({g for s in SERVICES for g in expected_groups(s)})
    for service in SERVICES:
        options = service_options(service)
        writable = await _can_write(options, prefixed)
        readable = await asyncio.gather(*(_can_read(options, t) for t in prefixed))
        # A group is tried on a topic the service reads (an offset commit needs both).
        own_topic = f"{deployment}{sorted(expected_reads(service))[0]}"
        usable = [await _can_use_group(options, f"{deployment}{g}", own_topic) for g in groups]
        assert {n for n, p in zip(names, prefixed, strict=True) if p in writable} == (
            expected_writes(service)
        ), f"{service} writes"
        assert {n for n, ok in zip(names, readable, strict=True) if ok} == expected_reads(
            service
        ), f"{service} reads"
        assert {g for g, ok in zip(groups, usable, strict=True) if ok} == expected_groups(
            service
        ), f"{service} groups"


# ---- the consumers the services run are the ones the ACLs were derived from -------------------


def test_the_services_composition_roots_run_exactly_the_subscriptions_of_the_plan() -> None:
    from mpa_audit.main import create_app as audit_app
    from mpa_intake.main import create_app as intake_app
    from mpa_notification.main import create_app as notification_app
    from mpa_referral.main import create_app as referral_app

    apps = {
        "intake": intake_app,
        "referral": referral_app,
        "notification": notification_app,
        "audit": audit_app,
    }
    for service, create_app in apps.items():
        app = create_app()
        workers = [getattr(w, "_worker", w) for w in app.state.context.workers]
        running = {
            (w.subscription.group, w.subscription.topics)
            for w in workers
            if isinstance(w, EventConsumer)
        }
        planned = {(s.group, s.topics) for s in service_subscriptions()[service]}
        assert running == planned, service


# ---- forged records still dead-lettered, by the consumer's own principal ---------------------


async def test_a_forged_envelope_written_by_the_admin_is_dead_lettered_as_forbidden_source(
    playground: Playground,
) -> None:
    """The admin principal may write anywhere, so the broker cannot stop it: the consumer's
    `source` check does. The referral service's consumer, with its own principal and group,
    dead-letters the forgery (it may write mpa.case.v1.dlq) and handles the genuine event."""
    forged = new_envelope(
        CaseClosedV1(
            case_id=uuid.uuid4(),
            reason=CaseClosureReason.DUPLICATE,
            actor_id="caseworker:forger",
            actor_role=ActorRole.CASEWORKER,
        ),
        source=service_source("referral"),  # case events come from intake only
    )
    genuine = case_event(forged.key)
    assert topic_named("mpa.case.v1").producer == service_source("intake")
    consumer = playground.consumer(
        playground.recording_handler("referral"),
        group=CASE_CONSUMER_GROUP,
        kafka_options=service_options("referral"),
    )
    await consumer.start()
    admin = AIOKafkaProducer(**operator_options(playground.bootstrap_servers))
    await admin.start()
    try:
        for envelope in (forged, genuine):
            record = to_kafka_record(envelope)
            await admin.send_and_wait(
                playground.case_topic, record.value, key=record.key, headers=record.headers
            )
    finally:
        await admin.stop()

    async def handled() -> bool:
        return len(await playground.effects_of("referral")) >= 1

    await eventually(handled, what="the genuine event handled")
    assert [e for e, _ in await playground.effects_of("referral")] == [genuine.id]
    [dead] = await read_topic(playground.bootstrap_servers, playground.case_topic + ".dlq", 1)
    headers = dict(dead.headers)
    assert headers["mpa_dlq_reason"] == b"forbidden_source"
    assert headers["ce_id"] == str(forged.id).encode()
    assert consumer.dead_lettered == 1
