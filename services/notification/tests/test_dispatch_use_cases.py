"""The dispatcher's use cases — claiming due deliveries under every lane's limits, recording
what attempts did in bulk — and the dispatcher itself riding out a database outage, on the
in-memory unit of work with stand-in senders."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mpa_common.health import DependencyMonitor
from mpa_contracts.events.notification import (
    NotificationAttemptFailedV1,
    NotificationDeliveredV1,
    NotificationEndpointDisabledV1,
    NotificationExhaustedV1,
)
from mpa_contracts.vocabularies import DeliveryFailureReason, NotificationChannel
from mpa_notification.app.attempts import AttemptMade, claim_due, record_attempts
from mpa_notification.dispatcher import Dispatcher
from mpa_notification.domain.models import (
    Contact,
    DeliveryState,
    DisabledReason,
    KnownReferral,
)
from mpa_notification.domain.outcomes import AttemptResult, Verdict
from mpa_notification.domain.routing import Audience
from mpa_notification.testing import World, make_world

DELIVERED = AttemptResult(Verdict.DELIVERED, status_code=204)
FAILED = AttemptResult(
    Verdict.RETRY,
    status_code=500,
    failure=DeliveryFailureReason.HTTP_SERVER_ERROR,
    error="endpoint answered HTTP 500",
)
GONE = AttemptResult(
    Verdict.GONE, status_code=410, failure=DeliveryFailureReason.HTTP_CLIENT_ERROR, error="410"
)


def made(delivery_id: uuid.UUID, result: AttemptResult, *, before: int = 0) -> AttemptMade:
    return AttemptMade(
        delivery_id, result, started_at=datetime.now(UTC), latency_ms=3, attempts_before=before
    )


# --- claims ---------------------------------------------------------------------------------


async def test_a_claim_takes_no_more_per_lane_than_its_limits_and_leases_what_it_takes(
    world: World,
) -> None:
    narrow = world.endpoint(max_in_flight=2)
    wide = world.endpoint()  # the default: 4 (NOTIFICATION_ENDPOINT_MAX_IN_FLIGHT)
    disabled = world.endpoint(enabled=False, disabled_reason=DisabledReason.GONE)
    await world.queue(5, to=narrow)
    await world.queue(6, to=wide)
    await world.queue(3, to=disabled)
    await world.queue(6)  # e-mail: the SMTP lane, 4 at once
    claimed = await claim_due(world.uow, world.context, limit=100)
    lanes = [c.delivery.endpoint_id for c in claimed]
    assert lanes.count(narrow.id) == 2
    assert lanes.count(wide.id) == 4
    assert lanes.count(None) == 4
    assert disabled.id not in lanes
    assert all(c.endpoint is not None for c in claimed if c.delivery.endpoint_id)
    lease_end = datetime.now(UTC) + timedelta(seconds=world.context.lease_seconds)
    assert all(c.delivery.next_attempt_at <= lease_end for c in claimed)  # type: ignore[operator]
    # Leased: the next claim finds every lane full...
    assert await claim_due(world.uow, world.context, limit=100) == []
    # ...until attempts end: their lanes are free again, their deliveries not due before
    # their lease ends (should their results never be recorded).
    ended = [(c.delivery.id, c.delivery.next_attempt_at) for c in claimed[:1]]
    again = await claim_due(world.uow, world.context, limit=100, ended=ended)  # type: ignore[arg-type]
    assert len(again) == 1
    assert again[0].delivery.endpoint_id == claimed[0].delivery.endpoint_id
    assert again[0].delivery.id != claimed[0].delivery.id


async def test_a_claim_honours_an_endpoint_s_rate_limit(world: World) -> None:
    limited = world.endpoint(rate_limit_per_second=3, max_in_flight=10)
    ids = await world.queue(8, to=limited)
    first = await claim_due(world.uow, world.context, limit=100)
    assert len(first) == 3
    ended = [(c.delivery.id, c.delivery.next_attempt_at) for c in first]
    assert await claim_due(world.uow, world.context, limit=100, ended=ended) == []  # type: ignore[arg-type]
    assert len(ids) == 8


# --- recording ------------------------------------------------------------------------------


async def test_a_delivered_attempt_is_logged_announced_and_heals_its_endpoint(
    world: World,
) -> None:
    sick = world.endpoint(failing_since=datetime.now(UTC), consecutive_failures=3)
    (delivery_id,) = await world.queue(1, to=sick)
    await claim_due(world.uow, world.context, limit=10)
    await record_attempts([made(delivery_id, DELIVERED)], world.uow, world.context)
    delivery = world.store.deliveries[delivery_id]
    assert delivery.state is DeliveryState.DELIVERED
    assert delivery.attempts == 1
    assert delivery.delivered_at is not None
    assert delivery.next_attempt_at is None
    assert world.store.leases[delivery_id].leased_until is None
    assert [(i, a.status_code) for i, a in world.store.attempts] == [(delivery_id, 204)]
    healed = world.store.endpoints[sick.id]
    assert healed.failing_since is None
    assert healed.consecutive_failures == 0
    (event,) = world.store.events_of(NotificationDeliveredV1)
    assert event.data.model_dump()["attempt"] == 1
    assert event.data.model_dump()["notification_id"] == delivery_id


async def test_a_failed_attempt_is_retried_on_the_schedule(world: World) -> None:
    target = world.endpoint()
    (delivery_id,) = await world.queue(1, to=target)
    before = datetime.now(UTC)
    await record_attempts([made(delivery_id, FAILED)], world.uow, world.context)
    delivery = world.store.deliveries[delivery_id]
    assert delivery.state is DeliveryState.PENDING
    assert delivery.last_failure == "http_server_error"
    assert delivery.schedule_position == 1
    assert delivery.next_attempt_at is not None
    assert timedelta(seconds=4.9) < delivery.next_attempt_at - before < timedelta(seconds=6)
    assert world.store.endpoints[target.id].consecutive_failures == 1
    (event,) = world.store.events_of(NotificationAttemptFailedV1)
    assert event.data.model_dump()["next_attempt_at"] == delivery.next_attempt_at
    assert event.data.model_dump()["http_status"] == 500


async def test_a_webhook_that_never_arrived_is_exhausted_and_people_are_told(
    world: World,
) -> None:
    referral = KnownReferral(uuid.uuid4(), uuid.uuid4(), "caseworker:cw-1", "NE", None)
    world.store.referrals[referral.referral_id] = referral
    target = world.endpoint()
    now = datetime.now(UTC)
    for kind, owner in (
        (Audience.PARTNER, str(target.partner_id)),
        (Audience.REFERRER, "caseworker:cw-1"),
        (Audience.SUPERVISORS, "NE"),
    ):
        entry = Contact(uuid.uuid4(), kind, owner, f"{kind.value}@x.example.org", "en", now, now)
        world.store.contacts[entry.id] = entry
    (delivery_id,) = await world.queue(1, to=target, referral=referral)
    for before in range(3):  # the schedule has three attempts
        await record_attempts([made(delivery_id, FAILED, before=before)], world.uow, world.context)
    delivery = world.store.deliveries[delivery_id]
    assert delivery.state is DeliveryState.FAILED
    assert delivery.attempts == 3
    (exhausted,) = world.store.events_of(NotificationExhaustedV1)
    assert exhausted.data.model_dump()["attempts"] == 3
    mails = [d for d in world.store.deliveries.values() if d.channel is NotificationChannel.EMAIL]
    assert {d.audience for d in mails} == {
        Audience.PARTNER,
        Audience.REFERRER,
        Audience.SUPERVISORS,
    }
    assert {d.trigger_event_id for d in mails} == {exhausted.id}
    assert {d.referral_id for d in mails} == {referral.referral_id}
    assert world.wakes.count == 1


async def test_410_disables_its_endpoint_at_once_and_its_partner_hears_of_it(
    world: World,
) -> None:
    target = world.endpoint()
    now = datetime.now(UTC)
    mail = Contact(
        uuid.uuid4(), Audience.PARTNER, str(target.partner_id), "p@x.org", "en", now, now
    )
    world.store.contacts[mail.id] = mail
    gone, later = await world.queue(2, to=target)
    await record_attempts([made(gone, GONE), made(later, FAILED)], world.uow, world.context)
    disabled = world.store.endpoints[target.id]
    assert not disabled.enabled
    assert disabled.disabled_reason is DisabledReason.GONE
    assert world.store.deliveries[gone].state is DeliveryState.FAILED
    # The second result came after the disabling: logged, its delivery failed, no retry.
    second = world.store.deliveries[later]
    assert second.state is DeliveryState.FAILED
    assert second.attempts == 1
    assert second.next_attempt_at is None
    (event,) = world.store.events_of(NotificationEndpointDisabledV1)
    assert event.data.model_dump()["reason"] == "gone"
    (told,) = [d for d in world.store.deliveries.values() if d.channel is NotificationChannel.EMAIL]
    assert told.trigger_event_id == event.id
    assert told.event_type == NotificationEndpointDisabledV1.event_type


async def test_an_endpoint_failing_for_the_whole_window_is_disabled() -> None:
    world = make_world(endpoint_disable_after_seconds=60)
    target = world.endpoint(
        failing_since=datetime.now(UTC) - timedelta(minutes=2), consecutive_failures=7
    )
    (delivery_id,) = await world.queue(1, to=target)
    await record_attempts([made(delivery_id, FAILED)], world.uow, world.context)
    disabled = world.store.endpoints[target.id]
    assert disabled.disabled_reason is DisabledReason.CONSECUTIVE_FAILURES
    assert disabled.consecutive_failures == 8
    assert world.store.deliveries[delivery_id].state is DeliveryState.FAILED
    (event,) = world.store.events_of(NotificationEndpointDisabledV1)
    assert event.data.model_dump()["consecutive_failures"] == 8


async def test_a_result_for_an_endpoint_disabled_meanwhile_is_only_logged(world: World) -> None:
    target = world.endpoint()
    (delivery_id,) = await world.queue(1, to=target)
    world.store.deliveries[delivery_id] = replace(
        world.store.deliveries[delivery_id], state=DeliveryState.FAILED, next_attempt_at=None
    )
    await record_attempts([made(delivery_id, FAILED)], world.uow, world.context)
    delivery = world.store.deliveries[delivery_id]
    assert delivery.state is DeliveryState.FAILED
    assert delivery.attempts == 1
    assert world.store.endpoints[target.id].consecutive_failures == 0
    (event,) = world.store.events_of(NotificationAttemptFailedV1)
    assert event.data.model_dump()["next_attempt_at"] is None
    assert world.store.events_of(NotificationExhaustedV1) == []


async def test_a_result_recorded_twice_is_written_once(world: World) -> None:
    # A commit whose answer was lost (the database hung at COMMIT) is retried by the
    # recorder; the first one may have landed.
    target = world.endpoint()
    (delivery_id,) = await world.queue(1, to=target)
    twice = made(delivery_id, FAILED)
    await record_attempts([twice], world.uow, world.context)
    await record_attempts([twice], world.uow, world.context)
    assert world.store.deliveries[delivery_id].attempts == 1
    assert len(world.store.attempts) == 1
    assert len(world.store.events_of(NotificationAttemptFailedV1)) == 1
    assert world.store.endpoints[target.id].consecutive_failures == 1


async def test_many_results_are_recorded_in_one_commit(world: World) -> None:
    target = world.endpoint(max_in_flight=64)
    ids = await world.queue(40, to=target)
    commits = world.store.commits
    await record_attempts([made(i, DELIVERED) for i in ids], world.uow, world.context)
    assert world.store.commits == commits + 1
    assert {world.store.deliveries[i].state for i in ids} == {DeliveryState.DELIVERED}
    assert len(world.store.events_of(NotificationDeliveredV1)) == 40


# --- the dispatcher through a database outage -------------------------------------------------


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not within the timeout")


class Receiver:
    """Stands in for the webhook and e-mail senders: answers 204, remembers each message."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    async def send(self, *args: Any, message_id: str, **kwargs: Any) -> AttemptResult:
        self.messages.append(message_id)
        return DELIVERED

    async def close(self) -> None:
        return None


class Outage:
    """A unit-of-work factory whose database is away while `down` is set."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self.down = False
        self.refused = 0

    def __call__(self) -> Any:
        if self.down:
            self.refused += 1
            raise ConnectionRefusedError(111, "Connection refused")
        return self._factory()


async def test_the_dispatcher_waits_out_a_database_outage_quietly_and_then_delivers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = make_world(dispatch_poll_seconds=0.02)
    target = world.endpoint(max_in_flight=64)
    await world.queue(10, to=target)
    outage = Outage(world.uow)
    monitor = DependencyMonitor()
    receiver = Receiver()
    dispatcher = Dispatcher(
        world.context,
        outage,
        receiver,  # type: ignore[arg-type]
        receiver,  # type: ignore[arg-type]
        monitor=monitor,
    )
    outage.down = True
    with caplog.at_level(logging.INFO):
        await dispatcher.start()
        try:
            await until(lambda: outage.refused >= 3)
            assert monitor.is_down("database")
            assert receiver.messages == []
            await world.queue(5, to=target)  # written while the dispatcher cannot read
            outage.down = False
            await until(lambda: len(world.store.events_of(NotificationDeliveredV1)) == 15)
        finally:
            await dispatcher.stop()
    assert len(world.store.events_of(NotificationDeliveredV1)) == 15
    assert len(set(receiver.messages)) == 15
    assert not monitor.is_down("database")
    # One warning when it went, one line when it came back; no traceback per poll.
    assert [r.levelname for r in caplog.records if r.name == "mpa.health"] == ["WARNING", "INFO"]
    assert not [r for r in caplog.records if r.exc_info]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_results_ended_during_an_outage_are_recorded_when_it_is_over(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = make_world(dispatch_poll_seconds=0.02)
    target = world.endpoint(max_in_flight=64)
    ids = await world.queue(6, to=target)
    outage = Outage(world.uow)
    receiver = Receiver()

    class SlowReceiver(Receiver):
        async def send(self, *args: Any, message_id: str, **kwargs: Any) -> AttemptResult:
            outage.down = True  # the database goes while the attempts are under way
            await asyncio.sleep(0.05)
            return await super().send(message_id=message_id)

    slow = SlowReceiver()
    monitor = DependencyMonitor()
    dispatcher = Dispatcher(
        world.context,
        outage,
        slow,  # type: ignore[arg-type]
        receiver,  # type: ignore[arg-type]
        monitor=monitor,
    )
    with caplog.at_level(logging.INFO):
        await dispatcher.start()
        try:
            await until(lambda: len(slow.messages) == 6 and outage.refused >= 3)
            assert world.store.events_of(NotificationDeliveredV1) == []
            assert monitor.is_down("database")
            slow.send = receiver.send  # type: ignore[method-assign]
            outage.down = False
            await until(lambda: len(world.store.events_of(NotificationDeliveredV1)) == 6)
        finally:
            await dispatcher.stop()
    assert {world.store.deliveries[i].state for i in ids} == {DeliveryState.DELIVERED}
    assert sorted(slow.messages) == sorted(world.store.deliveries[i].message_id for i in ids)
    assert not [r for r in caplog.records if r.exc_info]


# --- the dispatcher at idle -------------------------------------------------------------------


async def test_an_idle_dispatcher_claims_once_and_then_waits_for_a_wake_up() -> None:
    # An idle interval far beyond the test: it only delivers if woken.
    world = make_world(dispatch_poll_seconds=0.01, dispatch_idle_seconds=3600)
    target = world.endpoint(max_in_flight=64)
    receiver = Receiver()
    dispatcher = Dispatcher(world.context, world.uow, receiver, receiver)  # type: ignore[arg-type]
    await dispatcher.start()
    try:
        await until(lambda: dispatcher.claims >= 1)
        await asyncio.sleep(0.3)  # thirty poll intervals
        assert dispatcher.claims == 1  # nothing pending: no claim per poll
        await world.queue(3, to=target)
        dispatcher.wake()  # what the fan-out's commit does
        await until(lambda: len(world.store.events_of(NotificationDeliveredV1)) == 3)
    finally:
        await dispatcher.stop()
    assert len(set(receiver.messages)) == 3


async def test_an_idle_dispatcher_wakes_itself_when_the_next_delivery_falls_due() -> None:
    world = make_world(dispatch_poll_seconds=0.01, dispatch_idle_seconds=3600)
    target = world.endpoint(max_in_flight=64)
    (later,) = await world.queue(1, to=target)
    pending = world.store.deliveries[later]
    due = world.store.clock() + timedelta(seconds=0.3)  # a retry's time, say
    world.store.deliveries[later] = replace(pending, next_attempt_at=due)
    receiver = Receiver()
    dispatcher = Dispatcher(world.context, world.uow, receiver, receiver)  # type: ignore[arg-type]
    await dispatcher.start()
    try:
        await until(lambda: len(world.store.events_of(NotificationDeliveredV1)) == 1)
    finally:
        await dispatcher.stop()
    assert receiver.messages == [pending.message_id]
    assert dispatcher.claims >= 2  # the first found nothing due
