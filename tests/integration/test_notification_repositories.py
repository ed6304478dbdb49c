"""One contract for the notification service's repositories and delivery queue, run against
both implementations: PostgreSQL (`adapters.uow.NotificationUnitOfWork`, in a private schema
of the real database) and memory (`mpa_notification.testing`, what the use-case tests run
on). Whatever a use-case test relies on of the fakes is checked here against the real thing.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from mpa_common.db import create_engine, create_session_factory
from mpa_contracts.vocabularies import NotificationChannel
from mpa_notification import testing
from mpa_notification.adapters.tables import metadata
from mpa_notification.adapters.uow import NotificationUnitOfWork
from mpa_notification.domain.errors import DuplicateAddress
from mpa_notification.domain.models import (
    Attempt,
    Contact,
    DeliveryFilter,
    DeliveryState,
    DisabledReason,
    Endpoint,
    NewDelivery,
    ReferralFacts,
)
from mpa_notification.domain.routing import Audience
from mpa_notification.testing import InMemoryNotificationStore
from tests.conftest import service_database_url

pytestmark = pytest.mark.integration

ROUTED = "org.mpa.referral.routed.v1"
ACCEPTED = "org.mpa.referral.accepted.v1"
LEASE = 45.0


@dataclass
class Backend:
    name: str
    uow: Callable[[], Any]


@pytest.fixture(params=["memory", "postgresql"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "memory":
        yield Backend("memory", InMemoryNotificationStore().unit_of_work)
        return
    url = service_database_url("notification")
    schema = f"r_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(url)
    async with admin.begin() as connection:
        await connection.execute(text(f"CREATE SCHEMA {schema}"))
        await connection.execute(text(f"SET search_path TO {schema}"))
        await connection.run_sync(metadata.create_all)
    engine = create_engine(url, pool_size=2, schema=schema)
    sessions = create_session_factory(engine)
    try:
        yield Backend(
            "postgresql",
            lambda: NotificationUnitOfWork(sessions, source="urn:mpa:service:notification"),
        )
    finally:
        await engine.dispose()
        async with admin.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await admin.dispose()


def an_endpoint(partner_id: uuid.UUID | None = None, **fields: Any) -> Endpoint:
    return testing.an_endpoint(
        partner_id=partner_id or uuid.uuid4(),
        url="https://partner.example.org/hook",
        description="case system",
        secret=b"sealed-secret",
        **fields,
    )


def a_delivery(
    endpoint: Endpoint | None = None, *, due: timedelta = timedelta(seconds=-1), **fields: Any
) -> NewDelivery:
    delivery = NewDelivery(
        id=uuid.uuid4(),
        channel=NotificationChannel.WEBHOOK if endpoint else NotificationChannel.EMAIL,
        audience=Audience.PARTNER,
        partner_id=endpoint.partner_id if endpoint else uuid.uuid4(),
        event_type=ROUTED,
        body={"type": ROUTED, "data": {"n": 1}},
        next_attempt_at=datetime.now(UTC) + due,
        endpoint_id=endpoint.id if endpoint else None,
        email=None if endpoint else "desk@ngo.example.org",
        language=None if endpoint else "fr",
    )
    return replace(delivery, **fields)


async def add_endpoints(backend: Backend, *endpoints: Endpoint) -> None:
    async with backend.uow() as uow:
        for endpoint in endpoints:
            await uow.endpoints.add(endpoint)
        await uow.commit()


async def add_deliveries(backend: Backend, *deliveries: NewDelivery) -> None:
    async with backend.uow() as uow:
        await uow.deliveries.add_many(list(deliveries))
        await uow.commit()


# --- endpoints --------------------------------------------------------------------------------


async def test_endpoints_are_stored_read_per_partner_changed_and_soft_deleted(
    backend: Backend,
) -> None:
    partner = uuid.uuid4()
    first, second = an_endpoint(partner), an_endpoint(partner, event_types=(ACCEPTED,))
    theirs = an_endpoint()
    await add_endpoints(backend, first, second, theirs)
    async with backend.uow() as uow:
        assert await uow.endpoints.get(first.id, partner_id=partner) == first
        assert await uow.endpoints.get(theirs.id, partner_id=partner) is None
        assert await uow.endpoints.get(theirs.id, partner_id=None) == theirs
        mine = await uow.endpoints.visible(partner_id=partner)
        assert {e.id for e in mine} == {first.id, second.id}
        assert len(await uow.endpoints.visible(partner_id=None)) == 3
        many = await uow.endpoints.get_many([first.id, theirs.id, uuid.uuid4()], lock=True)
        assert set(many) == {first.id, theirs.id}
        saved = await uow.endpoints.save(
            replace(first, description="new", consecutive_failures=3, max_in_flight=2)
        )
        assert (saved.description, saved.consecutive_failures, saved.max_in_flight) == (
            "new",
            3,
            2,
        )
        assert saved.updated_at >= first.updated_at
        await uow.endpoints.save_many(
            [replace(second, failing_since=first.created_at), replace(theirs, url="https://b/x")]
        )
        await uow.endpoints.delete(theirs.id)
        await uow.commit()
    async with backend.uow() as uow:
        assert (await uow.endpoints.get(second.id, partner_id=None)).failing_since == (  # type: ignore[union-attr]
            first.created_at
        )
        assert await uow.endpoints.get(theirs.id, partner_id=None) is None
        assert len(await uow.endpoints.visible(partner_id=None)) == 2


async def test_enabled_endpoints_of_partners_leave_out_disabled_and_deleted_ones(
    backend: Backend,
) -> None:
    partner, other = uuid.uuid4(), uuid.uuid4()
    live = an_endpoint(partner)
    disabled = an_endpoint(partner, enabled=False, disabled_reason=DisabledReason.GONE)
    deleted = an_endpoint(partner)
    elsewhere = an_endpoint(other)
    await add_endpoints(backend, live, disabled, deleted, elsewhere)
    async with backend.uow() as uow:
        await uow.endpoints.delete(deleted.id)
        await uow.commit()
    async with backend.uow() as uow:
        assert [e.id for e in await uow.endpoints.enabled_of([partner])] == [live.id]
        both = await uow.endpoints.enabled_of([partner, other], lock=True)
        assert {e.id for e in both} == {live.id, elsewhere.id}
        assert await uow.endpoints.enabled_of([]) == []


# --- contacts ---------------------------------------------------------------------------------


def a_contact(kind: Audience, owner: str, email: str, offset: int = 0) -> Contact:
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=offset)
    return Contact(uuid.uuid4(), kind, owner, email, "es", at, at)


async def test_contacts_are_unique_per_owner_and_address_and_found_by_owner(
    backend: Backend,
) -> None:
    first = a_contact(Audience.SUPERVISORS, "NE", "a@x.example.org")
    second = a_contact(Audience.SUPERVISORS, "NE", "b@x.example.org", 1)
    referrer = a_contact(Audience.REFERRER, "caseworker:cw-1", "a@x.example.org", 2)
    async with backend.uow() as uow:
        for contact in (first, second, referrer):
            assert await uow.contacts.add(contact) == contact
        again = replace(first, id=uuid.uuid4())
        assert await uow.contacts.add(again) is None  # that owner has that address already
        await uow.commit()
    async with backend.uow() as uow:
        assert await uow.contacts.get(first.id) == first
        found = await uow.contacts.find(kind=Audience.SUPERVISORS, owner="NE")
        assert [c.id for c in found] == [first.id, second.id]
        assert [c.id for c in await uow.contacts.find()] == [first.id, second.id, referrer.id]
        owners = await uow.contacts.of_owners(
            [(Audience.SUPERVISORS, "NE"), (Audience.REFERRER, "caseworker:cw-1")]
        )
        assert [c.id for c in owners] == [first.id, second.id, referrer.id]
        assert await uow.contacts.of_owners([(Audience.PARTNER, "NE")]) == []


async def test_a_fan_out_s_recipients_are_read_together_as_each_alone(
    backend: Backend,
) -> None:
    partner = uuid.uuid4()
    first, second = an_endpoint(partner), an_endpoint(partner)
    off = an_endpoint(partner, enabled=False, disabled_reason=DisabledReason.PARTNER_REQUEST)
    await add_endpoints(backend, first, second, off, an_endpoint())
    desk = a_contact(Audience.PARTNER, str(partner), "desk@ngo.example.org")
    referrer = a_contact(Audience.REFERRER, "caseworker:cw-1", "cw@x.example.org", 1)
    async with backend.uow() as uow:
        for contact in (desk, referrer, a_contact(Audience.PARTNER, "other", "o@x.org", 2)):
            await uow.contacts.add(contact)
        await uow.commit()
    owners = [(Audience.PARTNER, str(partner)), (Audience.REFERRER, "caseworker:cw-1")]
    async with backend.uow() as uow:
        found, people = await uow.contacts.recipients([partner], owners)
        assert found == await uow.endpoints.enabled_of([partner])
        assert {e.id for e in found} == {first.id, second.id}
        assert people == await uow.contacts.of_owners(owners)
        assert [c.id for c in people] == [desk.id, referrer.id]
        assert await uow.contacts.recipients([partner], []) == (found, [])
        assert await uow.contacts.recipients([], owners) == ([], people)
        assert await uow.contacts.recipients([], []) == ([], [])


async def test_a_contact_cannot_take_an_address_its_owner_has_and_can_be_removed(
    backend: Backend,
) -> None:
    first = a_contact(Audience.SUPERVISORS, "NE", "a@x.example.org")
    second = a_contact(Audience.SUPERVISORS, "NE", "b@x.example.org", 1)
    async with backend.uow() as uow:
        await uow.contacts.add(first)
        await uow.contacts.add(second)
        await uow.commit()
    async with backend.uow() as uow:
        with pytest.raises(DuplicateAddress):
            await uow.contacts.save(replace(second, email=first.email))
        # The unit of work goes on after the refusal.
        changed = await uow.contacts.save(replace(second, language="ar"))
        assert changed is not None
        assert changed.language == "ar"
        assert await uow.contacts.save(replace(second, id=uuid.uuid4())) is None
        await uow.contacts.delete(first.id)
        await uow.commit()
    async with backend.uow() as uow:
        assert [c.id for c in await uow.contacts.find()] == [second.id]
        assert (await uow.contacts.get(second.id)).language == "ar"  # type: ignore[union-attr]


# --- referrals and partners -------------------------------------------------------------------


async def test_what_is_known_of_a_referral_is_completed_never_erased(backend: Backend) -> None:
    referral, case, partner = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with backend.uow() as uow:
        await uow.referrals.record(
            [
                ReferralFacts(referral, case, "requested", referrer_actor_id="cw:1", country="NE"),
                ReferralFacts(referral, case, "routed", partner_id=partner),
            ]
        )
        await uow.commit()
    async with backend.uow() as uow:
        await uow.referrals.record([ReferralFacts(referral, case, "accepted")])
        await uow.commit()
    async with backend.uow() as uow:
        known = (await uow.referrals.get_many([referral, uuid.uuid4()]))[referral]
        assert (known.case_id, known.referrer_actor_id, known.country, known.partner_id) == (
            case,
            "cw:1",
            "NE",
            partner,
        )
        assert await uow.referrals.get_many([]) == {}


async def test_a_partner_is_active_until_the_directory_deactivates_it(backend: Backend) -> None:
    partner = uuid.uuid4()
    async with backend.uow() as uow:
        assert await uow.partners.is_active(partner)
        await uow.partners.set_active(partner, False)
        await uow.commit()
    async with backend.uow() as uow:
        assert not await uow.partners.is_active(partner)
        await uow.partners.set_active(partner, True)
        await uow.commit()
    async with backend.uow() as uow:
        assert await uow.partners.is_active(partner)


# --- the delivery log -------------------------------------------------------------------------


async def test_deliveries_are_logged_and_read_per_partner(backend: Backend) -> None:
    endpoint = an_endpoint()
    await add_endpoints(backend, endpoint)
    webhook = a_delivery(endpoint, referral_id=uuid.uuid4(), trigger_event_id=uuid.uuid4())
    referrer_mail = a_delivery(partner_id=endpoint.partner_id, audience=Audience.REFERRER)
    await add_deliveries(backend, webhook, referrer_mail)
    async with backend.uow() as uow:
        stored = await uow.deliveries.get(webhook.id, partner_id=endpoint.partner_id)
        assert stored is not None
        assert stored.state is DeliveryState.PENDING
        assert (stored.attempts, stored.schedule_position) == (0, 0)
        assert (stored.body, stored.referral_id, stored.trigger_event_id) == (
            webhook.body,
            webhook.referral_id,
            webhook.trigger_event_id,
        )
        assert stored.message_id == f"msg_{webhook.id.hex}"
        # A mail to the referrer about the partner's referral is not the partner's to read.
        assert await uow.deliveries.get(referrer_mail.id, partner_id=endpoint.partner_id) is None
        mail = await uow.deliveries.get(referrer_mail.id, partner_id=None)
        assert mail is not None
        assert (mail.email, mail.language, mail.audience) == (
            "desk@ngo.example.org",
            "fr",
            Audience.REFERRER,
        )


async def test_the_log_pages_newest_first_and_filters(backend: Backend) -> None:
    endpoint = an_endpoint()
    await add_endpoints(backend, endpoint)
    referral = uuid.uuid4()
    for batch in range(3):  # three transactions: three creation times
        await add_deliveries(
            backend,
            a_delivery(endpoint, referral_id=referral if batch == 1 else None),
            a_delivery(),
        )
    async with backend.uow() as uow:
        everything = await uow.deliveries.page(DeliveryFilter(), after=None, limit=50)
        assert len(everything) == 6
        keys = [(d.created_at, d.id) for d in everything]
        assert keys == sorted(keys, reverse=True)
        first = await uow.deliveries.page(DeliveryFilter(), after=None, limit=4)
        rest = await uow.deliveries.page(
            DeliveryFilter(), after=(first[-1].created_at, first[-1].id), limit=4
        )
        assert [d.id for d in first + rest] == [d.id for d in everything]
        webhooks = await uow.deliveries.page(
            DeliveryFilter(channel=NotificationChannel.WEBHOOK), after=None, limit=50
        )
        assert {d.endpoint_id for d in webhooks} == {endpoint.id}
        assert len(webhooks) == 3
        of_endpoint = DeliveryFilter(endpoint_id=endpoint.id, partner_id=endpoint.partner_id)
        assert len(await uow.deliveries.page(of_endpoint, after=None, limit=50)) == 3
        about = await uow.deliveries.page(
            DeliveryFilter(referral_id=referral), after=None, limit=50
        )
        assert len(about) == 1
        middle = about[0].created_at
        assert (
            len(await uow.deliveries.page(DeliveryFilter(since=middle), after=None, limit=50)) == 4
        )
        assert (
            len(await uow.deliveries.page(DeliveryFilter(until=middle), after=None, limit=50)) == 2
        )
        failed = DeliveryFilter(state=DeliveryState.FAILED)
        assert await uow.deliveries.page(failed, after=None, limit=50) == []
        routed = DeliveryFilter(event_type=ROUTED)
        assert len(await uow.deliveries.page(routed, after=None, limit=50)) == 6


# --- the delivery queue -----------------------------------------------------------------------


async def claim(backend: Backend, limit: int = 100, **kwargs: Any) -> list[Any]:
    async with backend.uow() as uow:
        claim = await uow.queue.claim(
            limit=limit, endpoint_cap=3, email_cap=2, lease_seconds=LEASE, **kwargs
        )
        await uow.commit()
    return claim.claimed


async def test_a_claim_takes_due_work_within_each_lane_s_room_and_leases_it(
    backend: Backend,
) -> None:
    narrow, wide = an_endpoint(max_in_flight=1), an_endpoint()
    off = an_endpoint(enabled=False, disabled_reason=DisabledReason.PARTNER_REQUEST)
    await add_endpoints(backend, narrow, wide, off)
    await add_deliveries(
        backend,
        *(a_delivery(narrow) for _ in range(3)),
        *(a_delivery(wide) for _ in range(5)),
        *(a_delivery(off) for _ in range(2)),
        *(a_delivery() for _ in range(3)),
        a_delivery(wide, due=timedelta(minutes=5)),  # not due yet
    )
    before = datetime.now(UTC)
    claimed = await claim(backend)
    lanes = [c.delivery.endpoint_id for c in claimed]
    assert (lanes.count(narrow.id), lanes.count(wide.id), lanes.count(None)) == (1, 3, 2)
    assert off.id not in lanes
    by_endpoint = {c.endpoint.id: c.endpoint for c in claimed if c.endpoint is not None}
    assert set(by_endpoint) == {narrow.id, wide.id}
    for item in claimed:
        lease_end = item.delivery.next_attempt_at
        assert (
            before + timedelta(seconds=LEASE - 5)
            < lease_end
            < before + timedelta(seconds=LEASE + 30)
        )
    assert [c.delivery.created_at for c in claimed] == sorted(
        c.delivery.created_at for c in claimed
    )
    assert await claim(backend) == []  # every lane full: its attempts are leased
    # An attempt that ended frees its lane at the next claim.
    ended = claimed[0]
    again = await claim(backend, ended=[(ended.delivery.id, ended.delivery.next_attempt_at)])
    assert [c.delivery.endpoint_id for c in again] == [ended.delivery.endpoint_id]
    assert again[0].delivery.id != ended.delivery.id
    # A lease that is not this dispatcher's (any other value) is left alone.
    other = again[0]
    assert await claim(backend, ended=[(other.delivery.id, before)]) == []


async def test_a_claim_takes_no_more_per_second_than_an_endpoint_s_rate_limit(
    backend: Backend,
) -> None:
    limited = an_endpoint(rate_limit_per_second=2, max_in_flight=10)
    await add_endpoints(backend, limited)
    await add_deliveries(backend, *(a_delivery(limited) for _ in range(5)))
    first = await claim(backend)
    assert len(first) == 2
    ended = [(c.delivery.id, c.delivery.next_attempt_at) for c in first]
    assert await claim(backend, ended=ended) == []  # in flight or not, two this second


async def next_due_in(backend: Backend) -> float | None:
    async with backend.uow() as uow:
        return await uow.queue.next_due_in()


async def test_the_next_due_delivery_is_the_earliest_pending_one_a_claim_could_take(
    backend: Backend,
) -> None:
    assert await next_due_in(backend) is None  # nothing pending: the dispatcher may idle
    live = an_endpoint()
    off = an_endpoint(enabled=False, disabled_reason=DisabledReason.PARTNER_REQUEST)
    await add_endpoints(backend, live, off)
    await add_deliveries(
        backend,
        a_delivery(off, due=timedelta(seconds=-60)),  # never claimed while disabled
        a_delivery(live, due=timedelta(minutes=10)),
        a_delivery(due=timedelta(minutes=3)),  # e-mail
    )
    due_in = await next_due_in(backend)
    assert due_in is not None
    assert 170 < due_in <= 180
    await add_deliveries(backend, a_delivery(live, due=timedelta(seconds=-5)))
    due_in = await next_due_in(backend)
    assert due_in is not None
    assert due_in <= -5  # due already (its lane may be full)


async def claim_and_next(backend: Backend, limit: int = 100) -> Any:
    async with backend.uow() as uow:
        claimed = await uow.queue.claim(
            limit=limit, endpoint_cap=3, email_cap=2, lease_seconds=LEASE
        )
        await uow.commit()
    return claimed


async def test_a_claim_says_when_the_next_delivery_is_due_as_next_due_in_then_would(
    backend: Backend,
) -> None:
    nothing = await claim_and_next(backend)
    assert (nothing.claimed, nothing.next_due_in) == ([], None)
    narrow = an_endpoint(max_in_flight=1)
    await add_endpoints(backend, narrow)
    await add_deliveries(backend, a_delivery(narrow), a_delivery(due=timedelta(minutes=3)))
    first = await claim_and_next(backend)
    assert [c.delivery.endpoint_id for c in first.claimed] == [narrow.id]
    # The e-mail in 3 minutes; the lease taken ends sooner: it is the next due.
    after = await next_due_in(backend)
    assert after is not None
    assert first.next_due_in is not None
    assert LEASE - 5 < first.next_due_in <= LEASE
    assert abs(first.next_due_in - after) < 5
    await add_deliveries(backend, a_delivery(narrow))
    full = await claim_and_next(backend)
    assert full.claimed == []  # its lane is full
    assert full.next_due_in is not None
    assert full.next_due_in <= 0  # due already: room comes back with time


async def test_recorded_attempts_end_their_leases_and_set_each_delivery_s_state(
    backend: Backend,
) -> None:
    endpoint = an_endpoint(max_in_flight=2)
    await add_endpoints(backend, endpoint)
    await add_deliveries(backend, a_delivery(endpoint), a_delivery(endpoint), a_delivery(endpoint))
    claimed = await claim(backend)
    assert len(claimed) == 2
    done, retried = (c.delivery for c in claimed)
    now = datetime.now(UTC)
    async with backend.uow() as uow:
        locked = await uow.queue.lock([done.id, retried.id, uuid.uuid4()])
        assert set(locked) == {done.id, retried.id}
        await uow.queue.record(
            [
                (done.id, Attempt(1, now, 12, 204, None, None)),
                (retried.id, Attempt(1, now, 30, 503, "http_server_error", "HTTP 503")),
            ],
            [
                replace(
                    locked[done.id],
                    state=DeliveryState.DELIVERED,
                    attempts=1,
                    schedule_position=1,
                    delivered_at=now,
                    next_attempt_at=None,
                    last_status_code=204,
                ),
                replace(
                    locked[retried.id],
                    attempts=1,
                    schedule_position=1,
                    next_attempt_at=now + timedelta(minutes=5),
                    last_failure="http_server_error",
                    last_status_code=503,
                ),
            ],
        )
        await uow.commit()
    async with backend.uow() as uow:
        delivered = await uow.deliveries.get(done.id, partner_id=None)
        assert delivered is not None
        assert (delivered.state, delivered.attempts, delivered.last_status_code) == (
            DeliveryState.DELIVERED,
            1,
            204,
        )
        assert delivered.delivered_at is not None
        later = await uow.deliveries.get(retried.id, partner_id=None)
        assert later is not None
        assert (later.state, later.last_failure, later.schedule_position) == (
            DeliveryState.PENDING,
            "http_server_error",
            1,
        )
        log = await uow.deliveries.attempts_of(retried.id)
        assert [(a.attempt, a.status_code, a.error) for a in log] == [(1, 503, "HTTP 503")]
    # Both leases are over: the lane takes the third delivery (the retried one is not due).
    (third,) = await claim(backend)
    assert third.delivery.id not in {done.id, retried.id}


async def test_an_endpoint_s_pending_messages_fail_together_and_come_back_together(
    backend: Backend,
) -> None:
    endpoint, other = an_endpoint(), an_endpoint()
    await add_endpoints(backend, endpoint, other)
    ours = [a_delivery(endpoint) for _ in range(3)]
    theirs = a_delivery(other)
    await add_deliveries(backend, *ours, theirs)
    async with backend.uow() as uow:
        assert await uow.queue.fail_pending_of(endpoint.id, "endpoint_disabled") == 3
        assert await uow.queue.fail_pending_of(endpoint.id, "endpoint_disabled") == 0
        await uow.commit()
    async with backend.uow() as uow:
        failed = await uow.deliveries.get(ours[0].id, partner_id=None)
        assert failed is not None
        assert (failed.state, failed.last_failure, failed.next_attempt_at) == (
            DeliveryState.FAILED,
            "endpoint_disabled",
            None,
        )
        untouched = await uow.deliveries.get(theirs.id, partner_id=None)
        assert untouched is not None
        assert untouched.state is DeliveryState.PENDING
        future = datetime.now(UTC) + timedelta(minutes=1)
        assert await uow.queue.requeue_failed_of(endpoint.id, future) == 0
        past = datetime.now(UTC) - timedelta(hours=1)
        assert await uow.queue.requeue_failed_of(endpoint.id, past) == 3
        await uow.commit()
    async with backend.uow() as uow:
        back = await uow.deliveries.get(ours[1].id, partner_id=None)
        assert back is not None
        assert (back.state, back.schedule_position) == (DeliveryState.PENDING, 0)
        assert back.next_attempt_at is not None
        rescheduled = await uow.queue.reschedule(theirs.id, datetime.now(UTC))
        assert rescheduled is not None
        assert rescheduled.state is DeliveryState.PENDING
        assert await uow.queue.reschedule(uuid.uuid4(), datetime.now(UTC)) is None


async def test_a_block_left_without_commit_leaves_nothing(backend: Backend) -> None:
    endpoint = an_endpoint()
    async with backend.uow() as uow:
        await uow.endpoints.add(endpoint)
        await uow.deliveries.add_many([a_delivery(endpoint)])
        await uow.partners.set_active(endpoint.partner_id, False)
    async with backend.uow() as uow:
        assert await uow.endpoints.visible(partner_id=None) == []
        assert await uow.deliveries.page(DeliveryFilter(), after=None, limit=10) == []
        assert await uow.partners.is_active(endpoint.partner_id)
