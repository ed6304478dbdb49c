"""HTTP routes of the protection workflows (issue 17): parse, authorise, call one use case.

Under `/v1/cases/{case_id}/…`: trafficking identification and the recovery and reflection
period, a child's assent, guardian and best interests, the protection view; and
`/v1/reports/ctdc`, the statistics export without identities.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from mpa_common.auth import Role
from mpa_common.request_types import DateTime
from mpa_intake.api.errors import problem_responses
from mpa_intake.api.routes import CaseIdPath, acting_as
from mpa_intake.app import children, identification, statistics
from mpa_intake.app.context import Actor, IntakeContext
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
from mpa_intake.app.protection_views import (
    AssentView,
    BestInterestsAssessmentView,
    BestInterestsDeterminationView,
    GuardianView,
    IdentificationView,
    ProtectionView,
    ReflectionPeriodView,
)
from mpa_intake.app.statistics import StatisticsExport

# Caseworkers and their supervisors record protection steps; hotline operators do not.
ProtectionActor = Annotated[Actor, Depends(acting_as(Role.CASEWORKER, Role.SUPERVISOR))]
StatisticsViewer = Annotated[Actor, Depends(acting_as(Role.SUPERVISOR, Role.AUDITOR))]
_WRITE = problem_responses(403, 404, 409, 410, 422)


def protection_router(intake: IntakeContext) -> APIRouter:
    router = APIRouter(prefix="/v1/cases/{case_id}", tags=["protection"])
    outside = APIRouter(prefix="/v1", tags=["protection"])

    async def context() -> IntakeContext:
        return intake

    Context = Annotated[IntakeContext, Depends(context)]

    @router.get(
        "/protection",
        summary="The protection steps of a case, with their notes",
        description="Trafficking identification, recovery and reflection periods, a "
        "child's assent, guardians, best-interests assessments and determinations, within "
        "your read scope. Notes are personal data: when any is shown the read is announced "
        "(`org.mpa.access.personal_data_accessed.v1`, field `casework.note`).",
        responses=problem_responses(403, 404, 422),
    )
    async def read_protection(
        case_id: CaseIdPath, ctx: Context, actor: ProtectionActor
    ) -> ProtectionView:
        return await children.read_protection(ctx, actor, case_id)

    @router.post(
        "/identification/indicators",
        status_code=status.HTTP_201_CREATED,
        summary="Note indicators of trafficking (potential victim)",
        description="Begins the case's identification, apart from any referral: "
        "`org.mpa.case.trafficking_indicators_noted.v1`. Assistance never waits for it.",
        responses=_WRITE,
    )
    async def note_indicators(
        case_id: CaseIdPath, body: NoteIndicators, ctx: Context, actor: ProtectionActor
    ) -> IdentificationView:
        return await identification.note_indicators(ctx, actor, case_id, body)

    @router.post(
        "/identification/reasonable-grounds",
        status_code=status.HTTP_201_CREATED,
        summary="Record a reasonable-grounds decision (presumed victim)",
        description="The recovery and reflection period starts from the decision: at least "
        "30 days (Council of Europe Convention, art. 13), or the country's longer period "
        "(`INTAKE_REFLECTION_DAYS_BY_COUNTRY`); its owner and supervisors are reminded "
        "before it ends (`INTAKE_REFLECTION_REMINDER_DAYS`), once. Nothing asks whether "
        "the person cooperates with the authorities.",
        responses=_WRITE,
    )
    async def reasonable_grounds(
        case_id: CaseIdPath, body: DecideReasonableGrounds, ctx: Context, actor: ProtectionActor
    ) -> ReflectionPeriodView:
        return await identification.decide_reasonable_grounds(ctx, actor, case_id, body)

    @router.post(
        "/identification/conclusive-grounds",
        summary="Record the conclusive decision (identified or not identified)",
        responses=_WRITE,
    )
    async def conclusive_grounds(
        case_id: CaseIdPath, body: DecideConclusiveGrounds, ctx: Context, actor: ProtectionActor
    ) -> IdentificationView:
        return await identification.decide_conclusive_grounds(ctx, actor, case_id, body)

    @router.post(
        "/identification/appeal",
        summary="Record an appeal against the conclusive decision",
        responses=_WRITE,
    )
    async def appeal(
        case_id: CaseIdPath, body: LodgeAppeal, ctx: Context, actor: ProtectionActor
    ) -> IdentificationView:
        return await identification.lodge_appeal(ctx, actor, case_id, body)

    @router.post(
        "/identification/appeal/decision",
        summary="Record the appeal's outcome (upheld or overturned)",
        responses=_WRITE,
    )
    async def appeal_decision(
        case_id: CaseIdPath, body: DecideAppeal, ctx: Context, actor: ProtectionActor
    ) -> IdentificationView:
        return await identification.decide_appeal(ctx, actor, case_id, body)

    @router.post(
        "/reflection-period/extension",
        summary="Extend the running recovery and reflection period",
        description="Never shortens it; its reminder moves before the new end.",
        responses=_WRITE,
    )
    async def extend(
        case_id: CaseIdPath, body: ExtendReflectionPeriod, ctx: Context, actor: ProtectionActor
    ) -> ReflectionPeriodView:
        return await identification.extend_reflection_period(ctx, actor, case_id, body)

    @router.post(
        "/child/assent",
        status_code=status.HTTP_201_CREATED,
        summary="Record who consented for a child, and the child's own assent and views",
        responses=_WRITE,
    )
    async def assent(
        case_id: CaseIdPath, body: RecordAssent, ctx: Context, actor: ProtectionActor
    ) -> AssentView:
        return await children.record_assent(ctx, actor, case_id, body)

    @router.post(
        "/child/guardian",
        status_code=status.HTTP_201_CREATED,
        summary="Record a guardian's appointment",
        description="Who the guardian is goes in the note (kept encrypted, never in an event).",
        responses=_WRITE,
    )
    async def guardian(
        case_id: CaseIdPath, body: AppointGuardian, ctx: Context, actor: ProtectionActor
    ) -> GuardianView:
        return await children.appoint_guardian(ctx, actor, case_id, body)

    @router.post(
        "/child/best-interests/assessments",
        status_code=status.HTTP_201_CREATED,
        summary="Record a best-interests assessment (you are its assessor)",
        responses=_WRITE,
    )
    async def best_interests_assessment(
        case_id: CaseIdPath, body: AssessBestInterests, ctx: Context, actor: ProtectionActor
    ) -> BestInterestsAssessmentView:
        return await children.assess_best_interests(ctx, actor, case_id, body)

    @router.post(
        "/child/best-interests/determination",
        status_code=status.HTTP_201_CREATED,
        summary="Record a best-interests panel's determination, with a supervisor's approval",
        description="Needs an approved request (`POST /v1/cases/{case_id}/approvals` with "
        "subject `best_interests_determination`, decided by a supervisor who is not you). "
        "From `org.mpa.case.best_interests_determined.v1` on, return and "
        "family-reunification referrals of an unaccompanied or separated child may be made.",
        responses=_WRITE,
    )
    async def best_interests_determination(
        case_id: CaseIdPath, body: DetermineBestInterests, ctx: Context, actor: ProtectionActor
    ) -> BestInterestsDeterminationView:
        return await children.determine_best_interests(ctx, actor, case_id, body)

    @outside.get(
        "/reports/ctdc",
        summary="Statistics without identities, in the CTDC's variables (k = 11)",
        description="Case, referral and identification figures of the cases within your "
        "read scope whose consent covers statistical reporting. Every cell counts at least "
        "11 people: rarer combinations of year, gender, age band, citizenship and country "
        "are generalised (citizenship, then age band, then gender, then year withheld) or "
        "suppressed. Supervisors and auditors only.",
        responses=problem_responses(403, 422),
    )
    async def ctdc(
        ctx: Context,
        actor: StatisticsViewer,
        registered_from: Annotated[
            DateTime | None,
            Query(description="Cases registered at or after", examples=["2026-01-01T00:00:00Z"]),
        ] = None,
        registered_before: Annotated[
            DateTime | None,
            Query(description="Cases registered before", examples=["2027-01-01T00:00:00Z"]),
        ] = None,
    ) -> StatisticsExport:
        return await statistics.ctdc_export(ctx, actor, registered_from, registered_before)

    both = APIRouter()
    both.include_router(router)
    both.include_router(outside)
    return both
