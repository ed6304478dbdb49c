"""Use cases of the PSEA channel (issue 17): complaints of sexual exploitation and abuse.

Anyone who receives a complaint files it (an operator, a caseworker, a supervisor, a
partner's staff, the focal point); from then on only the PSEA focal point sees it. The
filer gets its id back and nothing more. The account and whatever identifies the survivor
are sealed like a case's personal data (`Vault`, a data key per complaint); events carry
the complaint's id, its steps and deadlines, and never the survivor's case.

A complaint belongs to the country office that received it (`country`, else the filer's
own); the focal point lists, reads and acts on those within the `psea` role's scope (read
scope for the list and the record, write scope for the steps; their country office by
default). Another office's complaint is answered as one that does not exist (404): a
focal point elsewhere does not even learn that it was made.

Each step is one unit of work. Deadlines are durable timers (`mpa_common.timers`, the
follow-ups' design): a step not taken by its deadline is announced once,
`org.mpa.psea.deadline_missed.v1`.

The GBV pathway: with the survivor's consent, a `gbv_response` need is added to their case,
which the referral service routes like any need. That event is the system's (`system:
intake`), not the focal point's: the case's story, which partners' and auditors' views
show, must not say that a PSEA focal point acted on it.
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID, uuid4

from pydantic import Field, model_validator

from mpa_common.request_types import Date, StrictBool, Text
from mpa_common.timers import Timer
from mpa_common.uow import Cause
from mpa_contracts.events.case import CaseNeedsAddedV1
from mpa_contracts.events.psea import (
    PseaAllegationReferredV1,
    PseaAssistanceDecidedV1,
    PseaComplaintReadV1,
    PseaComplaintReceivedV1,
    PseaDeadlineMissedV1,
    PseaEvent,
    PseaInvestigationConcludedV1,
)
from mpa_contracts.types import CountryCode
from mpa_contracts.vocabularies import (
    ActorRole,
    CaseScope,
    NeedCategory,
    PersonalDataField,
    PseaAllegationType,
    PseaAssistanceDecision,
    PseaInvestigationOutcome,
    PseaStep,
    Urgency,
)
from mpa_intake.app.cases import _emit
from mpa_intake.app.commands import Command, Email, Phone, ShortText
from mpa_intake.app.context import Actor, IntakeContext
from mpa_intake.app.ports import IntakeUnitOfWorkPort
from mpa_intake.app.views import View
from mpa_intake.domain.case import NeedEntry
from mpa_intake.domain.errors import (
    AccessDenied,
    CaseNotFound,
    ComplaintNotFound,
    FieldError,
    InvalidCase,
)
from mpa_intake.domain.personal_data import PersonalData
from mpa_intake.domain.psea import PseaComplaint, complaint_within

# One timer kind per step; the subject is the complaint.
PSEA_TIMERS: dict[str, PseaStep] = {f"psea_{step.value}_due": step for step in PseaStep}
TIMER_OF_STEP = {step: kind for kind, step in PSEA_TIMERS.items()}
SYSTEM_ACTOR = "system:intake"
LISTED = 200  # the focal point's list: the newest complaints


def _focal_point(actor: Actor) -> None:
    # The API lets only the focal point through; this says it again where the data is.
    if actor.role is not ActorRole.PSEA_FOCAL_POINT:
        raise AccessDenied("only the PSEA focal point handles complaints")


# --- commands and views ----------------------------------------------------------------------


class SurvivorInput(Command):
    """Who the survivor is, when they want to be known: personal data, sealed."""

    given_name: ShortText | None = Field(
        default=None, description="Given name, if they give it", examples=["Aïcha"]
    )
    family_name: ShortText | None = Field(
        default=None, description="Family name, if they give it", examples=["Exemple"]
    )
    phone: Phone | None = Field(
        default=None, description="A safe number, if any", examples=["+227 90 00 00 01"]
    )
    email: Email | None = Field(
        default=None, description="A safe address, if any", examples=["a.exemple@example.org"]
    )


class FileComplaint(Command):
    """A complaint of sexual exploitation or abuse, as received."""

    allegation_type: PseaAllegationType = Field(
        description="What is alleged", examples=["sexual_exploitation"]
    )
    account: Text = Field(
        min_length=1,
        max_length=8000,
        description="What was reported, in the words it was given: sealed, seen only by the "
        "PSEA focal point",
        examples=["(the account as told)"],
    )
    implicated_partner_id: UUID | None = Field(
        default=None,
        description="The implicated organisation, when it is a directory partner",
        examples=["0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"],
    )
    incident_date: Date | None = Field(
        default=None, description="When it happened, if known", examples=["2026-02-27"]
    )
    survivor: SurvivorInput | None = Field(
        default=None, description="Absent when the survivor stays anonymous"
    )
    survivor_case_id: UUID | None = Field(
        default=None,
        description="The survivor's case, if they have one (restricted)",
        examples=["6f1c2a3e-8d4b-4c1a-9e2f-0a1b2c3d4e5f"],
    )
    assistance_consent: StrictBool = Field(
        description="The survivor agrees to be referred for assistance (GBV pathway)",
        examples=[True],
    )
    identity_consent: StrictBool = Field(
        description="The survivor agrees to their identity going with the allegation to the "
        "implicated organisation's investigation",
        examples=[False],
    )
    country: CountryCode | None = Field(
        default=None,
        description="The country office that received it, whose focal point handles it; "
        "absent: the filer's own (required when their token names none)",
        examples=["NE"],
    )


class ComplaintReceipt(View):
    """What the filer gets back: the complaint is the focal point's from now on."""

    complaint_id: UUID
    received_at: datetime


class DecideAssistance(Command):
    decision: PseaAssistanceDecision = Field(
        description="Referred through the GBV pathway, or declined", examples=["referred"]
    )
    survivor_case_id: UUID | None = Field(
        default=None,
        description="The survivor's case, if not named when the complaint was filed",
        examples=["6f1c2a3e-8d4b-4c1a-9e2f-0a1b2c3d4e5f"],
    )
    urgency: Urgency = Field(
        default=Urgency.HIGH, description="The GBV-pathway need's urgency", examples=["high"]
    )

    @model_validator(mode="after")
    def _declined_alone(self) -> DecideAssistance:
        if self.decision is PseaAssistanceDecision.DECLINED and self.survivor_case_id:
            raise ValueError("survivor_case_id is for a referral")
        return self


class ReferAllegation(Command):
    implicated_partner_id: UUID | None = Field(
        default=None,
        description="The implicated organisation, if not named at filing",
        examples=["0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"],
    )


class RecordOutcome(Command):
    outcome: PseaInvestigationOutcome = Field(
        description="What the investigation concluded", examples=["substantiated"]
    )
    suspend_partner: StrictBool = Field(
        default=False,
        description="Suspend the organisation from the directory (substantiated only); only "
        "an administrator lifts it",
        examples=[True],
    )


class ComplaintSummary(View):
    """A complaint without its account or survivor (the focal point's list)."""

    complaint_id: UUID
    received_at: datetime
    received_by: str
    country: str | None = Field(description="The country office that received it")
    allegation_type: PseaAllegationType
    implicated_partner_id: UUID | None
    incident_date: date | None = None
    assistance_consent: bool
    identity_consent: bool
    assistance: PseaAssistanceDecision | None
    assistance_due_at: datetime
    allegation_referred_at: datetime | None
    allegation_referral_due_at: datetime
    investigation_due_at: datetime | None
    outcome: PseaInvestigationOutcome | None
    partner_suspended: bool
    overdue_steps: list[PseaStep] = Field(description="Past their deadline and not taken")
    missed_steps: list[PseaStep] = Field(description="Steps that missed their deadline")


class ComplaintList(View):
    items: list[ComplaintSummary]


class SurvivorView(View):
    given_name: str | None
    family_name: str | None
    phone: str | None
    email: str | None


class ComplaintDetail(ComplaintSummary):
    """The restricted record: its account and survivor (an announced read)."""

    account: str
    survivor: SurvivorView
    survivor_case_id: UUID | None


# --- use cases -------------------------------------------------------------------------------


async def file_complaint(
    ctx: IntakeContext, actor: Actor, command: FileComplaint
) -> ComplaintReceipt:
    now = ctx.clock()
    complaint_id = uuid4()
    policy = ctx.psea
    country = command.country or actor.country
    if country is None:
        raise InvalidCase(
            [FieldError("body.country", "the receiving country office: your token names none")]
        )
    complaint = PseaComplaint(
        complaint_id=complaint_id,
        received_at=now,
        received_by=actor.actor_id,
        country=country,
        allegation_type=command.allegation_type,
        implicated_partner_id=command.implicated_partner_id,
        survivor_case_id=command.survivor_case_id,
        incident_date=command.incident_date,
        assistance_consent=command.assistance_consent,
        identity_consent=command.identity_consent,
        assistance_due_at=now + policy.assistance_due,
        allegation_referral_due_at=now + policy.allegation_referral_due,
    )
    survivor = command.survivor or SurvivorInput()
    # The survivor's record, sealed as a case's is; the account under the complaint's id.
    sealed = ctx.vault.seal_new(
        complaint_id,
        PersonalData(
            given_name=survivor.given_name or "",
            family_name=survivor.family_name or "",
            phone=survivor.phone,
            email=survivor.email,
            casework_notes={complaint_id: command.account},
        ),
    )
    async with ctx.unit_of_work() as uow:
        await uow.psea.add(complaint, sealed)
        for step in (PseaStep.ASSISTANCE, PseaStep.ALLEGATION_REFERRAL):
            due = complaint.due_at(step)
            assert due is not None
            await uow.timers.schedule(kind=TIMER_OF_STEP[step], subject_id=complaint_id, due_at=due)
        _emit_psea(
            uow,
            PseaComplaintReceivedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                complaint_id=complaint_id,
                assistance_due_at=complaint.assistance_due_at,
                allegation_referral_due_at=complaint.allegation_referral_due_at,
            ),
        )
        await uow.commit()
    return ComplaintReceipt(complaint_id=complaint_id, received_at=now)


async def list_complaints(ctx: IntakeContext, actor: Actor) -> ComplaintList:
    _focal_point(actor)
    now = ctx.clock()
    scope = ctx.scopes.read_scope(actor.role)
    # Narrowed in the query to the focal point's country office (unless they reach all),
    # then by the scope's own rule.
    country = None if scope is CaseScope.ALL else (actor.country or "")
    async with ctx.unit_of_work() as uow:
        complaints = await uow.psea.recent(LISTED, country=country)
    return ComplaintList(
        items=[_summary(c, now) for c in complaints if complaint_within(scope, c, actor.viewer)]
    )


async def read_complaint(ctx: IntakeContext, actor: Actor, complaint_id: UUID) -> ComplaintDetail:
    """The restricted record, announced as `org.mpa.psea.complaint_read.v1`."""
    _focal_point(actor)
    async with ctx.unit_of_work() as uow:
        stored = await uow.psea.get(complaint_id)
        scope = ctx.scopes.read_scope(actor.role)
        if stored is None or not complaint_within(scope, stored.complaint, actor.viewer):
            raise ComplaintNotFound(f"no complaint {complaint_id}")
        record = ctx.vault.open(complaint_id, stored.sealed)
        identity = sorted(record.present_fields() - {PersonalDataField.CASEWORK_NOTE})
        fields = [PersonalDataField.PSEA_ACCOUNT, *identity]
        _emit_psea(
            uow,
            PseaComplaintReadV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                complaint_id=complaint_id,
                fields=tuple(fields),
            ),
        )
        await uow.commit()
    complaint = stored.complaint
    return ComplaintDetail(
        **_summary(complaint, ctx.clock()).model_dump(),
        account=record.casework_notes.get(complaint_id, ""),
        survivor=SurvivorView(
            given_name=record.given_name or None,
            family_name=record.family_name or None,
            phone=record.phone,
            email=record.email,
        ),
        survivor_case_id=complaint.survivor_case_id,
    )


async def decide_assistance(
    ctx: IntakeContext, actor: Actor, complaint_id: UUID, command: DecideAssistance
) -> ComplaintSummary:
    """Refers the survivor through the GBV pathway (a `gbv_response` need on their case,
    routed like any other), or records that they declined."""
    _focal_point(actor)
    now = ctx.clock()
    async with ctx.unit_of_work() as uow:
        complaint = await _load(ctx, actor, uow, complaint_id)
        if command.decision is PseaAssistanceDecision.REFERRED:
            case_id = command.survivor_case_id or complaint.survivor_case_id
            need = NeedEntry(uuid4(), NeedCategory.GBV_RESPONSE, command.urgency, None, now)
            on_time = complaint.decide_assistance(
                command.decision, now, survivor_case_id=case_id, need_id=need.need_id
            )
            assert case_id is not None  # decide_assistance refuses a referral without it
            await _add_gbv_need(uow, case_id, need, now)
        else:
            on_time = complaint.decide_assistance(command.decision, now)
        await uow.psea.save(complaint)
        await uow.timers.cancel(kind=TIMER_OF_STEP[PseaStep.ASSISTANCE], subject_id=complaint_id)
        _emit_psea(
            uow,
            PseaAssistanceDecidedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                complaint_id=complaint_id,
                decision=command.decision,
                on_time=on_time,
            ),
        )
        await uow.commit()
    return _summary(complaint, now)


async def refer_allegation(
    ctx: IntakeContext, actor: Actor, complaint_id: UUID, command: ReferAllegation
) -> ComplaintSummary:
    """The allegation goes to the implicated organisation's investigation focal point (the
    notification service writes to it); the survivor's identity only with their consent,
    and never in the event."""
    _focal_point(actor)
    now = ctx.clock()
    async with ctx.unit_of_work() as uow:
        complaint = await _load(ctx, actor, uow, complaint_id)
        due = now + ctx.psea.investigation_due
        on_time = complaint.refer_allegation(command.implicated_partner_id, now, due)
        assert complaint.implicated_partner_id is not None
        await uow.psea.save(complaint)
        await uow.timers.cancel(
            kind=TIMER_OF_STEP[PseaStep.ALLEGATION_REFERRAL], subject_id=complaint_id
        )
        await uow.timers.schedule(
            kind=TIMER_OF_STEP[PseaStep.INVESTIGATION], subject_id=complaint_id, due_at=due
        )
        _emit_psea(
            uow,
            PseaAllegationReferredV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                complaint_id=complaint_id,
                implicated_partner_id=complaint.implicated_partner_id,
                allegation_type=complaint.allegation_type,
                survivor_identity_shared=complaint.identity_consent,
                investigation_due_at=due,
                on_time=on_time,
            ),
        )
        await uow.commit()
    return _summary(complaint, now)


async def record_outcome(
    ctx: IntakeContext, actor: Actor, complaint_id: UUID, command: RecordOutcome
) -> ComplaintSummary:
    """The investigation's outcome; a substantiated one may suspend the organisation (the
    referral service applies the directory's suspension on the event)."""
    _focal_point(actor)
    now = ctx.clock()
    async with ctx.unit_of_work() as uow:
        complaint = await _load(ctx, actor, uow, complaint_id)
        on_time = complaint.conclude(command.outcome, command.suspend_partner, now)
        assert complaint.implicated_partner_id is not None
        await uow.psea.save(complaint)
        await uow.timers.cancel(kind=TIMER_OF_STEP[PseaStep.INVESTIGATION], subject_id=complaint_id)
        _emit_psea(
            uow,
            PseaInvestigationConcludedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                complaint_id=complaint_id,
                implicated_partner_id=complaint.implicated_partner_id,
                outcome=command.outcome,
                suspend_partner=command.suspend_partner,
                on_time=on_time,
            ),
        )
        await uow.commit()
    return _summary(complaint, now)


async def on_psea_deadline(uow: IntakeUnitOfWorkPort, timer: Timer, now: datetime) -> str:
    """A step's timer fired (in the timer worker's unit of work): a step not taken by then
    is announced once as missed."""
    step = PSEA_TIMERS[timer.kind]
    stored = await uow.psea.get(timer.subject_id, for_update=True)
    if stored is None:
        return "gone"
    complaint = stored.complaint
    if not complaint.miss(step, now):
        return "done"
    await uow.psea.save(complaint)
    due = complaint.due_at(step)
    assert due is not None
    _emit_psea(
        uow,
        PseaDeadlineMissedV1(
            actor_id=SYSTEM_ACTOR,
            actor_role=ActorRole.SYSTEM,
            complaint_id=complaint.complaint_id,
            step=step,
            due_at=due,
        ),
    )
    return "missed"


# --- helpers ---------------------------------------------------------------------------------


async def _load(
    ctx: IntakeContext, actor: Actor, uow: IntakeUnitOfWorkPort, complaint_id: UUID
) -> PseaComplaint:
    """The complaint, locked, when it lies within the focal point's write scope; otherwise
    as if there were none (its existence is not disclosed)."""
    stored = await uow.psea.get(complaint_id, for_update=True)
    scope = ctx.scopes.write_scope(actor.role)
    if stored is None or not complaint_within(scope, stored.complaint, actor.viewer):
        raise ComplaintNotFound(f"no complaint {complaint_id}")
    return stored.complaint


async def _add_gbv_need(
    uow: IntakeUnitOfWorkPort, case_id: UUID, need: NeedEntry, now: datetime
) -> None:
    """The GBV-pathway need on the survivor's case, as the system's step (see above)."""
    stored = await uow.cases.get(case_id, for_update=True)
    if stored is None:
        raise CaseNotFound(f"no case {case_id}")
    case = stored.case
    first = len(case.needs)
    case.add_needs([need], now)
    await uow.cases.add_needs(case_id, [need], added_by=SYSTEM_ACTOR, first=first)
    await uow.cases.update(case)
    _emit(
        uow,
        CaseNeedsAddedV1(
            actor_id=SYSTEM_ACTOR,
            actor_role=ActorRole.SYSTEM,
            case_id=case_id,
            needs=(need.as_contract(),),
        ),
        case_id,
        correlation_id=case.correlation_id,
    )


def _emit_psea(uow: IntakeUnitOfWorkPort, data: PseaEvent) -> None:
    # Each complaint is a story of its own: its id correlates its steps.
    complaint_id = data.complaint_id
    uow.emit(data, subject=f"complaint/{complaint_id}", cause=Cause.story(complaint_id))


def _summary(complaint: PseaComplaint, now: datetime) -> ComplaintSummary:
    return ComplaintSummary(
        complaint_id=complaint.complaint_id,
        received_at=complaint.received_at,
        received_by=complaint.received_by,
        country=complaint.country,
        allegation_type=complaint.allegation_type,
        implicated_partner_id=complaint.implicated_partner_id,
        incident_date=complaint.incident_date,
        assistance_consent=complaint.assistance_consent,
        identity_consent=complaint.identity_consent,
        assistance=complaint.assistance,
        assistance_due_at=complaint.assistance_due_at,
        allegation_referred_at=complaint.allegation_referred_at,
        allegation_referral_due_at=complaint.allegation_referral_due_at,
        investigation_due_at=complaint.investigation_due_at,
        outcome=complaint.outcome,
        partner_suspended=complaint.partner_suspended,
        overdue_steps=complaint.overdue(now),
        missed_steps=sorted(complaint.missed_steps),
    )
