"""Use cases of trafficking identification and the recovery and reflection period (issue 17).

Each is one unit of work: load the case (locked, within the caller's write scope), apply the
records' own rules, save, schedule or cancel the period's durable timers
(`mpa_common.timers`: scheduled in the same transaction, fired once across restarts and
replicas), add events, commit once. Notes are sealed into the case's encrypted data.
"""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_OID, UUID, uuid4, uuid5

from mpa_common.timers import Timer
from mpa_contracts.events.protection import (
    ConclusiveGroundsDecidedV1,
    IdentificationAppealDecidedV1,
    IdentificationAppealedV1,
    ReasonableGroundsDecidedV1,
    ReflectionPeriodEndedV1,
    ReflectionPeriodEndingV1,
    ReflectionPeriodExtendedV1,
    ReflectionPeriodStartedV1,
    TraffickingIndicatorsNotedV1,
)
from mpa_intake.app.cases import _emit, _load_for_change
from mpa_intake.app.casework import CLOCK_SKEW, _keep_notes
from mpa_intake.app.context import Actor, IntakeContext
from mpa_intake.app.ports import IntakeUnitOfWorkPort, StoredCase
from mpa_intake.app.protection_commands import (
    DecideAppeal,
    DecideConclusiveGrounds,
    DecideReasonableGrounds,
    ExtendReflectionPeriod,
    LodgeAppeal,
    NoteIndicators,
)
from mpa_intake.app.protection_views import IdentificationView, ReflectionPeriodView
from mpa_intake.domain.case import CaseStatus
from mpa_intake.domain.errors import CaseConflict, CaseNotFound, FieldError, InvalidCase
from mpa_intake.domain.identification import Identification, ReflectionPeriod

REFLECTION_REMINDER_TIMER = "reflection_period_reminder"
REFLECTION_END_TIMER = "reflection_period_end"


def _not_future(field: str, moment: datetime, now: datetime) -> None:
    if moment > now + CLOCK_SKEW:
        raise InvalidCase([FieldError(field, "must not be in the future")])


async def _identification(uow: IntakeUnitOfWorkPort, case_id: UUID) -> Identification | None:
    found = await uow.casework.of_case(Identification, case_id)
    return found[-1] if found else None


async def _existing(uow: IntakeUnitOfWorkPort, case_id: UUID) -> Identification:
    identification = await _identification(uow, case_id)
    if identification is None:
        raise CaseNotFound(f"case {case_id} has no trafficking identification")
    return identification


async def note_indicators(
    ctx: IntakeContext, actor: Actor, case_id: UUID, command: NoteIndicators
) -> IdentificationView:
    """Potential victim: the identification begins (one per case)."""
    async with ctx.unit_of_work() as uow:
        stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        stored.case.ensure_open()
        if await _identification(uow, case_id) is not None:
            raise CaseConflict("the case has an identification already")
        now = ctx.clock()
        identification = Identification(
            record_id=uuid4(),
            case_id=case_id,
            created_at=now,
            noted_by=actor.actor_id,
            exploitation_types=tuple(command.exploitation_types),
            means_of_control=tuple(command.means_of_control),
            updated_at=now,
        )
        await uow.casework.add(identification)
        await _keep_notes(ctx, uow, stored, {identification.record_id: command.note})
        _emit(
            uow,
            TraffickingIndicatorsNotedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                identification_id=identification.record_id,
                status=identification.status,
                exploitation_types=identification.exploitation_types,
                means_of_control=identification.means_of_control,
            ),
            case_id,
            correlation_id=stored.case.correlation_id,
        )
        await uow.commit()
        return IdentificationView.of(identification)


async def decide_reasonable_grounds(
    ctx: IntakeContext, actor: Actor, case_id: UUID, command: DecideReasonableGrounds
) -> ReflectionPeriodView:
    """Presumed victim; the recovery and reflection period starts from the decision, with
    its reminder and end on durable timers. Without indicators noted before, the
    identification begins here."""
    async with ctx.unit_of_work() as uow:
        stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        case = stored.case
        case.ensure_open()
        now = ctx.clock()
        _not_future("body.decided_at", command.decided_at, now)
        identification = await _identification(uow, case_id)
        if identification is None:
            identification = Identification(
                record_id=uuid4(),
                case_id=case_id,
                created_at=now,
                noted_by=actor.actor_id,
                updated_at=now,
            )
        identification.presume(
            decided_at=command.decided_at,
            by=command.deciding_organisation_type,
            basis=command.basis,
            exploitation_types=tuple(command.exploitation_types),
            means_of_control=tuple(command.means_of_control),
            now=now,
        )
        period = ReflectionPeriod.begin(
            record_id=uuid4(),
            case_id=case_id,
            identification_id=identification.record_id,
            decided_at=command.decided_at,
            country=case.profile.location.country,
            requested_days=command.reflection_days,
            non_removal=command.non_removal,
            policy=ctx.reflection,
            now=now,
        )
        await uow.casework.save(identification)
        await uow.casework.add(period)
        await _schedule(uow, period)
        await _keep_notes(
            ctx,
            uow,
            stored,
            {note_key(identification.record_id, "reasonable_grounds"): command.note},
        )
        _emit(
            uow,
            ReasonableGroundsDecidedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                identification_id=identification.record_id,
                status=identification.status,
                decided_at=command.decided_at,
                deciding_organisation_type=command.deciding_organisation_type,
                basis=command.basis,
                exploitation_types=identification.exploitation_types,
                means_of_control=identification.means_of_control,
            ),
            case_id,
            correlation_id=case.correlation_id,
        )
        _emit(
            uow,
            ReflectionPeriodStartedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                identification_id=identification.record_id,
                reflection_period_id=period.record_id,
                starts_at=period.starts_at,
                ends_at=period.ends_at,
                days=period.days,
                non_removal=period.non_removal,
                remind_at=period.remind_at,
            ),
            case_id,
            correlation_id=case.correlation_id,
        )
        await uow.commit()
        return ReflectionPeriodView.of(period)


async def decide_conclusive_grounds(
    ctx: IntakeContext, actor: Actor, case_id: UUID, command: DecideConclusiveGrounds
) -> IdentificationView:
    async with ctx.unit_of_work() as uow:
        stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        now = ctx.clock()
        _not_future("body.decided_at", command.decided_at, now)
        identification = await _existing(uow, case_id)
        identification.conclude(
            command.outcome,
            decided_at=command.decided_at,
            by=command.deciding_organisation_type,
            now=now,
        )
        await uow.casework.save(identification)
        await _keep_notes(
            ctx,
            uow,
            stored,
            {note_key(identification.record_id, "conclusive_grounds"): command.note},
        )
        _emit(
            uow,
            ConclusiveGroundsDecidedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                identification_id=identification.record_id,
                status=identification.status,
                decided_at=command.decided_at,
                deciding_organisation_type=command.deciding_organisation_type,
            ),
            case_id,
            correlation_id=stored.case.correlation_id,
        )
        await uow.commit()
        return IdentificationView.of(identification)


async def lodge_appeal(
    ctx: IntakeContext, actor: Actor, case_id: UUID, command: LodgeAppeal
) -> IdentificationView:
    async with ctx.unit_of_work() as uow:
        stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        now = ctx.clock()
        _not_future("body.lodged_at", command.lodged_at, now)
        identification = await _existing(uow, case_id)
        identification.appeal(command.lodged_at, now)
        await uow.casework.save(identification)
        await _keep_notes(
            ctx, uow, stored, {note_key(identification.record_id, "appeal"): command.note}
        )
        _emit(
            uow,
            IdentificationAppealedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                identification_id=identification.record_id,
                lodged_at=command.lodged_at,
                status=identification.status,
            ),
            case_id,
            correlation_id=stored.case.correlation_id,
        )
        await uow.commit()
        return IdentificationView.of(identification)


async def decide_appeal(
    ctx: IntakeContext, actor: Actor, case_id: UUID, command: DecideAppeal
) -> IdentificationView:
    async with ctx.unit_of_work() as uow:
        stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        now = ctx.clock()
        _not_future("body.decided_at", command.decided_at, now)
        identification = await _existing(uow, case_id)
        identification.decide_appeal(command.outcome, command.decided_at, now)
        await uow.casework.save(identification)
        await _keep_notes(
            ctx,
            uow,
            stored,
            {note_key(identification.record_id, "appeal_decision"): command.note},
        )
        _emit(
            uow,
            IdentificationAppealDecidedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                identification_id=identification.record_id,
                decided_at=command.decided_at,
                outcome=command.outcome,
                status=identification.status,
            ),
            case_id,
            correlation_id=stored.case.correlation_id,
        )
        await uow.commit()
        return IdentificationView.of(identification)


async def extend_reflection_period(
    ctx: IntakeContext, actor: Actor, case_id: UUID, command: ExtendReflectionPeriod
) -> ReflectionPeriodView:
    """Lengthens the running period; its timers move with its end (the old ones fire no
    more), and the owner is reminded again before the new end."""
    async with ctx.unit_of_work() as uow:
        stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        stored.case.ensure_open()
        period = await _running_period(uow, case_id)
        now = ctx.clock()
        period.extend(
            days=command.extension_days,
            reason=command.reason,
            non_removal=command.non_removal,
            actor_id=actor.actor_id,
            policy=ctx.reflection,
            now=now,
        )
        await uow.casework.save(period)
        await _schedule(uow, period)
        extension_key = note_key(period.record_id, f"extension:{len(period.extensions)}")
        await _keep_notes(ctx, uow, stored, {extension_key: command.note})
        _emit(
            uow,
            ReflectionPeriodExtendedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                reflection_period_id=period.record_id,
                extension_days=command.extension_days,
                reason=command.reason,
                ends_at=period.ends_at,
                non_removal=period.non_removal,
                remind_at=period.remind_at,
            ),
            case_id,
            correlation_id=stored.case.correlation_id,
        )
        await uow.commit()
        return ReflectionPeriodView.of(period)


async def _running_period(uow: IntakeUnitOfWorkPort, case_id: UUID) -> ReflectionPeriod:
    """The case's running period, locked, its unfired timers cancelled first: the timer
    worker takes a timer's row and then the period's, and taking them in the same order
    here means one waits for the other instead of a deadlock."""
    for period in reversed(await uow.casework.of_case(ReflectionPeriod, case_id)):
        if period.ended_at is None:
            for kind in (REFLECTION_REMINDER_TIMER, REFLECTION_END_TIMER):
                await uow.timers.cancel(kind=kind, subject_id=period.record_id)
            locked = await uow.casework.get(ReflectionPeriod, period.record_id, for_update=True)
            assert locked is not None
            if locked.ended_at is None:
                return locked
    raise CaseConflict("the case has no running recovery and reflection period")


async def _schedule(uow: IntakeUnitOfWorkPort, period: ReflectionPeriod) -> None:
    await uow.timers.schedule(
        kind=REFLECTION_REMINDER_TIMER, subject_id=period.record_id, due_at=period.remind_at
    )
    await uow.timers.schedule(
        kind=REFLECTION_END_TIMER, subject_id=period.record_id, due_at=period.ends_at
    )


async def _period_and_case(
    uow: IntakeUnitOfWorkPort, timer: Timer
) -> tuple[ReflectionPeriod, StoredCase] | None:
    period = await uow.casework.get(ReflectionPeriod, timer.subject_id, for_update=True)
    if period is None:
        return None
    stored = await uow.cases.get(period.case_id)
    return None if stored is None else (period, stored)


async def on_reflection_reminder_due(uow: IntakeUnitOfWorkPort, timer: Timer, now: datetime) -> str:
    """The reminder timer fired (in the timer worker's unit of work, which marks it fired in
    the same commit): the case's owner and supervisors are told once that the period ends
    soon. A child's case is no different: the notice names the caseworker, never the
    child's contact."""
    found = await _period_and_case(uow, timer)
    if found is None:
        return "gone"
    period, stored = found
    case = stored.case
    if case.status is CaseStatus.CLOSED:
        return "case_closed"
    if not period.remind(now):
        return "not_due"
    await uow.casework.save(period)
    owner = case.ownership
    _emit(
        uow,
        ReflectionPeriodEndingV1(
            case_id=case.case_id,
            reflection_period_id=period.record_id,
            ends_at=period.ends_at,
            non_removal=period.non_removal,
            owner_id=owner.owner_id,
            owner_team=owner.team,
            owner_country=owner.country,
        ),
        case.case_id,
        correlation_id=case.correlation_id,
    )
    return "reminded"


async def on_reflection_end_due(uow: IntakeUnitOfWorkPort, timer: Timer, now: datetime) -> str:
    found = await _period_and_case(uow, timer)
    if found is None:
        return "gone"
    period, stored = found
    if not period.end(now):
        return "not_due"
    await uow.casework.save(period)
    _emit(
        uow,
        ReflectionPeriodEndedV1(
            case_id=period.case_id, reflection_period_id=period.record_id, ends_at=period.ends_at
        ),
        period.case_id,
        correlation_id=stored.case.correlation_id,
    )
    return "ended"


def note_key(record_id: UUID, step: str) -> UUID:
    """Where the note of one step of a protection record is kept in the case's sealed
    data, beside the record's own note under its id."""
    return uuid5(NAMESPACE_OID, f"mpa-intake-protection:{step}:{record_id}")
