"""The casework use cases (issue 16) on the in-memory unit of work: transfers, assessments,
the case plan, follow-ups and their overdue timer, approvals, closure, reopening, the
casework view and the report — what each commits and emits, and what it refuses."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from mpa_common.timers import Timer
from mpa_contracts.events.access import PersonalDataAccessedV1
from mpa_contracts.events.case import CaseClosedV1
from mpa_contracts.events.casework import (
    CaseApprovalDecidedV1,
    CaseAssessedV1,
    CaseReopenedV1,
    CaseTransferAcceptedV1,
    CaseTransferRequestedV1,
    FollowUpDoneV1,
    FollowUpOverdueV1,
)
from mpa_contracts.vocabularies import (
    ActorRole,
    ApprovalState,
    ApprovalSubject,
    CaseClosureReason,
    ErasureBasis,
    FollowUpOutcome,
    FollowUpType,
    PersonalDataField,
    ReferralState,
    RiskLevel,
    TransferInitiator,
    TransferState,
)
from mpa_intake.app import cases, casework, reads
from mpa_intake.app.casework_commands import (
    DecideApproval,
    PlanIntervention,
    RecordAssessment,
    RecordFollowUpDone,
    ReopenCase,
    RequestApproval,
    RequestTransfer,
    ScheduleFollowUp,
    TransferStep,
)
from mpa_intake.app.commands import CloseCase, RegisterCase
from mpa_intake.app.context import Actor, CaseworkPolicy
from mpa_intake.domain.case import CaseStatus
from mpa_intake.domain.errors import AccessDenied, CaseConflict, InvalidCase, OutsideScope
from mpa_intake.testing import FakeIntake, FakeIntakeUnitOfWork, fake_intake

NIAMEY = {"team": "ne-niamey-cm", "agency": "iom-ne", "country": "NE"}
AGADEZ = {"team": "ne-agadez-cm", "agency": "iom-ne", "country": "NE"}
CASEWORKER = Actor(subject="cw-1", actor_id="caseworker:cw-1", role=ActorRole.CASEWORKER, **NIAMEY)
ADMIN = Actor(subject="dpo-1", actor_id="admin:dpo-1", role=ActorRole.ADMIN)
COLLEAGUE = Actor(subject="cw-2", actor_id="caseworker:cw-2", role=ActorRole.CASEWORKER, **NIAMEY)
SUPERVISOR = Actor(subject="sv-1", actor_id="supervisor:sv-1", role=ActorRole.SUPERVISOR, **NIAMEY)
RECEIVER = Actor(subject="cw-9", actor_id="caseworker:cw-9", role=ActorRole.CASEWORKER, **AGADEZ)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def register() -> RegisterCase:
    return RegisterCase.model_validate(
        {
            "person": {
                "given_name": "Aïcha",
                "family_name": "Exemple",
                "estimated_age": 30,
                "sex": "female",
                "languages": ["ha"],
            },
            "location": {"country": "NE", "admin_area": "NE-1"},
            "needs": [{"category": "shelter", "urgency": "high"}],
            "consent": {"given": False},
            "safety": {"do_not_contact": False, "safe_contact_method": "through_caseworker"},
        }
    )


@pytest.fixture
def intake() -> FakeIntake:
    return fake_intake(clock=lambda: NOW)


async def a_case(intake: FakeIntake) -> uuid.UUID:
    return (await cases.register_case(intake.context, CASEWORKER, register())).case_id


def events(intake: FakeIntake, kind: type) -> list:  # type: ignore[type-arg]
    return [e.data for e in intake.memory.events_of(kind)]


async def referral(intake: FakeIntake, case_id: uuid.UUID, state: ReferralState) -> uuid.UUID:
    referral_id = uuid.uuid4()
    need_id = intake.memory.cases[case_id].case.needs[0].need_id
    async with FakeIntakeUnitOfWork(intake.memory) as uow:
        assert await casework.learn_referral_state(
            uow, referral_id=referral_id, case_id=case_id, need_id=need_id, state=state, at=NOW
        )
        await uow.commit()
    return referral_id


# --- transfers -----------------------------------------------------------------------------


async def test_a_handover_accepted_by_the_receiving_team_moves_ownership_and_access(
    intake: FakeIntake,
) -> None:
    case_id = await a_case(intake)
    transfer = await casework.request_transfer(
        intake.context,
        CASEWORKER,
        case_id,
        RequestTransfer(to_team="ne-agadez-cm", note="Moves to Agadez"),
    )
    (requested,) = events(intake, CaseTransferRequestedV1)
    assert requested.to_team == "ne-agadez-cm"
    assert requested.from_owner_id == CASEWORKER.actor_id
    assert "Agadez" not in intake.memory.events[-1].model_dump_json()
    # The sender's side does not decide its own handover; the receiving team does.
    with pytest.raises(AccessDenied):
        await casework.accept_transfer(
            intake.context, COLLEAGUE, case_id, transfer.transfer_id, TransferStep()
        )
    inbox = await casework.pending_transfers(intake.context, RECEIVER)
    assert [t.transfer_id for t in inbox.items] == [transfer.transfer_id]
    accepted = await casework.accept_transfer(
        intake.context, RECEIVER, case_id, transfer.transfer_id, TransferStep()
    )
    assert accepted.state is TransferState.ACCEPTED
    owner = intake.memory.cases[case_id].case.ownership
    assert (owner.owner_id, owner.team, owner.shared_with) == (
        RECEIVER.actor_id,
        "ne-agadez-cm",
        (),
    )
    (moved,) = events(intake, CaseTransferAcceptedV1)
    assert moved.previous_owner_id == CASEWORKER.actor_id
    # The sender's team lost the case; the receiver reads it.
    with pytest.raises(OutsideScope):
        await reads.read_case(intake.context, CASEWORKER, case_id)
    await reads.read_case(intake.context, RECEIVER, case_id)
    assert not (await casework.pending_transfers(intake.context, RECEIVER)).items


async def test_the_sender_keeps_access_where_so_configured(intake: FakeIntake) -> None:
    intake = fake_intake(clock=lambda: NOW)
    context = replace(intake.context, casework=CaseworkPolicy(sender_keeps_access=True))
    case_id = (await cases.register_case(context, CASEWORKER, register())).case_id
    transfer = await casework.request_transfer(
        context, CASEWORKER, case_id, RequestTransfer(to_owner_id=RECEIVER.actor_id, **_agadez())
    )
    await casework.accept_transfer(context, RECEIVER, case_id, transfer.transfer_id, TransferStep())
    assert intake.memory.cases[case_id].case.ownership.shared_with == (CASEWORKER.actor_id,)
    await reads.read_case(context, CASEWORKER, case_id)  # still within reach
    with pytest.raises(OutsideScope):  # the rest of the old team is not
        await reads.read_case(context, COLLEAGUE, case_id)


def _agadez() -> dict[str, str]:
    return {"to_team": "ne-agadez-cm", "to_agency": "iom-ne", "to_country": "NE"}


async def test_a_receiving_office_asks_and_the_owning_side_decides(intake: FakeIntake) -> None:
    case_id = await a_case(intake)
    asked = await casework.request_transfer(
        intake.context, RECEIVER, case_id, RequestTransfer(initiator=TransferInitiator.RECEIVER)
    )
    assert (asked.to_owner_id, asked.to_team) == (RECEIVER.actor_id, "ne-agadez-cm")
    with pytest.raises(CaseConflict):  # one transfer at a time
        await casework.request_transfer(
            intake.context, CASEWORKER, case_id, RequestTransfer(**_agadez())
        )
    with pytest.raises(AccessDenied):  # the asker does not decide
        await casework.accept_transfer(
            intake.context, RECEIVER, case_id, asked.transfer_id, TransferStep()
        )
    assert [
        t.transfer_id for t in (await casework.pending_transfers(intake.context, COLLEAGUE)).items
    ] == [asked.transfer_id]
    rejected = await casework.reject_transfer(
        intake.context, COLLEAGUE, case_id, asked.transfer_id, TransferStep(note="Not yet")
    )
    assert rejected.state is TransferState.REJECTED
    assert intake.memory.cases[case_id].case.ownership.owner_id == CASEWORKER.actor_id
    with pytest.raises(CaseConflict):
        await casework.revoke_transfer(
            intake.context, RECEIVER, case_id, asked.transfer_id, TransferStep()
        )


async def test_only_the_asking_side_revokes(intake: FakeIntake) -> None:
    case_id = await a_case(intake)
    transfer = await casework.request_transfer(
        intake.context, CASEWORKER, case_id, RequestTransfer(**_agadez())
    )
    with pytest.raises(AccessDenied):
        await casework.revoke_transfer(
            intake.context, RECEIVER, case_id, transfer.transfer_id, TransferStep()
        )
    revoked = await casework.revoke_transfer(
        intake.context, COLLEAGUE, case_id, transfer.transfer_id, TransferStep()
    )
    assert revoked.state is TransferState.REVOKED


def test_a_receiver_names_nobody_and_a_handover_names_someone() -> None:
    with pytest.raises(ValueError, match="a receiver asks for itself"):
        RequestTransfer(initiator=TransferInitiator.RECEIVER, to_team="x")
    with pytest.raises(ValueError, match="a handover names"):
        RequestTransfer(to_country="ML")


# --- assessments, plan ----------------------------------------------------------------------


async def test_the_latest_assessment_sets_the_case_risk_level(intake: FakeIntake) -> None:
    case_id = await a_case(intake)
    await casework.record_assessment(
        intake.context,
        CASEWORKER,
        case_id,
        RecordAssessment(assessed_at=NOW - timedelta(days=1), risk_level=RiskLevel.HIGH),
    )
    # An older assessment recorded later does not replace the latest risk level.
    await casework.record_assessment(
        intake.context,
        CASEWORKER,
        case_id,
        RecordAssessment(
            assessed_at=NOW - timedelta(days=5),
            risk_level=RiskLevel.LOW,
            protection_concerns=["family_separation"],
            note="Found at the bus station",
        ),
    )
    assert intake.memory.cases[case_id].case.risk_level is RiskLevel.HIGH
    first, second = events(intake, CaseAssessedV1)
    assert first.is_latest
    assert not second.is_latest
    assert second.case_risk_level is RiskLevel.HIGH
    assert "bus station" not in intake.memory.events[-1].model_dump_json()
    with pytest.raises(InvalidCase):
        await casework.record_assessment(
            intake.context,
            CASEWORKER,
            case_id,
            RecordAssessment(assessed_at=NOW + timedelta(days=1), risk_level=RiskLevel.LOW),
        )


async def test_an_intervention_must_address_a_need_of_the_case(intake: FakeIntake) -> None:
    case_id = await a_case(intake)
    need_id = intake.memory.cases[case_id].case.needs[0].need_id
    planned = await casework.plan_intervention(
        intake.context,
        CASEWORKER,
        case_id,
        PlanIntervention(need_id=need_id, target_at=NOW + timedelta(days=7)),
    )
    assert planned.responsible_id == CASEWORKER.actor_id
    with pytest.raises(InvalidCase):
        await casework.plan_intervention(
            intake.context,
            CASEWORKER,
            case_id,
            PlanIntervention(need_id=uuid.uuid4(), target_at=NOW),
        )


# --- follow-ups -----------------------------------------------------------------------------


async def _due(intake: FakeIntake) -> str:
    (timer,) = [t for t in intake.memory.timers if not t.fired]
    async with FakeIntakeUnitOfWork(intake.memory) as uow:
        outcome = await casework.on_follow_up_due(
            uow, Timer(timer.timer_id, timer.kind, timer.subject_id, timer.due_at, {}), NOW
        )
        await uow.commit()
    return outcome


async def test_an_overdue_follow_up_tells_the_owner_once(intake: FakeIntake) -> None:
    case_id = await a_case(intake)
    follow_up = await casework.schedule_follow_up(
        intake.context,
        CASEWORKER,
        case_id,
        ScheduleFollowUp(follow_up_type=FollowUpType.PHONE_CALL, due_at=NOW - timedelta(hours=1)),
    )
    (timer,) = intake.memory.timers
    assert (timer.kind, timer.subject_id) == (casework.FOLLOW_UP_TIMER, follow_up.follow_up_id)
    assert await _due(intake) == "overdue"
    (overdue,) = events(intake, FollowUpOverdueV1)
    assert overdue.owner_id == CASEWORKER.actor_id
    # Fired again (a replica racing, a retry): nothing more to tell.
    assert await _due(intake) == "done"
    assert len(events(intake, FollowUpOverdueV1)) == 1
    done = await casework.record_follow_up_done(
        intake.context,
        CASEWORKER,
        case_id,
        follow_up.follow_up_id,
        RecordFollowUpDone(outcome=FollowUpOutcome.REACHED),
    )
    assert done.state == "done"
    (event,) = events(intake, FollowUpDoneV1)
    assert event.was_overdue


async def test_a_follow_up_done_in_time_cancels_its_timer(intake: FakeIntake) -> None:
    case_id = await a_case(intake)
    follow_up = await casework.schedule_follow_up(
        intake.context,
        CASEWORKER,
        case_id,
        ScheduleFollowUp(follow_up_type=FollowUpType.HOME_VISIT, due_at=NOW + timedelta(days=2)),
    )
    await casework.record_follow_up_done(
        intake.context,
        CASEWORKER,
        case_id,
        follow_up.follow_up_id,
        RecordFollowUpDone(outcome=FollowUpOutcome.NOT_REACHED, note="Nobody home"),
    )
    (timer,) = intake.memory.timers
    assert (timer.fired, timer.outcome) == (True, "cancelled")
    with pytest.raises(CaseConflict):
        await casework.record_follow_up_done(
            intake.context,
            CASEWORKER,
            case_id,
            follow_up.follow_up_id,
            RecordFollowUpDone(outcome=FollowUpOutcome.REACHED),
        )


# --- approvals, closure, reopening ----------------------------------------------------------


async def test_closure_waits_for_referrals_or_a_supervisors_approval(intake: FakeIntake) -> None:
    case_id = await a_case(intake)
    await referral(intake, case_id, ReferralState.COMPLETED)
    await referral(intake, case_id, ReferralState.IN_PROGRESS)
    close = CloseCase(reason=CaseClosureReason.NEEDS_MET)
    with pytest.raises(CaseConflict):
        await cases.close_case(intake.context, CASEWORKER, case_id, close)
    asked = await casework.request_approval(
        intake.context,
        CASEWORKER,
        case_id,
        RequestApproval(subject=ApprovalSubject.CLOSURE, closure_reason="needs_met", note="Done"),
    )
    with pytest.raises(CaseConflict):  # not approved yet
        await cases.close_case(
            intake.context,
            CASEWORKER,
            case_id,
            close.model_copy(update={"approval_id": asked.approval_id}),
        )
    approve = DecideApproval(decision=ApprovalState.APPROVED, comment="Agreed")
    with pytest.raises(AccessDenied):  # a caseworker is no supervisor
        await casework.decide_approval(
            intake.context, COLLEAGUE, case_id, asked.approval_id, approve
        )
    self_asked = Actor(
        subject="sv-2", actor_id="supervisor:sv-2", role=ActorRole.SUPERVISOR, **NIAMEY
    )
    own = await casework.request_approval(
        intake.context, self_asked, case_id, RequestApproval(subject=ApprovalSubject.CASE_PLAN)
    )
    with pytest.raises(AccessDenied):  # nobody approves their own request
        await casework.decide_approval(
            intake.context, self_asked, case_id, own.approval_id, approve
        )
    decided = await casework.decide_approval(
        intake.context, SUPERVISOR, case_id, asked.approval_id, approve
    )
    assert decided.state is ApprovalState.APPROVED
    (event,) = events(intake, CaseApprovalDecidedV1)
    assert event.requested_by == CASEWORKER.actor_id
    assert "Agreed" not in str(event)
    summary = await cases.close_case(
        intake.context,
        CASEWORKER,
        case_id,
        close.model_copy(update={"approval_id": asked.approval_id}),
    )
    assert summary.status is CaseStatus.CLOSED
    (closed,) = events(intake, CaseClosedV1)
    assert closed.approval_id == asked.approval_id
    reopened = await casework.reopen_case(
        intake.context, CASEWORKER, case_id, ReopenCase(reason="new_need")
    )
    assert reopened.status is CaseStatus.OPEN
    (event,) = events(intake, CaseReopenedV1)
    with pytest.raises(CaseConflict):  # an approval closes a case once
        await cases.close_case(
            intake.context,
            CASEWORKER,
            case_id,
            close.model_copy(update={"approval_id": asked.approval_id}),
        )


async def test_a_case_whose_referrals_are_all_finished_closes_without_approval(
    intake: FakeIntake,
) -> None:
    case_id = await a_case(intake)
    await referral(intake, case_id, ReferralState.COMPLETED)
    await referral(intake, case_id, ReferralState.UNROUTABLE)
    close = CloseCase(reason=CaseClosureReason.NEEDS_MET)
    assert (
        await cases.close_case(intake.context, CASEWORKER, case_id, close)
    ).status is CaseStatus.CLOSED


# --- reads ----------------------------------------------------------------------------------


async def test_the_casework_view_announces_its_notes_and_erasure_removes_them(
    intake: FakeIntake,
) -> None:
    case_id = await a_case(intake)
    view = await casework.read_casework(intake.context, SUPERVISOR, case_id)
    assert not intake.memory.events_of(PersonalDataAccessedV1)  # nothing personal shown
    await casework.record_assessment(
        intake.context,
        CASEWORKER,
        case_id,
        RecordAssessment(assessed_at=NOW, risk_level=RiskLevel.CRITICAL, note="Threatened"),
    )
    view = await casework.read_casework(intake.context, SUPERVISOR, case_id)
    assert view.assessments[0].note == "Threatened"
    assert view.risk_level is RiskLevel.CRITICAL
    (access,) = events(intake, PersonalDataAccessedV1)
    assert access.fields == (PersonalDataField.CASEWORK_NOTE,)
    with pytest.raises(OutsideScope):
        await casework.read_casework(intake.context, RECEIVER, case_id)
    erased = await cases.erase_personal_data(
        intake.context, ADMIN, case_id, ErasureBasis.DATA_SUBJECT_REQUEST
    )
    assert PersonalDataField.CASEWORK_NOTE in erased.erased_fields
    view = await casework.read_casework(intake.context, SUPERVISOR, case_id)
    assert view.assessments[0].note is None


async def test_the_report_counts_within_the_viewers_scope(intake: FakeIntake) -> None:
    case_id = await a_case(intake)
    await referral(intake, case_id, ReferralState.COMPLETED)
    other = (await cases.register_case(intake.context, RECEIVER, register())).case_id
    await referral(intake, other, ReferralState.FAILED)
    follow_up = await casework.schedule_follow_up(
        intake.context,
        CASEWORKER,
        case_id,
        ScheduleFollowUp(follow_up_type=FollowUpType.PHONE_CALL, due_at=NOW - timedelta(hours=2)),
    )
    await casework.schedule_follow_up(
        intake.context,
        CASEWORKER,
        case_id,
        ScheduleFollowUp(follow_up_type=FollowUpType.PHONE_CALL, due_at=NOW - timedelta(hours=1)),
    )
    await casework.record_follow_up_done(
        intake.context,
        CASEWORKER,
        case_id,
        follow_up.follow_up_id,
        RecordFollowUpDone(outcome=FollowUpOutcome.REACHED),
    )
    team = await casework.casework_report(intake.context, COLLEAGUE, None, None)
    assert team.cases == 1  # a caseworker's scope is the team: not Agadez's case
    assert (team.referrals_finished, team.referrals_completed, team.completion_rate) == (1, 1, 1.0)
    assert team.time_to_first_contact.count == 1
    assert team.overdue_follow_ups == 1
    assert [(r.owner_id, r.open_cases) for r in team.caseload_by_caseworker] == [
        (CASEWORKER.actor_id, 1)
    ]
    country = await casework.casework_report(intake.context, SUPERVISOR, None, None)
    assert country.cases == 2
    assert country.completion_rate == 0.5
    assert {r.team for r in country.caseload_by_team} == {"ne-niamey-cm", "ne-agadez-cm"}


async def test_a_supervisors_inbox_holds_the_requests_of_others_within_scope(
    intake: FakeIntake,
) -> None:
    case_id = await a_case(intake)
    asked = await casework.request_approval(
        intake.context, CASEWORKER, case_id, RequestApproval(subject=ApprovalSubject.CASE_PLAN)
    )
    inbox = await casework.pending_approvals(intake.context, SUPERVISOR)
    assert [a.approval_id for a in inbox.items] == [asked.approval_id]
    elsewhere = Actor(
        subject="sv-9", actor_id="supervisor:sv-9", role=ActorRole.SUPERVISOR, **AGADEZ
    )
    assert not (await casework.pending_approvals(intake.context, elsewhere)).items
    assert not (await casework.pending_approvals(intake.context, COLLEAGUE)).items
    await casework.decide_approval(
        intake.context,
        SUPERVISOR,
        case_id,
        asked.approval_id,
        DecideApproval(decision=ApprovalState.REJECTED),
    )
    assert not (await casework.pending_approvals(intake.context, SUPERVISOR)).items
