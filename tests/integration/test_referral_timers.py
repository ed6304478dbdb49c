"""Durable SLA timers on the real stack: a missed acceptance SLA re-routes, a restart while
it is pending still fires it exactly once, two replicas fire it once, an accepted referral
not started in time breaches the service-start SLA once (issue 7), and a timer due while
the database is away fires after it, late and once, without a storm of tracebacks (11)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import create_async_engine

from mpa_common.auth import Role
from mpa_common.uow import Cause
from mpa_contracts.vocabularies import NeedCategory, Urgency
from mpa_referral.adapters.tables import metadata
from mpa_referral.app.case_events import case_registered
from mpa_referral.app.timers import TimerWorker, referral_timers
from tests.integration.private_postgres import PrivatePostgres, private_postgres
from tests.integration.referral_support import (
    OPERATOR,
    ReferralStack,
    add_partner,
    envelope,
    eventually,
    open_referral_stack,
    private_schema,
    referrals_of,
    registered,
    token,
)

pytestmark = pytest.mark.integration

SHORT_SLA = 1.5  # seconds for a high-urgency referral


@pytest.fixture(scope="module")
async def stack(bootstrap_servers: str) -> AsyncIterator[ReferralStack]:
    async for opened in open_referral_stack(bootstrap_servers):
        yield opened


async def breaches(stack: ReferralStack, referral_id: str) -> tuple[int, int]:
    """(history rows, outbox events) of SLA breaches of one referral."""
    history = await stack.sql(
        "SELECT count(*) FROM referral_history WHERE referral_id = :id "
        "AND event_type = 'org.mpa.referral.sla_breached.v1'",
        id=uuid.UUID(referral_id),
    )
    events = await stack.sql(
        "SELECT count(*) FROM outbox WHERE event_type = 'org.mpa.referral.sla_breached.v1' "
        "AND envelope->'data'->>'referral_id' = :id",
        id=referral_id,
    )
    return history[0][0], events[0][0]


async def test_a_missed_sla_re_routes_to_the_next_candidate(stack: ReferralStack) -> None:
    service = await stack.start_instance(sla_high_seconds=SHORT_SLA)
    client = service.client
    country = stack.new_country()
    first, _ = await add_partner(
        client, country, NeedCategory.SHELTER, service_fields={"languages": ["fr"]}
    )
    second, _ = await add_partner(
        client, country, NeedCategory.SHELTER, service_fields={"languages": ["en"]}
    )
    case = registered(country, [(NeedCategory.SHELTER, Urgency.HIGH)])
    await stack.publish(envelope(case))
    (referral,) = await referrals_of(client, case.case_id, 1)
    assert referral["partner_id"] == str(first)

    async def moved_on() -> bool:
        body = (await client.get(f"/v1/referrals/{referral['id']}", headers=OPERATOR)).json()
        return bool(body["partner_id"] == str(second))

    await eventually(moved_on, timeout=15, what="re-route after the SLA")
    body = (await client.get(f"/v1/referrals/{referral['id']}", headers=OPERATOR)).json()
    assert [h["event_type"].split(".")[3] for h in body["history"]] == [
        "requested",
        "routed",
        "sla_breached",
        "rerouted",
        "routed",
    ]
    assert body["explanation"][0]["response"] == "sla_breached"
    await service.stop()
    stack.instances.remove(service)


async def test_a_worker_asleep_for_an_hour_is_woken_by_the_commit_and_fires_on_time(
    stack: ReferralStack,
) -> None:
    """The timer worker does not poll: with an idle cap of an hour, the consumer's commit
    of a new referral wakes it, it sleeps until the SLA falls due and fires it then (on a
    schema of its own: no timer other tests left falls due meanwhile)."""
    sla = 3.0
    async with private_schema() as schema:
        service = await stack.start_instance(
            schema=schema, sla_high_seconds=sla, timer_idle_seconds=3600
        )
        try:
            (worker,) = [w for w in service.workers if isinstance(w, TimerWorker)]
            client = service.client
            await add_partner(client, "QZ", NeedCategory.CASH)
            case = registered("QZ", [(NeedCategory.CASH, Urgency.HIGH)])
            await stack.publish(envelope(case))
            (referral,) = await referrals_of(client, case.case_id, 1)
            await asyncio.sleep(0.5)  # the pass the commit woke
            passes = worker.passes
            await asyncio.sleep(1.0)  # asleep until the SLA (polling every 0.2 s before)
            assert worker.passes == passes

            async def breached() -> bool:
                body = (
                    await client.get(f"/v1/referrals/{referral['id']}", headers=OPERATOR)
                ).json()
                return bool(body["state"] == "unroutable")

            await eventually(breached, timeout=sla + 5, what="the SLA of the new referral")
            body = (await client.get(f"/v1/referrals/{referral['id']}", headers=OPERATOR)).json()
            kinds = [h["event_type"].split(".")[3] for h in body["history"]]
            assert kinds.count("sla_breached") == 1
            assert worker.passes <= passes + 2  # the SLA's pass (and one after a held one)
        finally:
            await service.stop()
            stack.instances.remove(service)


async def test_a_restart_while_the_sla_is_pending_fires_it_exactly_once(
    stack: ReferralStack,
) -> None:
    before = await stack.start_instance(sla_high_seconds=3.0)
    country = stack.new_country()
    await add_partner(
        before.client, country, NeedCategory.FOOD
    )  # one candidate: breach -> unroutable
    case = registered(country, [(NeedCategory.FOOD, Urgency.HIGH)])
    await stack.publish(envelope(case))
    (referral,) = await referrals_of(before.client, case.case_id, 1)
    assert referral["state"] == "routed"
    await before.stop()  # the "crash": nothing runs while the deadline passes
    stack.instances.remove(before)
    await asyncio.sleep(3.5)
    assert await breaches(stack, referral["id"]) == (0, 0)

    after = await stack.start_instance(sla_high_seconds=3.0)

    async def breached() -> bool:
        return await breaches(stack, referral["id"]) != (0, 0)

    await eventually(breached, timeout=15, what="the SLA timer after the restart")
    await asyncio.sleep(1.0)  # a second firing would show up by now (poll every 0.2 s)
    assert await breaches(stack, referral["id"]) == (1, 1)
    body = (await after.client.get(f"/v1/referrals/{referral['id']}", headers=OPERATOR)).json()
    assert body["state"] == "unroutable"
    assert body["status_reason"] == "all_candidates_declined"
    await after.stop()
    stack.instances.remove(after)


async def test_two_replicas_fire_each_timer_once(stack: ReferralStack) -> None:
    one = await stack.start_instance(sla_high_seconds=2.0)
    two = await stack.start_instance(sla_high_seconds=2.0)
    country = stack.new_country()
    await add_partner(one.client, country, NeedCategory.MEDICAL)
    cases = [registered(country, [(NeedCategory.MEDICAL, Urgency.HIGH)]) for _ in range(6)]
    await stack.publish(*(envelope(c) for c in cases))
    referral_ids = [(await referrals_of(one.client, c.case_id, 1))[0]["id"] for c in cases]

    async def all_breached() -> bool:
        counts = [await breaches(stack, r) for r in referral_ids]
        return all(c != (0, 0) for c in counts)

    await eventually(all_breached, timeout=20, what="every SLA timer")
    await asyncio.sleep(1.0)
    assert [await breaches(stack, r) for r in referral_ids] == [(1, 1)] * len(referral_ids)
    fired = [w.fired for i in (one, two) for w in i.workers if w.name == "timer-worker"]  # type: ignore[attr-defined]
    assert sum(fired) >= len(referral_ids)


async def test_an_accepted_referral_not_started_in_time_breaches_the_start_sla_once(
    stack: ReferralStack,
) -> None:
    service = await stack.start_instance(start_sla_medium_seconds=1.5)
    client = service.client
    country = stack.new_country()
    partner, _ = await add_partner(client, country, NeedCategory.LEGAL_AID)
    late, prompt = (registered(country, [(NeedCategory.LEGAL_AID, Urgency.MEDIUM)]) for _ in "ab")
    await stack.publish(envelope(late), envelope(prompt))
    staff = token(Role.PARTNER, partner)
    ids = []
    for case in (late, prompt):
        (referral,) = await referrals_of(client, case.case_id, 1)
        accepted = await client.post(f"/v1/referrals/{referral['id']}/accept", headers=staff)
        assert accepted.status_code == 200, accepted.text
        ids.append(referral["id"])
    late_id, prompt_id = ids
    started = await client.post(f"/v1/referrals/{prompt_id}/start", headers=staff)
    assert started.status_code == 200, started.text

    async def breached() -> bool:
        return await breaches(stack, late_id) != (0, 0)

    await eventually(breached, timeout=15, what="the service-start SLA")
    await asyncio.sleep(1.0)  # a second firing would show up by now (poll every 0.2 s)
    assert await breaches(stack, late_id) == (1, 1)
    assert await breaches(stack, prompt_id) == (0, 0)
    (event,) = await stack.sql(
        "SELECT envelope->'data' FROM outbox WHERE event_type = "
        "'org.mpa.referral.sla_breached.v1' AND envelope->'data'->>'referral_id' = :id",
        id=late_id,
    )
    assert event[0]["milestone"] == "service_start"
    assert event[0]["partner_id"] == str(partner)
    # The breach alerts; it does not take the case from a partner that accepted it.
    body = (await client.get(f"/v1/referrals/{late_id}", headers=OPERATOR)).json()
    assert body["state"] == "accepted"
    assert body["history"][-1]["reason"] == "service_start"
    now = datetime.now(UTC)
    report = await client.get(
        "/v1/reports/referrals",
        params={
            "from": (now - timedelta(hours=1)).isoformat(),
            "to": (now + timedelta(hours=1)).isoformat(),
            "country": country,
        },
        headers=token(Role.SUPERVISOR),
    )
    assert report.status_code == 200, report.text
    assert (report.json()["start_sla_breaches"], report.json()["sla_breaches"]) == (1, 0)
    await service.stop()
    stack.instances.remove(service)


@pytest.fixture
def own_postgres() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


async def test_timers_due_during_a_database_outage_fire_after_it_late_and_once_quietly(
    stack: ReferralStack, own_postgres: PrivatePostgres, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL stopped while an SLA falls due (issue 11): the timer worker reports the
    database down once, waits without a traceback per timer per poll, and fires the timer
    once the database is back: late, never lost, never twice."""
    url = own_postgres.url("referral")
    setup = create_async_engine(url)
    async with setup.begin() as connection:
        await connection.run_sync(metadata.create_all)
    await setup.dispose()
    service = await stack.start_instance(
        workers=False,
        relay=False,
        schema="public",
        database_url=SecretStr(url),
        sla_high_seconds=2.0,
    )
    composition = service.composition
    monitor = service.context.monitor
    await add_partner(service.client, "QZ", NeedCategory.FOOD)
    case = registered("QZ", [(NeedCategory.FOOD, Urgency.HIGH)])
    async with composition.units_of_work() as uow:
        context = composition.context
        await case_registered(uow, context.policy, case, Cause(uuid.uuid4()), context.clock())
        await uow.commit()
    timers = TimerWorker(
        composition.context.units_of_work,
        referral_timers(composition.context),
        poll_seconds=0.2,
        monitor=monitor,
    )

    async def breaches() -> int:
        async with composition.units_of_work() as uow:
            (referral,) = await uow.referrals.of_case(case.case_id)
            history = await uow.referrals.history_of(referral.id)
        return sum(1 for h in history if h.event_type.endswith(".sla_breached.v1"))

    caplog.set_level(logging.INFO)
    await timers.start()
    try:

        async def retried() -> bool:  # the new service's retry of unroutable referrals
            return timers.fired >= 1

        await eventually(retried, what="the directory's retry timer")
        before = timers.fired
        await asyncio.to_thread(own_postgres.stop)
        await asyncio.sleep(4.0)  # the deadline passes while the database is away
        assert monitor.is_down("database")
        assert timers.fired == before
        await asyncio.to_thread(own_postgres.start)

        async def fired() -> bool:
            return timers.fired > before

        await eventually(fired, timeout=20, what="the timer after the outage")
        await asyncio.sleep(1.0)  # a second firing would show by now (polling every 0.2 s)
        assert await breaches() == 1
        assert not monitor.is_down("database")
    finally:
        await timers.stop()
        await service.stop()
        stack.instances.remove(service)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []  # no traceback per timer per poll
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert 1 <= len(warnings) <= 3, [r.getMessage() for r in warnings]
