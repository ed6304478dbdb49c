"""What clients send for the casework of a case (pydantic request bodies, no framework).

Free text (`note`, `comment`) is personal data: it is stored encrypted with the case's
personal data and never leaves intake in an event. Codes come from the contracts.
"""

from __future__ import annotations

from typing import Annotated, Self
from uuid import UUID

from pydantic import Field, model_validator

from mpa_common.request_types import DateTime, UniqueList
from mpa_contracts.types import ACTOR_ID_PATTERN, CountryCode, OrgUnitCode
from mpa_contracts.vocabularies import (
    ApprovalState,
    ApprovalSubject,
    CaseClosureReason,
    CaseReopenReason,
    FollowUpOutcome,
    FollowUpType,
    InterventionStatus,
    ProtectionConcern,
    RiskLevel,
    TransferInitiator,
)
from mpa_intake.app.commands import Command, Note

ActorIdText = Annotated[str, Field(pattern=ACTOR_ID_PATTERN, max_length=80)]
_NOTE = "Free text; kept encrypted with the case's personal data, never in an event"


class RequestTransfer(Command):
    """Move responsibility for the case: the owning side hands it over (`sender`), or a
    receiving office asks to take it (`receiver`: the receiver is the caller's own team,
    agency and country, and the caller becomes the owner)."""

    initiator: TransferInitiator = Field(
        default=TransferInitiator.SENDER, description="Who asks", examples=["sender"]
    )
    to_owner_id: ActorIdText | None = Field(
        default=None,
        description="The caseworker to own the case (sender only); absent: whoever of the "
        "receiving team accepts",
        examples=["caseworker:u-204"],
    )
    to_team: OrgUnitCode | None = Field(
        default=None, description="The receiving team (sender only)", examples=["ne-niamey-cm"]
    )
    to_agency: OrgUnitCode | None = Field(
        default=None, description="The receiving agency (sender only)", examples=["iom-ne"]
    )
    to_country: CountryCode | None = Field(
        default=None,
        description="The receiving country office (sender only; default: the case's)",
        examples=["NE"],
    )
    note: Note | None = Field(default=None, description=_NOTE, examples=["Moves to Niamey"])

    @model_validator(mode="after")
    def _receiver_names_nobody(self) -> Self:
        named = {"to_owner_id", "to_team", "to_agency", "to_country"} & self.model_fields_set
        if self.initiator is TransferInitiator.RECEIVER and named:
            raise ValueError(f"a receiver asks for itself: leave out {', '.join(sorted(named))}")
        if self.initiator is TransferInitiator.SENDER and not named - {"to_country"}:
            raise ValueError("a handover names to_owner_id, to_team or to_agency")
        return self


class TransferStep(Command):
    """Accepting, rejecting or revoking a transfer, with an optional note."""

    note: Note | None = Field(default=None, description=_NOTE, examples=["Agreed by phone"])


class RecordAssessment(Command):
    assessed_at: DateTime = Field(
        description="When the assessment was made (not in the future)",
        examples=["2026-03-02T09:30:00Z"],
    )
    risk_level: RiskLevel = Field(description="Risk found", examples=["high"])
    protection_concerns: UniqueList[ProtectionConcern] = Field(
        default=[],
        max_length=len(ProtectionConcern),
        description="Protection concerns found",
        examples=[["trafficking_exploitation", "family_separation"]],
    )
    note: Note | None = Field(default=None, description=_NOTE, examples=["Findings"])


class PlanIntervention(Command):
    need_id: UUID | None = Field(
        default=None,
        description="The need it addresses",
        examples=["a3d5e7f9-1b2c-4d3e-8f4a-5b6c7d8e9f01"],
    )
    referral_id: UUID | None = Field(
        default=None,
        description="The referral it goes through",
        examples=["1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6"],
    )
    responsible_id: ActorIdText | None = Field(
        default=None,
        description="Who is responsible (an actor id); default: you",
        examples=["caseworker:u-123"],
    )
    target_at: DateTime = Field(description="Target date", examples=["2026-03-09T00:00:00Z"])
    note: Note | None = Field(default=None, description=_NOTE, examples=["Accompany to clinic"])


class ChangeIntervention(Command):
    status: InterventionStatus | None = Field(
        default=None, description="New status", examples=["in_progress"]
    )
    responsible_id: ActorIdText | None = Field(
        default=None, description="New responsible person", examples=["caseworker:u-123"]
    )
    target_at: DateTime | None = Field(
        default=None, description="New target date", examples=["2026-03-12T00:00:00Z"]
    )
    note: Note | None = Field(default=None, description=_NOTE, examples=["Postponed"])


class ScheduleFollowUp(Command):
    follow_up_type: FollowUpType = Field(description="How", examples=["phone_call"])
    due_at: DateTime = Field(
        description="When it is due; the owner is told once if it is not done by then",
        examples=["2026-03-05T09:00:00Z"],
    )
    note: Note | None = Field(default=None, description=_NOTE, examples=["Check shelter"])


class RecordFollowUpDone(Command):
    done_at: DateTime | None = Field(
        default=None,
        description="When it was done (default: now)",
        examples=["2026-03-04T15:00:00Z"],
    )
    outcome: FollowUpOutcome = Field(description="What it found", examples=["reached"])
    note: Note | None = Field(default=None, description=_NOTE, examples=["Doing well"])


class RequestApproval(Command):
    subject: ApprovalSubject = Field(description="What is to be approved", examples=["closure"])
    closure_reason: CaseClosureReason | None = Field(
        default=None, description="Required for a closure", examples=["needs_met"]
    )
    note: Note | None = Field(default=None, description=_NOTE, examples=["All needs met"])

    @model_validator(mode="after")
    def _closure_has_reason(self) -> Self:
        if (self.subject is ApprovalSubject.CLOSURE) != (self.closure_reason is not None):
            raise ValueError("closure_reason is given for a closure, and only for one")
        return self


class DecideApproval(Command):
    decision: ApprovalState = Field(description="approved or rejected", examples=["approved"])
    comment: Note | None = Field(default=None, description=_NOTE, examples=["Agreed"])

    @model_validator(mode="after")
    def _decided(self) -> Self:
        if self.decision is ApprovalState.REQUESTED:
            raise ValueError("decision is approved or rejected")
        return self


class ReopenCase(Command):
    reason: CaseReopenReason = Field(description="Why", examples=["new_need"])
    note: Note | None = Field(default=None, description=_NOTE, examples=["New threat"])
