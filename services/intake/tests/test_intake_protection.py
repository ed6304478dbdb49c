"""The protection use cases (issue 17) on the in-memory unit of work: trafficking
identification and its appeal, the recovery and reflection period and its timers, a child's
assent, guardian, best-interests assessment and determination with a supervisor's approval,
and the protection view — what each commits and emits, and what it refuses."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from mpa_common.timers import Timer
from mpa_contracts.events.access import PersonalDataAccessedV1
from mpa_contracts.events.protection import (
    BestInterestsDeterminedV1,
    ChildAssentRecordedV1,
    ConclusiveGroundsDecidedV1,
    GuardianAppointedV1,
    IdentificationAppealDecidedV1,
    ReasonableGroundsDecidedV1,
    ReflectionPeriodEndedV1,
    ReflectionPeriodEndingV1,
    ReflectionPeriodExtendedV1,
    ReflectionPeriodStartedV1,
    TraffickingIndicatorsNotedV1,
)
from mpa_contracts.vocabularies import (
    ActorRole,
    ApprovalState,
    ApprovalSubject,
    IdentificationStatus,
)
from mpa_intake.app import cases, casework, children, identification
from mpa_intake.app.casework_commands import DecideApproval, RequestApproval
from mpa_intake.app.commands import RegisterCase
from mpa_intake.app.context import Actor
from mpa_intake.app.protection_commands import (
    AppointGuardian,
    AssessBestInterests,
    DecideAppeal,
    DecideConclusiveGrounds,
    DecideReasonableGrounds,
    DetermineBestInterests,
    ExtendReflectionPeriod,
    LodgeAppeal,
    NoteIndicators,
    RecordAssent,
)
from mpa_intake.domain.errors import AccessDenied, CaseConflict, InvalidCase, OutsideScope
from mpa_intake.domain.identification import ReflectionPolicy
from mpa_intake.testing import FakeIntake, FakeIntakeUnitOfWork, fake_intake

NIAMEY = {"team": "ne-niamey-cm", "agency": "iom-ne", "country": "NE"}
CASEWORKER = Actor(subject="cw-1", actor_id="caseworker:cw-1", role=ActorRole.CASEWORKER, **NIAMEY)
SUPERVISOR = Actor(subject="sv-1", actor_id="supervisor:sv-1", role=ActorRole.SUPERVISOR, **NIAMEY)
STRANGER = Actor(
    subject="cw-9",
    actor_id="caseworker:cw-9",
    role=ActorRole.CASEWORKER,
    team="ml-gao-cm",
    country="ML",
)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def register(age: int = 30, vulnerabilities: tuple[str, ...] = ()) -> RegisterCase:
    return RegisterCase.model_validate(
        {
            "person": {
                "given_name": "Aïcha",
                "family_name": "Exemple",
                "estimated_age": age,
                "sex": "female",
                "languages": ["ha"],
            },
            "location": {"country": "NE", "admin_area": "NE-1"},
            "needs": [{"category": "shelter", "urgency": "high"}],
            "vulnerabilities": list(vulnerabilities),
            "consent": {"given": False},
            "safety": {"do_not_contact": False, "safe_contact_method": "through_caseworker"},
        }
    )


@pytest.fixture
def intake() -> FakeIntake:
    return fake_intake(clock=lambda: NOW)


async def a_case(intake: FakeIntake, **kwargs: object) -> uuid.UUID:
    return (await cases.register_case(intake.context, CASEWORKER, register(**kwargs))).case_id  # type: ignore[arg-type]


def events(intake: FakeIntake, kind: type) -> list:  # type: ignore[type-arg]
    return [e.data for e in intake.memory.events_of(kind)]


def grounds(decided_at: datetime = NOW, **changes: object) -> DecideReasonableGrounds:
    return DecideReasonableGrounds.model_validate(
        {
            "decided_at": decided_at,
            "deciding_organisation_type": "competent_authority",
            "basis": "indicators_assessment",
            "exploitation_types": ["forced_labour"],
            "note": "Reasonable grounds in words",
            **changes,
        }
    )


async def _fire(intake: FakeIntake, kind: str, now: datetime) -> list[str]:
    outcomes = []
    for timer in [t for t in intake.memory.timers if t.kind == kind and not t.fired]:
        async with FakeIntakeUnitOfWork(intake.memory) as uow:
            handler = (
                identification.on_reflection_reminder_due
                if kind == identification.REFLECTION_REMINDER_TIMER
                else identification.on_reflection_end_due
            )
            outcome = await handler(
                uow, Timer(timer.timer_id, timer.kind, timer.subject_id, timer.due_at, {}), now
            )
            await uow.commit()
        timer.fired, timer.outcome = True, outcome  # as the timer worker marks it
        outcomes.append(outcome)
    return outcomes


# --- identification ------------------------------------------------------------------------


async def test_identification_goes_potential_presumed_identified_and_an_appeal_overturns(
    intake: FakeIntake,
) -> None:
    case_id = await a_case(intake)
    noted = await identification.note_indicators(
        intake.context,
        CASEWORKER,
        case_id,
        NoteIndicators.model_validate(
            {"means_of_control": ["debt_bondage"], "note": "Seen at the bus station"}
        ),
    )
    assert noted.status is IdentificationStatus.POTENTIAL
    (potential,) = events(intake, TraffickingIndicatorsNotedV1)
    assert potential.status is IdentificationStatus.POTENTIAL
    with pytest.raises(CaseConflict):  # one identification per case
        await identification.note_indicators(intake.context, CASEWORKER, case_id, NoteIndicators())
    # A conclusive decision needs reasonable grounds first.
    conclude = DecideConclusiveGrounds.model_validate(
        {
            "outcome": "not_identified",
            "decided_at": NOW,
            "deciding_organisation_type": "competent_authority",
        }
    )
    with pytest.raises(CaseConflict):
        await identification.decide_conclusive_grounds(
            intake.context, CASEWORKER, case_id, conclude
        )
    period = await identification.decide_reasonable_grounds(
        intake.context, CASEWORKER, case_id, grounds(NOW - timedelta(days=2))
    )
    (presumed,) = events(intake, ReasonableGroundsDecidedV1)
    assert presumed.status is IdentificationStatus.PRESUMED
    assert presumed.means_of_control == ("debt_bondage",)  # noted before, kept
    assert presumed.exploitation_types == ("forced_labour",)
    assert period.identification_id == noted.identification_id
    view = await identification.decide_conclusive_grounds(
        intake.context, CASEWORKER, case_id, conclude
    )
    assert view.status is IdentificationStatus.NOT_IDENTIFIED
    assert (
        events(intake, ConclusiveGroundsDecidedV1)[0].status is IdentificationStatus.NOT_IDENTIFIED
    )
    with pytest.raises(CaseConflict):
        await identification.decide_appeal(
            intake.context,
            CASEWORKER,
            case_id,
            DecideAppeal.model_validate({"outcome": "overturned", "decided_at": NOW}),
        )
    await identification.lodge_appeal(
        intake.context, CASEWORKER, case_id, LodgeAppeal(lodged_at=NOW, note="Grounds")
    )
    overturned = await identification.decide_appeal(
        intake.context,
        CASEWORKER,
        case_id,
        DecideAppeal.model_validate({"outcome": "overturned", "decided_at": NOW}),
    )
    assert overturned.status is IdentificationStatus.IDENTIFIED
    (decided,) = events(intake, IdentificationAppealDecidedV1)
    assert decided.status is IdentificationStatus.IDENTIFIED
    # No free text reached an event.
    raw = "".join(e.model_dump_json() for e in intake.memory.events)
    for text in ("bus station", "Reasonable grounds in words", "Grounds"):
        assert text not in raw


async def test_a_decision_in_the_future_or_outside_scope_is_refused(intake: FakeIntake) -> None:
    case_id = await a_case(intake)
    with pytest.raises(InvalidCase):
        await identification.decide_reasonable_grounds(
            intake.context, CASEWORKER, case_id, grounds(NOW + timedelta(days=1))
        )
    with pytest.raises(OutsideScope):
        await identification.decide_reasonable_grounds(intake.context, STRANGER, case_id, grounds())
    assert not events(intake, ReasonableGroundsDecidedV1)


# --- the recovery and reflection period ----------------------------------------------------


async def test_the_period_lasts_at_least_30_days_from_the_decision(intake: FakeIntake) -> None:
    case_id = await a_case(intake)
    decided = NOW - timedelta(days=3)
    period = await identification.decide_reasonable_grounds(
        intake.context, CASEWORKER, case_id, grounds(decided)
    )
    assert period.starts_at == decided
    assert period.ends_at == decided + timedelta(days=30)
    assert period.days == 30
    assert period.non_removal is True
    assert period.remind_at == period.ends_at - timedelta(days=7)
    (started,) = events(intake, ReflectionPeriodStartedV1)
    assert started.ends_at - started.starts_at >= timedelta(days=30)
    kinds = sorted((t.kind, t.due_at) for t in intake.memory.timers)
    assert kinds == [
        (identification.REFLECTION_END_TIMER, period.ends_at),
        (identification.REFLECTION_REMINDER_TIMER, period.remind_at),
    ]


async def test_a_country_gives_more_days_and_nobody_gives_fewer() -> None:
    intake = fake_intake(clock=lambda: NOW)
    policy = ReflectionPolicy(days_by_country={"NE": 45})
    context = replace(intake.context, reflection=policy)
    case_id = (await cases.register_case(context, CASEWORKER, register())).case_id
    with pytest.raises(InvalidCase):  # shorter than the country's 45
        await identification.decide_reasonable_grounds(
            context, CASEWORKER, case_id, grounds(reflection_days=30)
        )
    period = await identification.decide_reasonable_grounds(context, CASEWORKER, case_id, grounds())
    assert period.days == 45
    with pytest.raises(ValueError, match="at least 30 days"):
        ReflectionPolicy(days_by_country={"NE": 29})
    with pytest.raises(ValueError, match="at least 30 days"):
        ReflectionPolicy(default_days=20)


async def test_the_reminder_fires_once_and_the_end_once(intake: FakeIntake) -> None:
    case_id = await a_case(intake)
    period = await identification.decide_reasonable_grounds(
        intake.context, CASEWORKER, case_id, grounds(NOW - timedelta(days=25))
    )
    assert await _fire(intake, identification.REFLECTION_REMINDER_TIMER, NOW) == ["reminded"]
    (ending,) = events(intake, ReflectionPeriodEndingV1)
    assert (ending.owner_id, ending.owner_team, ending.ends_at) == (
        CASEWORKER.actor_id,
        "ne-niamey-cm",
        period.ends_at,
    )
    # The same timer run again (a retry, a replica): nothing more to tell.
    timer = next(
        t for t in intake.memory.timers if t.kind == identification.REFLECTION_REMINDER_TIMER
    )
    async with FakeIntakeUnitOfWork(intake.memory) as uow:
        again = await identification.on_reflection_reminder_due(
            uow, Timer(timer.timer_id, timer.kind, timer.subject_id, timer.due_at, {}), NOW
        )
        await uow.commit()
    assert again == "not_due"
    assert len(events(intake, ReflectionPeriodEndingV1)) == 1
    after_end = period.ends_at + timedelta(minutes=1)
    assert await _fire(intake, identification.REFLECTION_END_TIMER, after_end) == ["ended"]
    assert len(events(intake, ReflectionPeriodEndedV1)) == 1
    view = await children.read_protection(intake.context, CASEWORKER, case_id)
    assert view.reflection_periods[0].state == "ended"


async def test_an_extension_moves_the_end_and_reminds_again(intake: FakeIntake) -> None:
    case_id = await a_case(intake)
    period = await identification.decide_reasonable_grounds(
        intake.context, CASEWORKER, case_id, grounds(NOW - timedelta(days=25))
    )
    assert await _fire(intake, identification.REFLECTION_REMINDER_TIMER, NOW) == ["reminded"]
    extended = await identification.extend_reflection_period(
        intake.context,
        CASEWORKER,
        case_id,
        ExtendReflectionPeriod.model_validate(
            {"extension_days": 30, "reason": "recovery_needs", "non_removal": True}
        ),
    )
    assert extended.ends_at == period.ends_at + timedelta(days=30)
    assert extended.days == 60
    assert extended.reminded_at is None
    (event,) = events(intake, ReflectionPeriodExtendedV1)
    assert event.ends_at == extended.ends_at
    # The old end's timer fires no more; the new reminder is due before the new end.
    cancelled = [t for t in intake.memory.timers if t.outcome == "cancelled"]
    assert {t.kind for t in cancelled} == {identification.REFLECTION_END_TIMER}
    assert await _fire(intake, identification.REFLECTION_REMINDER_TIMER, extended.remind_at) == [
        "reminded"
    ]
    assert len(events(intake, ReflectionPeriodEndingV1)) == 2
    with pytest.raises(ValidationError):  # never shortened
        ExtendReflectionPeriod.model_validate({"extension_days": -5, "reason": "other"})


# --- children ------------------------------------------------------------------------------


async def _approved(intake: FakeIntake, case_id: uuid.UUID) -> uuid.UUID:
    approval = await casework.request_approval(
        intake.context,
        CASEWORKER,
        case_id,
        RequestApproval(subject=ApprovalSubject.BEST_INTERESTS_DETERMINATION, note="Panel said"),
    )
    await casework.decide_approval(
        intake.context,
        SUPERVISOR,
        case_id,
        approval.approval_id,
        DecideApproval(decision=ApprovalState.APPROVED),
    )
    return approval.approval_id


async def test_a_childs_assent_guardian_assessment_and_approved_determination(
    intake: FakeIntake,
) -> None:
    case_id = await a_case(intake, age=14, vulnerabilities=("separated_child",))
    await children.record_assent(
        intake.context,
        CASEWORKER,
        case_id,
        RecordAssent.model_validate(
            {"consent_given_by": "legal_guardian", "assent": "given", "views": "Wants her aunt"}
        ),
    )
    (assent,) = events(intake, ChildAssentRecordedV1)
    assert assent.views_recorded is True
    await children.appoint_guardian(
        intake.context,
        CASEWORKER,
        case_id,
        AppointGuardian.model_validate(
            {
                "appointed_at": NOW,
                "appointing_authority": "court",
                "note": "Maître Fictif, +227 90 00 00 00",
            }
        ),
    )
    assert events(intake, GuardianAppointedV1)
    assessment = await children.assess_best_interests(
        intake.context,
        CASEWORKER,
        case_id,
        AssessBestInterests.model_validate(
            {
                "assessed_at": NOW,
                "risks": ["family_separation"],
                "recommendation": "family_reunification",
            }
        ),
    )
    determination = {
        "determined_at": NOW,
        "panel_size": 3,
        "decision": "family_reunification",
        "assessment_id": str(assessment.assessment_id),
    }
    # Without an approved request: refused.
    pending = await casework.request_approval(
        intake.context,
        CASEWORKER,
        case_id,
        RequestApproval(subject=ApprovalSubject.BEST_INTERESTS_DETERMINATION),
    )
    with pytest.raises(CaseConflict, match="not approved"):
        await children.determine_best_interests(
            intake.context,
            CASEWORKER,
            case_id,
            DetermineBestInterests.model_validate(
                {**determination, "approval_id": str(pending.approval_id)}
            ),
        )
    await casework.decide_approval(
        intake.context,
        SUPERVISOR,
        case_id,
        pending.approval_id,
        DecideApproval(decision=ApprovalState.APPROVED),
    )
    command = DetermineBestInterests.model_validate(
        {**determination, "approval_id": str(pending.approval_id)}
    )
    with pytest.raises(AccessDenied):  # the approving supervisor does not record it
        await children.determine_best_interests(intake.context, SUPERVISOR, case_id, command)
    recorded = await children.determine_best_interests(intake.context, CASEWORKER, case_id, command)
    (determined,) = events(intake, BestInterestsDeterminedV1)
    assert (determined.approval_id, determined.approved_by) == (
        pending.approval_id,
        SUPERVISOR.actor_id,
    )
    assert recorded.decision == "family_reunification"
    with pytest.raises(CaseConflict, match="once already"):  # an approval serves once
        await children.determine_best_interests(intake.context, CASEWORKER, case_id, command)
    raw = "".join(e.model_dump_json() for e in intake.memory.events)
    assert "Maître" not in raw
    assert "aunt" not in raw
    assert "+227" not in raw
    # The protection view shows the notes, and says so.
    before = len(events(intake, PersonalDataAccessedV1))
    view = await children.read_protection(intake.context, CASEWORKER, case_id)
    assert view.is_child
    assert view.assents[0].views == "Wants her aunt"
    assert view.guardians[0].note == "Maître Fictif, +227 90 00 00 00"
    assert len(view.best_interests_determinations) == 1
    assert len(events(intake, PersonalDataAccessedV1)) == before + 1


async def test_child_steps_are_refused_for_an_adult(intake: FakeIntake) -> None:
    case_id = await a_case(intake, age=30)
    with pytest.raises(CaseConflict, match="for a child"):
        await children.record_assent(
            intake.context,
            CASEWORKER,
            case_id,
            RecordAssent.model_validate({"consent_given_by": "self", "assent": "given"}),
        )


async def test_a_determination_needs_an_approval_of_its_own_subject(intake: FakeIntake) -> None:
    case_id = await a_case(intake, age=12, vulnerabilities=("unaccompanied_child",))
    assessment = await children.assess_best_interests(
        intake.context,
        CASEWORKER,
        case_id,
        AssessBestInterests.model_validate(
            {"assessed_at": NOW, "recommendation": "return_to_country_of_origin"}
        ),
    )
    plan = await casework.request_approval(
        intake.context, CASEWORKER, case_id, RequestApproval(subject=ApprovalSubject.CASE_PLAN)
    )
    await casework.decide_approval(
        intake.context,
        SUPERVISOR,
        case_id,
        plan.approval_id,
        DecideApproval(decision=ApprovalState.APPROVED),
    )
    with pytest.raises(CaseConflict, match="not for a best-interests"):
        await children.determine_best_interests(
            intake.context,
            CASEWORKER,
            case_id,
            DetermineBestInterests.model_validate(
                {
                    "determined_at": NOW,
                    "panel_size": 3,
                    "decision": "return_to_country_of_origin",
                    "assessment_id": str(assessment.assessment_id),
                    "approval_id": str(plan.approval_id),
                }
            ),
        )
    approval_id = await _approved(intake, case_id)
    with pytest.raises(InvalidCase):  # an assessment of another case
        await children.determine_best_interests(
            intake.context,
            CASEWORKER,
            case_id,
            DetermineBestInterests.model_validate(
                {
                    "determined_at": NOW,
                    "panel_size": 3,
                    "decision": "return_to_country_of_origin",
                    "assessment_id": str(uuid.uuid4()),
                    "approval_id": str(approval_id),
                }
            ),
        )
