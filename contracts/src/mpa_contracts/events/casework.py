"""Events of the work on a case between registration and closure (topic `mpa.case.v1`, key
`case_id`, beside the case's own events so one case's story stays in order): transfers of
responsibility, assessments, the case plan, follow-ups, supervisors' approvals, reopening.

Codes, ids, dates and flags only. The free text that goes with them (an assessment's
findings, an approval's comment, a follow-up's outcome in words) stays in the intake
service, encrypted with the case's personal data, and is erased with it.
"""

from pydantic import Field

from mpa_contracts.events.base import ActorEventData, EventData
from mpa_contracts.types import (
    ActorId,
    ApprovalId,
    AssessmentId,
    CaseId,
    CountryCode,
    FollowUpId,
    InterventionId,
    NeedId,
    OrgUnitCode,
    ReferralId,
    TransferId,
    UniqueTuple,
    UtcTimestamp,
)
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


class CaseTransferRequestedV1(ActorEventData):
    """Someone asked to move responsibility for a case to another caseworker, team or
    office: the owning side handing it over, or the receiving office asking for it."""

    event_type = "org.mpa.case.transfer_requested.v1"

    case_id: CaseId
    transfer_id: TransferId
    initiator: TransferInitiator
    from_owner_id: ActorId = Field(description="The owner when the transfer was asked")
    from_team: OrgUnitCode | None = Field(default=None, description="The owning team")
    from_agency: OrgUnitCode | None = Field(default=None, description="The owning agency")
    from_country: CountryCode = Field(description="The owning country office")
    to_owner_id: ActorId | None = Field(
        default=None, description="The caseworker to own it; absent: whoever accepts"
    )
    to_team: OrgUnitCode | None = Field(default=None, description="The receiving team")
    to_agency: OrgUnitCode | None = Field(default=None, description="The receiving agency")
    to_country: CountryCode = Field(description="The receiving country office")
    sender_keeps_access: bool = Field(
        description="Whether the previous owner keeps access once the transfer is accepted"
    )


class CaseTransferAcceptedV1(ActorEventData):
    """The other side accepted a transfer: the case now belongs to the new owner."""

    event_type = "org.mpa.case.transfer_accepted.v1"

    case_id: CaseId
    transfer_id: TransferId
    previous_owner_id: ActorId
    owner_id: ActorId = Field(description="The new owner")
    owner_team: OrgUnitCode | None = Field(default=None, description="The new owning team")
    owner_agency: OrgUnitCode | None = Field(default=None, description="The new agency")
    owner_country: CountryCode = Field(description="The new owning country office")
    sender_keeps_access: bool


class CaseTransferRejectedV1(ActorEventData):
    """The other side refused a transfer; ownership did not change."""

    event_type = "org.mpa.case.transfer_rejected.v1"

    case_id: CaseId
    transfer_id: TransferId


class CaseTransferRevokedV1(ActorEventData):
    """The side that asked for a transfer withdrew it before it was decided."""

    event_type = "org.mpa.case.transfer_revoked.v1"

    case_id: CaseId
    transfer_id: TransferId


class CaseAssessedV1(ActorEventData):
    """A caseworker recorded an assessment. `risk_level` is the case's latest risk level
    when this is its most recent assessment (`is_latest`): routing may read it as a floor
    for the urgency of the case's needs (vocabularies.URGENCY_FLOOR_OF_RISK)."""

    event_type = "org.mpa.case.assessed.v1"

    case_id: CaseId
    assessment_id: AssessmentId
    assessed_at: UtcTimestamp = Field(description="When the assessment was made")
    risk_level: RiskLevel
    protection_concerns: UniqueTuple[ProtectionConcern] = ()
    is_latest: bool = Field(description="Whether this is now the case's most recent assessment")
    case_risk_level: RiskLevel = Field(description="The case's risk level after this event")


class CaseInterventionPlannedV1(ActorEventData):
    """An intervention was added to the case plan, for a need and possibly a referral."""

    event_type = "org.mpa.case.intervention_planned.v1"

    case_id: CaseId
    intervention_id: InterventionId
    need_id: NeedId | None = Field(default=None, description="The need it addresses")
    referral_id: ReferralId | None = Field(default=None, description="The referral it uses")
    responsible_id: ActorId = Field(description="Who is responsible for it")
    target_at: UtcTimestamp = Field(description="When it should be done")
    status: InterventionStatus


class CaseInterventionUpdatedV1(ActorEventData):
    """An intervention of the case plan changed status, owner or target date."""

    event_type = "org.mpa.case.intervention_updated.v1"

    case_id: CaseId
    intervention_id: InterventionId
    responsible_id: ActorId
    target_at: UtcTimestamp
    status: InterventionStatus


class FollowUpScheduledV1(ActorEventData):
    """A follow-up of the person was planned; it is overdue if not done by `due_at`."""

    event_type = "org.mpa.case.follow_up_scheduled.v1"

    case_id: CaseId
    follow_up_id: FollowUpId
    follow_up_type: FollowUpType
    due_at: UtcTimestamp


class FollowUpDoneV1(ActorEventData):
    """A follow-up was carried out."""

    event_type = "org.mpa.case.follow_up_done.v1"

    case_id: CaseId
    follow_up_id: FollowUpId
    follow_up_type: FollowUpType
    done_at: UtcTimestamp
    outcome: FollowUpOutcome
    was_overdue: bool = Field(description="Whether it was done after its due date")


class FollowUpOverdueV1(EventData):
    """A follow-up passed its due date without being done (its durable timer fired, once).
    The case's owner is to be told."""

    event_type = "org.mpa.case.follow_up_overdue.v1"

    case_id: CaseId
    follow_up_id: FollowUpId
    follow_up_type: FollowUpType
    due_at: UtcTimestamp
    owner_id: ActorId = Field(description="The case's owner when it fell overdue")
    owner_team: OrgUnitCode | None = Field(default=None, description="The owning team")
    owner_country: CountryCode = Field(description="The owning country office")


class CaseApprovalRequestedV1(ActorEventData):
    """A caseworker asked a supervisor to approve the case plan or the closure."""

    event_type = "org.mpa.case.approval_requested.v1"

    case_id: CaseId
    approval_id: ApprovalId
    subject: ApprovalSubject
    closure_reason: CaseClosureReason | None = Field(
        default=None, description="For a closure: why the case is to be closed"
    )
    owner_team: OrgUnitCode | None = Field(default=None, description="The owning team")
    owner_country: CountryCode = Field(description="The owning country office")


class CaseApprovalDecidedV1(ActorEventData):
    """A supervisor (never the requester) approved or rejected a request."""

    event_type = "org.mpa.case.approval_decided.v1"

    case_id: CaseId
    approval_id: ApprovalId
    subject: ApprovalSubject
    decision: ApprovalState = Field(description="approved or rejected")
    requested_by: ActorId = Field(description="Who asked for the approval")


class CaseReopenedV1(ActorEventData):
    """A closed case was reopened (its own recorded step)."""

    event_type = "org.mpa.case.reopened.v1"

    case_id: CaseId
    reason: CaseReopenReason
    closed_at: UtcTimestamp = Field(description="When it had been closed")


CASEWORK_EVENTS: tuple[type[EventData], ...] = (
    CaseTransferRequestedV1,
    CaseTransferAcceptedV1,
    CaseTransferRejectedV1,
    CaseTransferRevokedV1,
    CaseAssessedV1,
    CaseInterventionPlannedV1,
    CaseInterventionUpdatedV1,
    FollowUpScheduledV1,
    FollowUpDoneV1,
    FollowUpOverdueV1,
    CaseApprovalRequestedV1,
    CaseApprovalDecidedV1,
    CaseReopenedV1,
)
