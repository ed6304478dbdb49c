"""Use cases of the delivery log and the recipient registry on the in-memory unit of work."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from mpa_common.auth import Role
from mpa_notification.app import commands, contacts, deliveries
from mpa_notification.app.scope import Scope
from mpa_notification.domain.errors import (
    Conflict,
    DuplicateAddress,
    Forbidden,
    InvalidRequest,
    NotFound,
)
from mpa_notification.domain.messages import Language
from mpa_notification.domain.models import (
    Attempt,
    DeliveryFilter,
    DeliveryState,
    DisabledReason,
)
from mpa_notification.domain.routing import Audience
from mpa_notification.testing import ADMIN, World, principal


async def queued(
    world: World,
    partner_id: uuid.UUID,
    *,
    endpoint_id: uuid.UUID | None = None,
    audience: Audience = Audience.PARTNER,
    count: int = 1,
) -> list[uuid.UUID]:
    to = world.store.endpoints[endpoint_id] if endpoint_id else None
    ids = await world.queue(count, to=to, audience=audience, partner_id=partner_id)
    # Distinct creation times, one second apart, oldest first: pages are newest first.
    base = datetime.now(UTC) - timedelta(hours=1)
    for offset, delivery_id in enumerate(ids):
        delivery = world.store.deliveries[delivery_id]
        world.store.deliveries[delivery_id] = replace(
            delivery, created_at=base + timedelta(seconds=offset + len(world.store.deliveries))
        )
    return ids


# --- the delivery log ---------------------------------------------------------------------------


async def test_a_partner_pages_through_its_own_deliveries_newest_first(world: World) -> None:
    partner, other = uuid.uuid4(), uuid.uuid4()
    endpoint = world.endpoint(partner_id=partner)
    mine = await queued(world, partner, endpoint_id=endpoint.id, count=5)
    await queued(world, other, endpoint_id=world.endpoint(partner_id=other).id, count=2)
    # E-mails to the referrer about this partner's referral are not the partner's to read.
    await queued(world, partner, audience=Audience.REFERRER)
    seen: list[uuid.UUID] = []
    cursor: str | None = None
    while True:
        page, cursor = await deliveries.list_deliveries(
            commands.ListDeliveries(Scope(partner), DeliveryFilter(), cursor=cursor, limit=2),
            world.uow,
        )
        seen.extend(d.id for d in page)
        if cursor is None:
            break
    assert seen == list(reversed(mine))
    everything, _ = await deliveries.list_deliveries(
        commands.ListDeliveries(ADMIN, DeliveryFilter(), limit=50), world.uow
    )
    assert len(everything) == 8
    failed, _ = await deliveries.list_deliveries(
        commands.ListDeliveries(ADMIN, DeliveryFilter(state=DeliveryState.FAILED)), world.uow
    )
    assert failed == []


async def test_a_cursor_the_service_did_not_issue_is_invalid(world: World) -> None:
    with pytest.raises(InvalidRequest) as invalid:
        await deliveries.list_deliveries(
            commands.ListDeliveries(ADMIN, DeliveryFilter(), cursor="%%not-ours"), world.uow
        )
    assert (invalid.value.field, invalid.value.reason) == ("query.cursor", "malformed")


async def test_one_delivery_comes_with_its_attempts_and_only_for_its_partner(
    world: World,
) -> None:
    partner = uuid.uuid4()
    (delivery_id,) = await queued(world, partner, endpoint_id=world.endpoint(partner_id=partner).id)
    now = datetime.now(UTC)
    world.store.attempts.extend(
        (delivery_id, Attempt(n, now, 5, 500, "http_server_error", "HTTP 500")) for n in (2, 1)
    )
    delivery, attempts = await deliveries.get_delivery(
        commands.GetDelivery(Scope(partner), delivery_id), world.uow
    )
    assert delivery.id == delivery_id
    assert [a.attempt for a in attempts] == [1, 2]
    with pytest.raises(NotFound):
        await deliveries.get_delivery(
            commands.GetDelivery(Scope(uuid.uuid4()), delivery_id), world.uow
        )


async def test_a_retry_restarts_the_schedule_of_a_finished_delivery(world: World) -> None:
    partner = uuid.uuid4()
    endpoint = world.endpoint(partner_id=partner)
    (delivery_id,) = await queued(world, partner, endpoint_id=endpoint.id)
    retry = commands.RetryDelivery(Scope(partner), delivery_id)
    with pytest.raises(Conflict):  # still scheduled
        await deliveries.retry_delivery(retry, world.uow, world.context)
    world.store.deliveries[delivery_id] = replace(
        world.store.deliveries[delivery_id],
        state=DeliveryState.DELIVERED,
        schedule_position=3,
        next_attempt_at=None,
    )
    retried = await deliveries.retry_delivery(retry, world.uow, world.context)
    assert retried.state is DeliveryState.PENDING
    assert retried.schedule_position == 0
    assert retried.next_attempt_at is not None
    assert world.wakes.count == 1
    assert retried.message_id == world.store.deliveries[delivery_id].message_id  # same webhook-id
    world.store.deliveries[delivery_id] = replace(retried, state=DeliveryState.FAILED)
    world.store.endpoints[endpoint.id] = endpoint.disabled(DisabledReason.GONE)
    with pytest.raises(Conflict):
        await deliveries.retry_delivery(retry, world.uow, world.context)
    with pytest.raises(NotFound):
        await deliveries.retry_delivery(
            commands.RetryDelivery(Scope(partner), uuid.uuid4()), world.uow, world.context
        )


# --- the recipient registry ---------------------------------------------------------------------


async def test_each_role_adds_only_the_addresses_it_may_manage(world: World) -> None:
    partner = uuid.uuid4()
    as_partner = principal(Role.PARTNER, partner_id=partner)
    as_supervisor = principal(Role.SUPERVISOR, country="NE")
    as_caseworker = principal(Role.CASEWORKER)
    added = [
        await contacts.add_contact(
            commands.AddContact(who, kind, owner, f"{kind.value}@x.example.org", Language.FRENCH),
            world.uow,
        )
        for who, kind, owner in (
            (as_partner, Audience.PARTNER, str(partner)),
            (as_supervisor, Audience.SUPERVISORS, "NE"),
            (as_caseworker, Audience.REFERRER, as_caseworker.actor_id),
        )
    ]
    assert [c.language for c in added] == ["fr"] * 3
    for who, kind, owner in (
        (as_partner, Audience.PARTNER, str(uuid.uuid4())),
        (as_supervisor, Audience.SUPERVISORS, "ML"),
        (as_caseworker, Audience.REFERRER, "caseworker:someone-else"),
        (as_partner, Audience.SUPERVISORS, "NE"),
    ):
        with pytest.raises(Forbidden):
            await contacts.add_contact(
                commands.AddContact(who, kind, owner, "a@x.example.org", Language.ENGLISH),
                world.uow,
            )
    with pytest.raises(DuplicateAddress):
        await contacts.add_contact(
            commands.AddContact(
                as_partner,
                Audience.PARTNER,
                str(partner),
                "partner@x.example.org",
                Language.ENGLISH,
            ),
            world.uow,
        )
    assert len(world.store.contacts) == 3


async def test_a_list_shows_only_the_entries_the_caller_may_manage(world: World) -> None:
    admin = principal(Role.ADMIN)
    for owner in ("NE", "ML"):
        await contacts.add_contact(
            commands.AddContact(
                admin, Audience.SUPERVISORS, owner, f"{owner}@x.example.org", Language.ENGLISH
            ),
            world.uow,
        )
    supervisor = principal(Role.SUPERVISOR, country="NE")
    found = await contacts.list_contacts(commands.ListContacts(supervisor), world.uow)
    assert [c.owner for c in found] == ["NE"]
    assert len(await contacts.list_contacts(commands.ListContacts(admin), world.uow)) == 2
    only_ml = await contacts.list_contacts(
        commands.ListContacts(admin, Audience.SUPERVISORS, "ML"), world.uow
    )
    assert [c.owner for c in only_ml] == ["ML"]


async def test_a_contact_changes_and_goes_but_never_to_a_duplicate(world: World) -> None:
    admin = principal(Role.ADMIN)
    first, second = [
        await contacts.add_contact(
            commands.AddContact(admin, Audience.SUPERVISORS, "NE", email, Language.ENGLISH),
            world.uow,
        )
        for email in ("a@x.example.org", "b@x.example.org")
    ]
    changed = await contacts.update_contact(
        commands.UpdateContact(admin, first.id, language=Language.ARABIC), world.uow
    )
    assert (changed.email, changed.language) == ("a@x.example.org", "ar")
    with pytest.raises(DuplicateAddress):
        await contacts.update_contact(
            commands.UpdateContact(admin, first.id, email=second.email), world.uow
        )
    assert world.store.contacts[first.id].email == "a@x.example.org"  # rolled back
    stranger = principal(Role.SUPERVISOR, country="ML")
    with pytest.raises(NotFound):
        await contacts.update_contact(
            commands.UpdateContact(stranger, first.id, email="c@x.example.org"), world.uow
        )
    with pytest.raises(NotFound):
        await contacts.delete_contact(commands.DeleteContact(stranger, first.id), world.uow)
    await contacts.delete_contact(commands.DeleteContact(admin, first.id), world.uow)
    assert set(world.store.contacts) == {second.id}


async def test_a_supervisor_manages_its_own_teams_supervisors_address(world: World) -> None:
    as_supervisor = principal(Role.SUPERVISOR, country="NE", team="ne-agadez-cm")
    added = await contacts.add_contact(
        commands.AddContact(
            as_supervisor,
            Audience.TEAM_SUPERVISORS,
            "ne-agadez-cm",
            "sv@x.example.org",
            Language.FRENCH,
        ),
        world.uow,
    )
    assert added.owner == "ne-agadez-cm"
    for who, kind, owner in (
        (as_supervisor, Audience.TEAM_SUPERVISORS, "ne-niamey-cm"),
        (
            principal(Role.CASEWORKER, team="ne-agadez-cm"),
            Audience.TEAM_SUPERVISORS,
            "ne-agadez-cm",
        ),
        # A case's owner is reached at their referrer entry; nobody registers this kind.
        (as_supervisor, Audience.CASE_OWNER, as_supervisor.actor_id),
    ):
        with pytest.raises(Forbidden):
            await contacts.add_contact(
                commands.AddContact(who, kind, owner, "a@x.example.org", Language.ENGLISH),
                world.uow,
            )
