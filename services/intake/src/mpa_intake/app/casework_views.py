"""What the casework API answers (pydantic response models). Notes appear only in the
casework view of a case, whose read is announced like every read of personal data."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from mpa_contracts.vocabularies import (
    ApprovalState,
    ApprovalSubject,
    CaseClosureReason,
    FollowUpOutcome,
    FollowUpType,
    InterventionStatus,
    ProtectionConcern,
    ReferralState,
    RiskLevel,
    TransferInitiator,
    TransferState,
)
from mpa_intake.app.views import NeedSummary, View
from mpa_intake.domain.case import CaseStatus
from mpa_intake.domain.casework import (
    Approval,
    Assessment,
    FollowUp,
    Intervention,
    ReferralProgress,
    Transfer,
)
from mpa_intake.domain.ownership import Ownership


class OwnerView(View):
    owner_id: str = Field(description="The owning caseworker's actor id")
    team: str | None = Field(description="The owning team")
    agency: str | None = Field(description="The owning agency")
    country: str = Field(description="The owning country office")
    shared_with: list[str] = Field(description="Others who keep access (previous owners)")

    @classmethod
    def of(cls, ownership: Ownership) -> OwnerView:
        return cls(
            owner_id=ownership.owner_id,
            team=ownership.team,
            agency=ownership.agency,
            country=ownership.country,
            shared_with=list(ownership.shared_with),
        )


class TransferView(View):
    transfer_id: UUID
    case_id: UUID
    initiator: TransferInitiator
    state: TransferState
    requested_by: str
    requested_at: datetime
    source: OwnerView = Field(description="The owner when it was asked")
    to_owner_id: str | None
    to_team: str | None
    to_agency: str | None
    to_country: str
    sender_keeps_access: bool
    decided_by: str | None
    decided_at: datetime | None
    note: str | None = Field(default=None, description="Only in the case's casework view")

    @classmethod
    def of(cls, transfer: Transfer, note: str | None = None) -> TransferView:
        return cls(
            transfer_id=transfer.record_id,
            case_id=transfer.case_id,
            initiator=transfer.initiator,
            state=transfer.status,
            requested_by=transfer.requested_by,
            requested_at=transfer.created_at,
            source=OwnerView.of(transfer.source),
            to_owner_id=transfer.to_owner_id,
            to_team=transfer.to_team,
            to_agency=transfer.to_agency,
            to_country=transfer.to_country,
            sender_keeps_access=transfer.sender_keeps_access,
            decided_by=transfer.decided_by,
            decided_at=transfer.decided_at,
            note=note,
        )


class TransferList(View):
    items: list[TransferView] = Field(description="Transfers awaiting your decision")


class AssessmentView(View):
    assessment_id: UUID
    assessed_at: datetime
    assessed_by: str
    risk_level: RiskLevel
    protection_concerns: list[ProtectionConcern]
    recorded_at: datetime
    note: str | None = None

    @classmethod
    def of(cls, record: Assessment, note: str | None = None) -> AssessmentView:
        return cls(
            assessment_id=record.record_id,
            assessed_at=record.assessed_at,
            assessed_by=record.assessed_by,
            risk_level=record.risk_level,
            protection_concerns=list(record.protection_concerns),
            recorded_at=record.created_at,
            note=note,
        )


class InterventionView(View):
    intervention_id: UUID
    need_id: UUID | None
    referral_id: UUID | None
    responsible_id: str
    target_at: datetime
    status: InterventionStatus
    created_by: str
    created_at: datetime
    updated_at: datetime
    note: str | None = None

    @classmethod
    def of(cls, record: Intervention, note: str | None = None) -> InterventionView:
        return cls(
            intervention_id=record.record_id,
            need_id=record.need_id,
            referral_id=record.referral_id,
            responsible_id=record.responsible_id,
            target_at=record.target_at,
            status=record.status,
            created_by=record.created_by,
            created_at=record.created_at,
            updated_at=record.updated_at,
            note=note,
        )


class FollowUpView(View):
    follow_up_id: UUID
    follow_up_type: FollowUpType
    due_at: datetime
    state: str = Field(description="scheduled, overdue or done", examples=["scheduled"])
    scheduled_by: str
    done_at: datetime | None
    done_by: str | None
    outcome: FollowUpOutcome | None
    overdue_at: datetime | None = Field(description="When its timer found it not done")
    note: str | None = None

    @classmethod
    def of(cls, record: FollowUp, note: str | None = None) -> FollowUpView:
        return cls(
            follow_up_id=record.record_id,
            follow_up_type=record.follow_up_type,
            due_at=record.due_at,
            state=record.state,
            scheduled_by=record.scheduled_by,
            done_at=record.done_at,
            done_by=record.done_by,
            outcome=record.outcome,
            overdue_at=record.overdue_at,
            note=note,
        )


class ApprovalView(View):
    approval_id: UUID
    case_id: UUID
    subject: ApprovalSubject
    state: ApprovalState
    requested_by: str
    requested_at: datetime
    closure_reason: CaseClosureReason | None
    decided_by: str | None
    decided_at: datetime | None
    used_at: datetime | None = Field(description="When an approved closure closed the case")
    note: str | None = Field(default=None, description="The requester's note")
    comment: str | None = Field(default=None, description="The supervisor's comment")

    @classmethod
    def of(
        cls, record: Approval, note: str | None = None, comment: str | None = None
    ) -> ApprovalView:
        return cls(
            approval_id=record.record_id,
            case_id=record.case_id,
            subject=record.subject,
            state=record.status,
            requested_by=record.requested_by,
            requested_at=record.created_at,
            closure_reason=record.closure_reason,
            decided_by=record.decided_by,
            decided_at=record.decided_at,
            used_at=record.used_at,
            note=note,
            comment=comment,
        )


class ApprovalList(View):
    items: list[ApprovalView] = Field(description="Approval requests awaiting your decision")


class ReferralProgressView(View):
    referral_id: UUID
    need_id: UUID
    state: ReferralState
    finished: bool
    requested_at: datetime
    accepted_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, record: ReferralProgress) -> ReferralProgressView:
        return cls(
            referral_id=record.record_id,
            need_id=record.need_id,
            state=record.referral_state,
            finished=record.is_finished,
            requested_at=record.created_at,
            accepted_at=record.accepted_at,
            started_at=record.started_at,
            finished_at=record.finished_at,
        )


class CaseworkView(View):
    """Everything of the casework of one case, notes included (an announced read)."""

    case_id: UUID
    reference: str
    status: CaseStatus
    needs: list[NeedSummary] = Field(description="The case's needs (no notes)")
    owner: OwnerView
    risk_level: RiskLevel | None = Field(description="The latest assessment's risk level")
    may_close_without_approval: bool = Field(
        description="Whether every referral intake knows of is finished"
    )
    transfers: list[TransferView]
    assessments: list[AssessmentView]
    interventions: list[InterventionView]
    follow_ups: list[FollowUpView]
    approvals: list[ApprovalView]
    referrals: list[ReferralProgressView]


class DurationFigures(View):
    count: int = Field(description="Cases measured")
    median_seconds: float | None
    p90_seconds: float | None


class CaseloadRow(View):
    owner_id: str | None = None
    team: str | None = None
    open_cases: int


class CaseworkReport(View):
    """Figures over the cases within your read scope (registered in the period)."""

    cases: int = Field(description="Cases registered in the period within your scope")
    time_to_first_contact: DurationFigures = Field(
        description="Registration to the first follow-up in which the person was reached"
    )
    time_to_first_service: DurationFigures = Field(
        description="Registration to the first referral's service started"
    )
    referrals_finished: int
    referrals_completed: int
    completion_rate: float | None = Field(description="Completed / finished referrals")
    caseload_by_caseworker: list[CaseloadRow] = Field(description="Open cases per owner")
    caseload_by_team: list[CaseloadRow] = Field(description="Open cases per owning team")
    overdue_follow_ups: int = Field(description="Follow-ups past due and not done")
    overdue_follow_ups_by_caseworker: list[CaseloadRow] = Field(
        description="Of them, per case owner (`open_cases` counts follow-ups here)"
    )
