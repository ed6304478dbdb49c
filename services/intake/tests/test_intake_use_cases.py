"""Every intake use case on the in-memory unit of work and repositories (milliseconds each):
what it commits, what it emits, what it refuses — and that a refusal writes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mpa_common.failures import DependencyUnavailable, is_transient
from mpa_common.messaging.subscriptions import Delivery, RecordOrigin
from mpa_contracts.envelope import new_envelope
from mpa_contracts.events.access import BreakGlassAccessV1, PersonalDataAccessedV1
from mpa_contracts.events.case import (
    CaseClosedV1,
    CaseNeedsAddedV1,
    CasePersonalDataErasedV1,
    CaseRegisteredV1,
    CaseUpdatedV1,
    ConsentRecordedV1,
    ConsentWithdrawnV1,
)
from mpa_contracts.events.referral import (
    ReferralAcceptedV1,
    ReferralCancelledV1,
    ReferralCompletedV1,
    ReferralDeclinedV1,
    ReferralFailedV1,
    ReferralOnHoldV1,
    ReferralRequestedV1,
    ReferralReroutedV1,
    ReferralResumedV1,
    ReferralRoutedV1,
    ReferralSlaBreachedV1,
    ReferralStartedV1,
)
from mpa_contracts.examples import example_event
from mpa_contracts.vocabularies import (
    AccessPurpose,
    ActorRole,
    BreakGlassReason,
    CaseClosureReason,
    CaseScope,
    ErasureBasis,
    PersonalDataField,
    ReferralState,
)
from mpa_intake import handlers
from mpa_intake.app import cases, keys, reads
from mpa_intake.app.commands import (
    AddNeeds,
    CloseCase,
    RecordConsent,
    RegisterCase,
    UpdateCase,
    WithdrawConsent,
)
from mpa_intake.app.context import Actor, ScopePolicy
from mpa_intake.app.ports import CaseFilter
from mpa_intake.domain.case import CaseStatus
from mpa_intake.domain.casework import ReferralProgress
from mpa_intake.domain.errors import (
    AccessDenied,
    CaseConflict,
    CaseNotFound,
    IdempotencyConflict,
    InvalidCase,
    OutsideScope,
    PersonalDataErased,
)
from mpa_intake.testing import FakeIntake, FakeIntakeUnitOfWork, fake_intake, vault_for_tests

NIAMEY = {"team": "ne-niamey-cm", "agency": "iom-ne", "country": "NE"}
OPERATOR = Actor(subject="op-1", actor_id="operator:op-1", role=ActorRole.OPERATOR, **NIAMEY)
CASEWORKER = Actor(subject="cw-1", actor_id="caseworker:cw-1", role=ActorRole.CASEWORKER, **NIAMEY)
ADMIN = Actor(subject="dpo-1", actor_id="admin:dpo-1", role=ActorRole.ADMIN)
AUDITOR = Actor(subject="au-1", actor_id="auditor:au-1", role=ActorRole.AUDITOR)


def partner(partner_id: uuid.UUID) -> Actor:
    # The fake referral service reads the partner from its "token": the partner's id.
    return Actor(
        subject="p-1",
        actor_id="partner:p-1",
        role=ActorRole.PARTNER,
        partner_id=partner_id,
        credentials=str(partner_id),
    )


def body(given_name: str = "Aïcha", **changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "person": {
            "given_name": given_name,
            "family_name": "Exemple",
            "date_of_birth": "1994-05-06",
            "sex": "female",
            "languages": ["ha"],
            "phone": "+227 90 00 00 01",
            "email": "a.exemple@example.org",
        },
        "location": {"country": "NE", "admin_area": "NE-1", "place": "Transit centre"},
        "vulnerabilities": ["trafficking_victim"],
        "needs": [
            {"category": "shelter", "urgency": "critical", "note": "A bed tonight"},
            {"category": "legal_aid", "urgency": "medium", "note": "Papers expired"},
        ],
        "consent": {
            "given": True,
            "details": {
                "scopes": ["referral", "data_sharing"],
                "given_by": "self",
                "method": "verbal",
                "obtained_at": "2026-01-05T10:00:00Z",
            },
        },
        "safety": {
            "do_not_contact": False,
            "safe_contact_method": "sms",
            "safe_contact_details": "Texts after 18:00",
        },
    }
    value.update(changes)
    return value


def register(**changes: Any) -> RegisterCase:
    return RegisterCase.model_validate(body(**changes))


@pytest.fixture
def intake() -> FakeIntake:
    return fake_intake()


async def registered(intake: FakeIntake, **changes: Any) -> uuid.UUID:
    return (await cases.register_case(intake.context, OPERATOR, register(**changes))).case_id


# --- register_case ------------------------------------------------------------------------------


async def test_registration_commits_case_reference_and_event_in_one_unit_of_work(
    intake: FakeIntake,
) -> None:
    result = await cases.register_case(intake.context, OPERATOR, register())
    assert intake.memory.commits == 1
    year = datetime.now(UTC).year
    assert result.reference == f"MPA-{year}-000001"
    (event,) = intake.memory.events
    assert isinstance(event.data, CaseRegisteredV1)
    assert event.data.case_reference == result.reference
    # The registration starts the case's story: later events carry its id.
    assert event.correlation_id == event.id
    stored = intake.memory.cases[result.case_id]
    assert stored.case.correlation_id == event.id
    assert stored.case.reference == result.reference
    assert stored.sealed is not None
    assert b"Exemple" not in stored.sealed.ciphertext
    assert "Exemple" not in event.model_dump_json()
    second = await cases.register_case(intake.context, OPERATOR, register(given_name="Binta"))
    assert second.reference == f"MPA-{year}-000002"


async def test_a_repeat_with_the_same_key_replays_and_another_body_conflicts(
    intake: FakeIntake,
) -> None:
    first = await cases.register_case(intake.context, OPERATOR, register(), "form-1")
    again = await cases.register_case(intake.context, OPERATOR, register(), "form-1")
    assert again == first
    assert len(intake.memory.events) == 1
    with pytest.raises(IdempotencyConflict):
        await cases.register_case(intake.context, OPERATOR, register(given_name="B"), "form-1")
    other = await cases.register_case(intake.context, CASEWORKER, register(), "form-1")
    assert other.case_id != first.case_id  # keys belong to their caller


async def test_a_lost_idempotency_race_rolls_back_and_gives_the_twin_answer(
    intake: FakeIntake,
) -> None:
    """A twin commits between our check and our record: ours rolls back (its reference
    number too: no gap) and answers the twin's result."""
    twin = await cases.register_case(intake.context, OPERATOR, register(), "race")
    saved = intake.memory.responses.pop(("op-1", "race"))

    real_init = FakeIntakeUnitOfWork.__init__

    def reinstating(self: FakeIntakeUnitOfWork, memory: Any) -> None:
        real_init(self, memory)
        original = self.idempotency.put

        async def put(*args: Any) -> bool:
            # The twin commits just now: in the committed state, not in our transaction's.
            memory.responses[("op-1", "race")] = saved
            assert self._snapshot is not None
            self._snapshot.responses[("op-1", "race")] = saved
            return await original(*args)

        self.idempotency.put = put  # type: ignore[method-assign]

    counters = dict(intake.memory.counters)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FakeIntakeUnitOfWork, "__init__", reinstating)
        answer = await cases.register_case(intake.context, OPERATOR, register(), "race")
    assert answer == twin
    assert intake.memory.counters == counters  # the number went back
    assert len(intake.memory.cases) == 1
    assert len(intake.memory.events) == 1


async def test_invalid_registrations_write_nothing(intake: FakeIntake) -> None:
    child = body(vulnerabilities=["unaccompanied_child"])
    child["person"]["date_of_birth"] = "2015-01-01"
    with pytest.raises(InvalidCase) as refused:
        await cases.register_case(
            intake.context, OPERATOR, RegisterCase.model_validate(child), "bad"
        )
    assert [e.field for e in refused.value.errors] == ["body.consent.details.given_by"]
    assert intake.memory.cases == {}
    assert intake.memory.events == []
    assert intake.memory.responses == {}
    assert intake.memory.counters == {}


async def test_possible_duplicates_are_reported(intake: FakeIntake) -> None:
    first = await registered(intake)
    again = await cases.register_case(intake.context, OPERATOR, register())
    assert again.possible_duplicates == [first]
    stranger = body(given_name="Zeinab")
    stranger["person"]["phone"] = "+227 90 99 99 99"
    other = await cases.register_case(
        intake.context, OPERATOR, RegisterCase.model_validate(stranger)
    )
    assert other.possible_duplicates == []


# --- update, needs, consent, close, erase ------------------------------------------------------


async def test_update_changes_profile_person_and_match_keys(intake: FakeIntake) -> None:
    case_id = await registered(intake)
    command = UpdateCase.model_validate(
        {"person": {"estimated_age": 17}, "location": {"country": "NE", "admin_area": "NE-8"}}
    )
    summary = await cases.update_case(intake.context, CASEWORKER, case_id, command)
    assert summary.age_band == "9-17"
    assert summary.admin_area == "NE-8"
    event = intake.memory.events_of(CaseUpdatedV1)[0]
    assert event.correlation_id == intake.memory.cases[case_id].case.correlation_id
    detail = await reads.read_case(intake.context, CASEWORKER, case_id)
    assert detail.person.date_of_birth is None
    assert detail.person.estimated_age == 17
    assert detail.location.place is None
    with pytest.raises(CaseNotFound):
        await cases.update_case(intake.context, CASEWORKER, uuid.uuid4(), command)


async def test_adding_needs_seals_their_notes(intake: FakeIntake) -> None:
    case_id = await registered(intake)
    added = await cases.add_needs(
        intake.context,
        CASEWORKER,
        case_id,
        AddNeeds.model_validate(
            {"needs": [{"category": "mhpss", "urgency": "high", "note": "Nightmares"}]}
        ),
    )
    (need_id,) = added.need_ids
    assert [n.need_id for n in intake.memory.cases[case_id].case.needs][-1] == need_id
    (event,) = intake.memory.events_of(CaseNeedsAddedV1)
    assert "Nightmares" not in event.model_dump_json()
    detail = await reads.read_case(intake.context, CASEWORKER, case_id)
    assert detail.needs[-1].note == "Nightmares"


async def test_consent_is_recorded_then_withdrawn(intake: FakeIntake) -> None:
    case_id = await registered(intake, consent={"given": False})
    obtained = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    record = RecordConsent.model_validate(
        {
            "action": "record",
            "consent": {
                "scopes": ["referral", "data_sharing"],
                "given_by": "self",
                "method": "written",
                "obtained_at": obtained,
            },
        }
    )
    state = await cases.change_consent(intake.context, CASEWORKER, case_id, record)
    assert state.consent is not None
    assert state.consent.obtained_by == "caseworker:cw-1"
    withdraw = WithdrawConsent.model_validate({"action": "withdraw", "scopes": ["referral"]})
    state = await cases.change_consent(intake.context, CASEWORKER, case_id, withdraw)
    assert state.consent is not None
    assert state.consent.scopes == ["data_sharing"]
    (recorded,) = intake.memory.events_of(ConsentRecordedV1)
    (withdrawn,) = intake.memory.events_of(ConsentWithdrawnV1)
    assert isinstance(withdrawn.data, ConsentWithdrawnV1)
    assert isinstance(recorded.data, ConsentRecordedV1)
    assert withdrawn.data.consent_id == recorded.data.consent.consent_id
    with pytest.raises(CaseConflict):
        await cases.change_consent(intake.context, CASEWORKER, case_id, withdraw)
    future = record.model_copy(
        update={
            "consent": record.consent.model_copy(
                update={"obtained_at": datetime.now(UTC) + timedelta(days=1)}
            )
        }
    )
    events = len(intake.memory.events)
    with pytest.raises(InvalidCase):
        await cases.change_consent(intake.context, CASEWORKER, case_id, future)
    assert len(intake.memory.events) == events


async def test_closing_refuses_a_second_close_and_later_changes(intake: FakeIntake) -> None:
    case_id = await registered(intake)
    close = CloseCase(reason=CaseClosureReason.NEEDS_MET)
    summary = await cases.close_case(intake.context, CASEWORKER, case_id, close)
    assert summary.status is CaseStatus.CLOSED
    assert len(intake.memory.events_of(CaseClosedV1)) == 1
    with pytest.raises(CaseConflict):
        await cases.close_case(intake.context, CASEWORKER, case_id, close)
    with pytest.raises(CaseConflict):
        await cases.update_case(
            intake.context, CASEWORKER, case_id, UpdateCase.model_validate({"vulnerabilities": []})
        )
    assert len(intake.memory.events_of(CaseClosedV1)) == 1


async def test_erasure_shreds_and_later_reads_are_gone(intake: FakeIntake) -> None:
    case_id = await registered(intake)
    result = await cases.erase_personal_data(
        intake.context, ADMIN, case_id, ErasureBasis.DATA_SUBJECT_REQUEST
    )
    assert PersonalDataField.PERSON_GIVEN_NAME in result.erased_fields
    row = intake.memory.cases[case_id]
    assert row.sealed is None
    assert row.match_keys == {}
    assert row.case.is_erased
    (event,) = intake.memory.events_of(CasePersonalDataErasedV1)
    assert event.data.actor_id == "admin:dpo-1"  # type: ignore[attr-defined]
    with pytest.raises(PersonalDataErased):
        await reads.read_case(intake.context, OPERATOR, case_id)
    with pytest.raises(PersonalDataErased):
        await cases.erase_personal_data(
            intake.context, ADMIN, case_id, ErasureBasis.RETENTION_PERIOD_ENDED
        )


async def test_erasure_without_the_master_key_still_erases_every_field() -> None:
    old = fake_intake(vault=vault_for_tests("old"))
    case_id = await registered(old)
    rotated = fake_intake(vault=vault_for_tests("new"), memory=old.memory)
    result = await cases.erase_personal_data(
        rotated.context, ADMIN, case_id, ErasureBasis.DATA_SUBJECT_REQUEST
    )
    assert set(result.erased_fields) == set(PersonalDataField)


# --- reads ------------------------------------------------------------------------------------


async def test_a_full_read_is_announced_with_the_fields_and_purpose(intake: FakeIntake) -> None:
    case_id = await registered(intake)
    detail = await reads.read_case(
        intake.context, CASEWORKER, case_id, AccessPurpose.REFERRAL_FOLLOW_UP
    )
    assert detail.person.given_name == "Aïcha"
    (access,) = intake.memory.events_of(PersonalDataAccessedV1)
    assert isinstance(access.data, PersonalDataAccessedV1)
    assert access.data.purpose is AccessPurpose.REFERRAL_FOLLOW_UP
    assert set(access.data.fields) == set(detail.disclosed_fields)
    assert "Aïcha" not in access.model_dump_json()
    with pytest.raises(AccessDenied):
        await reads.read_case(intake.context, AUDITOR, case_id)
    with pytest.raises(CaseNotFound):
        await reads.read_case(intake.context, OPERATOR, uuid.uuid4())
    assert len(intake.memory.events_of(PersonalDataAccessedV1)) == 1


async def _accepted(intake: FakeIntake, case_id: uuid.UUID, partner_id: uuid.UUID) -> uuid.UUID:
    """A referral of the case's first need accepted by `partner_id`: the grant (from the
    event) and the referral service agree."""
    need_id = intake.memory.cases[case_id].case.needs[0].need_id
    referral_id = uuid.uuid4()
    accepted = ReferralAcceptedV1(
        actor_id="partner:p-1",
        actor_role=ActorRole.PARTNER,
        referral_id=referral_id,
        case_id=case_id,
        need_id=need_id,
        partner_id=partner_id,
        service_id=uuid.uuid4(),
        start_due_at=datetime.now(UTC) + timedelta(days=1),
    )
    async with FakeIntakeUnitOfWork(intake.memory) as uow:
        await handlers.on_referral_accepted(uow, accepted, _delivery(accepted))  # type: ignore[arg-type]
        await uow.commit()
    intake.referrals.set(
        referral_id,
        case_id=case_id,
        need_id=need_id,
        partner_id=partner_id,
        state=ReferralState.ACCEPTED,
    )
    return referral_id


def _delivery(data: Any) -> Delivery:
    envelope = new_envelope(data, source="urn:mpa:service:referral")
    return Delivery(envelope, RecordOrigin("mpa.referral.v1", 0, 0, 0))


async def test_a_partner_reads_only_what_its_live_referral_needs(intake: FakeIntake) -> None:
    case_id = await registered(intake)
    partner_id = uuid.uuid4()
    with pytest.raises(AccessDenied):
        await reads.read_case(intake.context, partner(partner_id), case_id)
    referral_id = await _accepted(intake, case_id, partner_id)
    detail = await reads.read_case(intake.context, partner(partner_id), case_id)
    assert [need.category for need in detail.needs] == ["shelter"]
    assert detail.person.email is None
    assert detail.consent is None
    access = intake.memory.events_of(PersonalDataAccessedV1)[-1]
    assert access.data.referral_id == referral_id  # type: ignore[attr-defined]
    assert access.data.actor_partner_id == partner_id  # type: ignore[attr-defined]
    with pytest.raises(AccessDenied):
        await reads.read_case(intake.context, partner(uuid.uuid4()), case_id)


async def test_one_lost_event_cannot_leave_a_partner_reading(intake: FakeIntake) -> None:
    """The referral was cancelled, but its event never reached intake: the grant says yes,
    the referral service says no — no access, and nothing announced."""
    case_id = await registered(intake)
    partner_id = uuid.uuid4()
    referral_id = await _accepted(intake, case_id, partner_id)
    status = intake.referrals.referrals[referral_id]
    intake.referrals.set(
        referral_id,
        case_id=case_id,
        need_id=status.need_id,
        partner_id=partner_id,
        state=ReferralState.CANCELLED,
    )
    with pytest.raises(AccessDenied):
        await reads.read_case(intake.context, partner(partner_id), case_id)
    assert intake.memory.events_of(PersonalDataAccessedV1) == []


async def test_a_referral_service_that_cannot_answer_means_unavailable(
    intake: FakeIntake,
) -> None:
    case_id = await registered(intake)
    partner_id = uuid.uuid4()
    await _accepted(intake, case_id, partner_id)
    intake.referrals.available = False
    with pytest.raises(DependencyUnavailable) as down:
        await reads.read_case(intake.context, partner(partner_id), case_id)
    assert is_transient(down.value)
    assert intake.memory.events_of(PersonalDataAccessedV1) == []
    # Operators do not need the referral service.
    await reads.read_case(intake.context, OPERATOR, case_id)


async def test_partners_read_neither_closed_cases_nor_against_consent(intake: FakeIntake) -> None:
    case_id = await registered(intake)
    partner_id = uuid.uuid4()
    await _accepted(intake, case_id, partner_id)
    withdraw = WithdrawConsent.model_validate({"action": "withdraw", "scopes": ["data_sharing"]})
    await cases.change_consent(intake.context, CASEWORKER, case_id, withdraw)
    with pytest.raises(AccessDenied):
        await reads.read_case(intake.context, partner(partner_id), case_id)

    other = await registered(intake, given_name="Binta")
    await _accepted(intake, other, partner_id)
    await reads.read_case(intake.context, partner(partner_id), other)
    await cases.close_case(
        intake.context, CASEWORKER, other, CloseCase(reason=CaseClosureReason.NEEDS_MET)
    )
    with pytest.raises(AccessDenied):
        await reads.read_case(intake.context, partner(partner_id), other)


async def test_lists_filter_and_page_newest_first(intake: FakeIntake) -> None:
    moments = iter(datetime(2026, 3, 2, 9, minute, tzinfo=UTC) for minute in range(10))
    timed = fake_intake(clock=lambda: next(moments))
    ids = [await registered(timed, given_name=f"P{i}") for i in range(3)]
    await registered(timed, given_name="Other", vulnerabilities=[])
    where = CaseFilter(status=CaseStatus.OPEN, vulnerability="trafficking_victim")  # type: ignore[arg-type]
    first = await reads.list_cases(timed.context, OPERATOR, where, None, 2)
    assert [item.case_id for item in first.items] == [ids[2], ids[1]]
    assert first.next_cursor is not None
    rest = await reads.list_cases(timed.context, OPERATOR, where, first.next_cursor, 2)
    assert [item.case_id for item in rest.items] == [ids[0]]
    assert rest.next_cursor is None
    with pytest.raises(InvalidCase):
        await reads.list_cases(timed.context, OPERATOR, where, "nonsense", 2)


# --- keys -------------------------------------------------------------------------------------


async def test_rewrap_moves_every_data_key_under_the_active_key() -> None:
    vault = vault_for_tests("old", "new", active="old")
    before = fake_intake(vault=vault)
    ids = [await registered(before, given_name=f"P{i}") for i in range(3)]
    keyring_new = type(vault.keyring)(vault.keyring._keys, "new")  # same keys, new active
    rotating = fake_intake(vault=type(vault)(keyring_new), memory=before.memory)
    report = await keys.rewrap_data_keys(rotating.context, batch_size=2)
    assert report.rewrapped == 3
    assert report.cases_by_master_key == {"new": 3}
    for case_id in ids:
        row = before.memory.cases[case_id]
        assert row.sealed is not None
        assert row.sealed.master_key_id == "new"
    assert (await keys.rewrap_data_keys(rotating.context)).rewrapped == 0


# --- handlers ---------------------------------------------------------------------------------


async def test_each_referral_event_sets_or_ends_the_partners_grant() -> None:
    memory = fake_intake().memory
    case_id, need_id, partner_id, referral_id = (uuid.uuid4() for _ in range(4))

    def of(event_class: type) -> Any:
        return example_event(event_class.event_type).model_copy(
            update={
                "case_id": case_id,
                "need_id": need_id,
                "partner_id": partner_id,
                "referral_id": referral_id,
                "previous_partner_id": partner_id,
            }
        )

    expected = [
        (ReferralAcceptedV1, True),
        (ReferralOnHoldV1, True),
        (ReferralResumedV1, True),
        (ReferralStartedV1, True),
        (ReferralCompletedV1, False),
        (ReferralAcceptedV1, True),
        (ReferralDeclinedV1, False),
        (ReferralAcceptedV1, True),
        (ReferralFailedV1, False),
        (ReferralAcceptedV1, True),
        (ReferralCancelledV1, False),
        (ReferralAcceptedV1, True),
        (ReferralReroutedV1, False),
    ]
    for event_class, active in expected:
        data = of(event_class)
        entry = handlers.REFERRAL_ACCESS.entry_for(event_class.event_type)
        assert entry is not None
        async with FakeIntakeUnitOfWork(memory) as uow:
            await entry.handler(uow, data, _delivery(data))
            await uow.commit()
        row = memory.grants[referral_id]
        assert row.active is active, event_class.__name__
        assert row.last_event_type == event_class.event_type
    assert handlers.REFERRAL_ACCESS.entry_for("org.mpa.referral.routed.v1") is None


async def test_referral_progress_follows_a_batch_of_events_in_order(intake: FakeIntake) -> None:
    """One batch: a referral requested, routed, accepted and started; another of the same
    case requested; a third of a case intake does not hold; an event that moves no state."""
    memory = intake.memory
    case_id = await registered(intake)
    need_id = memory.cases[case_id].case.needs[0].need_id
    first, second, stranger = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    times = iter(datetime(2026, 3, 2, 9, minute, tzinfo=UTC) for minute in range(60))

    def of(event_class: type, referral_id: uuid.UUID, case: uuid.UUID = case_id) -> Delivery:
        data = example_event(event_class.event_type).model_copy(
            update={"case_id": case, "need_id": need_id, "referral_id": referral_id}
        )
        delivery = _delivery(data)
        envelope = delivery.envelope.model_copy(update={"time": next(times)})
        return Delivery(envelope, delivery.origin)

    batch = [
        of(ReferralRequestedV1, first),
        of(ReferralRoutedV1, first),
        of(ReferralRequestedV1, second),
        of(ReferralAcceptedV1, first),
        of(ReferralRequestedV1, stranger, case=uuid.uuid4()),
        of(ReferralSlaBreachedV1, second),
        of(ReferralStartedV1, first),
    ]
    assert handlers.REFERRAL_PROGRESS.batch_handler is not None
    async with FakeIntakeUnitOfWork(memory) as uow:
        await handlers.REFERRAL_PROGRESS.batch_handler(uow, batch)
        await uow.commit()
    async with FakeIntakeUnitOfWork(memory) as uow:
        known = await uow.casework.get_many(ReferralProgress, [first, second, stranger])
    assert set(known) == {first, second}
    assert known[first].referral_state is ReferralState.IN_PROGRESS
    assert known[first].created_at == batch[0].envelope.time
    assert known[first].accepted_at == batch[3].envelope.time
    assert known[first].started_at == batch[6].envelope.time
    assert known[second].referral_state is ReferralState.REQUESTED
    # A later batch moves what the first wrote.
    async with FakeIntakeUnitOfWork(memory) as uow:
        await handlers.REFERRAL_PROGRESS.batch_handler(uow, [of(ReferralCompletedV1, first)])
        await uow.commit()
    async with FakeIntakeUnitOfWork(memory) as uow:
        done = await uow.casework.get(ReferralProgress, first)
    assert done is not None
    assert done.is_finished
    assert done.accepted_at == batch[3].envelope.time


# --- ownership and scopes ---------------------------------------------------------------------

GAO = {"team": "ml-gao-cm", "agency": "iom-ml", "country": "ML"}
MALI_OPERATOR = Actor(subject="op-ml", actor_id="operator:op-ml", role=ActorRole.OPERATOR, **GAO)
MALI_CASEWORKER = Actor(
    subject="cw-ml", actor_id="caseworker:cw-ml", role=ActorRole.CASEWORKER, **GAO
)


async def test_a_case_is_owned_by_its_registrar_in_their_team_agency_and_office(
    intake: FakeIntake,
) -> None:
    case_id = await registered(intake)
    ownership = intake.memory.cases[case_id].case.ownership
    assert (ownership.owner_id, ownership.team, ownership.agency, ownership.country) == (
        "operator:op-1",
        "ne-niamey-cm",
        "iom-ne",
        "NE",
    )
    unplaced = Actor(subject="op-x", actor_id="operator:op-x", role=ActorRole.OPERATOR)
    other = await cases.register_case(intake.context, unplaced, register(given_name="B"))
    assert intake.memory.cases[other.case_id].case.ownership.country == "NE"  # the case's


async def test_reads_outside_scope_need_a_break_glass_reason_and_are_announced(
    intake: FakeIntake,
) -> None:
    case_id = await registered(intake)  # Niamey's
    with pytest.raises(OutsideScope):
        await reads.read_case(intake.context, MALI_OPERATOR, case_id)
    assert intake.memory.events_of(PersonalDataAccessedV1) == []
    detail = await reads.read_case(
        intake.context, MALI_CASEWORKER, case_id, break_glass=BreakGlassReason.OWNER_UNAVAILABLE
    )
    assert detail.person.given_name == "Aïcha"
    (access,) = intake.memory.events_of(PersonalDataAccessedV1)
    (glass,) = intake.memory.events_of(BreakGlassAccessV1)
    assert isinstance(glass.data, BreakGlassAccessV1)
    assert glass.data.reason is BreakGlassReason.OWNER_UNAVAILABLE
    assert (glass.data.actor_scope, glass.data.actor_team) == (CaseScope.TEAM, "ml-gao-cm")
    assert (glass.data.owner_id, glass.data.owner_team) == ("operator:op-1", "ne-niamey-cm")
    assert glass.correlation_id == access.correlation_id
    # Within scope, a reason is not needed and breaks nothing.
    await reads.read_case(
        intake.context, CASEWORKER, case_id, break_glass=BreakGlassReason.LEGAL_OBLIGATION
    )
    assert len(intake.memory.events_of(BreakGlassAccessV1)) == 1


async def test_changes_outside_the_write_scope_are_refused_and_write_nothing(
    intake: FakeIntake,
) -> None:
    case_id = await registered(intake)
    events = len(intake.memory.events)
    with pytest.raises(OutsideScope):
        await cases.close_case(
            intake.context, MALI_CASEWORKER, case_id, CloseCase(reason=CaseClosureReason.OTHER)
        )
    with pytest.raises(OutsideScope):
        await cases.update_case(
            intake.context,
            MALI_CASEWORKER,
            case_id,
            UpdateCase.model_validate({"vulnerabilities": []}),
        )
    assert len(intake.memory.events) == events
    assert intake.memory.cases[case_id].case.status is CaseStatus.OPEN
    # A caseworker of the owning team may; the administrator (erasure) reaches every case.
    await cases.close_case(
        intake.context, CASEWORKER, case_id, CloseCase(reason=CaseClosureReason.NEEDS_MET)
    )
    await cases.erase_personal_data(
        intake.context, ADMIN, case_id, ErasureBasis.DATA_SUBJECT_REQUEST
    )


async def test_lists_keep_to_the_readers_scope_and_the_scopes_are_configurable() -> None:
    niamey = fake_intake()
    ne_case = await registered(niamey)
    ml_case = (
        await cases.register_case(niamey.context, MALI_OPERATOR, register(given_name="Fanta"))
    ).case_id
    everything = CaseFilter()

    async def listed(intake: FakeIntake, actor: Actor) -> set[uuid.UUID]:
        page = await reads.list_cases(intake.context, actor, everything, None, 50)
        return {item.case_id for item in page.items}

    assert await listed(niamey, OPERATOR) == {ne_case}  # operators: country
    assert await listed(niamey, MALI_CASEWORKER) == {ml_case}  # caseworkers: team
    assert await listed(niamey, AUDITOR) == {ne_case, ml_case}  # auditors: all (no data)
    own_only = fake_intake(
        memory=niamey.memory,
        scopes=ScopePolicy(read={ActorRole.OPERATOR: CaseScope.OWN}),
    )
    colleague = Actor(subject="op-2", actor_id="operator:op-2", role=ActorRole.OPERATOR, **NIAMEY)
    assert await listed(own_only, colleague) == set()
    assert await listed(own_only, OPERATOR) == {ne_case}
    assert await listed(own_only, AUDITOR) == set()  # a role named nowhere: its own only
