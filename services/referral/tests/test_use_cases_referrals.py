"""Referral use cases on the in-memory store: referring by hand, the partner's actions, what
each reader sees, deadlines and the timer worker (milliseconds each, no server)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mpa_contracts.events.referral import (
    ReferralDeclinedV1,
    ReferralSlaBreachedV1,
)
from mpa_contracts.vocabularies import (
    AgeBand,
    CancelReason,
    ConsentOverrideReason,
    HoldReason,
    NeedCategory,
    OutcomeCode,
    ReferralState,
    ReferralStatusReason,
    Urgency,
)
from mpa_referral.app.actions import ActOnReferral, act_on_referral
from mpa_referral.app.common import (
    ACCEPTANCE_SLA_TIMER,
    DIRECTORY_RETRY_TIMER,
    START_SLA_TIMER,
    ReferralContext,
    ReferralPolicy,
)
from mpa_referral.app.ports import ReferralFilter, Timer
from mpa_referral.app.queries import (
    CandidatesQuery,
    ListReferrals,
    ReferralQuery,
    candidates,
    get_referral,
    get_referral_task,
    list_referrals,
)
from mpa_referral.app.request import RequestReferral, request_referral
from mpa_referral.app.sla import on_acceptance_sla
from mpa_referral.app.timers import TimerWorker, referral_timers
from mpa_referral.domain.disclosure import Viewer
from mpa_referral.domain.errors import ChosenServiceRefused, Conflict, InvalidRequest, NotFound
from mpa_referral.domain.lifecycle import Action, IllegalTransition
from mpa_referral.testing import (
    CASEWORKER,
    SUPERVISOR,
    MemoryStore,
    add_partner,
    default_policy,
    partner_staff,
    registered,
)

Deliver = Callable[[Any], Awaitable[Any]]
REFERRER = Viewer.referrer()


async def only_referral(context: ReferralContext, case_id: uuid.UUID) -> Any:
    page = await list_referrals(
        context, ListReferrals(REFERRER, ReferralFilter(case_id=case_id), limit=10)
    )
    (referral,) = page.items
    return referral


async def act(
    context: ReferralContext,
    referral_id: uuid.UUID,
    action: Action,
    partner_id: uuid.UUID,
    reason: Any = None,
    note: str | None = None,
) -> Any:
    return await act_on_referral(
        context,
        ActOnReferral(
            referral_id,
            action,
            partner_staff(partner_id),
            Viewer.partner(partner_id),
            reason=reason,
            note=note,
        ),
    )


async def test_a_decline_reroutes_to_the_next_candidate_and_each_reader_sees_its_share(
    store: MemoryStore, context: ReferralContext, deliver: Deliver
) -> None:
    first, (first_service,) = await add_partner(
        context, "NE", NeedCategory.MHPSS, capacity_total=3, capacity_available=3
    )
    second, _ = await add_partner(context, "NE", NeedCategory.MHPSS, languages=["en"])
    case = registered("NE", [(NeedCategory.MHPSS, Urgency.HIGH)])
    await deliver(case)
    referral = await only_referral(context, case.case_id)
    assert referral.partner_id == first
    assert store.services[first_service]["capacity_available"] == 2
    # Another partner neither sees nor acts on it.
    with pytest.raises(NotFound):
        await get_referral(context, ReferralQuery(referral.id, Viewer.partner(second)))
    with pytest.raises(NotFound):
        await act(context, referral.id, Action.ACCEPT, second)
    with pytest.raises(IllegalTransition):
        await act(context, referral.id, Action.COMPLETE, first, OutcomeCode.SERVICE_PROVIDED)
    with pytest.raises(InvalidRequest):
        await act(context, referral.id, Action.DECLINE, first)  # no reason
    gone = await act(
        context,
        referral.id,
        Action.DECLINE,
        first,
        ReferralStatusReason.LACK_OF_CAPACITY,
        note="no bed tonight",
    )
    assert gone is None  # the decliner no longer holds it
    assert store.services[first_service]["capacity_available"] == 3
    (declined,) = store.events_of(ReferralDeclinedV1)
    assert "no bed" not in declined.model_dump_json()  # notes never go into events
    view = await get_referral(context, ReferralQuery(referral.id, REFERRER))
    assert (view.referral.state, view.referral.partner_id) == (ReferralState.ROUTED, second)
    assert [h.to_state.value for h in view.history] == [
        "requested",
        "routed",
        "declined",
        "requested",
        "routed",
    ]
    assert "no bed tonight" in [h.note for h in view.history]
    # The new holder: only its own entries and its own line of the explanation.
    mine = await get_referral(context, ReferralQuery(referral.id, Viewer.partner(second)))
    assert [h.to_state.value for h in mine.history] == ["routed"]
    assert all(h.note is None for h in mine.history)
    (attempt,) = mine.explanation
    assert {c.partner_id for c in attempt.candidates} == {second}
    # The auditor: every action and reason, no free text.
    audited = await get_referral(context, ReferralQuery(referral.id, Viewer.auditor()))
    assert len(audited.history) == 5
    assert all(h.note is None for h in audited.history)
    assert audited.history[2].reason == "lack_of_capacity"
    task = await get_referral_task(context, ReferralQuery(referral.id, Viewer.partner(second)))
    assert len(task["relevantHistory"]) == 1


async def test_the_holder_takes_it_to_completion_and_the_place_comes_back(
    store: MemoryStore, context: ReferralContext, deliver: Deliver
) -> None:
    partner, (service,) = await add_partner(
        context, "ML", NeedCategory.SHELTER, capacity_total=1, capacity_available=1
    )
    case = registered("ML", [(NeedCategory.SHELTER, Urgency.HIGH)])
    await deliver(case)
    referral = await only_referral(context, case.case_id)
    assert store.services[service]["capacity_available"] == 0
    for action, reason in (
        (Action.ACCEPT, None),
        (Action.START, None),
        (Action.HOLD, HoldReason.AWAITING_CLIENT),
        (Action.RESUME, None),
        (Action.COMPLETE, OutcomeCode.SERVICE_PROVIDED),
    ):
        view = await act(context, referral.id, action, partner, reason, note=f"{action} note")
    assert view.referral.state is ReferralState.COMPLETED
    assert [h.note for h in view.history if h.actor_role == "partner"] == [
        "accept note",
        "start note",
        "hold note",
        "resume note",
        "complete note",
    ]
    assert store.services[service]["capacity_available"] == 1
    kinds = sorted(t["timer"].kind for t in store.timers.values())
    assert kinds == [DIRECTORY_RETRY_TIMER, ACCEPTANCE_SLA_TIMER, START_SLA_TIMER]


async def test_failing_and_cancelling_close_with_their_reasons(
    context: ReferralContext, deliver: Deliver
) -> None:
    partner, _ = await add_partner(context, "QA", NeedCategory.FOOD, NeedCategory.MEDICAL)
    case = registered("QA", [(NeedCategory.FOOD, Urgency.LOW), (NeedCategory.MEDICAL, Urgency.LOW)])
    await deliver(case)
    page = await list_referrals(
        context, ListReferrals(REFERRER, ReferralFilter(case_id=case.case_id))
    )
    food, medical = sorted(page.items, key=lambda r: r.category)
    await act(context, food.id, Action.ACCEPT, partner)
    await act(context, food.id, Action.START, partner)
    failed = await act(
        context, food.id, Action.FAIL, partner, ReferralStatusReason.UNABLE_TO_CONTACT_CLIENT
    )
    assert failed.referral.status_reason is ReferralStatusReason.UNABLE_TO_CONTACT_CLIENT
    cancelled = await act_on_referral(
        context,
        ActOnReferral(
            medical.id,
            Action.CANCEL,
            CASEWORKER,
            REFERRER,
            reason=CancelReason.REFERRER_CANCELLED,
            note="duplicate of another referral",
        ),
    )
    assert cancelled is not None
    assert cancelled.referral.state is ReferralState.CANCELLED
    with pytest.raises(Conflict):  # routing actions are not actions on a referral
        await act(context, medical.id, Action.ROUTE, partner)


async def test_after_an_erasure_a_note_is_refused(
    store: MemoryStore, context: ReferralContext, deliver: Deliver
) -> None:
    partner, _ = await add_partner(context, "QB", NeedCategory.FOOD)
    case = registered("QB", [(NeedCategory.FOOD, Urgency.LOW)])
    await deliver(case)
    referral = await only_referral(context, case.case_id)
    stored, reference = store.cases[case.case_id]
    store.cases[case.case_id] = (dataclasses.replace(stored, personal_data_erased=True), reference)
    with pytest.raises(Conflict):
        await act(context, referral.id, Action.ACCEPT, partner, note="the person's new address")
    view = await act(context, referral.id, Action.ACCEPT, partner)  # without a note: fine
    assert view.referral.state is ReferralState.ACCEPTED


async def test_referring_by_hand_checks_consent_the_chosen_service_and_open_referrals(
    store: MemoryStore, context: ReferralContext, deliver: Deliver
) -> None:
    _, (adults_only,) = await add_partner(context, "QC", NeedCategory.CASH, min_age=18)
    _, (open_to_all,) = await add_partner(context, "QC", NeedCategory.CASH)
    _, (shelter,) = await add_partner(context, "QC", NeedCategory.SHELTER)
    case = registered("QC", [(NeedCategory.CASH, Urgency.HIGH)], consent=False)
    await deliver(case)
    (need,) = case.needs

    def command(**changes: Any) -> RequestReferral:
        fields: dict[str, Any] = {
            "case_id": case.case_id,
            "need_id": need.need_id,
            "actor": CASEWORKER,
            "viewer": REFERRER,
            **changes,
        }
        return RequestReferral(**fields)

    with pytest.raises(Conflict):  # no consent, no override
        await request_referral(context, command())
    with pytest.raises(NotFound):
        await request_referral(context, command(need_id=uuid.uuid4()))
    override = {"consent_override_reason": ConsentOverrideReason.RISK_TO_LIFE, "actor": SUPERVISOR}
    with pytest.raises(InvalidRequest):  # a service of another category
        await request_referral(context, command(service_id=shelter, **override))
    young = dataclasses.replace(store.cases[case.case_id][0], age_band=AgeBand.AGE_9_17)
    store.cases[case.case_id] = (young, store.cases[case.case_id][1])
    with pytest.raises(ChosenServiceRefused) as refused:
        await request_referral(context, command(service_id=adults_only, **override))
    assert refused.value.rule == "age_band_not_served"
    assert store.referrals == {}  # nothing stored
    view = await request_referral(context, command(service_id=open_to_all, **override))
    assert view.referral.state is ReferralState.ROUTED
    assert [h.event_type.split(".")[3] for h in view.history] == [
        "requested",
        "consent_override_used",
        "routed",
    ]
    with pytest.raises(Conflict):  # the need has an open referral now
        await request_referral(context, command(service_id=open_to_all, **override))


async def test_candidates_rank_what_routing_would_consider(
    context: ReferralContext, deliver: Deliver
) -> None:
    await add_partner(context, "QD", NeedCategory.LEGAL_AID)
    await add_partner(context, "QD", NeedCategory.LEGAL_AID, languages=["en"])
    case = registered("QD", [(NeedCategory.LEGAL_AID, Urgency.LOW)], consent=False)
    await deliver(case)
    found = await candidates(context, CandidatesQuery(case.case_id, case.needs[0].need_id))
    assert [c.rank for c in found if c.eligible] == [1, 2]
    with pytest.raises(NotFound):
        await candidates(context, CandidatesQuery(uuid.uuid4(), case.needs[0].need_id))


async def test_pages_go_newest_first_with_a_cursor_and_a_partner_sees_only_its_own(
    context: ReferralContext, deliver: Deliver
) -> None:
    partner, _ = await add_partner(context, "QE", NeedCategory.FOOD)
    for _ in range(3):
        await deliver(registered("QE", [(NeedCategory.FOOD, Urgency.LOW)]))
    first = await list_referrals(context, ListReferrals(REFERRER, ReferralFilter(), limit=2))
    assert len(first.items) == 2
    assert first.next_cursor is not None
    rest = await list_referrals(
        context, ListReferrals(REFERRER, ReferralFilter(), cursor=first.next_cursor, limit=2)
    )
    assert len(rest.items) == 1
    assert rest.next_cursor is None
    assert rest.items[0].created_at < first.items[-1].created_at
    other = await list_referrals(
        context, ListReferrals(Viewer.partner(uuid.uuid4()), ReferralFilter())
    )
    assert other.items == []
    own = await list_referrals(context, ListReferrals(Viewer.partner(partner), ReferralFilter()))
    assert len(own.items) == 3
    with pytest.raises(InvalidRequest):
        await list_referrals(context, ListReferrals(REFERRER, ReferralFilter(), cursor="x!"))


def timer_of(store: MemoryStore, kind: str) -> Timer:
    (timer,) = [row["timer"] for row in store.timers.values() if row["timer"].kind == kind]
    return timer


async def test_a_missed_acceptance_sla_reroutes_once_and_a_late_timer_is_obsolete(
    store: MemoryStore, context: ReferralContext, deliver: Deliver
) -> None:
    first, _ = await add_partner(context, "QF", NeedCategory.SHELTER)
    second, _ = await add_partner(context, "QF", NeedCategory.SHELTER, languages=["en"])
    await deliver(registered("QF", [(NeedCategory.SHELTER, Urgency.HIGH)]))
    timer = timer_of(store, ACCEPTANCE_SLA_TIMER)
    later = timer.due_at + timedelta(seconds=1)
    store.clock = lambda: later  # the deadline has just passed
    worker = TimerWorker(context.units_of_work, referral_timers(context))
    await worker.fire_due()
    referral = store.referrals[timer.subject_id]
    assert referral.partner_id == second
    assert referral.reroute_count == 1
    (breach,) = store.events_of(ReferralSlaBreachedV1)
    assert isinstance(breach, ReferralSlaBreachedV1)
    assert breach.partner_id == first
    assert [o for _, o in store.fired_timers(ACCEPTANCE_SLA_TIMER)] == ["fired"]
    # Fired again (a replica that claimed it late, say), it finds the referral moved on.
    async with context.units_of_work() as uow:
        assert await on_acceptance_sla(uow, default_policy(), timer, later) == "obsolete"


async def test_a_start_sla_is_announced_not_rerouted(
    store: MemoryStore, context: ReferralContext, deliver: Deliver
) -> None:
    partner, _ = await add_partner(context, "QG", NeedCategory.LEGAL_AID)
    await deliver(registered("QG", [(NeedCategory.LEGAL_AID, Urgency.MEDIUM)]))
    (referral_id,) = store.referrals
    await act(context, referral_id, Action.ACCEPT, partner)
    later = datetime.now(UTC) + timedelta(days=30)
    store.clock = lambda: later
    worker = TimerWorker(context.units_of_work, referral_timers(context))
    await worker.fire_due()
    assert store.referrals[referral_id].state is ReferralState.ACCEPTED
    (breach,) = store.events_of(ReferralSlaBreachedV1)
    assert isinstance(breach, ReferralSlaBreachedV1)
    assert breach.milestone.value == "service_start"
    assert [o for _, o in store.fired_timers(ACCEPTANCE_SLA_TIMER)] == ["obsolete"]
    assert [o for _, o in store.fired_timers(START_SLA_TIMER)] == ["fired"]


async def test_the_reroute_limit_gives_up(store: MemoryStore, deliver: Deliver) -> None:
    context = store.context(
        ReferralPolicy(
            acceptance_sla=default_policy().acceptance_sla,
            start_sla=default_policy().start_sla,
            max_reroutes=0,
        )
    )
    first, _ = await add_partner(context, "QH", NeedCategory.FOOD)
    await add_partner(context, "QH", NeedCategory.FOOD, languages=["en"])
    case = registered("QH", [(NeedCategory.FOOD, Urgency.LOW)])
    await deliver(case)
    (referral_id,) = store.referrals
    await act(context, referral_id, Action.DECLINE, first, ReferralStatusReason.NOT_ELIGIBLE)
    referral = store.referrals[referral_id]
    assert referral.state is ReferralState.UNROUTABLE
    assert referral.status_reason is not None
    assert referral.status_reason.value == "reroute_limit_reached"


async def test_a_service_that_joins_gets_the_unroutable_referrals_it_can_take(
    store: MemoryStore, context: ReferralContext, deliver: Deliver
) -> None:
    case = registered("QI", [(NeedCategory.DOCUMENTATION, Urgency.LOW)])
    await deliver(case)
    (referral_id,) = store.referrals
    assert store.referrals[referral_id].state is ReferralState.UNROUTABLE
    partner, _ = await add_partner(context, "QI", NeedCategory.DOCUMENTATION)
    worker = TimerWorker(context.units_of_work, referral_timers(context))
    await worker.fire_due()
    assert store.referrals[referral_id].state is ReferralState.ROUTED
    assert store.referrals[referral_id].partner_id == partner
    assert "routed:1" in [o for _, o in store.fired_timers(DIRECTORY_RETRY_TIMER)]


class Broken(Exception):
    """A timer handler's own failure (a bug), not an outage."""


async def test_a_timer_that_keeps_failing_backs_off_then_gives_up(store: MemoryStore) -> None:
    async with store.units_of_work() as uow:
        await uow.timers.schedule(kind="test.broken", subject_id=uuid.uuid4(), due_at=store.clock())
        await uow.commit()

    async def broken(uow: Any, timer: Timer) -> str:
        raise Broken

    worker = TimerWorker(store.units_of_work, {"test.broken": broken}, max_attempts=3)
    now = store.clock()
    for attempt in range(1, 4):
        assert await worker.fire_due() == 0
        (row,) = store.timers.values()
        if attempt < 3:
            assert row["timer"].attempts == attempt
            assert row["timer"].due_at > now  # pushed back
            store.clock = lambda due=row["timer"].due_at: due
    assert row["outcome"] == "failed"


async def test_an_outage_is_raised_for_the_periodic_worker_and_nothing_is_lost(
    store: MemoryStore, context: ReferralContext, deliver: Deliver
) -> None:
    await add_partner(context, "QJ", NeedCategory.FOOD)
    await deliver(registered("QJ", [(NeedCategory.FOOD, Urgency.HIGH)]))
    store.clock = lambda: datetime.now(UTC) + timedelta(days=2)
    down = True

    def units_of_work() -> Any:
        if down:
            raise ConnectionRefusedError(111, "Connection refused")
        return store.units_of_work()

    worker = TimerWorker(units_of_work, referral_timers(context))
    with pytest.raises(ConnectionRefusedError):
        await worker.fire_due()  # PeriodicWorker reports it to the monitor, quietly
    down = False
    await worker.fire_due()  # late, once
    assert [o for _, o in store.fired_timers(ACCEPTANCE_SLA_TIMER)] == ["fired"]
    assert await worker.fire_due() == 0
