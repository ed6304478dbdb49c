"""Events of the protection workflows (issue 17) on topic `mpa.case.v1` (key `case_id`, beside
the case's own events so one case's story stays in order): the identification of a victim of
trafficking, the recovery and reflection period, and a child's assent, guardian and best
interests.

Codes, ids, dates, counts and flags only. The free text that goes with a step (the basis of
a decision in words, a child's views, a guardian's name and contact, an assessment's findings)
stays in the intake service, encrypted with the case's personal data, and is erased with it.
"""

from typing import Annotated
from uuid import UUID

from pydantic import Field

from mpa_contracts.events.base import ActorEventData, EventData
from mpa_contracts.types import (
    ActorId,
    ApprovalId,
    AssessmentId,
    CaseId,
    CountryCode,
    OrgUnitCode,
    UniqueTuple,
    UtcTimestamp,
)
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

IdentificationId = Annotated[UUID, Field(description="Id of a case's trafficking identification")]
ReflectionPeriodId = Annotated[UUID, Field(description="Id of a recovery and reflection period")]
DeterminationId = Annotated[UUID, Field(description="Id of a best-interests determination")]
GuardianAppointmentId = Annotated[UUID, Field(description="Id of a guardian's appointment")]
AssentId = Annotated[UUID, Field(description="Id of a record of a child's assent")]


class TraffickingIndicatorsNotedV1(ActorEventData):
    """Indicators of trafficking were noted: the person is a potential victim. Separate from
    any referral; assistance does not wait for identification."""

    event_type = "org.mpa.case.trafficking_indicators_noted.v1"

    case_id: CaseId
    identification_id: IdentificationId
    status: IdentificationStatus = Field(description="potential")
    exploitation_types: UniqueTuple[ExploitationType] = ()
    means_of_control: UniqueTuple[MeansOfControl] = ()


class ReasonableGroundsDecidedV1(ActorEventData):
    """A reasonable-grounds decision: the person is a presumed victim of trafficking. The
    recovery and reflection period runs from `decided_at`
    (`org.mpa.case.reflection_period_started.v1`)."""

    event_type = "org.mpa.case.reasonable_grounds_decided.v1"

    case_id: CaseId
    identification_id: IdentificationId
    status: IdentificationStatus = Field(description="presumed")
    decided_at: UtcTimestamp = Field(description="When the decision was taken")
    deciding_organisation_type: DecidingOrganisationType
    basis: IdentificationBasis
    exploitation_types: UniqueTuple[ExploitationType] = ()
    means_of_control: UniqueTuple[MeansOfControl] = ()


class ConclusiveGroundsDecidedV1(ActorEventData):
    """The conclusive decision: identified, or not identified, as a victim of trafficking."""

    event_type = "org.mpa.case.conclusive_grounds_decided.v1"

    case_id: CaseId
    identification_id: IdentificationId
    status: IdentificationStatus = Field(description="identified or not_identified")
    decided_at: UtcTimestamp
    deciding_organisation_type: DecidingOrganisationType


class IdentificationAppealedV1(ActorEventData):
    """The conclusive decision was appealed; it stands until the appeal is decided."""

    event_type = "org.mpa.case.identification_appealed.v1"

    case_id: CaseId
    identification_id: IdentificationId
    lodged_at: UtcTimestamp = Field(description="When the appeal was lodged")
    status: IdentificationStatus = Field(description="The decision appealed against")


class IdentificationAppealDecidedV1(ActorEventData):
    """An appeal was decided: upheld (the decision stands) or overturned (the other
    conclusion replaces it)."""

    event_type = "org.mpa.case.identification_appeal_decided.v1"

    case_id: CaseId
    identification_id: IdentificationId
    decided_at: UtcTimestamp
    outcome: AppealOutcome
    status: IdentificationStatus = Field(description="The identification after the appeal")


class ReflectionPeriodStartedV1(ActorEventData):
    """A recovery and reflection period began with a reasonable-grounds decision: at least
    30 days (Council of Europe Convention, art. 13; a country may give more), during which
    the person may not be removed when `non_removal` holds. Assistance during it never
    depends on cooperating with the authorities."""

    event_type = "org.mpa.case.reflection_period_started.v1"

    case_id: CaseId
    identification_id: IdentificationId
    reflection_period_id: ReflectionPeriodId
    starts_at: UtcTimestamp
    ends_at: UtcTimestamp
    days: int = Field(ge=30, le=3650, description="Its length in days (30 or more)")
    non_removal: bool = Field(description="Whether removal from the country is suspended")
    remind_at: UtcTimestamp = Field(description="When the owner is reminded of its end")


class ReflectionPeriodExtendedV1(ActorEventData):
    """A recovery and reflection period was extended."""

    event_type = "org.mpa.case.reflection_period_extended.v1"

    case_id: CaseId
    reflection_period_id: ReflectionPeriodId
    extension_days: int = Field(ge=1, le=3650)
    reason: ReflectionExtensionReason
    ends_at: UtcTimestamp = Field(description="The new end")
    non_removal: bool
    remind_at: UtcTimestamp


class ReflectionPeriodEndingV1(EventData):
    """A recovery and reflection period ends soon (its durable reminder fired, once): the
    case's owner and the owning team's supervisors are to be told. For a child, never the
    child: notices go to the caseworker and supervisors only."""

    event_type = "org.mpa.case.reflection_period_ending.v1"

    case_id: CaseId
    reflection_period_id: ReflectionPeriodId
    ends_at: UtcTimestamp
    non_removal: bool
    owner_id: ActorId = Field(description="The case's owner when the reminder fired")
    owner_team: OrgUnitCode | None = Field(default=None, description="The owning team")
    owner_country: CountryCode = Field(description="The owning country office")


class ReflectionPeriodEndedV1(EventData):
    """A recovery and reflection period reached its end (its durable timer fired, once)."""

    event_type = "org.mpa.case.reflection_period_ended.v1"

    case_id: CaseId
    reflection_period_id: ReflectionPeriodId
    ends_at: UtcTimestamp


class ChildAssentRecordedV1(ActorEventData):
    """Who consented for a child, and the child's own assent; the child's views, if any,
    stay in intake (`views_recorded` says whether there are some)."""

    event_type = "org.mpa.case.child_assent_recorded.v1"

    case_id: CaseId
    assent_id: AssentId
    consent_given_by: ConsentGivenBy = Field(description="self: the child")
    assent: ChildAssent
    views_recorded: bool


class GuardianAppointedV1(ActorEventData):
    """A guardian was appointed for a child (who the guardian is stays in intake)."""

    event_type = "org.mpa.case.guardian_appointed.v1"

    case_id: CaseId
    guardian_appointment_id: GuardianAppointmentId
    appointed_at: UtcTimestamp
    appointing_authority: GuardianAppointingAuthority


class BestInterestsAssessedV1(ActorEventData):
    """A best-interests assessment of a child: when, by whom, the risks found and what it
    recommends."""

    event_type = "org.mpa.case.best_interests_assessed.v1"

    case_id: CaseId
    assessment_id: AssessmentId
    assessed_at: UtcTimestamp
    assessor_id: ActorId
    risks: UniqueTuple[ProtectionConcern] = ()
    recommendation: BestInterestsOption


class BestInterestsDeterminedV1(ActorEventData):
    """A best-interests panel's determination for a child, approved by a supervisor. From
    now on return and family-reunification referrals of the child may be made."""

    event_type = "org.mpa.case.best_interests_determined.v1"

    case_id: CaseId
    determination_id: DeterminationId
    determined_at: UtcTimestamp
    panel_size: int = Field(ge=2, le=20, description="How many sat on the panel")
    decision: BestInterestsOption
    approval_id: ApprovalId = Field(description="The supervisor's approval")
    approved_by: ActorId


PROTECTION_EVENTS: tuple[type[EventData], ...] = (
    TraffickingIndicatorsNotedV1,
    ReasonableGroundsDecidedV1,
    ConclusiveGroundsDecidedV1,
    IdentificationAppealedV1,
    IdentificationAppealDecidedV1,
    ReflectionPeriodStartedV1,
    ReflectionPeriodExtendedV1,
    ReflectionPeriodEndingV1,
    ReflectionPeriodEndedV1,
    ChildAssentRecordedV1,
    GuardianAppointedV1,
    BestInterestsAssessedV1,
    BestInterestsDeterminedV1,
)
