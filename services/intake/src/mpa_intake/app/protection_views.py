"""What the protection API answers (issue 17). Notes appear only in the protection view of a
case, whose read is announced like every read of personal data."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import Field

from mpa_contracts.vocabularies import (
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
from mpa_intake.app.views import View
from mpa_intake.domain.children import (
    AssentRecord,
    BestInterestsAssessment,
    BestInterestsDetermination,
    GuardianAppointment,
)
from mpa_intake.domain.identification import Identification, ReflectionPeriod


class IdentificationView(View):
    identification_id: UUID
    case_id: UUID
    status: IdentificationStatus
    exploitation_types: list[ExploitationType]
    means_of_control: list[MeansOfControl]
    reasonable_grounds_at: datetime | None
    reasonable_grounds_by: DecidingOrganisationType | None
    basis: IdentificationBasis | None
    conclusive_at: datetime | None
    conclusive_by: DecidingOrganisationType | None
    appeal_lodged_at: datetime | None
    appeal_decided_at: datetime | None
    appeal_outcome: AppealOutcome | None
    note: str | None = Field(default=None, description="Only in the protection view")

    @classmethod
    def of(cls, record: Identification, note: str | None = None) -> IdentificationView:
        return cls(identification_id=record.record_id, note=note, **_fields(record, cls))


class ExtensionView(View):
    extended_at: datetime
    extended_by: str
    days: int
    reason: ReflectionExtensionReason


class ReflectionPeriodView(View):
    reflection_period_id: UUID
    case_id: UUID
    identification_id: UUID
    state: str = Field(description="running or ended")
    starts_at: datetime
    ends_at: datetime
    days: int
    non_removal: bool
    remind_at: datetime
    reminded_at: datetime | None
    ended_at: datetime | None
    extensions: list[ExtensionView]

    @classmethod
    def of(cls, record: ReflectionPeriod) -> ReflectionPeriodView:
        fields = _fields(record, cls)
        fields["extensions"] = [ExtensionView(**e.model_dump()) for e in record.extensions]
        return cls(reflection_period_id=record.record_id, state=record.state, **fields)


class AssentView(View):
    assent_id: UUID
    case_id: UUID
    consent_given_by: ConsentGivenBy
    assent: ChildAssent
    views_recorded: bool
    recorded_by: str
    created_at: datetime
    views: str | None = Field(default=None, description="Only in the protection view")

    @classmethod
    def of(cls, record: AssentRecord, views: str | None = None) -> AssentView:
        return cls(assent_id=record.record_id, views=views, **_fields(record, cls))


class GuardianView(View):
    guardian_appointment_id: UUID
    case_id: UUID
    appointed_at: datetime
    appointing_authority: GuardianAppointingAuthority
    recorded_by: str
    note: str | None = Field(default=None, description="Only in the protection view")

    @classmethod
    def of(cls, record: GuardianAppointment, note: str | None = None) -> GuardianView:
        return cls(guardian_appointment_id=record.record_id, note=note, **_fields(record, cls))


class BestInterestsAssessmentView(View):
    assessment_id: UUID
    case_id: UUID
    assessed_at: datetime
    assessor_id: str
    risks: list[ProtectionConcern]
    recommendation: BestInterestsOption
    note: str | None = Field(default=None, description="Only in the protection view")

    @classmethod
    def of(
        cls, record: BestInterestsAssessment, note: str | None = None
    ) -> BestInterestsAssessmentView:
        return cls(assessment_id=record.record_id, note=note, **_fields(record, cls))


class BestInterestsDeterminationView(View):
    determination_id: UUID
    case_id: UUID
    determined_at: datetime
    panel_size: int
    decision: BestInterestsOption
    assessment_id: UUID
    approval_id: UUID
    approved_by: str
    recorded_by: str
    note: str | None = Field(default=None, description="Only in the protection view")

    @classmethod
    def of(
        cls, record: BestInterestsDetermination, note: str | None = None
    ) -> BestInterestsDeterminationView:
        return cls(determination_id=record.record_id, note=note, **_fields(record, cls))


class ProtectionView(View):
    """A case's protection steps, with their notes."""

    case_id: UUID
    is_child: bool
    identification: IdentificationView | None
    reflection_periods: list[ReflectionPeriodView]
    assents: list[AssentView]
    guardians: list[GuardianView]
    best_interests_assessments: list[BestInterestsAssessmentView]
    best_interests_determinations: list[BestInterestsDeterminationView]


def _fields(record: Any, view: type[View]) -> dict[str, Any]:
    """The record's fields the view shows under the same name."""
    data = record.model_dump()
    return {name: data[name] for name in view.model_fields if name in data}
