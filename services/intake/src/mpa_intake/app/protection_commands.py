"""What clients send for the protection steps of a case (issue 17): trafficking
identification, the recovery and reflection period, a child's assent, guardian and best
interests. Free text (`note`) is personal data: kept encrypted with the case, never in an
event. Codes come from the contracts' vocabularies.
"""

from __future__ import annotations

from typing import Annotated, Self
from uuid import UUID

from pydantic import Field, StrictInt, model_validator

from mpa_common.request_types import DateTime, UniqueList
from mpa_contracts.vocabularies import (
    MINIMUM_REFLECTION_DAYS,
    AppealOutcome,
    BestInterestsOption,
    ChildAssent,
    ConsentGivenBy,
    DecidingOrganisationType,
    ExploitationType,
    GuardianAppointingAuthority,
    IdentificationBasis,
    IdentificationStatus,
    MeansOfControl,
    ProtectionConcern,
    ReflectionExtensionReason,
)
from mpa_intake.app.commands import Command, Note

_NOTE = "Free text; kept encrypted with the case's personal data, never in an event"
Days = Annotated[StrictInt, Field(ge=1, le=3650)]


class _Indicators(Command):
    exploitation_types: UniqueList[ExploitationType] = Field(
        default=[],
        max_length=len(ExploitationType),
        description="Types of exploitation (HTCDS)",
        examples=[["forced_labour"]],
    )
    means_of_control: UniqueList[MeansOfControl] = Field(
        default=[],
        max_length=len(MeansOfControl),
        description="Means of control (HTCDS)",
        examples=[["debt_bondage", "withholds_documents"]],
    )


class NoteIndicators(_Indicators):
    """Indicators of trafficking: the person is a potential victim."""

    note: Note | None = Field(default=None, description=_NOTE, examples=["Indicators seen"])


class DecideReasonableGrounds(_Indicators):
    """A reasonable-grounds decision: the person is a presumed victim, and the recovery and
    reflection period starts from `decided_at`."""

    decided_at: DateTime = Field(
        description="When the decision was taken (not in the future)",
        examples=["2026-03-02T09:30:00Z"],
    )
    deciding_organisation_type: DecidingOrganisationType = Field(
        description="What kind of organisation decided", examples=["competent_authority"]
    )
    basis: IdentificationBasis = Field(
        description="On what the decision rests", examples=["indicators_assessment"]
    )
    reflection_days: Days | None = Field(
        default=None,
        description=f"The period's length in days; default and floor: the country's "
        f"(never under {MINIMUM_REFLECTION_DAYS})",
        examples=[45],
    )
    non_removal: bool = Field(
        default=True,
        description="Whether removal from the country is suspended during the period",
        examples=[True],
    )
    note: Note | None = Field(default=None, description=_NOTE, examples=["Basis in words"])


class DecideConclusiveGrounds(Command):
    outcome: IdentificationStatus = Field(
        description="identified or not_identified", examples=["identified"]
    )
    decided_at: DateTime = Field(description="When", examples=["2026-04-12T10:00:00Z"])
    deciding_organisation_type: DecidingOrganisationType = Field(
        description="What kind of organisation decided", examples=["competent_authority"]
    )
    note: Note | None = Field(default=None, description=_NOTE, examples=["Reasons"])

    @model_validator(mode="after")
    def _concludes(self) -> Self:
        if self.outcome not in (
            IdentificationStatus.IDENTIFIED,
            IdentificationStatus.NOT_IDENTIFIED,
        ):
            raise ValueError("outcome is identified or not_identified")
        return self


class LodgeAppeal(Command):
    lodged_at: DateTime = Field(description="When", examples=["2026-04-20T10:00:00Z"])
    note: Note | None = Field(default=None, description=_NOTE, examples=["Grounds"])


class DecideAppeal(Command):
    outcome: AppealOutcome = Field(description="upheld or overturned", examples=["overturned"])
    decided_at: DateTime = Field(description="When", examples=["2026-05-20T10:00:00Z"])
    note: Note | None = Field(default=None, description=_NOTE, examples=["Reasons"])


class ExtendReflectionPeriod(Command):
    extension_days: Days = Field(description="How many days longer", examples=[30])
    reason: ReflectionExtensionReason = Field(description="Why", examples=["recovery_needs"])
    non_removal: bool | None = Field(
        default=None,
        description="Change the non-removal flag (absent: unchanged)",
        examples=[True],
    )
    note: Note | None = Field(default=None, description=_NOTE, examples=["Still in hospital"])


class RecordAssent(Command):
    consent_given_by: ConsentGivenBy = Field(
        description="Who consented: self (the child), parent, legal_guardian, caregiver",
        examples=["legal_guardian"],
    )
    assent: ChildAssent = Field(description="The child's own assent", examples=["given"])
    views: Note | None = Field(
        default=None,
        description="The child's views in their words; " + _NOTE,
        examples=["Wants to stay with the aunt"],
    )


class AppointGuardian(Command):
    appointed_at: DateTime = Field(description="When", examples=["2026-03-03T09:00:00Z"])
    appointing_authority: GuardianAppointingAuthority = Field(
        description="Who appointed the guardian", examples=["child_protection_authority"]
    )
    note: Note | None = Field(
        default=None,
        description="Who the guardian is and how to reach them; " + _NOTE,
        examples=["Guardian's name and office"],
    )


class AssessBestInterests(Command):
    assessed_at: DateTime = Field(
        description="When (not in the future)", examples=["2026-03-04T09:00:00Z"]
    )
    risks: UniqueList[ProtectionConcern] = Field(
        default=[],
        max_length=len(ProtectionConcern),
        description="Risks found",
        examples=[["family_separation"]],
    )
    recommendation: BestInterestsOption = Field(
        description="What the assessment recommends", examples=["family_reunification"]
    )
    note: Note | None = Field(default=None, description=_NOTE, examples=["Findings"])


class DetermineBestInterests(Command):
    determined_at: DateTime = Field(
        description="When the panel decided (not in the future)",
        examples=["2026-03-10T14:00:00Z"],
    )
    panel_size: StrictInt = Field(
        ge=2, le=20, description="How many sat on the panel", examples=[3]
    )
    decision: BestInterestsOption = Field(
        description="What the panel decided", examples=["family_reunification"]
    )
    assessment_id: UUID = Field(
        description="The best-interests assessment it rests on",
        examples=["8e9f0a1b-2c3d-4e4f-9a5b-6c7d8e9f0a1b"],
    )
    approval_id: UUID = Field(
        description="A supervisor's approval (subject best_interests_determination), "
        "requested with POST /v1/cases/{case_id}/approvals",
        examples=["f3a4b5c6-d7e8-4f9a-8b1c-2d3e4f5a6b7c"],
    )
    note: Note | None = Field(default=None, description=_NOTE, examples=["Panel's reasons"])
