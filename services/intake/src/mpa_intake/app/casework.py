"""Use cases of the casework (issue 16): transfers of responsibility, assessments, the case
plan, follow-ups with their overdue timers, supervisors' approvals, reopening, the
casework view of a case and the casework report.

Each is one unit of work: load the case (locked for a change, within the caller's write
scope), apply the records' own rules, save, add events, commit once. A note given with a
step is personal data: it is sealed into the case's encrypted record under the step's id
(`PersonalData.casework_notes`), never put in an event, and erased with the case.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import NAMESPACE_OID, UUID, uuid4, uuid5

from mpa_common.timers import Timer
from mpa_common.uow import Cause
from mpa_contracts.events.access import PersonalDataAccessedV1
from mpa_contracts.events.casework import (
    CaseApprovalDecidedV1,
    CaseApprovalRequestedV1,
    CaseAssessedV1,
    CaseInterventionPlannedV1,
    CaseInterventionUpdatedV1,
    CaseReopenedV1,
    CaseTransferAcceptedV1,
    CaseTransferRejectedV1,
    CaseTransferRequestedV1,
    CaseTransferRevokedV1,
    FollowUpDoneV1,
    FollowUpOverdueV1,
    FollowUpScheduledV1,
)
from mpa_contracts.vocabularies import (
    AccessPurpose,
    ActorRole,
    ApprovalState,
    CaseScope,
    PersonalDataField,
    ReferralState,
    TransferInitiator,
    TransferState,
)
from mpa_intake.app.cases import _emit, _load_for_change, _load_for_read
from mpa_intake.app.casework_commands import (
    ChangeIntervention,
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
from mpa_intake.app.casework_views import (
    ApprovalList,
    ApprovalView,
    AssessmentView,
    CaseloadRow,
    CaseworkReport,
    CaseworkView,
    DurationFigures,
    FollowUpView,
    InterventionView,
    OwnerView,
    ReferralProgressView,
    TransferList,
    TransferView,
)
from mpa_intake.app.context import Actor, IntakeContext
from mpa_intake.app.ports import CaseFilter, IntakeUnitOfWorkPort, ScopeFilter, StoredCase
from mpa_intake.app.views import CaseSummary, case_summary
from mpa_intake.domain.case import Case, CaseStatus
from mpa_intake.domain.casework import (
    CONTACT_OUTCOMES,
    Approval,
    Assessment,
    FollowUp,
    Intervention,
    ReferralProgress,
    Transfer,
    latest_assessment,
)
from mpa_intake.domain.cross_border import Handoff
from mpa_intake.domain.errors import (
    AccessDenied,
    CaseConflict,
    CaseNotFound,
    FieldError,
    InvalidCase,
)
from mpa_intake.domain.ownership import Ownership, within

FOLLOW_UP_TIMER = "follow_up_overdue"
# A date "now" may be a few minutes ahead of the server's clock.
CLOCK_SKEW = timedelta(minutes=5)
# How many pending transfers or approvals an inbox looks through.
PENDING_SCANNED = 500


def decision_note_key(record_id: UUID) -> UUID:
    """Where the note of a record's decision (accept, reject, approve, ...) is kept, beside
    the record's own note under its id."""
    return uuid5(NAMESPACE_OID, f"mpa-intake-casework-decision:{record_id}")


# --- transfers -----------------------------------------------------------------------------


async def request_transfer(
    ctx: IntakeContext, actor: Actor, case_id: UUID, command: RequestTransfer
) -> TransferView:
    async with ctx.unit_of_work() as uow:
        if command.initiator is TransferInitiator.SENDER:
            stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        else:
            stored = await _load(uow, case_id)
        case = stored.case
        case.ensure_open()
        if any(
            t.status is TransferState.REQUESTED
            for t in await uow.casework.of_case(Transfer, case_id)
        ):
            raise CaseConflict("a transfer of this case awaits a decision already")
        if any(h.is_open for h in await uow.casework.of_case(Handoff, case_id)):
            raise CaseConflict(
                "a cross-border hand-off of this case is under way: responsibility moves "
                "when the person arrives"
            )
        now = ctx.clock()
        owner = case.ownership
        if command.initiator is TransferInitiator.SENDER:
            target = (
                command.to_owner_id,
                command.to_team,
                command.to_agency,
                command.to_country or owner.country,
            )
        else:
            if within(ctx.scopes.write_scope(actor.role), owner, actor.viewer):
                raise CaseConflict("the case is within your scope already: hand it over instead")
            if actor.country is None:
                raise InvalidCase(
                    [FieldError("token.country", "a receiving office needs a country")]
                )
            target = (actor.actor_id, actor.team, actor.agency, actor.country)
        if (target[0] or owner.owner_id, target[1], target[2], target[3]) == (
            owner.owner_id,
            owner.team,
            owner.agency,
            owner.country,
        ):
            raise InvalidCase([FieldError("body", "the case is owned so already")])
        transfer = Transfer(
            record_id=uuid4(),
            case_id=case_id,
            created_at=now,
            initiator=command.initiator,
            requested_by=actor.actor_id,
            source=owner,
            to_owner_id=target[0],
            to_team=target[1],
            to_agency=target[2],
            to_country=target[3],
            sender_keeps_access=ctx.casework.sender_keeps_access,
        )
        await uow.casework.add(transfer)
        await _keep_notes(ctx, uow, stored, {transfer.record_id: command.note})
        announce_transfer_requested(uow, actor, case, transfer)
        await uow.commit()
        return TransferView.of(transfer)


def announce_transfer_requested(
    uow: IntakeUnitOfWorkPort, actor: Actor, case: Case, transfer: Transfer
) -> None:
    """`transfer_requested.v1` of a transfer just added (also asked by a hand-off's arrival)."""
    owner = transfer.source
    _emit(
        uow,
        CaseTransferRequestedV1(
            actor_id=actor.actor_id,
            actor_role=actor.role,
            case_id=case.case_id,
            transfer_id=transfer.record_id,
            initiator=transfer.initiator,
            from_owner_id=owner.owner_id,
            from_team=owner.team,
            from_agency=owner.agency,
            from_country=owner.country,
            to_owner_id=transfer.to_owner_id,
            to_team=transfer.to_team,
            to_agency=transfer.to_agency,
            to_country=transfer.to_country,
            sender_keeps_access=transfer.sender_keeps_access,
        ),
        case.case_id,
        correlation_id=case.correlation_id,
    )


async def accept_transfer(
    ctx: IntakeContext, actor: Actor, case_id: UUID, transfer_id: UUID, step: TransferStep
) -> TransferView:
    """Ownership moves to the receiver; the previous owner keeps access only as configured
    when the transfer was asked."""
    async with ctx.unit_of_work() as uow:
        stored, transfer = await _transfer(uow, case_id, transfer_id)
        case = stored.case
        _ensure_decides(ctx, actor, transfer, case.ownership)
        case.ensure_open()
        await complete_transfer(uow, actor, case, transfer, ctx.clock())
        await _keep_notes(ctx, uow, stored, {decision_note_key(transfer_id): step.note})
        await uow.commit()
        return TransferView.of(transfer)


async def complete_transfer(
    uow: IntakeUnitOfWorkPort, actor: Actor, case: Case, transfer: Transfer, now: datetime
) -> None:
    """Accepts `transfer` as `actor`, moves the case's ownership and announces it (also the
    last step of a cross-border hand-off, on arrival). The caller commits."""
    transfer.accept(actor.actor_id, now)
    previous = case.ownership
    moved = transfer.new_owner(actor.viewer)
    shared = [a for a in previous.shared_with if a not in (moved.owner_id, previous.owner_id)]
    if transfer.sender_keeps_access and previous.owner_id != moved.owner_id:
        shared.append(previous.owner_id)
    case.ownership = Ownership(
        owner_id=moved.owner_id,
        team=moved.team,
        agency=moved.agency,
        country=moved.country,
        shared_with=tuple(shared),
    )
    case.updated_at = now
    await uow.cases.set_ownership(case.case_id, case.ownership)
    await uow.cases.update(case)
    await uow.casework.save(transfer)
    _emit(
        uow,
        CaseTransferAcceptedV1(
            actor_id=actor.actor_id,
            actor_role=actor.role,
            case_id=case.case_id,
            transfer_id=transfer.record_id,
            previous_owner_id=previous.owner_id,
            owner_id=case.ownership.owner_id,
            owner_team=case.ownership.team,
            owner_agency=case.ownership.agency,
            owner_country=case.ownership.country,
            sender_keeps_access=transfer.sender_keeps_access,
        ),
        case.case_id,
        correlation_id=case.correlation_id,
    )


async def reject_transfer(
    ctx: IntakeContext, actor: Actor, case_id: UUID, transfer_id: UUID, step: TransferStep
) -> TransferView:
    async with ctx.unit_of_work() as uow:
        stored, transfer = await _transfer(uow, case_id, transfer_id)
        _ensure_decides(ctx, actor, transfer, stored.case.ownership)
        transfer.reject(actor.actor_id, ctx.clock())
        await uow.casework.save(transfer)
        await _keep_notes(ctx, uow, stored, {decision_note_key(transfer_id): step.note})
        _emit(
            uow,
            CaseTransferRejectedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                transfer_id=transfer_id,
            ),
            case_id,
            correlation_id=stored.case.correlation_id,
        )
        await uow.commit()
        return TransferView.of(transfer)


async def revoke_transfer(
    ctx: IntakeContext, actor: Actor, case_id: UUID, transfer_id: UUID, step: TransferStep
) -> TransferView:
    """The asking side withdraws: the requester, or (for a handover) anyone who may change
    the case."""
    async with ctx.unit_of_work() as uow:
        stored, transfer = await _transfer(uow, case_id, transfer_id)
        asking_side = actor.actor_id == transfer.requested_by or (
            transfer.initiator is TransferInitiator.SENDER
            and within(ctx.scopes.write_scope(actor.role), stored.case.ownership, actor.viewer)
        )
        if not asking_side:
            raise AccessDenied("only the side that asked for a transfer revokes it")
        transfer.revoke(actor.actor_id, ctx.clock())
        await uow.casework.save(transfer)
        await _keep_notes(ctx, uow, stored, {decision_note_key(transfer_id): step.note})
        _emit(
            uow,
            CaseTransferRevokedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                transfer_id=transfer_id,
            ),
            case_id,
            correlation_id=stored.case.correlation_id,
        )
        await uow.commit()
        return TransferView.of(transfer)


async def pending_transfers(ctx: IntakeContext, actor: Actor) -> TransferList:
    """Transfers that await the caller's decision (no notes: nothing personal is read)."""
    scope = ctx.scopes.write_scope(actor.role)
    async with ctx.unit_of_work() as uow:
        pending = await uow.casework.awaiting(Transfer, PENDING_SCANNED)
    return TransferList(
        items=[
            TransferView.of(transfer)
            for transfer, ownership in pending
            if transfer.awaits(actor.viewer, actor.role, scope, ownership)
        ]
    )


async def pending_approvals(ctx: IntakeContext, actor: Actor) -> ApprovalList:
    """Approval requests a supervisor may decide: of cases within their write scope, asked
    by someone else."""
    if actor.role is not ActorRole.SUPERVISOR:
        return ApprovalList(items=[])
    scope = ctx.scopes.write_scope(actor.role)
    async with ctx.unit_of_work() as uow:
        pending = await uow.casework.awaiting(Approval, PENDING_SCANNED)
    return ApprovalList(
        items=[
            ApprovalView.of(approval)
            for approval, ownership in pending
            if approval.requested_by != actor.actor_id and within(scope, ownership, actor.viewer)
        ]
    )


def _ensure_decides(
    ctx: IntakeContext, actor: Actor, transfer: Transfer, ownership: Ownership
) -> None:
    if not transfer.awaits(actor.viewer, actor.role, ctx.scopes.write_scope(actor.role), ownership):
        raise AccessDenied("this transfer is decided by the other side")


async def _transfer(
    uow: IntakeUnitOfWorkPort, case_id: UUID, transfer_id: UUID
) -> tuple[StoredCase, Transfer]:
    stored = await _load(uow, case_id)
    transfer = await uow.casework.get(Transfer, transfer_id, for_update=True)
    if transfer is None or transfer.case_id != case_id:
        raise CaseNotFound(f"no transfer {transfer_id} of case {case_id}")
    return stored, transfer


# --- assessments and the case plan ---------------------------------------------------------


async def record_assessment(
    ctx: IntakeContext, actor: Actor, case_id: UUID, command: RecordAssessment
) -> AssessmentView:
    async with ctx.unit_of_work() as uow:
        stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        case = stored.case
        case.ensure_open()
        now = ctx.clock()
        if command.assessed_at > now + CLOCK_SKEW:
            raise InvalidCase([FieldError("body.assessed_at", "must not be in the future")])
        assessment = Assessment(
            record_id=uuid4(),
            case_id=case_id,
            created_at=now,
            assessed_at=command.assessed_at,
            assessed_by=actor.actor_id,
            risk_level=command.risk_level,
            protection_concerns=tuple(command.protection_concerns),
        )
        await uow.casework.add(assessment)
        latest = latest_assessment([*await uow.casework.of_case(Assessment, case_id)])
        assert latest is not None
        case.risk_level = latest.risk_level
        case.updated_at = now
        await uow.cases.update(case)
        await _keep_notes(ctx, uow, stored, {assessment.record_id: command.note})
        _emit(
            uow,
            CaseAssessedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                assessment_id=assessment.record_id,
                assessed_at=assessment.assessed_at,
                risk_level=assessment.risk_level,
                protection_concerns=assessment.protection_concerns,
                is_latest=latest.record_id == assessment.record_id,
                case_risk_level=latest.risk_level,
            ),
            case_id,
            correlation_id=case.correlation_id,
        )
        await uow.commit()
        return AssessmentView.of(assessment)


async def plan_intervention(
    ctx: IntakeContext, actor: Actor, case_id: UUID, command: PlanIntervention
) -> InterventionView:
    async with ctx.unit_of_work() as uow:
        stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        case = stored.case
        case.ensure_open()
        errors: list[FieldError] = []
        if command.need_id is not None and not case.needs_of({command.need_id}):
            errors.append(FieldError("body.need_id", "not a need of this case"))
        if command.referral_id is not None:
            known = await uow.casework.get(ReferralProgress, command.referral_id)
            if known is not None and known.case_id != case_id:
                errors.append(FieldError("body.referral_id", "not a referral of this case"))
        if errors:
            raise InvalidCase(errors)
        now = ctx.clock()
        intervention = Intervention(
            record_id=uuid4(),
            case_id=case_id,
            created_at=now,
            need_id=command.need_id,
            referral_id=command.referral_id,
            responsible_id=command.responsible_id or actor.actor_id,
            target_at=command.target_at,
            created_by=actor.actor_id,
            updated_at=now,
        )
        await uow.casework.add(intervention)
        await _keep_notes(ctx, uow, stored, {intervention.record_id: command.note})
        _emit(
            uow,
            CaseInterventionPlannedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                intervention_id=intervention.record_id,
                need_id=intervention.need_id,
                referral_id=intervention.referral_id,
                responsible_id=intervention.responsible_id,
                target_at=intervention.target_at,
                status=intervention.status,
            ),
            case_id,
            correlation_id=case.correlation_id,
        )
        await uow.commit()
        return InterventionView.of(intervention)


async def change_intervention(
    ctx: IntakeContext,
    actor: Actor,
    case_id: UUID,
    intervention_id: UUID,
    command: ChangeIntervention,
) -> InterventionView:
    async with ctx.unit_of_work() as uow:
        stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        stored.case.ensure_open()
        intervention = await uow.casework.get(Intervention, intervention_id, for_update=True)
        if intervention is None or intervention.case_id != case_id:
            raise CaseNotFound(f"no intervention {intervention_id} of case {case_id}")
        intervention.change(
            status=command.status,
            responsible_id=command.responsible_id,
            target_at=command.target_at,
            now=ctx.clock(),
        )
        await uow.casework.save(intervention)
        await _keep_notes(ctx, uow, stored, {decision_note_key(intervention_id): command.note})
        _emit(
            uow,
            CaseInterventionUpdatedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                intervention_id=intervention_id,
                responsible_id=intervention.responsible_id,
                target_at=intervention.target_at,
                status=intervention.status,
            ),
            case_id,
            correlation_id=stored.case.correlation_id,
        )
        await uow.commit()
        return InterventionView.of(intervention)


# --- follow-ups ----------------------------------------------------------------------------


async def schedule_follow_up(
    ctx: IntakeContext, actor: Actor, case_id: UUID, command: ScheduleFollowUp
) -> FollowUpView:
    """The follow-up and its overdue timer commit together: the timer exists exactly when
    the follow-up does, and fires once (see mpa_common.timers)."""
    async with ctx.unit_of_work() as uow:
        stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        stored.case.ensure_open()
        follow_up = FollowUp(
            record_id=uuid4(),
            case_id=case_id,
            created_at=ctx.clock(),
            follow_up_type=command.follow_up_type,
            due_at=command.due_at,
            scheduled_by=actor.actor_id,
        )
        await uow.casework.add(follow_up)
        await uow.timers.schedule(
            kind=FOLLOW_UP_TIMER, subject_id=follow_up.record_id, due_at=follow_up.due_at
        )
        await _keep_notes(ctx, uow, stored, {follow_up.record_id: command.note})
        _emit(
            uow,
            FollowUpScheduledV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                follow_up_id=follow_up.record_id,
                follow_up_type=follow_up.follow_up_type,
                due_at=follow_up.due_at,
            ),
            case_id,
            correlation_id=stored.case.correlation_id,
        )
        await uow.commit()
        return FollowUpView.of(follow_up)


async def record_follow_up_done(
    ctx: IntakeContext,
    actor: Actor,
    case_id: UUID,
    follow_up_id: UUID,
    command: RecordFollowUpDone,
) -> FollowUpView:
    async with ctx.unit_of_work() as uow:
        stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        # The timer's row before the follow-up's, in the timer worker's order (it claims the
        # timer, then locks the follow-up): the other order deadlocked when both met.
        await uow.timers.cancel(kind=FOLLOW_UP_TIMER, subject_id=follow_up_id)
        follow_up = await uow.casework.get(FollowUp, follow_up_id, for_update=True)
        if follow_up is None or follow_up.case_id != case_id:
            raise CaseNotFound(f"no follow-up {follow_up_id} of case {case_id}")
        now = ctx.clock()
        follow_up.mark_done(
            actor.actor_id, command.done_at or now, command.outcome, now + CLOCK_SKEW
        )
        await uow.casework.save(follow_up)
        await _keep_notes(ctx, uow, stored, {decision_note_key(follow_up_id): command.note})
        assert follow_up.done_at is not None
        assert follow_up.outcome is not None
        _emit(
            uow,
            FollowUpDoneV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                follow_up_id=follow_up_id,
                follow_up_type=follow_up.follow_up_type,
                done_at=follow_up.done_at,
                outcome=follow_up.outcome,
                was_overdue=follow_up.was_overdue,
            ),
            case_id,
            correlation_id=stored.case.correlation_id,
        )
        await uow.commit()
        return FollowUpView.of(follow_up)


async def on_follow_up_due(uow: IntakeUnitOfWorkPort, timer: Timer, now: datetime) -> str:
    """The timer of a follow-up fired (in the timer worker's unit of work, which marks it
    fired in the same commit): a follow-up not done by then is overdue, and its case's
    owner is told, once."""
    follow_up = await uow.casework.get(FollowUp, timer.subject_id, for_update=True)
    if follow_up is None:
        return "gone"
    stored = await uow.cases.get(follow_up.case_id)
    if stored is None:
        return "gone"
    case = stored.case
    if case.status is CaseStatus.CLOSED:
        return "case_closed"
    if not follow_up.fall_overdue(now):
        return "done"
    await uow.casework.save(follow_up)
    owner = case.ownership
    _emit(
        uow,
        FollowUpOverdueV1(
            case_id=case.case_id,
            follow_up_id=follow_up.record_id,
            follow_up_type=follow_up.follow_up_type,
            due_at=follow_up.due_at,
            owner_id=owner.owner_id,
            owner_team=owner.team,
            owner_country=owner.country,
        ),
        case.case_id,
        correlation_id=case.correlation_id,
    )
    return "overdue"


# --- approvals and reopening ---------------------------------------------------------------


async def request_approval(
    ctx: IntakeContext, actor: Actor, case_id: UUID, command: RequestApproval
) -> ApprovalView:
    async with ctx.unit_of_work() as uow:
        stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        case = stored.case
        case.ensure_open()
        for approval in await uow.casework.of_case(Approval, case_id):
            if approval.subject is command.subject and approval.status is ApprovalState.REQUESTED:
                raise CaseConflict(f"a {command.subject.value} approval is requested already")
        approval = Approval(
            record_id=uuid4(),
            case_id=case_id,
            created_at=ctx.clock(),
            subject=command.subject,
            requested_by=actor.actor_id,
            closure_reason=command.closure_reason,
        )
        await uow.casework.add(approval)
        await _keep_notes(ctx, uow, stored, {approval.record_id: command.note})
        _emit(
            uow,
            CaseApprovalRequestedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                approval_id=approval.record_id,
                subject=approval.subject,
                closure_reason=approval.closure_reason,
                owner_team=case.ownership.team,
                owner_country=case.ownership.country,
            ),
            case_id,
            correlation_id=case.correlation_id,
        )
        await uow.commit()
        return ApprovalView.of(approval)


async def decide_approval(
    ctx: IntakeContext, actor: Actor, case_id: UUID, approval_id: UUID, command: DecideApproval
) -> ApprovalView:
    """A supervisor within their write scope decides; never the requester."""
    async with ctx.unit_of_work() as uow:
        stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        approval = await uow.casework.get(Approval, approval_id, for_update=True)
        if approval is None or approval.case_id != case_id:
            raise CaseNotFound(f"no approval {approval_id} of case {case_id}")
        approval.decide(
            actor.actor_id, actor.role, command.decision is ApprovalState.APPROVED, ctx.clock()
        )
        await uow.casework.save(approval)
        await _keep_notes(ctx, uow, stored, {decision_note_key(approval_id): command.comment})
        _emit(
            uow,
            CaseApprovalDecidedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                approval_id=approval_id,
                subject=approval.subject,
                decision=approval.status,
                requested_by=approval.requested_by,
            ),
            case_id,
            correlation_id=stored.case.correlation_id,
        )
        await uow.commit()
        return ApprovalView.of(approval)


async def reopen_case(
    ctx: IntakeContext, actor: Actor, case_id: UUID, command: ReopenCase
) -> CaseSummary:
    async with ctx.unit_of_work() as uow:
        stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        case = stored.case
        now = ctx.clock()
        closed_at = case.reopen(now)
        await uow.cases.update(case)
        await _keep_notes(
            ctx, uow, stored, {uuid5(case_id, f"reopened:{now.isoformat()}"): command.note}
        )
        _emit(
            uow,
            CaseReopenedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                reason=command.reason,
                closed_at=closed_at,
            ),
            case_id,
            correlation_id=case.correlation_id,
        )
        await uow.commit()
        return case_summary(case)


# --- reads ---------------------------------------------------------------------------------


CASEWORK_READERS = frozenset({ActorRole.OPERATOR, ActorRole.CASEWORKER, ActorRole.SUPERVISOR})


async def read_casework(ctx: IntakeContext, actor: Actor, case_id: UUID) -> CaseworkView:
    """The case's casework with its notes, within the caller's read scope. When notes are
    shown, the read is announced (`personal_data_accessed`, field `casework.note`) before
    the answer is sent, like every read of personal data."""
    if actor.role not in CASEWORK_READERS:
        raise AccessDenied("this role may not read the casework")
    async with ctx.unit_of_work() as uow:
        stored, notes = await _load_for_read(ctx, actor, uow, case_id)
        case = stored.case
        transfers = await uow.casework.of_case(Transfer, case_id)
        assessments = await uow.casework.of_case(Assessment, case_id)
        interventions = await uow.casework.of_case(Intervention, case_id)
        follow_ups = await uow.casework.of_case(FollowUp, case_id)
        approvals = await uow.casework.of_case(Approval, case_id)
        referrals = await uow.casework.of_case(ReferralProgress, case_id)
        if notes:
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

    def note(record_id: UUID) -> str | None:
        return notes.get(record_id)

    def decision(record_id: UUID) -> str | None:
        return notes.get(decision_note_key(record_id))

    return CaseworkView(
        case_id=case_id,
        reference=case.reference,
        status=case.status,
        needs=case_summary(case).needs,
        owner=OwnerView.of(case.ownership),
        risk_level=case.risk_level,
        may_close_without_approval=all(r.is_finished for r in referrals),
        transfers=[TransferView.of(t, note(t.record_id)) for t in transfers],
        assessments=[AssessmentView.of(a, note(a.record_id)) for a in assessments],
        interventions=[InterventionView.of(i, note(i.record_id)) for i in interventions],
        follow_ups=[FollowUpView.of(f, note(f.record_id)) for f in follow_ups],
        approvals=[ApprovalView.of(a, note(a.record_id), decision(a.record_id)) for a in approvals],
        referrals=[ReferralProgressView.of(r) for r in referrals],
    )


async def casework_report(
    ctx: IntakeContext,
    actor: Actor,
    registered_from: datetime | None,
    registered_before: datetime | None,
) -> CaseworkReport:
    """Figures over the cases within the caller's read scope registered in the period (no
    personal data, so not an announced read)."""
    scope = ctx.scopes.read_scope(actor.role)
    where = CaseFilter(
        scope=None if scope is CaseScope.ALL else ScopeFilter(scope, actor.viewer),
        registered_from=registered_from,
        registered_before=registered_before,
    )
    now = ctx.clock()
    async with ctx.unit_of_work() as uow:
        found = await uow.cases.page(where, None, ctx.casework.report_case_limit)
        cases = [stored.case for stored in found]
        ids = [case.case_id for case in cases]
        referrals = await uow.casework.of_cases(ReferralProgress, ids)
        follow_ups = await uow.casework.of_cases(FollowUp, ids)
    by_id = {case.case_id: case for case in cases}
    first_contact = _first_by_case(
        (f.case_id, f.done_at)
        for f in follow_ups
        if f.done_at is not None and f.outcome in CONTACT_OUTCOMES
    )
    first_service = _first_by_case((r.case_id, r.started_at) for r in referrals)
    finished = [r for r in referrals if r.is_finished]
    completed = [r for r in finished if r.referral_state is ReferralState.COMPLETED]
    open_cases = [case for case in cases if case.status is CaseStatus.OPEN]
    overdue = [
        f
        for f in follow_ups
        if f.done_at is None and f.due_at <= now and by_id[f.case_id].status is CaseStatus.OPEN
    ]
    return CaseworkReport(
        cases=len(cases),
        time_to_first_contact=_durations(by_id, first_contact),
        time_to_first_service=_durations(by_id, first_service),
        referrals_finished=len(finished),
        referrals_completed=len(completed),
        completion_rate=len(completed) / len(finished) if finished else None,
        caseload_by_caseworker=_caseload(
            Counter((c.ownership.owner_id, c.ownership.team) for c in open_cases)
        ),
        caseload_by_team=[
            CaseloadRow(team=team, open_cases=count)
            for team, count in sorted(
                Counter(c.ownership.team for c in open_cases).items(),
                key=lambda item: (-item[1], item[0] or ""),
            )
        ],
        overdue_follow_ups=len(overdue),
        overdue_follow_ups_by_caseworker=_caseload(
            Counter(
                (by_id[f.case_id].ownership.owner_id, by_id[f.case_id].ownership.team)
                for f in overdue
            )
        ),
    )


def _first_by_case(moments: Iterable[tuple[UUID, datetime | None]]) -> dict[UUID, datetime]:
    first: dict[UUID, datetime] = {}
    for case_id, moment in moments:
        if moment is not None and (case_id not in first or moment < first[case_id]):
            first[case_id] = moment
    return first


def _durations(cases: Mapping[UUID, Case], moments: Mapping[UUID, datetime]) -> DurationFigures:
    seconds = sorted(
        max(0.0, (moment - cases[case_id].registered_at).total_seconds())
        for case_id, moment in moments.items()
    )
    if not seconds:
        return DurationFigures(count=0, median_seconds=None, p90_seconds=None)
    nearest_rank = seconds[max(0, math.ceil(0.9 * len(seconds)) - 1)]
    return DurationFigures(
        count=len(seconds), median_seconds=statistics.median(seconds), p90_seconds=nearest_rank
    )


def _caseload(counts: Counter[tuple[str, str | None]]) -> list[CaseloadRow]:
    return [
        CaseloadRow(owner_id=owner, team=team, open_cases=count)
        for (owner, team), count in sorted(counts.items(), key=lambda i: (-i[1], i[0][0]))
    ]


# --- helpers -------------------------------------------------------------------------------


async def _load(uow: IntakeUnitOfWorkPort, case_id: UUID) -> StoredCase:
    """The case, locked, whoever asks (the caller's rights are checked on the record)."""
    stored = await uow.cases.get(case_id, for_update=True)
    if stored is None:
        raise CaseNotFound(f"no case {case_id}")
    return stored


async def _keep_notes(
    ctx: IntakeContext,
    uow: IntakeUnitOfWorkPort,
    stored: StoredCase,
    notes: Mapping[UUID, str | None],
) -> None:
    """Seals the given notes into the case's encrypted personal data."""
    given = {key: text for key, text in notes.items() if text}
    if not given:
        return
    stored.case.ensure_not_erased()
    assert stored.sealed is not None
    case_id = stored.case.case_id
    person = ctx.vault.open(case_id, stored.sealed)
    person = person.model_copy(update={"casework_notes": {**person.casework_notes, **given}})
    sealed = ctx.vault.reseal(case_id, stored.sealed, person)
    await uow.cases.store_personal_data(case_id, sealed)
    # Later notes of the same unit of work reseal from this one.
    object.__setattr__(stored, "sealed", sealed)


@dataclass(frozen=True)
class ReferralMove:
    """What one referral event says: the referral of a case's need is now in `state`."""

    referral_id: UUID
    case_id: UUID
    need_id: UUID
    state: ReferralState
    at: datetime


async def learn_referral_states(
    uow: IntakeUnitOfWorkPort, moves: Sequence[ReferralMove]
) -> set[UUID]:
    """What a batch of referral events says of referrals of intake's cases, in order (in the
    consumer's unit of work): one read of their records, locked, and one write. Returns the
    referrals written: those of cases intake holds."""
    if not moves:
        return set()
    progress = await uow.casework.get_many(
        ReferralProgress, list(dict.fromkeys(move.referral_id for move in moves)), for_update=True
    )
    for move in moves:
        known = progress.get(move.referral_id)
        if known is None:
            known = ReferralProgress(
                record_id=move.referral_id,
                case_id=move.case_id,
                created_at=move.at,
                need_id=move.need_id,
                referral_state=ReferralState.REQUESTED,
                updated_at=move.at,
            )
        progress[move.referral_id] = known.moved_to(move.state, move.at)
    return await uow.casework.save_where_held(list(progress.values()))


async def learn_referral_state(
    uow: IntakeUnitOfWorkPort,
    *,
    referral_id: UUID,
    case_id: UUID,
    need_id: UUID,
    state: ReferralState,
    at: datetime,
) -> bool:
    """What a referral event says of a referral of one of intake's cases (in the consumer's
    unit of work); False for a case intake does not hold."""
    move = ReferralMove(referral_id, case_id, need_id, state, at)
    return referral_id in await learn_referral_states(uow, [move])
