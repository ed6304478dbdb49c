"""Use cases of webhook endpoints on the in-memory unit of work (milliseconds each)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from mpa_contracts.events.notification import NotificationEndpointDisabledV1
from mpa_contracts.vocabularies import NotificationChannel
from mpa_notification.adapters.webhooks import signature_header
from mpa_notification.app import commands, endpoints
from mpa_notification.app.endpoints import signing_secrets
from mpa_notification.app.scope import Scope
from mpa_notification.domain.errors import Conflict, Forbidden, InvalidRequest, NotFound
from mpa_notification.domain.models import DeliveryState, DisabledReason
from mpa_notification.domain.routing import TEST_EVENT_TYPE
from mpa_notification.testing import ADMIN, ROUTED, InMemoryNotificationStore, World, loopback


async def create(world: World, scope: Scope, **fields: object) -> endpoints.EndpointWithSecret:
    values: dict[str, object] = {
        "url": loopback(world.dns, f"p-{uuid.uuid4().hex[:6]}.test"),
        "event_types": (ROUTED,),
        **fields,
    }
    return await endpoints.create_endpoint(
        commands.CreateEndpoint(scope, **values),  # type: ignore[arg-type]
        world.uow,
        world.context,
    )


def states(store: InMemoryNotificationStore, endpoint_id: uuid.UUID) -> list[DeliveryState]:
    return [d.state for d in store.deliveries.values() if d.endpoint_id == endpoint_id]


# --- create ----------------------------------------------------------------------------------


async def test_a_partner_registers_its_endpoint_and_sees_the_secret_once(world: World) -> None:
    partner = uuid.uuid4()
    created = await create(world, Scope(partner), description="case system")
    endpoint = created.endpoint
    assert endpoint.partner_id == partner
    assert endpoint.enabled
    assert endpoint.event_types == (ROUTED,)
    assert created.secret.startswith("whsec_")
    stored = world.store.endpoints[endpoint.id]
    assert created.secret.encode() not in stored.secret  # sealed at rest
    assert world.context.secrets.open(endpoint.id, stored.secret) == created.secret
    assert world.store.commits == 1


async def test_an_administrator_names_the_partner_and_a_partner_only_its_own(
    world: World,
) -> None:
    with pytest.raises(InvalidRequest) as missing:
        await create(world, ADMIN)
    assert (missing.value.field, missing.value.reason) == ("body.partner_id", "required")
    with pytest.raises(Forbidden):
        await create(world, Scope(uuid.uuid4()), partner_id=uuid.uuid4())
    other = uuid.uuid4()
    assert (await create(world, ADMIN, partner_id=other)).endpoint.partner_id == other
    assert world.store.commits == 1


async def test_unknown_event_types_and_refused_urls_are_invalid_without_echoing_the_url(
    world: World,
) -> None:
    with pytest.raises(InvalidRequest) as unknown:
        await create(world, Scope(uuid.uuid4()), event_types=("org.mpa.referral.requested.v1",))
    assert unknown.value.field == "body.event_types"
    for url in ("http://10.1.2.3/hook", "http://unknown.test/hook", "ftp://a.test/x"):
        with pytest.raises(InvalidRequest) as refused:
            await create(world, Scope(uuid.uuid4()), url=url)
        assert refused.value.field == "body.url"
        assert url not in refused.value.detail
    assert world.store.endpoints == {}


async def test_a_deactivated_partner_gets_no_new_endpoint(world: World) -> None:
    partner = uuid.uuid4()
    world.store.partners[partner] = False
    with pytest.raises(Conflict):
        await create(world, Scope(partner))
    assert world.store.endpoints == {}


# --- read ------------------------------------------------------------------------------------


async def test_a_partner_lists_and_gets_only_its_own_endpoints(world: World) -> None:
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    first = (await create(world, Scope(mine))).endpoint
    second = (await create(world, Scope(theirs))).endpoint
    listed = await endpoints.list_endpoints(commands.ListEndpoints(Scope(mine)), world.uow)
    assert [e.id for e in listed] == [first.id]
    everything = await endpoints.list_endpoints(commands.ListEndpoints(ADMIN), world.uow)
    assert {e.id for e in everything} == {first.id, second.id}
    got = await endpoints.get_endpoint(commands.GetEndpoint(Scope(mine), first.id), world.uow)
    assert got == first
    with pytest.raises(NotFound):  # another partner's: the same answer as a missing one
        await endpoints.get_endpoint(commands.GetEndpoint(Scope(mine), second.id), world.uow)


# --- update ----------------------------------------------------------------------------------


async def test_an_update_changes_only_what_it_names(world: World) -> None:
    partner = uuid.uuid4()
    endpoint = (await create(world, Scope(partner), rate_limit_per_second=5)).endpoint
    changed = await endpoints.update_endpoint(
        commands.UpdateEndpoint(Scope(partner), endpoint.id, description="new", max_in_flight=2),
        world.uow,
        world.context,
    )
    assert (changed.description, changed.max_in_flight, changed.rate_limit_per_second) == (
        "new",
        2,
        5,
    )
    assert changed.url == endpoint.url
    cleared = await endpoints.update_endpoint(
        commands.UpdateEndpoint(Scope(partner), endpoint.id, clear_rate_limit=True),
        world.uow,
        world.context,
    )
    assert cleared.rate_limit_per_second is None
    assert cleared.max_in_flight == 2
    with pytest.raises(InvalidRequest):
        await endpoints.update_endpoint(
            commands.UpdateEndpoint(Scope(partner), endpoint.id, url="http://10.0.0.1/x"),
            world.uow,
            world.context,
        )
    with pytest.raises(NotFound):
        await endpoints.update_endpoint(
            commands.UpdateEndpoint(Scope(uuid.uuid4()), endpoint.id, description="x"),
            world.uow,
            world.context,
        )


async def test_disabling_fails_pending_messages_and_records_who_asked(world: World) -> None:
    partner = uuid.uuid4()
    by_partner = (await create(world, Scope(partner))).endpoint
    by_admin = (await create(world, Scope(partner))).endpoint
    await world.queue(2, to=world.store.endpoints[by_partner.id])
    for scope, endpoint in ((Scope(partner), by_partner), (ADMIN, by_admin)):
        disabled = await endpoints.update_endpoint(
            commands.UpdateEndpoint(scope, endpoint.id, enabled=False), world.uow, world.context
        )
        assert not disabled.enabled
    assert world.store.endpoints[by_partner.id].disabled_reason is DisabledReason.PARTNER_REQUEST
    assert (
        world.store.endpoints[by_admin.id].disabled_reason is DisabledReason.ADMINISTRATOR_REQUEST
    )
    assert states(world.store, by_partner.id) == [DeliveryState.FAILED] * 2
    assert {d.last_failure for d in world.store.deliveries.values()} == {"endpoint_disabled"}
    events = world.store.events_of(NotificationEndpointDisabledV1)
    assert [e.data.model_dump()["reason"] for e in events] == [
        "partner_request",
        "administrator_request",
    ]
    # Nobody is e-mailed about a disabling someone asked for.
    assert {d.channel for d in world.store.deliveries.values()} == {NotificationChannel.WEBHOOK}


async def test_a_partner_re_enables_an_endpoint_it_or_the_platform_disabled(world: World) -> None:
    partner = uuid.uuid4()
    endpoint = (await create(world, Scope(partner))).endpoint
    for reason in (
        DisabledReason.PARTNER_REQUEST,
        DisabledReason.CONSECUTIVE_FAILURES,
        DisabledReason.GONE,
    ):
        world.store.endpoints[endpoint.id] = replace(
            endpoint.disabled(reason), failing_since=datetime.now(UTC), consecutive_failures=9
        )
        enabled = await endpoints.update_endpoint(
            commands.UpdateEndpoint(Scope(partner), endpoint.id, enabled=True),
            world.uow,
            world.context,
        )
        assert enabled.enabled
        assert enabled.disabled_reason is None
        assert enabled.failing_since is None
        assert enabled.consecutive_failures == 0


@pytest.mark.parametrize(
    "reason", [DisabledReason.PARTNER_DEACTIVATED, DisabledReason.ADMINISTRATOR_REQUEST]
)
async def test_only_an_administrator_lifts_a_disabling_about_the_partner(
    world: World, reason: DisabledReason
) -> None:
    partner = uuid.uuid4()
    endpoint = (await create(world, Scope(partner))).endpoint
    world.store.endpoints[endpoint.id] = endpoint.disabled(reason)
    enable = commands.UpdateEndpoint(Scope(partner), endpoint.id, enabled=True)
    with pytest.raises(Forbidden):
        await endpoints.update_endpoint(enable, world.uow, world.context)
    assert not world.store.endpoints[endpoint.id].enabled
    enabled = await endpoints.update_endpoint(
        replace(enable, scope=ADMIN), world.uow, world.context
    )
    assert enabled.enabled


async def test_nobody_enables_an_endpoint_of_a_deactivated_partner(world: World) -> None:
    partner = uuid.uuid4()
    endpoint = (await create(world, Scope(partner))).endpoint
    world.store.endpoints[endpoint.id] = endpoint.disabled(DisabledReason.PARTNER_DEACTIVATED)
    world.store.partners[partner] = False
    enable = commands.UpdateEndpoint(ADMIN, endpoint.id, enabled=True)
    with pytest.raises(Conflict):
        await endpoints.update_endpoint(enable, world.uow, world.context)
    world.store.partners[partner] = True  # the directory reactivated it
    assert (await endpoints.update_endpoint(enable, world.uow, world.context)).enabled


# --- delete, rotate, test, recover ---------------------------------------------------------------


async def test_a_deleted_endpoint_is_hidden_and_its_pending_messages_fail(world: World) -> None:
    partner = uuid.uuid4()
    endpoint = (await create(world, Scope(partner))).endpoint
    await world.queue(3, to=world.store.endpoints[endpoint.id])
    await endpoints.delete_endpoint(commands.DeleteEndpoint(Scope(partner), endpoint.id), world.uow)
    assert await endpoints.list_endpoints(commands.ListEndpoints(ADMIN), world.uow) == []
    assert states(world.store, endpoint.id) == [DeliveryState.FAILED] * 3
    assert {d.last_failure for d in world.store.deliveries.values()} == {"endpoint_deleted"}
    with pytest.raises(NotFound):
        await endpoints.delete_endpoint(commands.DeleteEndpoint(ADMIN, endpoint.id), world.uow)


async def test_a_rotation_signs_with_both_secrets_until_the_grace_ends(world: World) -> None:
    partner = uuid.uuid4()
    created = await create(world, Scope(partner))
    rotated = await endpoints.rotate_secret(
        commands.RotateSecret(Scope(partner), created.endpoint.id, grace_seconds=3600),
        world.uow,
        world.context,
    )
    assert rotated.secret != created.secret
    now = datetime.now(UTC)
    secrets = signing_secrets(world.context.secrets, rotated.endpoint, now)
    assert secrets == [rotated.secret, created.secret]
    header = signature_header("msg_1", now, "{}", secrets)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": header,
    }
    for secret in (created.secret, rotated.secret):
        Webhook(secret).verify("{}", headers)
    later = now + timedelta(hours=2)
    assert signing_secrets(world.context.secrets, rotated.endpoint, later) == [rotated.secret]
    ended = await endpoints.rotate_secret(
        commands.RotateSecret(Scope(partner), created.endpoint.id, grace_seconds=0),
        world.uow,
        world.context,
    )
    assert ended.endpoint.previous_secret is None
    assert signing_secrets(world.context.secrets, ended.endpoint, now) == [ended.secret]


async def test_a_test_message_is_queued_and_the_dispatcher_woken_after_the_commit(
    world: World,
) -> None:
    partner = uuid.uuid4()
    endpoint = (await create(world, Scope(partner))).endpoint
    delivery_id = await endpoints.send_test(
        commands.SendTest(Scope(partner), endpoint.id), world.uow, world.context
    )
    delivery = world.store.deliveries[delivery_id]
    assert delivery.event_type == TEST_EVENT_TYPE
    assert delivery.state is DeliveryState.PENDING
    assert delivery.endpoint_id == endpoint.id
    assert world.wakes.after_commits == [2]  # woken by the second commit, not before it
    await endpoints.update_endpoint(
        commands.UpdateEndpoint(Scope(partner), endpoint.id, enabled=False),
        world.uow,
        world.context,
    )
    with pytest.raises(Conflict):
        await endpoints.send_test(
            commands.SendTest(Scope(partner), endpoint.id), world.uow, world.context
        )


async def test_recovery_requeues_failed_messages_since_a_time(world: World) -> None:
    partner = uuid.uuid4()
    endpoint = (await create(world, Scope(partner))).endpoint
    await world.queue(2, to=world.store.endpoints[endpoint.id])
    for delivery in list(world.store.deliveries.values()):
        world.store.deliveries[delivery.id] = replace(
            delivery, state=DeliveryState.FAILED, schedule_position=4, next_attempt_at=None
        )
    since = datetime.now(UTC) - timedelta(minutes=1)
    recover = commands.RecoverEndpoint(Scope(partner), endpoint.id, since)
    assert await endpoints.recover(recover, world.uow, world.context) == 2
    assert states(world.store, endpoint.id) == [DeliveryState.PENDING] * 2
    assert {d.schedule_position for d in world.store.deliveries.values()} == {0}
    assert world.wakes.count == 1
    assert await endpoints.recover(recover, world.uow, world.context) == 0
    assert world.wakes.count == 1  # nothing requeued: nothing to wake for
    future = replace(recover, since=datetime.now(UTC) + timedelta(minutes=1))
    assert await endpoints.recover(future, world.uow, world.context) == 0
    world.store.endpoints[endpoint.id] = endpoint.disabled(DisabledReason.GONE)
    with pytest.raises(Conflict):
        await endpoints.recover(recover, world.uow, world.context)
