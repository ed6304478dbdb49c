"""Use cases of cross-border work (issue 17): the person's consent to the transfer of their
data to named countries, and the hand-off of a person who travels to another country
office — which accepts responsibility before travel and records arrival, when the case's
responsibility moves there through an ordinary transfer (app.casework.complete_transfer).

Each is one unit of work that loads the case locked, applies the records' own rules
(domain.cross_border), saves, emits and commits once. Codes, country codes and dates only:
no step takes free text, so nothing here reads or writes personal data (and no read of
these records is an access event).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

from pydantic import Field

from mpa_common.request_types import DateTime
from mpa_contracts.events.base import EventData
from mpa_contracts.events.case import CaseUpdatedV1, Location
from mpa_contracts.events.cross_border import (
    HandoffAcceptedV1,
    HandoffArrivedV1,
    HandoffCancelledV1,
    HandoffDeclinedV1,
    HandoffDepartedV1,
    HandoffRequestedV1,
    TransferConsentRecordedV1,
    TransferConsentWithdrawnV1,
)
from mpa_contracts.types import CountryCode
from mpa_contracts.vocabularies import (
    ConsentGivenBy,
    ConsentMethod,
    HandoffCancelReason,
    HandoffDeclineReason,
    HandoffState,
    TransferInitiator,
    TransferState,
)
from mpa_intake.app.cases import _emit, _load_for_change
from mpa_intake.app.casework import (
    CLOCK_SKEW,
    PENDING_SCANNED,
    announce_transfer_requested,
    complete_transfer,
)
from mpa_intake.app.commands import Command, Unique
from mpa_intake.app.context import Actor, IntakeContext
from mpa_intake.app.ports import IntakeUnitOfWorkPort, StoredCase
from mpa_intake.app.views import View
from mpa_intake.domain.casework import Transfer
from mpa_intake.domain.cross_border import (
    Handoff,
    TransferConsent,
    covered,
    transfer_consent_rule_errors,
)
from mpa_intake.domain.errors import (
    CaseConflict,
    CaseNotFound,
    FieldError,
    InvalidCase,
    OutsideScope,
)
from mpa_intake.domain.ownership import within

MAX_DESTINATIONS = 20
Countries = Annotated[list[CountryCode], Unique]

# --- commands ------------------------------------------------------------------------------


class RecordTransferConsent(Command):
    """The person's consent to the transfer of their data to other countries."""

    destination_countries: Countries = Field(
        min_length=1,
        max_length=MAX_DESTINATIONS,
        description="ISO 3166-1 alpha-2 codes of the countries the person's data may go to "
        "(to be referred there, to the partner that takes the referral, or to the country "
        "office that receives them)",
        examples=[["ML"]],
    )
    given_by: ConsentGivenBy = Field(
        description="Who consented; for a child, who consented on the child's behalf",
        examples=["self"],
    )
    method: ConsentMethod = Field(description="How consent was captured", examples=["written"])
    obtained_at: DateTime = Field(
        description="When consent was obtained (with time zone)",
        examples=["2026-03-02T09:15:00Z"],
    )
    expires_at: DateTime | None = Field(
        default=None, description="When it lapses; absent for no expiry", examples=[None]
    )


class WithdrawTransferConsent(Command):
    countries: Countries | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_DESTINATIONS,
        description="The countries withdrawn; absent: every country the consent names",
        examples=[["ML"]],
    )


class RequestHandoff(Command):
    """Ask another country office to take responsibility for a person who travels there."""

    to_country: CountryCode = Field(description="The receiving country office", examples=["ML"])
    planned_travel_at: DateTime = Field(
        description="When the person is to travel (with time zone)",
        examples=["2026-03-12T08:00:00Z"],
    )


class DeclineHandoff(Command):
    reason: HandoffDeclineReason = Field(
        description="Why the receiving office declines", examples=["no_capacity"]
    )


class CancelHandoff(Command):
    reason: HandoffCancelReason = Field(
        description="Why the sending office withdraws it", examples=["travel_cancelled"]
    )


class RecordDeparture(Command):
    departed_at: DateTime = Field(
        description="When the person left (with time zone)", examples=["2026-03-12T08:00:00Z"]
    )


class RecordArrival(Command):
    arrived_at: DateTime = Field(
        description="When the person arrived (with time zone)",
        examples=["2026-03-13T17:30:00Z"],
    )


# --- views ---------------------------------------------------------------------------------


class TransferConsentView(View):
    transfer_consent_id: UUID
    case_id: UUID
    state: str = Field(description="in_force, or withdrawn once it names no country")
    destination_countries: list[str] = Field(description="The countries still consented to")
    withdrawn_countries: list[str]
    given_by: ConsentGivenBy
    method: ConsentMethod
    obtained_by: str
    obtained_at: datetime
    expires_at: datetime | None
    recorded_at: datetime

    @classmethod
    def of(cls, consent: TransferConsent) -> TransferConsentView:
        return cls(
            transfer_consent_id=consent.record_id,
            case_id=consent.case_id,
            state=consent.state,
            destination_countries=list(consent.countries),
            withdrawn_countries=list(consent.withdrawn_countries),
            given_by=consent.given_by,
            method=consent.method,
            obtained_by=consent.obtained_by,
            obtained_at=consent.obtained_at,
            expires_at=consent.expires_at,
            recorded_at=consent.created_at,
        )


class HandoffView(View):
    handoff_id: UUID
    case_id: UUID
    state: HandoffState
    requested_by: str
    requested_at: datetime
    from_country: str
    from_owner_id: str
    to_country: str
    planned_travel_at: datetime
    accepted_by: str | None = Field(description="Who accepted responsibility (owner on arrival)")
    receiving_team: str | None
    receiving_agency: str | None
    decided_by: str | None
    decided_at: datetime | None
    decline_reason: HandoffDeclineReason | None
    cancel_reason: HandoffCancelReason | None
    departed_at: datetime | None
    arrived_at: datetime | None
    transfer_id: UUID | None = Field(description="The transfer of responsibility on arrival")

    @classmethod
    def of(cls, handoff: Handoff) -> HandoffView:
        return cls(
            handoff_id=handoff.record_id,
            case_id=handoff.case_id,
            state=handoff.status,
            requested_by=handoff.requested_by,
            requested_at=handoff.created_at,
            from_country=handoff.from_country,
            from_owner_id=handoff.from_owner_id,
            to_country=handoff.to_country,
            planned_travel_at=handoff.planned_travel_at,
            accepted_by=handoff.accepted_by,
            receiving_team=handoff.receiving_team,
            receiving_agency=handoff.receiving_agency,
            decided_by=handoff.decided_by,
            decided_at=handoff.decided_at,
            decline_reason=handoff.decline_reason,
            cancel_reason=handoff.cancel_reason,
            departed_at=handoff.departed_at,
            arrived_at=handoff.arrived_at,
            transfer_id=handoff.transfer_id,
        )


class HandoffList(View):
    items: list[HandoffView]


class CrossBorderView(View):
    """A case's transfer consents and hand-offs (codes and dates: no personal data)."""

    case_id: UUID
    country: str = Field(description="The country the person is in")
    owner_country: str = Field(description="The country office responsible for the case")
    transfer_consents: list[TransferConsentView]
    handoffs: list[HandoffView]
    awaiting_transfer_consent: list[str] = Field(
        description="Assistance countries of the case's needs that no transfer consent in "
        "force names: their referrals wait, and nothing is disclosed there"
    )


# --- transfer consents ---------------------------------------------------------------------


async def record_transfer_consent(
    ctx: IntakeContext, actor: Actor, case_id: UUID, command: RecordTransferConsent
) -> TransferConsentView:
    """Within the actor's write scope, on an open case; beside any other transfer consent."""
    async with ctx.unit_of_work() as uow:
        stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        case = stored.case
        case.ensure_open()
        case.ensure_not_erased()
        now = ctx.clock()
        consent = TransferConsent(
            record_id=uuid4(),
            case_id=case_id,
            created_at=now,
            countries=tuple(command.destination_countries),
            given_by=command.given_by,
            method=command.method,
            obtained_by=actor.actor_id,
            obtained_at=command.obtained_at,
            expires_at=command.expires_at,
        )
        errors = transfer_consent_rule_errors(
            consent, case.profile.age_band, case.profile.location.country, now=now + CLOCK_SKEW
        )
        if errors:
            raise InvalidCase(errors)
        await uow.casework.add(consent)
        _emit(
            uow,
            TransferConsentRecordedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                transfer_consent_id=consent.record_id,
                destination_countries=consent.countries,
                given_by=consent.given_by,
                method=consent.method,
                obtained_at=consent.obtained_at,
                expires_at=consent.expires_at,
            ),
            case_id,
            correlation_id=case.correlation_id,
        )
        await uow.commit()
    return TransferConsentView.of(consent)


async def withdraw_transfer_consent(
    ctx: IntakeContext,
    actor: Actor,
    case_id: UUID,
    consent_id: UUID,
    command: WithdrawTransferConsent,
) -> TransferConsentView:
    """Allowed on closed and erased cases too (a person may always withdraw). Partners
    abroad lose access at once (reads check it); open referrals there are cancelled."""
    async with ctx.unit_of_work() as uow:
        stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        consent = await uow.casework.get(TransferConsent, consent_id, for_update=True)
        if consent is None or consent.case_id != case_id:
            raise CaseNotFound(f"no transfer consent {consent_id} of case {case_id}")
        now = ctx.clock()
        withdrawn = consent.withdraw(command.countries, actor.actor_id, now)
        await uow.casework.save(consent)
        _emit(
            uow,
            TransferConsentWithdrawnV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                transfer_consent_id=consent_id,
                withdrawn_countries=tuple(withdrawn),
                remaining_countries=consent.countries,
            ),
            case_id,
            correlation_id=stored.case.correlation_id,
        )
        # A hand-off discloses the case to the receiving office: one not yet travelled to a
        # country no consent in force names any more stops (one under way waits for a new
        # consent before arrival can be recorded).
        consents = await uow.casework.of_case(TransferConsent, case_id)
        for handoff in await uow.casework.of_case(Handoff, case_id):
            if handoff.status not in (HandoffState.REQUESTED, HandoffState.ACCEPTED):
                continue
            if covered(consents, handoff.to_country, now):
                continue
            handoff.cancel(HandoffCancelReason.TRANSFER_CONSENT_WITHDRAWN)
            await uow.casework.save(handoff)
            _announce(
                uow,
                actor,
                handoff,
                HandoffCancelledV1,
                stored.case.correlation_id,
                reason=HandoffCancelReason.TRANSFER_CONSENT_WITHDRAWN,
            )
        await uow.commit()
    return TransferConsentView.of(consent)


def _announce(
    uow: IntakeUnitOfWorkPort,
    actor: Actor,
    handoff: Handoff,
    event: Callable[..., EventData],
    correlation_id: UUID,
    **fields: Any,
) -> None:
    """Queues a step of the hand-off's story: who took it, on which case and hand-off."""
    data = event(
        actor_id=actor.actor_id,
        actor_role=actor.role,
        case_id=handoff.case_id,
        handoff_id=handoff.record_id,
        **fields,
    )
    _emit(uow, data, handoff.case_id, correlation_id=correlation_id)


async def read_cross_border(ctx: IntakeContext, actor: Actor, case_id: UUID) -> CrossBorderView:
    """Within the actor's read scope, or for the receiving office of one of its hand-offs."""
    async with ctx.unit_of_work() as uow:
        stored = await uow.cases.get(case_id)
        if stored is None:
            raise CaseNotFound(f"no case {case_id}")
        case = stored.case
        consents = await uow.casework.of_case(TransferConsent, case_id)
        handoffs = await uow.casework.of_case(Handoff, case_id)
    scope = ctx.scopes.read_scope(actor.role)
    if not within(scope, case.ownership, actor.viewer) and not any(
        h.is_receiver(actor.viewer) for h in handoffs
    ):
        raise OutsideScope(f"this case is outside the {scope} scope this role may read")
    now = ctx.clock()
    here = case.profile.location.country
    abroad = {
        n.assistance_country
        for n in case.needs
        if n.assistance_country is not None and n.assistance_country != here
    }
    return CrossBorderView(
        case_id=case_id,
        country=here,
        owner_country=case.ownership.country,
        transfer_consents=[TransferConsentView.of(c) for c in consents],
        handoffs=[HandoffView.of(h) for h in handoffs],
        awaiting_transfer_consent=sorted(c for c in abroad if not covered(consents, c, now)),
    )


# --- hand-offs -----------------------------------------------------------------------------


async def request_handoff(
    ctx: IntakeContext, actor: Actor, case_id: UUID, command: RequestHandoff
) -> HandoffView:
    """The office responsible (the actor's write scope) asks; the person must have consented
    to their data going to the receiving country (the hand-off itself discloses the case
    there). One hand-off, and no other transfer, at a time."""
    async with ctx.unit_of_work() as uow:
        stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        case = stored.case
        case.ensure_open()
        case.ensure_not_erased()
        now = ctx.clock()
        owner = case.ownership
        if command.to_country == owner.country:
            raise InvalidCase([FieldError("body.to_country", "is the office responsible already")])
        if command.planned_travel_at < now - CLOCK_SKEW:
            raise InvalidCase([FieldError("body.planned_travel_at", "must not be in the past")])
        if any(h.is_open for h in await uow.casework.of_case(Handoff, case_id)):
            raise CaseConflict("a hand-off of this case is under way already")
        if any(
            t.status is TransferState.REQUESTED
            for t in await uow.casework.of_case(Transfer, case_id)
        ):
            raise CaseConflict("a transfer of this case awaits a decision")
        if not covered(
            await uow.casework.of_case(TransferConsent, case_id), command.to_country, now
        ):
            raise CaseConflict(
                f"no transfer consent in force names {command.to_country}: record the "
                "person's consent to the transfer of their data there first"
            )
        handoff = Handoff(
            record_id=uuid4(),
            case_id=case_id,
            created_at=now,
            requested_by=actor.actor_id,
            from_country=owner.country,
            from_owner_id=owner.owner_id,
            to_country=command.to_country,
            planned_travel_at=command.planned_travel_at,
        )
        await uow.casework.add(handoff)
        _announce(
            uow,
            actor,
            handoff,
            HandoffRequestedV1,
            case.correlation_id,
            from_country=handoff.from_country,
            from_owner_id=handoff.from_owner_id,
            to_country=handoff.to_country,
            planned_travel_at=handoff.planned_travel_at,
        )
        await uow.commit()
    return HandoffView.of(handoff)


async def accept_handoff(
    ctx: IntakeContext, actor: Actor, case_id: UUID, handoff_id: UUID
) -> HandoffView:
    """The receiving country office accepts responsibility, before travel; the acceptor
    owns the case once the person arrives."""
    async with ctx.unit_of_work() as uow:
        stored, handoff = await _handoff(uow, case_id, handoff_id)
        stored.case.ensure_open()
        handoff.accept(actor.viewer, ctx.clock())
        await uow.casework.save(handoff)
        _announce(
            uow,
            actor,
            handoff,
            HandoffAcceptedV1,
            stored.case.correlation_id,
            to_country=handoff.to_country,
            receiving_team=handoff.receiving_team,
            receiving_agency=handoff.receiving_agency,
        )
        await uow.commit()
    return HandoffView.of(handoff)


async def decline_handoff(
    ctx: IntakeContext, actor: Actor, case_id: UUID, handoff_id: UUID, command: DeclineHandoff
) -> HandoffView:
    async with ctx.unit_of_work() as uow:
        stored, handoff = await _handoff(uow, case_id, handoff_id)
        handoff.decline(actor.viewer, command.reason, ctx.clock())
        await uow.casework.save(handoff)
        _announce(
            uow,
            actor,
            handoff,
            HandoffDeclinedV1,
            stored.case.correlation_id,
            to_country=handoff.to_country,
            reason=command.reason,
        )
        await uow.commit()
    return HandoffView.of(handoff)


async def cancel_handoff(
    ctx: IntakeContext, actor: Actor, case_id: UUID, handoff_id: UUID, command: CancelHandoff
) -> HandoffView:
    """The sending side (write scope of the case) withdraws it before travel."""
    async with ctx.unit_of_work() as uow:
        stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        handoff = await _record(uow, case_id, handoff_id)
        handoff.cancel(command.reason)
        await uow.casework.save(handoff)
        _announce(
            uow,
            actor,
            handoff,
            HandoffCancelledV1,
            stored.case.correlation_id,
            reason=command.reason,
        )
        await uow.commit()
    return HandoffView.of(handoff)


async def record_departure(
    ctx: IntakeContext, actor: Actor, case_id: UUID, handoff_id: UUID, command: RecordDeparture
) -> HandoffView:
    """The sending side records travel, only once the receiving office accepted."""
    async with ctx.unit_of_work() as uow:
        stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        handoff = await _record(uow, case_id, handoff_id)
        handoff.depart(actor.actor_id, command.departed_at, ctx.clock() + CLOCK_SKEW)
        await uow.casework.save(handoff)
        _announce(
            uow,
            actor,
            handoff,
            HandoffDepartedV1,
            stored.case.correlation_id,
            departed_at=command.departed_at,
            to_country=handoff.to_country,
        )
        await uow.commit()
    return HandoffView.of(handoff)


async def record_arrival(
    ctx: IntakeContext, actor: Actor, case_id: UUID, handoff_id: UUID, command: RecordArrival
) -> HandoffView:
    """The receiving office records arrival, closing the loop: the hand-off ends; the case
    moves to whoever accepted responsibility, in the receiving office, through a transfer
    of responsibility (requested and accepted in this same step, announced as usual); and
    the person is now in the receiving country (the case's location follows, so help there
    is no longer transnational)."""
    async with ctx.unit_of_work() as uow:
        stored, handoff = await _handoff(uow, case_id, handoff_id)
        case = stored.case
        case.ensure_open()
        now = ctx.clock()
        handoff.arrive(actor.viewer, command.arrived_at, now + CLOCK_SKEW)
        if not covered(
            await uow.casework.of_case(TransferConsent, case_id), handoff.to_country, now
        ):
            raise CaseConflict(
                f"no transfer consent in force names {handoff.to_country} any more: the case "
                "moves there once the person consents again"
            )
        if any(
            t.status is TransferState.REQUESTED
            for t in await uow.casework.of_case(Transfer, case_id)
        ):
            raise CaseConflict("a transfer of this case awaits a decision: decide it first")
        assert handoff.accepted_by is not None  # accepted before it could arrive
        transfer = Transfer(
            record_id=uuid4(),
            case_id=case_id,
            created_at=now,
            initiator=TransferInitiator.SENDER,
            requested_by=handoff.requested_by,
            source=case.ownership,
            to_owner_id=handoff.accepted_by,
            to_team=handoff.receiving_team,
            to_agency=handoff.receiving_agency,
            to_country=handoff.to_country,
            sender_keeps_access=ctx.casework.sender_keeps_access,
        )
        await uow.casework.add(transfer)
        announce_transfer_requested(uow, actor, case, transfer)
        await complete_transfer(uow, actor, case, transfer, now)
        handoff.transfer_id = transfer.record_id
        await uow.casework.save(handoff)
        if case.profile.location.country != handoff.to_country and not case.is_erased:
            profile = case.profile.model_copy(
                update={"location": Location(country=handoff.to_country)}
            )
            case.update_profile(profile, case.safety, now)
            await uow.cases.update(case)
            _emit(
                uow,
                CaseUpdatedV1(
                    actor_id=actor.actor_id,
                    actor_role=actor.role,
                    case_id=case_id,
                    profile=case.profile,
                    safety=case.safety,
                ),
                case_id,
                correlation_id=case.correlation_id,
            )
        _announce(
            uow,
            actor,
            handoff,
            HandoffArrivedV1,
            case.correlation_id,
            arrived_at=command.arrived_at,
            from_country=handoff.from_country,
            to_country=handoff.to_country,
            transfer_id=transfer.record_id,
            owner_id=case.ownership.owner_id,
            departure_recorded=handoff.departed_at is not None,
        )
        await uow.commit()
    return HandoffView.of(handoff)


async def pending_handoffs(ctx: IntakeContext, actor: Actor) -> HandoffList:
    """Hand-offs that await the caller's office's decision (codes and dates only)."""
    async with ctx.unit_of_work() as uow:
        pending = await uow.casework.awaiting(Handoff, PENDING_SCANNED)
    return HandoffList(items=[HandoffView.of(h) for h, _ in pending if h.is_receiver(actor.viewer)])


async def _record(uow: IntakeUnitOfWorkPort, case_id: UUID, handoff_id: UUID) -> Handoff:
    handoff = await uow.casework.get(Handoff, handoff_id, for_update=True)
    if handoff is None or handoff.case_id != case_id:
        raise CaseNotFound(f"no hand-off {handoff_id} of case {case_id}")
    return handoff


async def _handoff(
    uow: IntakeUnitOfWorkPort, case_id: UUID, handoff_id: UUID
) -> tuple[StoredCase, Handoff]:
    """The case, locked, whoever asks: the receiving side's rights are checked on the
    hand-off (its country), not on the case's scope, which it does not hold yet."""
    stored = await uow.cases.get(case_id, for_update=True)
    if stored is None:
        raise CaseNotFound(f"no case {case_id}")
    return stored, await _record(uow, case_id, handoff_id)
