"""Use cases of a child's protection steps (issue 17): consent and assent, guardian,
best-interests assessment and determination; and the protection view of a case.

A determination is recorded with a supervisor's approval (casework's approvals, subject
`best_interests_determination`: requested by the caseworker, decided by a supervisor who did
not ask), spent once, and announced as `org.mpa.case.best_interests_determined.v1`: the
referral service learns from it that return and family-reunification referrals of the
child may now be made.
"""

from __future__ import annotations

from uuid import UUID, uuid4

from mpa_common.uow import Cause
from mpa_contracts.events.access import PersonalDataAccessedV1
from mpa_contracts.events.protection import (
    BestInterestsAssessedV1,
    BestInterestsDeterminedV1,
    ChildAssentRecordedV1,
    GuardianAppointedV1,
)
from mpa_contracts.vocabularies import AccessPurpose, PersonalDataField, is_child
from mpa_intake.app.cases import _emit, _load_for_change, _load_for_read
from mpa_intake.app.casework import CASEWORK_READERS, _keep_notes
from mpa_intake.app.context import Actor, IntakeContext
from mpa_intake.app.identification import _not_future
from mpa_intake.app.protection_commands import (
    AppointGuardian,
    AssessBestInterests,
    DetermineBestInterests,
    RecordAssent,
)
from mpa_intake.app.protection_views import (
    AssentView,
    BestInterestsAssessmentView,
    BestInterestsDeterminationView,
    GuardianView,
    IdentificationView,
    ProtectionView,
    ReflectionPeriodView,
)
from mpa_intake.domain.casework import Approval
from mpa_intake.domain.children import (
    AssentRecord,
    BestInterestsAssessment,
    BestInterestsDetermination,
    GuardianAppointment,
    ensure_child,
    ensure_not_self_recorded,
    use_determination_approval,
)
from mpa_intake.domain.errors import AccessDenied, FieldError, InvalidCase
from mpa_intake.domain.identification import Identification, ReflectionPeriod


async def record_assent(
    ctx: IntakeContext, actor: Actor, case_id: UUID, command: RecordAssent
) -> AssentView:
    async with ctx.unit_of_work() as uow:
        stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        case = stored.case
        case.ensure_open()
        ensure_child(case)
        record = AssentRecord(
            record_id=uuid4(),
            case_id=case_id,
            created_at=ctx.clock(),
            consent_given_by=command.consent_given_by,
            assent=command.assent,
            views_recorded=command.views is not None,
            recorded_by=actor.actor_id,
        )
        await uow.casework.add(record)
        await _keep_notes(ctx, uow, stored, {record.record_id: command.views})
        _emit(
            uow,
            ChildAssentRecordedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                assent_id=record.record_id,
                consent_given_by=record.consent_given_by,
                assent=record.assent,
                views_recorded=record.views_recorded,
            ),
            case_id,
            correlation_id=case.correlation_id,
        )
        await uow.commit()
        return AssentView.of(record)


async def appoint_guardian(
    ctx: IntakeContext, actor: Actor, case_id: UUID, command: AppointGuardian
) -> GuardianView:
    async with ctx.unit_of_work() as uow:
        stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        case = stored.case
        case.ensure_open()
        ensure_child(case)
        now = ctx.clock()
        _not_future("body.appointed_at", command.appointed_at, now)
        record = GuardianAppointment(
            record_id=uuid4(),
            case_id=case_id,
            created_at=now,
            appointed_at=command.appointed_at,
            appointing_authority=command.appointing_authority,
            recorded_by=actor.actor_id,
        )
        await uow.casework.add(record)
        await _keep_notes(ctx, uow, stored, {record.record_id: command.note})
        _emit(
            uow,
            GuardianAppointedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                guardian_appointment_id=record.record_id,
                appointed_at=record.appointed_at,
                appointing_authority=record.appointing_authority,
            ),
            case_id,
            correlation_id=case.correlation_id,
        )
        await uow.commit()
        return GuardianView.of(record)


async def assess_best_interests(
    ctx: IntakeContext, actor: Actor, case_id: UUID, command: AssessBestInterests
) -> BestInterestsAssessmentView:
    async with ctx.unit_of_work() as uow:
        stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        case = stored.case
        case.ensure_open()
        ensure_child(case)
        now = ctx.clock()
        _not_future("body.assessed_at", command.assessed_at, now)
        record = BestInterestsAssessment(
            record_id=uuid4(),
            case_id=case_id,
            created_at=now,
            assessed_at=command.assessed_at,
            assessor_id=actor.actor_id,
            risks=tuple(command.risks),
            recommendation=command.recommendation,
        )
        await uow.casework.add(record)
        await _keep_notes(ctx, uow, stored, {record.record_id: command.note})
        _emit(
            uow,
            BestInterestsAssessedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                assessment_id=record.record_id,
                assessed_at=record.assessed_at,
                assessor_id=record.assessor_id,
                risks=record.risks,
                recommendation=record.recommendation,
            ),
            case_id,
            correlation_id=case.correlation_id,
        )
        await uow.commit()
        return BestInterestsAssessmentView.of(record)


async def determine_best_interests(
    ctx: IntakeContext, actor: Actor, case_id: UUID, command: DetermineBestInterests
) -> BestInterestsDeterminationView:
    """The panel's determination, on an assessment of this child and with an approved
    request that has not recorded a determination before."""
    async with ctx.unit_of_work() as uow:
        stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        case = stored.case
        case.ensure_open()
        ensure_child(case)
        now = ctx.clock()
        _not_future("body.determined_at", command.determined_at, now)
        assessment = await uow.casework.get(BestInterestsAssessment, command.assessment_id)
        if assessment is None or assessment.case_id != case_id:
            raise InvalidCase(
                [FieldError("body.assessment_id", "not a best-interests assessment of this case")]
            )
        approval = await uow.casework.get(Approval, command.approval_id, for_update=True)
        if approval is None or approval.case_id != case_id:
            raise InvalidCase([FieldError("body.approval_id", "not an approval of this case")])
        ensure_not_self_recorded(approval, actor.actor_id)
        approved_by = use_determination_approval(approval, now)
        record = BestInterestsDetermination(
            record_id=uuid4(),
            case_id=case_id,
            created_at=now,
            determined_at=command.determined_at,
            panel_size=command.panel_size,
            decision=command.decision,
            assessment_id=assessment.record_id,
            approval_id=approval.record_id,
            approved_by=approved_by,
            recorded_by=actor.actor_id,
        )
        await uow.casework.save(approval)
        await uow.casework.add(record)
        await _keep_notes(ctx, uow, stored, {record.record_id: command.note})
        _emit(
            uow,
            BestInterestsDeterminedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                determination_id=record.record_id,
                determined_at=record.determined_at,
                panel_size=record.panel_size,
                decision=record.decision,
                approval_id=approval.record_id,
                approved_by=approved_by,
            ),
            case_id,
            correlation_id=case.correlation_id,
        )
        await uow.commit()
        return BestInterestsDeterminationView.of(record)


async def read_protection(ctx: IntakeContext, actor: Actor, case_id: UUID) -> ProtectionView:
    """The case's protection steps with their notes, within the caller's read scope; a read
    that shows notes is announced (`personal_data_accessed`, field `casework.note`)."""
    if actor.role not in CASEWORK_READERS:
        raise AccessDenied("this role may not read the protection steps")
    async with ctx.unit_of_work() as uow:
        stored, notes = await _load_for_read(ctx, actor, uow, case_id)
        case = stored.case
        identifications = await uow.casework.of_case(Identification, case_id)
        periods = await uow.casework.of_case(ReflectionPeriod, case_id)
        assents = await uow.casework.of_case(AssentRecord, case_id)
        guardians = await uow.casework.of_case(GuardianAppointment, case_id)
        assessments = await uow.casework.of_case(BestInterestsAssessment, case_id)
        determinations = await uow.casework.of_case(BestInterestsDetermination, case_id)
        record_ids = {
            r.record_id
            for group in (identifications, assents, guardians, assessments, determinations)
            for r in group
        }
        if record_ids & set(notes):
            uow.emit(
                PersonalDataAccessedV1(
                    actor_id=actor.actor_id,
                    actor_role=actor.role,
                    case_id=case_id,
                    fields=(PersonalDataField.CASEWORK_NOTE,),
                    purpose=AccessPurpose.CASE_MANAGEMENT,
                ),
                subject=f"case/{case_id}",
                cause=Cause.story(case.correlation_id),
            )
            await uow.commit()
    return ProtectionView(
        case_id=case_id,
        is_child=is_child(case.profile.age_band),
        identification=(
            IdentificationView.of(identifications[-1], notes.get(identifications[-1].record_id))
            if identifications
            else None
        ),
        reflection_periods=[ReflectionPeriodView.of(p) for p in periods],
        assents=[AssentView.of(a, notes.get(a.record_id)) for a in assents],
        guardians=[GuardianView.of(g, notes.get(g.record_id)) for g in guardians],
        best_interests_assessments=[
            BestInterestsAssessmentView.of(a, notes.get(a.record_id)) for a in assessments
        ],
        best_interests_determinations=[
            BestInterestsDeterminationView.of(d, notes.get(d.record_id)) for d in determinations
        ],
    )
