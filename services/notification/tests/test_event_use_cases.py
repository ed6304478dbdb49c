"""What incoming referral and directory events do, through the handler table, on the
in-memory unit of work — and that a batch of them costs a few statements, not a few per
event."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import pytest

from mpa_common.messaging.subscriptions import Delivery, RecordOrigin
from mpa_contracts.envelope import Envelope, new_envelope
from mpa_contracts.events.notification import NotificationEndpointDisabledV1
from mpa_contracts.examples import example_event
from mpa_contracts.vocabularies import NotificationChannel
from mpa_notification.domain.models import (
    DeliveryState,
    DisabledReason,
)
from mpa_notification.domain.routing import Audience
from mpa_notification.handlers import casework_subscription, subscription
from mpa_notification.testing import (
    ACCEPTED,
    REQUESTED,
    ROUTED,
    UNROUTABLE,
    InMemoryNotificationUnitOfWork,
    Story,
    World,
)

DEACTIVATED = "org.mpa.directory.partner_deactivated.v1"
UPDATED = "org.mpa.directory.partner_updated.v1"


async def run_handlers(world: World, uow: Any, envelopes: Iterable[Envelope]) -> None:
    table = subscription(world.context)
    for offset, envelope in enumerate(envelopes):
        entry = table.entry_for(envelope.type)
        assert entry is not None
        await entry.handler(uow, envelope.data, Delivery(envelope, RecordOrigin("t", 0, offset, 0)))


async def handle(world: World, *envelopes: Envelope, then_fail: bool = False) -> None:
    """The envelopes in one unit of work, as the consumer hands a partition's batch over."""
    async with world.uow() as uow:
        await run_handlers(world, uow, envelopes)
        if then_fail:
            raise RuntimeError("the next event of the batch failed")
        await uow.commit()


def deliveries_by(world: World) -> Counter[tuple[NotificationChannel, Audience]]:
    return Counter((d.channel, d.audience) for d in world.store.deliveries.values())


async def test_a_routed_referral_queues_a_webhook_and_a_partner_mail_in_one_commit(
    world: World,
) -> None:
    story = Story()
    subscribed = world.endpoint(partner_id=story.partner_id, event_types=(ROUTED,))
    # Not subscribed to routed referrals:
    world.endpoint(partner_id=story.partner_id, event_types=(ACCEPTED,))
    world.endpoint(partner_id=uuid.uuid4())  # another partner's
    mail = world.contact(Audience.PARTNER, str(story.partner_id), "desk@ngo.example.org", "fr")
    routed = story.event(ROUTED)
    await handle(world, story.event(REQUESTED), routed)
    assert world.store.commits == 1
    assert world.wakes.after_commits == [1]  # after the commit, once
    by_channel = {d.channel: d for d in world.store.deliveries.values()}
    assert set(by_channel) == {NotificationChannel.WEBHOOK, NotificationChannel.EMAIL}
    webhook = by_channel[NotificationChannel.WEBHOOK]
    assert webhook.endpoint_id == subscribed.id
    assert webhook.trigger_event_id == routed.id
    assert webhook.referral_id == story.referral_id
    assert webhook.case_id == story.case_id
    assert webhook.body["data"]["state"] == "routed"
    assert "explanation" not in webhook.body["data"]
    email = by_channel[NotificationChannel.EMAIL]
    assert (email.email, email.language, email.contact_id) == (mail.email, "fr", mail.id)
    assert all(d.state is DeliveryState.PENDING for d in world.store.deliveries.values())
    known = world.store.referrals[story.referral_id]
    assert (known.referrer_actor_id, known.country) == (story.referrer, "NE")
    assert known.partner_id == story.partner_id


async def test_referrers_and_supervisors_are_mailed_once_per_address(world: World) -> None:
    story = Story(country="LY")
    world.contact(Audience.REFERRER, story.referrer, "shared@agency.example.org", "es")
    world.contact(Audience.SUPERVISORS, "LY", "shared@agency.example.org", "ar")
    world.contact(Audience.SUPERVISORS, "LY", "desk@agency.example.org", "ar")
    world.contact(Audience.SUPERVISORS, "ML", "other@agency.example.org")
    await handle(world, story.event(REQUESTED), story.event(ACCEPTED), story.event(UNROUTABLE))
    mails = [d for d in world.store.deliveries.values() if d.channel is NotificationChannel.EMAIL]
    by_type = Counter((d.event_type, d.audience, d.email) for d in mails)
    assert by_type == {
        (ACCEPTED, Audience.REFERRER, "shared@agency.example.org"): 1,
        (UNROUTABLE, Audience.REFERRER, "shared@agency.example.org"): 1,
        (UNROUTABLE, Audience.SUPERVISORS, "desk@agency.example.org"): 1,
    }


async def test_an_event_about_a_referral_whose_request_was_not_seen_tells_no_referrer(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    story = Story()
    world.contact(Audience.REFERRER, story.referrer, "me@agency.example.org")
    with caplog.at_level(logging.WARNING):
        await handle(world, story.event(ACCEPTED))
    assert world.store.deliveries == {}
    (warning,) = [r for r in caplog.records if "referrer unknown" in r.getMessage()]
    assert warning.__dict__["referral_id"] == str(story.referral_id)
    assert story.referrer not in caplog.text


async def test_events_that_concern_no_one_leave_only_what_is_known_of_the_referral(
    world: World,
) -> None:
    story = Story()
    await handle(world, story.event(REQUESTED))
    assert world.store.deliveries == {}
    assert world.wakes.count == 0
    assert story.referral_id in world.store.referrals


async def test_a_batch_that_fails_leaves_nothing_behind(world: World) -> None:
    story = Story()
    world.endpoint(partner_id=story.partner_id)
    with pytest.raises(RuntimeError):
        await handle(world, story.event(REQUESTED), story.event(ROUTED), then_fail=True)
    assert world.store.deliveries == {}
    assert world.store.referrals == {}
    assert world.wakes.count == 0


class Counting:
    """Counts the calls a unit of work makes on its repositories."""

    def __init__(self, uow: InMemoryNotificationUnitOfWork) -> None:
        self.calls: Counter[str] = Counter()
        for part in ("endpoints", "contacts", "referrals", "deliveries", "partners", "queue"):
            repository = getattr(uow, part)
            for name in dir(repository):
                if not name.startswith("_"):
                    setattr(repository, name, self._counted(part, getattr(repository, name)))

    def _counted(self, part: str, method: Any) -> Any:
        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[f"{part}.{method.__name__}"] += 1
            return await method(*args, **kwargs)

        return counted


async def test_a_batch_of_events_costs_a_few_reads_and_writes_not_a_few_per_event(
    world: World,
) -> None:
    stories = [Story() for _ in range(50)]
    for story in stories:
        world.endpoint(partner_id=story.partner_id)
        world.contact(Audience.PARTNER, str(story.partner_id), f"{story.partner_id}@x.org")
    uow = world.uow()
    counting = Counting(uow)
    async with uow:
        events = (e for s in stories for e in (s.event(REQUESTED), s.event(ROUTED)))
        await run_handlers(world, uow, events)
        assert counting.calls == {}  # the handlers only told the unit of work
        await uow.commit()
    assert len(world.store.deliveries) == 100  # a webhook and a mail per routed referral
    assert counting.calls == {
        "referrals.record": 1,
        "referrals.get_many": 1,
        "contacts.recipients": 1,  # the endpoints and the contacts, in one read
        "deliveries.add_many": 1,
    }
    assert world.wakes.count == 1


async def test_a_deactivated_partner_s_endpoints_are_disabled_until_it_is_active_again(
    world: World,
) -> None:
    story = Story()
    first = world.endpoint(partner_id=story.partner_id)
    second = world.endpoint(partner_id=story.partner_id)
    already = world.endpoint(partner_id=story.partner_id)
    world.store.endpoints[already.id] = already.disabled(DisabledReason.PARTNER_REQUEST)
    world.contact(Audience.PARTNER, str(story.partner_id), "desk@ngo.example.org")
    await world.queue(1, to=first)
    await handle(world, new_envelope(story.data(DEACTIVATED), source="urn:mpa:service:referral"))
    reasons = {i: e.disabled_reason for i, e in world.store.endpoints.items()}
    assert reasons == {
        first.id: DisabledReason.PARTNER_DEACTIVATED,
        second.id: DisabledReason.PARTNER_DEACTIVATED,
        already.id: DisabledReason.PARTNER_REQUEST,  # stays as its partner left it
    }
    assert world.store.partners[story.partner_id] is False
    events = world.store.events_of(NotificationEndpointDisabledV1)
    assert sorted(e.data.model_dump()["endpoint_id"] for e in events) == sorted(
        [first.id, second.id]
    )
    assert {e.data.model_dump()["reason"] for e in events} == {"partner_deactivated"}
    assert [d.state for d in world.store.deliveries.values()] == [DeliveryState.FAILED]
    assert {d.channel for d in world.store.deliveries.values()} == {NotificationChannel.WEBHOOK}
    await handle(world, new_envelope(story.data(UPDATED), source="urn:mpa:service:referral"))
    assert world.store.partners[story.partner_id] is True
    assert not world.store.endpoints[first.id].enabled  # an administrator enables it


# --- casework (issue 16) -----------------------------------------------------------------------


async def handle_casework(world: World, *envelopes: Envelope) -> None:
    table = casework_subscription(world.context)
    async with world.uow() as uow:
        for offset, envelope in enumerate(envelopes):
            entry = table.entry_for(envelope.type)
            assert entry is not None
            await entry.handler(
                uow, envelope.data, Delivery(envelope, RecordOrigin("t", 0, offset, 0))
            )
        await uow.commit()


def _casework_event(event_type: str, **changes: Any) -> Envelope:
    data = example_event(event_type).model_copy(update=changes)
    return new_envelope(data, source="urn:mpa:service:intake")


async def test_a_break_glass_read_mails_the_owning_teams_supervisors_only(world: World) -> None:
    team = world.contact(Audience.TEAM_SUPERVISORS, "ne-agadez-cm", "sv-agadez@iom.example.org")
    world.contact(Audience.TEAM_SUPERVISORS, "ml-gao-cm", "sv-gao@iom.example.org")  # the reader's
    world.contact(Audience.SUPERVISORS, "NE", "sv-ne@iom.example.org")
    glass = _casework_event("org.mpa.access.break_glass_used.v1")
    await handle_casework(world, glass)
    (mail,) = world.store.deliveries.values()
    assert (mail.audience, mail.contact_id) == (Audience.TEAM_SUPERVISORS, team.id)
    assert mail.trigger_event_id == glass.id
    assert mail.case_id == glass.data.case_id  # type: ignore[attr-defined]
    assert mail.body["data"]["reason"] == "owner_unavailable"


async def test_a_case_without_a_team_tells_its_country_offices_supervisors(world: World) -> None:
    country = world.contact(Audience.SUPERVISORS, "NE", "sv-ne@iom.example.org")
    await handle_casework(
        world, _casework_event("org.mpa.access.break_glass_used.v1", owner_team=None)
    )
    (mail,) = world.store.deliveries.values()
    assert (mail.audience, mail.contact_id) == (Audience.SUPERVISORS, country.id)


async def test_an_overdue_follow_up_mails_the_cases_owner_at_their_own_address(
    world: World,
) -> None:
    own = world.contact(Audience.REFERRER, "operator:u-123", "u123@iom.example.org")
    world.contact(Audience.REFERRER, "operator:u-999", "other@iom.example.org")
    await handle_casework(world, _casework_event("org.mpa.case.follow_up_overdue.v1"))
    (mail,) = world.store.deliveries.values()
    assert (mail.audience, mail.contact_id) == (Audience.CASE_OWNER, own.id)


async def test_casework_events_older_than_a_week_are_not_news(world: World) -> None:
    world.contact(Audience.REFERRER, "operator:u-123", "u123@iom.example.org")
    old = _casework_event("org.mpa.case.follow_up_overdue.v1")
    old = old.model_copy(update={"time": old.time - timedelta(days=8)})
    await handle_casework(world, old)
    assert not world.store.deliveries


async def test_a_reflection_period_ending_mails_the_owner_and_the_teams_supervisors(
    world: World,
) -> None:
    own = world.contact(Audience.REFERRER, "caseworker:u-204", "u204@iom.example.org")
    team = world.contact(Audience.TEAM_SUPERVISORS, "ne-agadez-cm", "sv-agadez@iom.example.org")
    await handle_casework(world, _casework_event("org.mpa.case.reflection_period_ending.v1"))
    mails = {(m.audience, m.contact_id) for m in world.store.deliveries.values()}
    # The caseworker and the supervisors, never the person (a child's case included): the
    # event names no contact of the person, and no audience reaches one.
    assert mails == {(Audience.CASE_OWNER, own.id), (Audience.TEAM_SUPERVISORS, team.id)}


async def test_a_psea_allegation_mails_the_implicated_partners_investigators_only(
    world: World,
) -> None:
    """The allegation goes to the organisation's investigation focal point, not to its
    referral desk nor to another partner's investigators; the mail names ids and codes."""
    referred = _casework_event("org.mpa.psea.allegation_referred.v1")
    partner = str(referred.data.implicated_partner_id)  # type: ignore[attr-defined]
    investigators = world.contact(Audience.INVESTIGATORS, partner, "ifp@ngo.example.org")
    world.contact(Audience.PARTNER, partner, "desk@ngo.example.org")
    world.contact(Audience.INVESTIGATORS, str(uuid.uuid4()), "ifp@other.example.org")
    await handle_casework(world, referred)
    (mail,) = world.store.deliveries.values()
    assert (mail.audience, mail.contact_id) == (Audience.INVESTIGATORS, investigators.id)
    assert mail.case_id is None
