"""One contract for intake's repositories and unit of work, held by both implementations:
the in-memory one the use-case tests run on, and PostgreSQL (a private schema of the intake
database; `integration`, so `make unit` runs only the memory half and `make test` both).

If the fakes drift from what the database does, a use-case test could pass on behaviour
that production does not have: this suite is what keeps them honest.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from mpa_common.settings import local_database_url
from mpa_common.uow import Cause
from mpa_contracts.envelope import Envelope, new_envelope
from mpa_contracts.events.case import CaseClosedV1, CaseRegisteredV1, SafetyFlags
from mpa_contracts.vocabularies import (
    CaseClosureReason,
    CaseScope,
    ConsentGivenBy,
    ConsentMethod,
    ConsentScope,
    FollowUpType,
    NeedCategory,
    PseaAllegationType,
    PseaAssistanceDecision,
    PseaStep,
    ReferralState,
    RiskLevel,
    SafeContactMethod,
    Sex,
    TransferInitiator,
    TransferState,
    Urgency,
    Vulnerability,
)
from mpa_intake.adapters.tables import metadata
from mpa_intake.adapters.unit_of_work import unit_of_work_factory
from mpa_intake.app.context import EVENT_SOURCE
from mpa_intake.app.ports import (
    MAX_REFERENCE_NUMBER,
    REFERENCE_AT_COMMIT,
    CaseFilter,
    IntakeUnitOfWorkPort,
    KeyedResponse,
    PageCursor,
    ReferenceSpaceExhausted,
    ScopeFilter,
    SealedPersonalData,
)
from mpa_intake.domain.case import Case, CaseStatus, NeedEntry, routing_profile
from mpa_intake.domain.casework import FollowUp, ReferralProgress, Transfer
from mpa_intake.domain.consent import ConsentRecord
from mpa_intake.domain.matching import MatchKind
from mpa_intake.domain.ownership import Ownership, Viewer
from mpa_intake.domain.psea import PseaComplaint
from mpa_intake.testing import FakeIntakeUnitOfWork, IntakeMemory

Factory = Callable[[], IntakeUnitOfWorkPort]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
async def uow(request: pytest.FixtureRequest) -> AsyncIterator[Factory]:
    if request.param == "memory":
        memory = IntakeMemory()
        yield lambda: FakeIntakeUnitOfWork(memory)
        return
    url = os.environ.get("INTAKE_DATABASE_URL") or local_database_url("intake")
    schema = f"t_contract_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(url)
    async with admin.begin() as connection:
        await connection.execute(text(f"CREATE SCHEMA {schema}"))
        await connection.execute(text(f"SET search_path TO {schema}"))
        await connection.run_sync(metadata.create_all)
    engine = create_async_engine(url, connect_args={"server_settings": {"search_path": schema}})
    try:
        yield unit_of_work_factory(async_sessionmaker(engine, expire_on_commit=False))
    finally:
        await engine.dispose()
        async with admin.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await admin.dispose()


def new_case(
    at: datetime = T0,
    *,
    vulnerabilities: tuple[Vulnerability, ...] = (Vulnerability.TRAFFICKING_VICTIM,),
    needs: tuple[NeedCategory, ...] = (NeedCategory.SHELTER,),
    consent: bool = True,
    ownership: Ownership | None = None,
) -> Case:
    return Case(
        case_id=uuid.uuid4(),
        reference="",
        status=CaseStatus.OPEN,
        correlation_id=uuid.uuid4(),
        profile=routing_profile(
            band="30-38",  # type: ignore[arg-type]
            sex=Sex.FEMALE,
            nationality="NG",
            languages=("ha",),
            country="NE",
            admin_area="NE-1",
            vulnerabilities=vulnerabilities,
        ),
        safety=SafetyFlags(do_not_contact=False, safe_contact_method=SafeContactMethod.SMS),
        needs=[NeedEntry(uuid.uuid4(), category, Urgency.HIGH, None, at) for category in needs],
        consent=ConsentRecord(
            consent_id=uuid.uuid4(),
            scopes=(ConsentScope.REFERRAL, ConsentScope.DATA_SHARING),
            given_by=ConsentGivenBy.SELF,
            method=ConsentMethod.VERBAL,
            obtained_by="operator:op-1",
            obtained_at=at,
            recorded_at=at,
        )
        if consent
        else None,
        registered_at=at,
        registered_by="operator:op-1",
        updated_at=at,
        ownership=ownership or Ownership("operator:op-1", "ne-niamey-cm", "iom-ne", "NE"),
    )


def sealed(key_id: str = "k1") -> SealedPersonalData:
    return SealedPersonalData(key_id, b"\x01wrapped" + uuid.uuid4().bytes, b"\x01cipher")


async def stored(uow: Factory, case: Case, key_id: str = "k1", **digests: bytes) -> Case:
    """Adds and references a case in one committed unit of work."""
    async with uow() as tx:
        await tx.cases.add(case, sealed(key_id))
        await tx.cases.replace_match_keys(
            case.case_id, {MatchKind(kind): digest for kind, digest in digests.items()}
        )
        await tx.commit()
        reference = await tx.references.assigned(case.case_id)
    return replace(case, reference=reference)


def registered_event(case: Case) -> Envelope:
    """A case's registration event as the use case stages it: its id is the case's
    correlation id, its reference the placeholder."""
    return new_envelope(
        CaseRegisteredV1(
            actor_id="operator:op-1",
            actor_role="operator",  # type: ignore[arg-type]
            case_id=case.case_id,
            case_reference=REFERENCE_AT_COMMIT,
            profile=case.profile,
            needs=tuple(need.as_contract() for need in case.needs),
            consent=None,
            safety=case.safety,
        ),
        source=EVENT_SOURCE,
        subject=f"case/{case.case_id}",
    ).model_copy(update={"id": case.correlation_id, "correlation_id": case.correlation_id})


async def staged_case_references(uow: Factory) -> dict[uuid.UUID, str]:
    """The case reference each committed event carries, by event id (outbox or memory)."""
    async with uow() as tx:
        if isinstance(tx, FakeIntakeUnitOfWork):
            return {
                event.id: event.data.case_reference
                for event in tx.memory.events
                if isinstance(event.data, CaseRegisteredV1)
            }
        rows = await tx.session.execute(  # type: ignore[attr-defined]
            text("SELECT event_id, envelope->'data'->>'case_reference' FROM outbox")
        )
        return {row[0]: row[1] for row in rows if row[1] is not None}


async def set_last_number(uow: Factory, year: int, number: int) -> None:
    async with uow() as tx:
        if isinstance(tx, FakeIntakeUnitOfWork):
            tx.memory.counters[year] = number
        else:
            await tx.session.execute(  # type: ignore[attr-defined]
                text("UPDATE case_reference_counters SET last_number = :n WHERE year = :y"),
                {"n": number, "y": year},
            )
        await tx.commit()


async def test_a_case_round_trips_with_needs_consent_and_reference(uow: Factory) -> None:
    case = await stored(uow, new_case(needs=(NeedCategory.SHELTER, NeedCategory.LEGAL_AID)))
    async with uow() as tx:
        loaded = await tx.cases.get(case.case_id)
    assert loaded is not None
    assert loaded.case == case
    assert loaded.case.reference == "MPA-2026-000001"
    assert loaded.sealed is not None
    assert loaded.sealed.master_key_id == "k1"
    async with uow() as tx:
        assert await tx.cases.get(uuid.uuid4()) is None


async def test_references_are_gap_free_across_rollbacks_and_restart_each_year(
    uow: Factory,
) -> None:
    await stored(uow, new_case())
    async with uow() as tx:  # added, never committed: no number is taken
        await tx.cases.add(new_case(), sealed())
        await tx.cases.add(new_case(), sealed())
    second = await stored(uow, new_case())
    assert second.reference == "MPA-2026-000002"
    next_year = await stored(uow, new_case(T0.replace(year=2027)))
    assert next_year.reference == "MPA-2027-000001"


async def test_the_reference_is_given_at_commit_to_the_case_and_its_registration_event(
    uow: Factory,
) -> None:
    """Cases added together are numbered in the order they were added, and the registration
    event staged with each (its id is the case's correlation id) carries the same reference
    instead of the placeholder; another event keeps what it was given."""
    await stored(uow, new_case())
    first, second = new_case(), new_case()
    async with uow() as tx:
        for case in (first, second):
            await tx.cases.add(case, sealed())
            tx.emit_envelope(registered_event(case))
        tx.emit_envelope(registered_event(new_case()))  # about no case added here
        await tx.commit()
        assert await tx.references.assigned(first.case_id) == "MPA-2026-000002"
        assert await tx.references.assigned(second.case_id) == "MPA-2026-000003"
    staged = await staged_case_references(uow)
    assert staged[first.correlation_id] == "MPA-2026-000002"
    assert staged[second.correlation_id] == "MPA-2026-000003"
    assert sorted(staged.values())[0] == REFERENCE_AT_COMMIT


async def test_a_year_without_numbers_left_fails_the_commit_and_writes_nothing(
    uow: Factory,
) -> None:
    await stored(uow, new_case())
    await set_last_number(uow, 2026, MAX_REFERENCE_NUMBER)
    doomed = new_case()
    async with uow() as tx:
        await tx.cases.add(doomed, sealed())
        tx.emit_envelope(registered_event(doomed))
        with pytest.raises(ReferenceSpaceExhausted):
            await tx.commit()
    async with uow() as tx:
        assert await tx.cases.get(doomed.case_id) is None
    assert doomed.correlation_id not in await staged_case_references(uow)
    assert (await stored(uow, new_case(T0.replace(year=2027)))).reference == "MPA-2027-000001"


async def test_leaving_without_commit_writes_nothing_events_included(uow: Factory) -> None:
    case = new_case()
    async with uow() as tx:
        await tx.cases.add(case, sealed())
        tx.emit(
            CaseClosedV1(
                actor_id="operator:op-1",
                actor_role="operator",  # type: ignore[arg-type]
                case_id=case.case_id,
                reason="needs_met",  # type: ignore[arg-type]
            ),
            cause=Cause(),
        )
    async with uow() as tx:
        assert await tx.cases.get(case.case_id) is None
        assert await tx.cases.count_by_master_key() == {}


async def test_update_writes_state_not_needs_or_consent(uow: Factory) -> None:
    case = await stored(uow, new_case())
    later = T0 + timedelta(hours=1)
    async with uow() as tx:
        loaded = await tx.cases.get(case.case_id, for_update=True)
        assert loaded is not None
        changed = loaded.case
        changed.close(CaseClosureReason.NEEDS_MET, later)
        changed.needs.append(NeedEntry(uuid.uuid4(), NeedCategory.MHPSS, Urgency.LOW, None, later))
        await tx.cases.update(changed)
        await tx.commit()
    async with uow() as tx:
        after = await tx.cases.get(case.case_id)
    assert after is not None
    assert after.case.status is CaseStatus.CLOSED
    assert after.case.closed_at == later
    assert [n.category for n in after.case.needs] == [NeedCategory.SHELTER]


async def test_needs_consent_and_scopes_are_saved_by_their_own_calls(uow: Factory) -> None:
    case = await stored(uow, new_case())
    later = T0 + timedelta(hours=2)
    extra = NeedEntry(uuid.uuid4(), NeedCategory.MHPSS, Urgency.LOW, "ML", later)
    assert case.consent is not None
    replacement = case.consent.model_copy(
        update={
            "consent_id": uuid.uuid4(),
            "scopes": (ConsentScope.REFERRAL,),
            "recorded_at": later,
        }
    )
    async with uow() as tx:
        await tx.cases.add_needs(case.case_id, [extra], added_by="caseworker:cw", first=1)
        await tx.cases.replace_consent(case.case_id, replacement)
        await tx.cases.update_consent_scopes(replacement.withdraw((ConsentScope.REFERRAL,)))
        await tx.commit()
    async with uow() as tx:
        after = await tx.cases.get(case.case_id)
    assert after is not None
    assert [n.need_id for n in after.case.needs] == [case.needs[0].need_id, extra.need_id]
    assert after.case.needs[1] == extra
    assert after.case.consent is not None
    assert after.case.consent.consent_id == replacement.consent_id
    assert after.case.consent.scopes == ()
    assert after.case.consent.withdrawn_scopes == (ConsentScope.REFERRAL,)


async def test_pages_are_newest_first_filtered_and_without_personal_data(uow: Factory) -> None:
    cases = [
        await stored(uow, new_case(T0 + timedelta(minutes=i), needs=(NeedCategory.SHELTER,)))
        for i in range(3)
    ]
    await stored(uow, new_case(T0 + timedelta(minutes=9), vulnerabilities=(), needs=()))
    where = CaseFilter(
        status=CaseStatus.OPEN,
        need=NeedCategory.SHELTER,
        vulnerability=Vulnerability.TRAFFICKING_VICTIM,
        registered_from=T0,
        registered_before=T0 + timedelta(hours=1),
    )
    async with uow() as tx:
        first = await tx.cases.page(where, None, 2)
        rest = await tx.cases.page(
            where, PageCursor(first[-1].case.registered_at, first[-1].case.case_id), 2
        )
    assert [s.case.case_id for s in first] == [cases[2].case_id, cases[1].case_id]
    assert [s.case.case_id for s in rest] == [cases[0].case_id]
    assert all(s.sealed is None for s in first + rest)


async def test_duplicates_share_a_digest_on_open_unerased_cases_oldest_first(
    uow: Factory,
) -> None:
    name = MatchKind.NAME_AND_DATE_OF_BIRTH.value
    phone = MatchKind.PHONE.value
    older = await stored(uow, new_case(T0), **{name: b"n" * 32})
    newer = await stored(uow, new_case(T0 + timedelta(minutes=1)), **{phone: b"p" * 32})
    erased = await stored(uow, new_case(T0 + timedelta(minutes=2)), **{name: b"n" * 32})
    async with uow() as tx:
        await tx.cases.shred_personal_data(erased.case_id)
        loaded = await tx.cases.get(erased.case_id)
        assert loaded is not None
        assert loaded.sealed is None
        await tx.commit()
    probe = uuid.uuid4()
    async with uow() as tx:
        found = await tx.cases.possible_duplicates(
            {MatchKind.NAME_AND_DATE_OF_BIRTH: b"n" * 32, MatchKind.PHONE: b"p" * 32},
            excluding=probe,
        )
        itself = await tx.cases.possible_duplicates(
            {MatchKind.PHONE: b"p" * 32}, excluding=newer.case_id
        )
        nothing = await tx.cases.possible_duplicates({}, excluding=probe)
    assert found == [older.case_id, newer.case_id]
    assert itself == []
    assert nothing == []


async def test_key_rotation_queries(uow: Factory) -> None:
    a = await stored(uow, new_case(T0), "old")
    b = await stored(uow, new_case(T0), "old")
    await stored(uow, new_case(T0), "new")
    async with uow() as tx:
        assert await tx.cases.count_by_master_key() == {"old": 2, "new": 1}
        locked = await tx.cases.lock_cases_wrapped_by(["old"], 10)
        assert [case_id for case_id, _ in locked] == sorted([a.case_id, b.case_id])
        await tx.cases.store_personal_data(a.case_id, sealed("new"))
        await tx.commit()
    async with uow() as tx:
        assert await tx.cases.count_by_master_key() == {"old": 1, "new": 2}
        assert len(await tx.cases.lock_cases_wrapped_by(["old", "new"], 2)) == 2


async def test_idempotency_records_first_response_only(uow: Factory) -> None:
    body: dict[str, Any] = {"case_id": str(uuid.uuid4()), "needs": [1, 2]}
    async with uow() as tx:
        assert await tx.idempotency.get("op", "k") is None
        assert await tx.idempotency.put("op", "k", b"d" * 32, 201, body)
        await tx.commit()
    async with uow() as tx:
        assert not await tx.idempotency.put("op", "k", b"e" * 32, 201, {})
        again = await tx.idempotency.get("op", "k")
        assert await tx.idempotency.get("other", "k") is None
    assert again is not None
    assert (again.request_digest, again.status, again.body) == (b"d" * 32, 201, body)


async def test_grants_follow_set_and_revoke(uow: Factory) -> None:
    case_id, partner_id = uuid.uuid4(), uuid.uuid4()
    first, second, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    need_a, need_b = uuid.uuid4(), uuid.uuid4()
    async with uow() as tx:
        for referral, need, at, partner in [
            (second, need_b, T0 + timedelta(minutes=1), partner_id),
            (first, need_a, T0, partner_id),
            (other, need_a, T0, uuid.uuid4()),
        ]:
            await tx.grants.set_grant(
                referral_id=referral,
                case_id=case_id,
                need_id=need,
                partner_id=partner,
                active=True,
                event_type="org.mpa.referral.accepted.v1",
                at=at,
            )
        await tx.commit()
    async with uow() as tx:
        grants = await tx.grants.active_grants(case_id, partner_id)
        assert [(g.referral_id, g.need_id) for g in grants] == [(first, need_a), (second, need_b)]
        await tx.grants.revoke(first, event_type="org.mpa.referral.cancelled.v1", at=T0)
        await tx.grants.set_grant(
            referral_id=second,
            case_id=case_id,
            need_id=need_b,
            partner_id=partner_id,
            active=False,
            event_type="org.mpa.referral.completed.v1",
            at=T0 + timedelta(minutes=5),
        )
        await tx.grants.revoke(uuid.uuid4(), event_type="org.mpa.referral.cancelled.v1", at=T0)
        await tx.commit()
    async with uow() as tx:
        assert await tx.grants.active_grants(case_id, partner_id) == []


async def test_pages_keep_to_the_viewers_scope(uow: Factory) -> None:
    mine = await stored(uow, new_case(ownership=Ownership("caseworker:me", None, None, "ML")))
    team = await stored(
        uow, new_case(ownership=Ownership("caseworker:b", "ne-niamey-cm", "iom-ne", "NE"))
    )
    agency = await stored(
        uow, new_case(ownership=Ownership("caseworker:c", "ne-agadez-cm", "iom-ne", "NE"))
    )
    country = await stored(
        uow, new_case(ownership=Ownership("caseworker:d", "ne-zinder", "unhcr-ne", "NE"))
    )
    abroad = await stored(
        uow, new_case(ownership=Ownership("caseworker:e", "ml-gao-cm", "iom-ml", "ML"))
    )
    viewer = Viewer("caseworker:me", "ne-niamey-cm", "iom-ne", "NE")
    expected = {
        CaseScope.OWN: [mine],
        CaseScope.TEAM: [mine, team],
        CaseScope.AGENCY: [mine, team, agency],
        CaseScope.COUNTRY: [mine, team, agency, country],
        CaseScope.ALL: [mine, team, agency, country, abroad],
    }
    async with uow() as tx:
        for scope, cases in expected.items():
            found = await tx.cases.page(CaseFilter(scope=ScopeFilter(scope, viewer)), None, 10)
            assert {s.case.case_id for s in found} == {c.case_id for c in cases}, scope
        unitless = await tx.cases.page(
            CaseFilter(scope=ScopeFilter(CaseScope.TEAM, Viewer("caseworker:me"))), None, 10
        )
        assert [s.case.case_id for s in unitless] == [mine.case_id]
    async with uow() as tx:
        loaded = await tx.cases.get(abroad.case_id)
    assert loaded is not None
    assert loaded.case.ownership == abroad.ownership


# --- casework (issue 16) -----------------------------------------------------------------------


async def test_casework_records_round_trip_by_kind_and_case(uow: Factory) -> None:
    case = await stored(uow, new_case())
    other = await stored(uow, new_case())
    transfer = Transfer(
        record_id=uuid.uuid4(),
        case_id=case.case_id,
        created_at=T0,
        initiator=TransferInitiator.SENDER,
        requested_by="caseworker:cw-1",
        source=case.ownership,
        to_owner_id=None,
        to_team="ne-agadez-cm",
        to_agency=None,
        to_country="NE",
        sender_keeps_access=False,
    )
    later = FollowUp(
        record_id=uuid.uuid4(),
        case_id=case.case_id,
        created_at=T0 + timedelta(hours=1),
        follow_up_type=FollowUpType.PHONE_CALL,
        due_at=T0 + timedelta(days=1),
        scheduled_by="caseworker:cw-1",
    )
    earlier = later.model_copy(update={"record_id": uuid.uuid4(), "created_at": T0})
    elsewhere = later.model_copy(update={"record_id": uuid.uuid4(), "case_id": other.case_id})
    async with uow() as tx:
        for record in (transfer, later, earlier, elsewhere):
            await tx.casework.add(record)
        await tx.commit()
    async with uow() as tx:
        assert await tx.casework.get(Transfer, transfer.record_id) == transfer
        assert await tx.casework.get(FollowUp, transfer.record_id) is None  # another kind
        assert await tx.casework.of_case(FollowUp, case.case_id) == [earlier, later]
        assert len(await tx.casework.of_cases(FollowUp, [case.case_id, other.case_id])) == 3
        assert await tx.casework.of_cases(FollowUp, []) == []
        pending = await tx.casework.awaiting(Transfer, 10)
        assert pending == [(transfer, case.ownership)]
        transfer.accept("caseworker:cw-9", T0)
        await tx.casework.save(transfer)
        await tx.commit()
    async with uow() as tx:
        assert await tx.casework.awaiting(Transfer, 10) == []
        loaded = await tx.casework.get(Transfer, transfer.record_id)
        assert loaded is not None
        assert loaded.status is TransferState.ACCEPTED


async def test_casework_records_are_read_and_written_many_at_once(uow: Factory) -> None:
    case = await stored(uow, new_case())
    need_id = case.needs[0].need_id

    def progress(state: ReferralState, case_id: uuid.UUID = case.case_id) -> ReferralProgress:
        return ReferralProgress(
            record_id=uuid.uuid4(),
            case_id=case_id,
            created_at=T0,
            need_id=need_id,
            referral_state=state,
            updated_at=T0,
        )

    first, second = progress(ReferralState.REQUESTED), progress(ReferralState.ROUTED)
    stranger = progress(ReferralState.REQUESTED, case_id=uuid.uuid4())  # a case not held
    async with uow() as tx:
        assert await tx.casework.get_many(ReferralProgress, [first.record_id]) == {}
        written = await tx.casework.save_where_held([first, second, stranger])
        assert written == {first.record_id, second.record_id}
        assert await tx.casework.save_where_held([]) == set()
        await tx.commit()
    moved = first.moved_to(ReferralState.ACCEPTED, T0 + timedelta(hours=1))
    async with uow() as tx:
        found = await tx.casework.get_many(
            ReferralProgress,
            [first.record_id, second.record_id, stranger.record_id],
            for_update=True,
        )
        assert found == {first.record_id: first, second.record_id: second}
        assert await tx.casework.get_many(FollowUp, [first.record_id]) == {}  # another kind
        assert await tx.casework.save_where_held([moved]) == {first.record_id}
        await tx.commit()
    async with uow() as tx:
        assert await tx.casework.get(ReferralProgress, first.record_id) == moved
        assert await tx.casework.of_case(ReferralProgress, case.case_id) in (
            [moved, second],
            [second, moved],
        )


async def test_ownership_moves_and_shared_access_reaches_lists(uow: Factory) -> None:
    case = await stored(uow, new_case())
    moved = Ownership("caseworker:cw-9", "ne-agadez-cm", "iom-ne", "NE", ("operator:op-1",))
    async with uow() as tx:
        await tx.cases.set_ownership(case.case_id, moved)
        case.risk_level = RiskLevel.HIGH
        await tx.cases.update(case)
        await tx.commit()
    async with uow() as tx:
        loaded = await tx.cases.get(case.case_id)
        assert loaded is not None
        assert loaded.case.ownership == moved
        assert loaded.case.risk_level is RiskLevel.HIGH
        previous = Viewer("operator:op-1", "ne-other-team", None, "ML")
        found = await tx.cases.page(
            CaseFilter(scope=ScopeFilter(CaseScope.TEAM, previous)), None, 10
        )
        assert [s.case.case_id for s in found] == [case.case_id]
        stranger = Viewer("operator:op-2", "ne-other-team", None, "ML")
        assert not await tx.cases.page(
            CaseFilter(scope=ScopeFilter(CaseScope.TEAM, stranger)), None, 10
        )


async def test_timers_are_scheduled_and_cancelled_in_the_transaction(uow: Factory) -> None:
    subject = uuid.uuid4()
    async with uow() as tx:
        await tx.timers.schedule(kind="follow_up_overdue", subject_id=subject, due_at=T0)
        await tx.commit()
    async with uow() as tx:
        assert await tx.timers.cancel(kind="other", subject_id=subject) == 0
        assert await tx.timers.cancel(kind="follow_up_overdue", subject_id=subject) == 1
        await tx.commit()
    async with uow() as tx:
        assert await tx.timers.cancel(kind="follow_up_overdue", subject_id=subject) == 0


async def test_protection_records_round_trip_with_their_steps(uow: Factory) -> None:
    from mpa_contracts.vocabularies import (
        BestInterestsOption,
        DecidingOrganisationType,
        ExploitationType,
        IdentificationBasis,
        IdentificationStatus,
        MeansOfControl,
        ProtectionConcern,
        ReflectionExtensionReason,
    )
    from mpa_intake.domain.children import BestInterestsAssessment
    from mpa_intake.domain.identification import (
        Identification,
        ReflectionPeriod,
        ReflectionPolicy,
    )

    case = await stored(uow, new_case())
    identification = Identification(
        record_id=uuid.uuid4(),
        case_id=case.case_id,
        created_at=T0,
        noted_by="caseworker:cw-1",
        means_of_control=(MeansOfControl.DEBT_BONDAGE,),
        updated_at=T0,
    )
    identification.presume(
        decided_at=T0,
        by=DecidingOrganisationType.COMPETENT_AUTHORITY,
        basis=IdentificationBasis.INDICATORS_ASSESSMENT,
        exploitation_types=(ExploitationType.FORCED_LABOUR,),
        means_of_control=(),
        now=T0,
    )
    policy = ReflectionPolicy()
    period = ReflectionPeriod.begin(
        record_id=uuid.uuid4(),
        case_id=case.case_id,
        identification_id=identification.record_id,
        decided_at=T0,
        country="NE",
        requested_days=None,
        non_removal=True,
        policy=policy,
        now=T0,
    )
    period.extend(
        days=10,
        reason=ReflectionExtensionReason.SAFETY,
        non_removal=None,
        actor_id="caseworker:cw-1",
        policy=policy,
        now=T0,
    )
    assessment = BestInterestsAssessment(
        record_id=uuid.uuid4(),
        case_id=case.case_id,
        created_at=T0,
        assessed_at=T0,
        assessor_id="caseworker:cw-1",
        risks=(ProtectionConcern.FAMILY_SEPARATION,),
        recommendation=BestInterestsOption.ALTERNATIVE_CARE,
    )
    async with uow() as tx:
        await tx.casework.save(identification)
        await tx.casework.add(period)
        await tx.casework.add(assessment)
        await tx.commit()
    async with uow() as tx:
        assert await tx.casework.get(Identification, identification.record_id) == identification
        loaded = await tx.casework.get(ReflectionPeriod, period.record_id, for_update=True)
        assert loaded == period
        assert loaded is not None
        assert loaded.ends_at == T0 + timedelta(days=40)
        assert await tx.casework.of_case(BestInterestsAssessment, case.case_id) == [assessment]
        assert loaded.remind(T0)
        await tx.casework.save(loaded)
        await tx.commit()
    async with uow() as tx:
        found = await tx.casework.of_cases(Identification, [case.case_id])
        assert [i.status for i in found] == [IdentificationStatus.PRESUMED]
        again = await tx.casework.get(ReflectionPeriod, period.record_id)
        assert again is not None
        assert again.reminded_at == T0


# --- PSEA complaints (issue 17) ---------------------------------------------------------------


def new_complaint(at: datetime = T0, country: str | None = "NE") -> PseaComplaint:
    return PseaComplaint(
        complaint_id=uuid.uuid4(),
        received_at=at,
        received_by="caseworker:cw-1",
        allegation_type=PseaAllegationType.SEXUAL_EXPLOITATION,
        implicated_partner_id=uuid.uuid4(),
        survivor_case_id=None,
        assistance_consent=True,
        identity_consent=False,
        assistance_due_at=at + timedelta(hours=24),
        allegation_referral_due_at=at + timedelta(hours=24),
        incident_date=date(2026, 2, 27),
        country=country,
    )


async def test_a_complaint_round_trips_with_its_steps_and_sealed_record(uow: Factory) -> None:
    complaint = new_complaint()
    seal = sealed()
    async with uow() as tx:
        await tx.psea.add(complaint, seal)
        await tx.commit()
    async with uow() as tx:
        loaded = await tx.psea.get(complaint.complaint_id, for_update=True)
        assert loaded is not None
        assert loaded.complaint == complaint
        assert loaded.sealed == seal
        step = loaded.complaint
        need_id = uuid.uuid4()
        assert step.decide_assistance(
            PseaAssistanceDecision.REFERRED, T0, survivor_case_id=uuid.uuid4(), need_id=need_id
        )
        step.miss(PseaStep.ALLEGATION_REFERRAL, T0 + timedelta(days=2))
        await tx.psea.save(step)
        await tx.commit()
    async with uow() as tx:
        again = await tx.psea.get(complaint.complaint_id)
        assert again is not None
        assert again.complaint == step
        assert again.complaint.missed_steps == {PseaStep.ALLEGATION_REFERRAL}
        assert again.complaint.assistance_need_id == need_id
        assert again.sealed == seal  # saving the record leaves the sealed part alone
        assert await tx.psea.get(uuid.uuid4()) is None


async def test_an_uncommitted_complaint_is_not_kept(uow: Factory) -> None:
    complaint = new_complaint()
    async with uow() as tx:
        await tx.psea.add(complaint, sealed())
    async with uow() as tx:
        assert await tx.psea.get(complaint.complaint_id) is None
        assert await tx.psea.recent(10) == []


async def test_recent_complaints_are_newest_first_and_by_country_office(uow: Factory) -> None:
    niger = [new_complaint(T0 + timedelta(hours=h)) for h in range(3)]
    mali = new_complaint(T0 + timedelta(hours=5), country="ML")
    before = new_complaint(T0 - timedelta(days=1), country=None)  # recorded before offices
    async with uow() as tx:
        for complaint in (*niger, mali, before):
            await tx.psea.add(complaint, sealed())
        await tx.commit()
    async with uow() as tx:
        everyone = [c.complaint_id for c in await tx.psea.recent(10)]
        assert everyone == [mali.complaint_id, *(c.complaint_id for c in reversed(niger)),
                            before.complaint_id]  # fmt: skip
        assert [c.complaint_id for c in await tx.psea.recent(2)] == everyone[:2]
        ne = await tx.psea.recent(10, country="NE")
        assert [c.complaint_id for c in ne] == [c.complaint_id for c in reversed(niger)]
        assert [c.complaint_id for c in await tx.psea.recent(10, country="ML")] == [
            mali.complaint_id
        ]
        assert await tx.psea.recent(10, country="BF") == []
        # The column and the record say the same office.
        assert {c.country for c in ne} == {"NE"}


async def test_complaint_key_rotation_queries(uow: Factory) -> None:
    old = [new_complaint() for _ in range(3)]
    current = new_complaint()
    async with uow() as tx:
        for complaint in old:
            await tx.psea.add(complaint, sealed("k-old"))
        await tx.psea.add(current, sealed("k-new"))
        await tx.commit()
    async with uow() as tx:
        assert await tx.psea.count_by_master_key() == {"k-old": 3, "k-new": 1}
        locked = await tx.psea.lock_wrapped_by(["k-old"], 2)
        assert [complaint_id for complaint_id, _ in locked] == sorted(c.complaint_id for c in old)[
            :2
        ]
        rewrapped = SealedPersonalData("k-new", b"\x01rewrapped", locked[0][1].ciphertext)
        await tx.psea.store_sealed(locked[0][0], rewrapped)
        await tx.commit()
    async with uow() as tx:
        assert await tx.psea.count_by_master_key() == {"k-old": 2, "k-new": 2}
        moved = await tx.psea.get(locked[0][0])
        assert moved is not None
        assert moved.sealed == rewrapped
        assert len(await tx.psea.lock_wrapped_by(["k-old"], 10)) == 2


async def test_a_case_is_added_with_its_first_response_unless_the_key_is_taken(
    uow: Factory,
) -> None:
    first, twin = new_case(), new_case()
    body: dict[str, Any] = {"case_id": str(first.case_id), "reference": ""}
    async with uow() as tx:
        recorded = KeyedResponse("op", "form-1", b"d" * 32, 201, body)
        assert await tx.cases.add(first, sealed(), first_response=recorded)
        await tx.commit()
    async with uow() as tx:
        taken = KeyedResponse("op", "form-1", b"e" * 32, 201, {})
        assert not await tx.cases.add(twin, sealed(), first_response=taken)
        stored = await tx.idempotency.get("op", "form-1")
    assert stored is not None
    assert (stored.request_digest, stored.status, stored.body) == (b"d" * 32, 201, body)
    async with uow() as tx:
        assert await tx.cases.get(first.case_id) is not None
        assert await tx.cases.get(twin.case_id) is None  # the caller rolled it back
        assert await tx.cases.add(twin, sealed(), first_response=replace(taken, key="form-2"))
