"""One contract for the referral service's repositories, held against both the in-memory
ones (mpa_referral.testing, what the fast use-case tests run on) and the PostgreSQL ones
(with the directory snapshot and the write buffer): the same calls give the same answers.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from mpa_contracts.vocabularies import (
    ActorRole,
    AgeBand,
    CancelReason,
    ConsentScope,
    NeedCategory,
    PartnerType,
    ReferralState,
    SafeContactMethod,
    ServiceQuality,
    ServiceReceived,
    ServiceStatus,
    Sex,
    UnroutableReason,
    Urgency,
    WaitingTime,
)
from mpa_referral.adapters.directory_snapshot import DirectorySnapshot
from mpa_referral.adapters.notes import NoteCipher
from mpa_referral.adapters.uow import ReferralUnitOfWork
from mpa_referral.app.ports import ReferralFilter, ServiceFilter, UnitOfWorkPort
from mpa_referral.domain.cases import CaseNeed, CaseProfile, CaseStatus, ConsentTerms
from mpa_referral.domain.directory import DesignationRole
from mpa_referral.domain.feedback import Feedback
from mpa_referral.domain.lifecycle import OPEN_STATES, AttemptResponse
from mpa_referral.domain.mandatory import MandatoryRule
from mpa_referral.domain.referral import HistoryEntry, Referral, RoutingAttempt
from mpa_referral.domain.routing import CandidateEvaluation, RoutingRule
from mpa_referral.testing import MemoryStore
from tests.conftest import service_database_url
from tests.integration.referral_support import private_schema

UnitsOfWork = Callable[[], UnitOfWorkPort]


@pytest.fixture(
    scope="module",
    params=["memory", pytest.param("postgresql", marks=pytest.mark.integration)],
)
async def units_of_work(request: pytest.FixtureRequest) -> AsyncIterator[UnitsOfWork]:
    if request.param == "memory":
        store = MemoryStore()
        yield store.units_of_work
        return
    async with _postgres_units_of_work() as units:
        yield units


@pytest.fixture(scope="module")
async def postgres_units_of_work() -> AsyncIterator[UnitsOfWork]:
    """For what only the database does: row locks between concurrent transactions."""
    async with _postgres_units_of_work() as units:
        yield units


@asynccontextmanager
async def _postgres_units_of_work() -> AsyncIterator[UnitsOfWork]:
    async with private_schema() as schema:
        engine = create_async_engine(
            service_database_url("referral"),
            connect_args={"server_settings": {"search_path": schema}},
        )
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        snapshot = DirectorySnapshot(capacity_refresh_seconds=0.01, records_refresh_seconds=0.01)
        notes = NoteCipher(os.urandom(32))

        def open_unit_of_work() -> UnitOfWorkPort:
            return ReferralUnitOfWork(
                sessions, source="urn:mpa:service:referral", snapshot=snapshot, notes=notes
            )

        try:
            yield open_unit_of_work
        finally:
            await engine.dispose()


def a_case(country: str = "QA", **changes: Any) -> CaseProfile:
    fields: dict[str, Any] = {
        "case_id": uuid.uuid4(),
        "age_band": AgeBand.AGE_24_26,
        "sex": Sex.FEMALE,
        "nationality": "NG",
        "languages": ("fr", "en"),
        "country": country,
        "admin_area": f"{country}-1",
        "vulnerabilities": frozenset(),
        "consent": ConsentTerms(
            uuid.uuid4(),
            frozenset({ConsentScope.REFERRAL}),
            datetime(2030, 1, 1, tzinfo=UTC),
            frozenset({uuid.UUID(int=5)}),
            frozenset({PartnerType.GOVERNMENT_AGENCY}),
        ),
        "do_not_contact": False,
        "safe_contact_method": SafeContactMethod.PHONE_CALL,
        "status": CaseStatus.OPEN,
        "correlation_id": uuid.uuid4(),
        **changes,
    }
    return CaseProfile(**fields)


async def a_need(uows: UnitsOfWork, **case: Any) -> CaseNeed:
    profile = a_case(**case)
    need = CaseNeed(uuid.uuid4(), profile.case_id, NeedCategory.SHELTER, Urgency.HIGH, None)
    async with uows() as uow:
        await uow.cases.add(profile, "MPA-2026-000001")
        await uow.cases.add_needs([need])
        await uow.commit()
    return need


def a_referral(need: CaseNeed, **changes: Any) -> Referral:
    fields: dict[str, Any] = {
        "id": uuid.uuid4(),
        "case_id": need.case_id,
        "need_id": need.need_id,
        "category": need.category,
        "urgency": need.urgency,
        "country": "QA",
        "state": ReferralState.REQUESTED,
        "requested_by": "caseworker:cw",
        **changes,
    }
    return Referral(**fields)


async def test_cases_round_trip_and_a_replayed_registration_keeps_the_story(
    units_of_work: UnitsOfWork,
) -> None:
    case = a_case()
    async with units_of_work() as uow:
        assert await uow.cases.add(case, "MPA-2026-000002") is True
        await uow.commit()
    async with units_of_work() as uow:
        assert await uow.cases.get(case.case_id) == case
        replay = a_case(case_id=case.case_id, correlation_id=uuid.uuid4(), country="QB")
        assert await uow.cases.add(replay, "MPA-2026-000002") is False
        await uow.commit()
    async with units_of_work() as uow:
        stored = await uow.cases.get(case.case_id, for_update=True)
        assert stored is not None
        assert (stored.country, stored.correlation_id) == ("QB", case.correlation_id)
        await uow.cases.save(
            a_case(
                case_id=case.case_id,
                correlation_id=case.correlation_id,
                consent=None,
                status=CaseStatus.CLOSED,
                personal_data_erased=True,
            )
        )
        await uow.commit()
    async with units_of_work() as uow:
        stored = await uow.cases.get(case.case_id)
        assert stored is not None
        assert (stored.consent, stored.status, stored.personal_data_erased) == (
            None,
            CaseStatus.CLOSED,
            True,
        )
        assert await uow.cases.get(uuid.uuid4()) is None


async def test_needs_are_added_once_and_read_back_in_the_same_transaction(
    units_of_work: UnitsOfWork,
) -> None:
    case = a_case()
    needs = [
        CaseNeed(uuid.uuid4(), case.case_id, NeedCategory.FOOD, Urgency.LOW, None),
        CaseNeed(
            uuid.uuid4(),
            case.case_id,
            NeedCategory.CHILD_PROTECTION,
            Urgency.HIGH,
            "ML",
            MandatoryRule.CHILD_PROTECTION_AUTHORITY,
        ),
    ]
    async with units_of_work() as uow:
        await uow.cases.add(case, "MPA-2026-000003")
        await uow.cases.add_needs(needs)
        await uow.cases.add_needs(needs[:1])  # a replay
        assert sorted(await uow.cases.needs_of(case.case_id), key=lambda n: n.need_id) == sorted(
            needs, key=lambda n: n.need_id
        )
        await uow.commit()


async def test_an_uncommitted_block_changes_nothing(units_of_work: UnitsOfWork) -> None:
    case = a_case()
    async with units_of_work() as uow:
        await uow.cases.add(case, "MPA-2026-000004")
    async with units_of_work() as uow:
        assert await uow.cases.get(case.case_id) is None


async def test_referrals_round_trip_every_typed_field(units_of_work: UnitsOfWork) -> None:
    need = await a_need(units_of_work)
    referral = a_referral(
        need,
        mandatory_rule=MandatoryRule.ANTI_TRAFFICKING_FOCAL_POINT,
        state=ReferralState.UNROUTABLE,
        status_reason=UnroutableReason.ALL_CANDIDATES_EXCLUDED,
        attempt=2,
    )
    async with units_of_work() as uow:
        await uow.referrals.add(referral)
        assert referral.created_at is not None
        read = await uow.referrals.get(referral.id)  # its own write, before the commit
        assert read is not None
        assert read.status_reason is UnroutableReason.ALL_CANDIDATES_EXCLUDED
        await uow.commit()
    async with units_of_work() as uow:
        stored = await uow.referrals.get(referral.id, for_update=True)
        assert stored is not None
        assert stored.mandatory_rule is MandatoryRule.ANTI_TRAFFICKING_FOCAL_POINT
        assert stored.attempt == 2
        stored.state = ReferralState.CANCELLED
        stored.status_reason = CancelReason.OTHER
        stored.closed_at = datetime(2026, 6, 1, tzinfo=UTC)
        await uow.referrals.update(stored)
        await uow.commit()
    async with units_of_work() as uow:
        stored = await uow.referrals.get(referral.id)
        assert stored is not None
        assert stored.status_reason is CancelReason.OTHER
        assert stored.closed_at == datetime(2026, 6, 1, tzinfo=UTC)
        assert await uow.referrals.outcomes_by_need(need.case_id) == {
            need.need_id: [(ReferralState.CANCELLED, "other")]
        }


async def test_a_need_has_one_open_referral_at_most(units_of_work: UnitsOfWork) -> None:
    need = await a_need(units_of_work)

    async def two_open_referrals() -> None:
        async with units_of_work() as uow:
            await uow.referrals.add(a_referral(need))
            await uow.referrals.add(a_referral(need))
            await uow.commit()

    with pytest.raises(Exception):  # noqa: B017, PT011 - an integrity error in either backend
        await two_open_referrals()
    async with units_of_work() as uow:
        assert await uow.referrals.of_case(need.case_id) == []


async def test_finding_referrals_by_case_holder_and_state(units_of_work: UnitsOfWork) -> None:
    need = await a_need(units_of_work, country="QC")
    other_need = await a_need(units_of_work, country="QC")
    partner, service = uuid.uuid4(), uuid.uuid4()
    routed = a_referral(
        need, state=ReferralState.ROUTED, partner_id=partner, service_id=service, country="QC"
    )
    stranded = a_referral(
        other_need,
        state=ReferralState.UNROUTABLE,
        status_reason=UnroutableReason.NO_MATCHING_SERVICE,
        country="QC",
    )
    async with units_of_work() as uow:
        await uow.referrals.add(routed)
        await uow.referrals.add(stranded)
        await uow.commit()
    async with units_of_work() as uow:
        found = await uow.referrals.of_case(need.case_id, states=OPEN_STATES)
        assert [r.id for r in found] == [routed.id]
        assert [r.id for r in await uow.referrals.held(states=OPEN_STATES, partner_id=partner)] == [
            routed.id
        ]
        assert [r.id for r in await uow.referrals.held(states=OPEN_STATES, service_id=service)] == [
            routed.id
        ]
        assert await uow.referrals.retryable_unroutable(
            NeedCategory.SHELTER, ["QC"], ["no_matching_service"]
        ) == [stranded.id]
        assert (
            await uow.referrals.retryable_unroutable(
                NeedCategory.FOOD, ["QC"], ["no_matching_service"]
            )
            == []
        )


async def test_pages_are_newest_first_and_keyset_after_the_last(units_of_work: UnitsOfWork) -> None:
    partner = uuid.uuid4()
    made = []
    for _ in range(3):
        need = await a_need(units_of_work)
        referral = a_referral(need, state=ReferralState.ROUTED, partner_id=partner)
        async with units_of_work() as uow:
            await uow.referrals.add(referral)
            await uow.commit()
        made.append(referral)
    async with units_of_work() as uow:
        where = ReferralFilter(partner_id=partner)
        first = await uow.referrals.page(where, after=None, limit=2)
        assert [r.id for r in first] == [made[2].id, made[1].id]
        last = first[-1]
        assert last.created_at is not None
        rest = await uow.referrals.page(where, after=(last.created_at, last.id), limit=2)
        assert [r.id for r in rest] == [made[0].id]
        routed = ReferralFilter(partner_id=partner, state=ReferralState.ACCEPTED)
        assert await uow.referrals.page(routed, after=None, limit=5) == []


async def test_attempts_answers_and_what_turned_a_referral_down(
    units_of_work: UnitsOfWork,
) -> None:
    need = await a_need(units_of_work)
    referral = a_referral(need, state=ReferralState.ROUTED)
    partner, service = uuid.uuid4(), uuid.uuid4()
    decided = datetime.now(UTC) - timedelta(minutes=5)
    candidates = (
        CandidateEvaluation(service, partner, RoutingRule.ELIGIBLE, 0.8, {"language": 1.0}, 1),
        CandidateEvaluation(uuid.uuid4(), uuid.uuid4(), RoutingRule.NO_CAPACITY),
    )
    async with units_of_work() as uow:
        await uow.referrals.add(referral)
        await uow.referrals.add_attempt(
            referral.id, RoutingAttempt(1, decided, "standard", partner, service, candidates)
        )
        await uow.referrals.record_response(referral.id, 1, AttemptResponse.DECLINED, partner)
        await uow.referrals.record_response(referral.id, 1, AttemptResponse.ACCEPTED, partner)
        await uow.commit()
    async with units_of_work() as uow:
        (attempt,) = await uow.referrals.attempts_of(referral.id)
        assert attempt.response is AttemptResponse.DECLINED  # the first answer stands
        assert attempt.responded_at is not None
        assert attempt.candidates == candidates
        assert await uow.referrals.tried_service_ids(referral.id) == {service}
        records = await uow.directory.partner_records({partner})
        assert records[partner].acceptance_rate == 0.0


async def test_history_keeps_notes_readable_in_order_until_erased(
    units_of_work: UnitsOfWork,
) -> None:
    need = await a_need(units_of_work)
    referral = a_referral(need)
    partner = uuid.uuid4()
    at = datetime(2026, 5, 1, tzinfo=UTC)
    entries = [
        HistoryEntry(at, "caseworker:cw", ActorRole.CASEWORKER.value, None, ReferralState.REQUESTED,
                     "org.mpa.referral.requested.v1", uuid.uuid4(), None, None, None),
        HistoryEntry(at, "partner:p", ActorRole.PARTNER.value, ReferralState.ROUTED,
                     ReferralState.DECLINED, "org.mpa.referral.declined.v1", uuid.uuid4(),
                     "lack_of_capacity", "no bed tonight", partner),
    ]  # fmt: skip
    async with units_of_work() as uow:
        await uow.referrals.add(referral)
        await uow.referrals.add_history(referral.id, entries)
        assert await uow.referrals.history_of(referral.id) == entries  # before the commit too
        await uow.commit()
    async with units_of_work() as uow:
        assert await uow.referrals.history_of(referral.id) == entries
        assert await uow.referrals.erase_notes(need.case_id) == 1
        await uow.commit()
    async with units_of_work() as uow:
        after = await uow.referrals.history_of(referral.id)
        assert [e.note for e in after] == [None, None]
        assert [e.note_erased for e in after] == [False, True]
        assert after[1].reason == "lack_of_capacity"


async def test_directory_rows_filters_and_what_routing_reads(units_of_work: UnitsOfWork) -> None:
    partner, service, hidden = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    code = f"C-{uuid.uuid4().hex[:8].upper()}"
    async with units_of_work() as uow:
        assert await uow.directory.listings_for(NeedCategory.MEDICAL, "QD") == []
        await uow.directory.add_partner(
            {
                "id": partner,
                "code": code,
                "name": "Clinic",
                "partner_type": PartnerType.GOVERNMENT_AGENCY.value,
                "countries": ["QD"],
                "designations": [{"role": "child_protection_authority", "country": "QD"}],
                "contacts": [{"label": "Desk"}],
                "is_demo": False,
            }
        )
        for service_id, gbv in ((service, False), (hidden, True)):
            await uow.directory.add_service(_service_row(service_id, partner, gbv=gbv))
        # Routing inside the same transaction sees the new services.
        listed = await uow.directory.listings_for(NeedCategory.MEDICAL, "QD")
        assert {s.service_id for s in listed} == {service, hidden}
        await uow.commit()
    async with units_of_work() as uow:
        assert await uow.directory.partner_code_taken(code)
        assert [p["id"] for p in await uow.directory.list_partners(country="QD")] == [partner]
        assert await uow.directory.partner_type(partner) is PartnerType.GOVERNMENT_AGENCY
        assert await uow.directory.any_designated(
            DesignationRole.CHILD_PROTECTION_AUTHORITY, "QD", "QD-2"
        )
        assert not await uow.directory.any_designated(
            DesignationRole.ANTI_TRAFFICKING_FOCAL_POINT, "QD", None
        )
        visible = await uow.directory.list_services(
            ServiceFilter(country="QD", include_gbv_sensitive=False)
        )
        assert [s["id"] for s in visible] == [service]
        assert visible[0]["partner_type"] == PartnerType.GOVERNMENT_AGENCY.value
        assert await uow.directory.sla_hours(service) == {Urgency.CRITICAL: 2}
        assert await uow.directory.gbv_only_partner_ids() == frozenset()
        await uow.directory.update_service(hidden, {"status": ServiceStatus.INACTIVE.value})
        await uow.commit()
    async with units_of_work() as uow:  # another transaction sees the committed change
        statuses = {
            s.service_id: s.status
            for s in await uow.directory.listings_for(NeedCategory.MEDICAL, "QD")
        }
        assert statuses == {service: ServiceStatus.ACTIVE, hidden: ServiceStatus.INACTIVE}


async def test_places_are_never_taken_beyond_what_is_free(units_of_work: UnitsOfWork) -> None:
    partner, tracked, untracked = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with units_of_work() as uow:
        await uow.directory.add_partner(
            {
                "id": partner,
                "code": f"P-{uuid.uuid4().hex[:8].upper()}",
                "name": "Shelter",
                "partner_type": PartnerType.CIVIL_SOCIETY_ORGANISATION.value,
                "countries": ["QE"],
                "designations": [],
                "contacts": [],
                "is_demo": False,
            }
        )
        await uow.directory.add_service(_service_row(tracked, partner, country="QE", capacity=1))
        await uow.directory.add_service(_service_row(untracked, partner, country="QE"))
        await uow.commit()
    async with units_of_work() as uow:
        assert await uow.directory.reserve_place(tracked) is True
        assert await uow.directory.reserve_place(tracked) is None  # none left
        assert await uow.directory.reserve_place(untracked) is False  # not tracked
        await uow.directory.release_place(tracked)
        await uow.directory.release_place(tracked)  # never beyond the total
        await uow.commit()
    async with units_of_work() as uow:
        row = await uow.directory.get_service(tracked)
        assert row is not None
        assert row["capacity_available"] == 1
        await uow.directory.update_service(tracked, {"status": ServiceStatus.INACTIVE.value})
        assert await uow.directory.reserve_place(tracked) is None  # not active
        await uow.commit()


async def test_no_place_is_taken_at_a_partner_deactivated_after_routing_read_the_directory(
    units_of_work: UnitsOfWork,
) -> None:
    # The race behind a routing from a directory read just before a concurrent
    # deactivation committed: the reservation, not the read, must decide.
    partner, service = await _partner_with_service(units_of_work, capacity=None)
    async with units_of_work() as routing:
        listed = await routing.directory.listings_for(NeedCategory.MEDICAL, "QF")
        assert [s.service_id for s in listed] == [service]
        await _deactivate(units_of_work, partner)
        assert await routing.directory.reserve_place(service) is None
        await routing.commit()


async def _partner_with_service(
    units_of_work: UnitsOfWork, capacity: int | None
) -> tuple[uuid.UUID, uuid.UUID]:
    partner, service = uuid.uuid4(), uuid.uuid4()
    async with units_of_work() as uow:
        await uow.directory.add_partner(
            {
                "id": partner,
                "code": f"P-{uuid.uuid4().hex[:8].upper()}",
                "name": "Legal aid",
                "partner_type": PartnerType.CIVIL_SOCIETY_ORGANISATION.value,
                "countries": ["QF"],
                "designations": [],
                "contacts": [],
                "is_demo": False,
            }
        )
        await uow.directory.add_service(
            _service_row(service, partner, country="QF", capacity=capacity)
        )
        await uow.commit()
    return partner, service


@pytest.mark.integration
async def test_routings_to_an_untracked_service_do_not_queue_but_a_deactivation_waits(
    postgres_units_of_work: UnitsOfWork,
) -> None:
    """A service that does not count places is reserved under a share lock: a second
    routing goes ahead while the first is still open, and deactivating the partner
    waits for both (so neither can route to a partner that is going away)."""
    partner, service = await _partner_with_service(postgres_units_of_work, capacity=None)
    async with postgres_units_of_work() as first, postgres_units_of_work() as second:
        assert await first.directory.reserve_place(service) is False
        async with asyncio.timeout(5):  # would wait for `first` on an exclusive lock
            assert await second.directory.reserve_place(service) is False
        deactivation = asyncio.create_task(_deactivate(postgres_units_of_work, partner))
        await asyncio.sleep(0.5)
        assert not deactivation.done()  # waits for the routings' share locks
        await first.commit()
        await second.commit()
    await asyncio.wait_for(deactivation, 10)
    async with postgres_units_of_work() as late:
        assert await late.directory.reserve_place(service) is None


@pytest.mark.integration
async def test_a_service_that_counts_places_is_reserved_one_routing_at_a_time(
    postgres_units_of_work: UnitsOfWork,
) -> None:
    _, service = await _partner_with_service(postgres_units_of_work, capacity=1)
    async with postgres_units_of_work() as first:
        assert await first.directory.reserve_place(service) is True
        async with postgres_units_of_work() as second:
            waiting = asyncio.create_task(second.directory.reserve_place(service))
            await asyncio.sleep(0.5)
            assert not waiting.done()  # queued on the row until `first` ends
            await first.commit()
            assert await asyncio.wait_for(waiting, 10) is None  # the one place is gone
            await second.commit()


async def _deactivate(units_of_work: UnitsOfWork, partner: uuid.UUID) -> None:
    async with units_of_work() as uow:
        await uow.directory.update_partner(
            partner, {"active": False, "deactivation_reason": "agreement_ended"}
        )
        await uow.commit()


async def test_timers_fire_when_due_once_and_can_be_put_off(units_of_work: UnitsOfWork) -> None:
    subject = uuid.uuid4()
    past = datetime.now(UTC) - timedelta(seconds=5)
    async with units_of_work() as uow:
        due = await uow.timers.schedule(
            kind="test.due", subject_id=subject, due_at=past, payload={"attempt": 1}
        )
        await uow.timers.schedule(
            kind="test.later", subject_id=subject, due_at=past + timedelta(days=1)
        )
        await uow.commit()
    async with units_of_work() as uow:
        timer = await uow.timers.claim_due()
        assert timer is not None
        assert (timer.id, timer.kind, timer.payload, timer.attempts) == (
            due,
            "test.due",
            {"attempt": 1},
            0,
        )
        assert await uow.timers.claim_due(skip={due}) is None
        await uow.timers.postpone(due, until=past + timedelta(seconds=1))
        await uow.commit()
    async with units_of_work() as uow:
        timer = await uow.timers.claim_due()
        assert timer is not None
        assert timer.attempts == 1
        await uow.timers.mark_fired(timer.id, "fired")
        await uow.commit()
    async with units_of_work() as uow:
        assert await uow.timers.claim_due() is None


async def test_the_next_timer_is_known_in_seconds_from_now(units_of_work: UnitsOfWork) -> None:
    async with units_of_work() as uow:  # what other tests left due
        while (left := await uow.timers.claim_due()) is not None:
            await uow.timers.mark_fired(left.id, "fired")
        await uow.commit()
    now = datetime.now(UTC)
    async with units_of_work() as uow:
        soon = await uow.timers.schedule(
            kind="test.soon", subject_id=uuid.uuid4(), due_at=now + timedelta(seconds=60)
        )
        await uow.commit()
    async with units_of_work() as uow:
        due_in = await uow.timers.next_due_in()
        assert due_in is not None
        assert 55 < due_in <= 60
        await uow.timers.schedule(
            kind="test.due", subject_id=uuid.uuid4(), due_at=now - timedelta(seconds=5)
        )
        due_in = await uow.timers.next_due_in()  # its own, not yet committed, write counts
        assert due_in is not None
        assert -10 < due_in <= -5
        await uow.commit()
    async with units_of_work() as uow:
        timer = await uow.timers.claim_due()
        assert timer is not None
        assert timer.kind == "test.due"
        await uow.timers.mark_fired(timer.id, "fired")
        await uow.timers.mark_fired(soon, "fired")
        due_in = await uow.timers.next_due_in()
        assert due_in is None or due_in > 60  # fired ones no longer count
        await uow.commit()


def _service_row(
    service_id: uuid.UUID,
    partner_id: uuid.UUID,
    *,
    country: str = "QD",
    gbv: bool = False,
    capacity: int | None = None,
) -> dict[str, Any]:
    return {
        "id": service_id,
        "partner_id": partner_id,
        "name": "Clinic",
        "description": "",
        "category": NeedCategory.MEDICAL.value,
        "status": ServiceStatus.ACTIVE.value,
        "coverage": [{"country": country, "admin_areas": []}],
        "coverage_countries": [country],
        "languages": ["fr"],
        "min_age": None,
        "max_age": None,
        "sexes": [],
        "nationalities_served": [],
        "nationalities_excluded": [],
        "vulnerabilities_required": [],
        "vulnerability_focus": [],
        "capacity_total": capacity,
        "capacity_available": capacity,
        "sla_hours": {"critical": 2},
        "gbv_sensitive": gbv,
        "is_demo": False,
    }


# --- the person's feedback on services (issue 17) --------------------------------------------


def a_feedback(partner_id: uuid.UUID, at: datetime, **changes: Any) -> Feedback:
    fields: dict[str, Any] = {
        "feedback_id": uuid.uuid4(),
        "referral_id": uuid.uuid4(),
        "partner_id": partner_id,
        "service_id": uuid.uuid4(),
        "recorded_at": at,
        "received": ServiceReceived.RECEIVED,
        "quality": ServiceQuality.GOOD,
        "waiting_time": WaitingTime.WITHIN_A_WEEK,
        "felt_safe": True,
        "anonymous": False,
        **changes,
    }
    return Feedback(**fields)


async def test_feedback_is_kept_once_with_every_field_and_read_per_partner(
    units_of_work: UnitsOfWork,
) -> None:
    partner, other = uuid.uuid4(), uuid.uuid4()
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    full = a_feedback(partner, t0)
    # What a person may leave unsaid stays unsaid.
    sparse = a_feedback(partner, t0 + timedelta(days=1), service_id=None, quality=None,
                        waiting_time=None, felt_safe=None, anonymous=True,
                        received=ServiceReceived.NOT_RECEIVED)  # fmt: skip
    elsewhere = a_feedback(other, t0 + timedelta(days=2))
    async with units_of_work() as uow:
        for feedback in (full, sparse, elsewhere):
            await uow.feedback.add(feedback)
        await uow.commit()
    async with units_of_work() as uow:
        # The same feedback again (a replayed event) changes nothing.
        await uow.feedback.add(replace(full, quality=ServiceQuality.VERY_POOR))
        await uow.commit()
    async with units_of_work() as uow:
        assert await uow.feedback.of_partner(partner, None, None, 10) == [sparse, full]
        assert await uow.feedback.of_partner(other, None, None, 10) == [elsewhere]
        assert await uow.feedback.of_partner(uuid.uuid4(), None, None, 10) == []


async def test_feedback_periods_are_half_open_newest_first_and_limited(
    units_of_work: UnitsOfWork,
) -> None:
    partner = uuid.uuid4()
    t0 = datetime(2026, 4, 1, tzinfo=UTC)
    days = [a_feedback(partner, t0 + timedelta(days=d)) for d in range(5)]
    async with units_of_work() as uow:
        for feedback in days:
            await uow.feedback.add(feedback)
        await uow.commit()
    async with units_of_work() as uow:
        since, until = t0 + timedelta(days=1), t0 + timedelta(days=3)
        # From `since` included to `until` excluded.
        assert await uow.feedback.of_partner(partner, since, until, 10) == [days[2], days[1]]
        assert await uow.feedback.of_partner(partner, since, None, 10) == days[:0:-1]
        assert await uow.feedback.of_partner(partner, None, until, 10) == days[2::-1]
        assert await uow.feedback.of_partner(partner, None, None, 2) == [days[4], days[3]]


async def test_uncommitted_feedback_is_not_kept(units_of_work: UnitsOfWork) -> None:
    partner = uuid.uuid4()
    async with units_of_work() as uow:
        await uow.feedback.add(a_feedback(partner, datetime(2026, 5, 1, tzinfo=UTC)))
    async with units_of_work() as uow:
        assert await uow.feedback.of_partner(partner, None, None, 10) == []
