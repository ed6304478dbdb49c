"""One valid, deterministic example payload per event type.

Used for the AsyncAPI document's message examples and by tests, here and in services,
that need a realistic event without inventing one. All ids are fixed, all data fictitious.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from uuid import UUID

from mpa_contracts.events.access import BreakGlassAccessV1, PersonalDataAccessedV1
from mpa_contracts.events.base import EventData
from mpa_contracts.events.case import (
    CaseClosedV1,
    CaseNeedsAddedV1,
    CasePersonalDataErasedV1,
    CaseRegisteredV1,
    CaseUpdatedV1,
    Consent,
    ConsentRecordedV1,
    ConsentWithdrawnV1,
    Location,
    Need,
    RoutingProfile,
    SafetyFlags,
)
from mpa_contracts.events.casework import (
    CaseApprovalDecidedV1,
    CaseApprovalRequestedV1,
    CaseAssessedV1,
    CaseInterventionPlannedV1,
    CaseInterventionUpdatedV1,
    CaseReopenedV1,
    CaseTransferAcceptedV1,
    CaseTransferRejectedV1,
    CaseTransferRequestedV1,
    CaseTransferRevokedV1,
    FollowUpDoneV1,
    FollowUpOverdueV1,
    FollowUpScheduledV1,
)
from mpa_contracts.events.directory import (
    CoverageArea,
    PartnerDeactivatedV1,
    PartnerRegisteredV1,
    PartnerUpdatedV1,
    ServiceCapacityChangedV1,
    ServiceDeactivatedV1,
    ServiceRegisteredV1,
    ServiceUpdatedV1,
)
from mpa_contracts.events.feedback import FeedbackInvitedV1, ServiceFeedbackRecordedV1
from mpa_contracts.events.notification import (
    NotificationAttemptFailedV1,
    NotificationDeliveredV1,
    NotificationEndpointDisabledV1,
    NotificationExhaustedV1,
)
from mpa_contracts.events.psea import (
    PseaAllegationReferredV1,
    PseaAssistanceDecidedV1,
    PseaComplaintReadV1,
    PseaComplaintReceivedV1,
    PseaDeadlineMissedV1,
    PseaInvestigationConcludedV1,
)
from mpa_contracts.events.referral import (
    ExclusionCount,
    ReferralAcceptedV1,
    ReferralCancelledV1,
    ReferralCompletedV1,
    ReferralConsentOverrideUsedV1,
    ReferralDeclinedV1,
    ReferralFailedV1,
    ReferralOnHoldV1,
    ReferralRequestedV1,
    ReferralReroutedV1,
    ReferralResumedV1,
    ReferralRoutedV1,
    ReferralSlaBreachedV1,
    ReferralStartedV1,
    ReferralUnroutableV1,
    RoutingCandidate,
    RoutingExplanation,
)
from mpa_contracts.events.safe_contact import ContactWithheldV1
from mpa_contracts.examples_cross_border import CROSS_BORDER_EXAMPLES
from mpa_contracts.examples_protection import PROTECTION_EXAMPLES
from mpa_contracts.vocabularies import (
    AccessPurpose,
    ActorRole,
    AgeBand,
    ApprovalState,
    ApprovalSubject,
    BreakGlassReason,
    CancelReason,
    CaseClosureReason,
    CaseReopenReason,
    CaseScope,
    ConsentGivenBy,
    ConsentMethod,
    ConsentOverrideReason,
    ConsentScope,
    ContactPath,
    ContactRefusal,
    DeactivationReason,
    DeliveryFailureReason,
    EndpointDisabledReason,
    ErasureBasis,
    FollowUpOutcome,
    FollowUpType,
    HoldReason,
    InterventionStatus,
    NeedCategory,
    NotificationChannel,
    OutcomeCode,
    PartnerType,
    PersonalDataField,
    ProtectionConcern,
    PseaAllegationType,
    PseaAssistanceDecision,
    PseaInvestigationOutcome,
    PseaStep,
    ReferralStatusReason,
    RerouteCause,
    RiskLevel,
    RoutingExclusionReason,
    SafeContactMethod,
    ServiceQuality,
    ServiceReceived,
    ServiceStatus,
    Sex,
    SlaMilestone,
    TransferInitiator,
    UnroutableReason,
    Urgency,
    Vulnerability,
    WaitingTime,
)

CASE_ID = UUID("6f1c2a3e-8d4b-4c1a-9e2f-0a1b2c3d4e5f")
NEED_ID = UUID("a3d5e7f9-1b2c-4d3e-8f4a-5b6c7d8e9f01")
CONSENT_ID = UUID("c0a8e1b2-3d4f-4a5b-8c6d-7e8f9a0b1c2d")
REFERRAL_ID = UUID("1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6")
PARTNER_ID = UUID("0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e")
COMPLAINT_ID = UUID("5e4d3c2b-1a09-4f8e-9d7c-6b5a49382716")
SERVICE_ID = UUID("5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f")
OTHER_PARTNER_ID = UUID("2f3a4b5c-6d7e-4f80-9a1b-2c3d4e5f6a7b")
OTHER_SERVICE_ID = UUID("7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d")
NOTIFICATION_ID = UUID("9c8b7a69-5847-4362-9150-4f3e2d1c0b0a")
TRIGGER_EVENT_ID = UUID("4b3a2918-0f7e-4d6c-9b5a-493827161504")
TRANSFER_ID = UUID("3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f")
ASSESSMENT_ID = UUID("8e9f0a1b-2c3d-4e4f-9a5b-6c7d8e9f0a1b")
INTERVENTION_ID = UUID("d1e2f3a4-b5c6-4d7e-8f9a-0b1c2d3e4f5a")
FOLLOW_UP_ID = UUID("e2f3a4b5-c6d7-4e8f-9a0b-1c2d3e4f5a6b")
APPROVAL_ID = UUID("f3a4b5c6-d7e8-4f9a-8b1c-2d3e4f5a6b7c")

CASEWORKER = "operator:u-123"
PARTNER_USER = "partner:nrc-ne-7"
DIRECTORY_MANAGER = "operator:u-9"
_T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

_PROFILE = RoutingProfile(
    age_band=AgeBand.AGE_9_17,
    sex=Sex.FEMALE,
    nationality="NG",
    languages=("en", "ha"),
    location=Location(country="NE", admin_area="NE-1"),
    vulnerabilities=(Vulnerability.UNACCOMPANIED_CHILD, Vulnerability.TRAFFICKING_VICTIM),
)
_NEED = Need(need_id=NEED_ID, category=NeedCategory.SHELTER, urgency=Urgency.CRITICAL)
_CONSENT = Consent(
    consent_id=CONSENT_ID,
    scopes=(ConsentScope.REFERRAL, ConsentScope.DATA_SHARING),
    given_by=ConsentGivenBy.LEGAL_GUARDIAN,
    method=ConsentMethod.WRITTEN,
    expires_at=datetime(2027, 3, 2, tzinfo=UTC),
    refused_partner_types=(PartnerType.GOVERNMENT_AGENCY,),
)
_SAFETY = SafetyFlags(do_not_contact=True, safe_contact_method=SafeContactMethod.THROUGH_CASEWORKER)
_SERVICE = {
    "service_id": SERVICE_ID,
    "partner_id": PARTNER_ID,
    "category": NeedCategory.SHELTER,
    "status": ServiceStatus.ACTIVE,
    "coverage": (CoverageArea(country="NE", admin_areas=("NE-1", "NE-8")),),
    "languages": ("fr", "ha", "en"),
    "age_bands": (AgeBand.AGE_0_8, AgeBand.AGE_9_17),
    "sexes": (Sex.FEMALE, Sex.MALE),
    "vulnerability_focus": (Vulnerability.UNACCOMPANIED_CHILD,),
    "response_time_hours": 4,
    "available_slots": 3,
}
_REFERRAL = {"referral_id": REFERRAL_ID, "case_id": CASE_ID, "need_id": NEED_ID}
_ASSIGNED = {**_REFERRAL, "partner_id": PARTNER_ID, "service_id": SERVICE_ID}
_PARTNER_ACTOR = {"actor_id": PARTNER_USER, "actor_role": ActorRole.PARTNER}
_CASEWORKER_ACTOR = {"actor_id": CASEWORKER, "actor_role": ActorRole.CASEWORKER}
_DIRECTORY_ACTOR = {"actor_id": DIRECTORY_MANAGER, "actor_role": ActorRole.ADMIN}
_NOTIFICATION = {
    "notification_id": NOTIFICATION_ID,
    "partner_id": PARTNER_ID,
    "referral_id": REFERRAL_ID,
    "case_id": CASE_ID,
    "channel": NotificationChannel.WEBHOOK,
}

_SUPERVISOR_ACTOR = {"actor_id": "supervisor:u-42", "actor_role": ActorRole.SUPERVISOR}
_OWNING_TEAM = {"owner_team": "ne-agadez-cm", "owner_country": "NE"}

_EXAMPLES: tuple[EventData, ...] = (
    CaseRegisteredV1(
        **_CASEWORKER_ACTOR,
        case_id=CASE_ID,
        case_reference="MPA-2026-000123",
        profile=_PROFILE,
        needs=(_NEED,),
        consent=_CONSENT,
        safety=_SAFETY,
    ),
    CaseUpdatedV1(**_CASEWORKER_ACTOR, case_id=CASE_ID, profile=_PROFILE, safety=_SAFETY),
    CaseNeedsAddedV1(
        **_CASEWORKER_ACTOR,
        case_id=CASE_ID,
        needs=(
            Need(
                need_id=UUID("b4e6f8a0-2c3d-4e4f-9a5b-6c7d8e9f0a12"),
                category=NeedCategory.REINTEGRATION,
                urgency=Urgency.MEDIUM,
                assistance_country="NG",
            ),
        ),
    ),
    CaseClosedV1(**_CASEWORKER_ACTOR, case_id=CASE_ID, reason=CaseClosureReason.NEEDS_MET),
    CasePersonalDataErasedV1(
        actor_id="operator:dpo-1",
        actor_role=ActorRole.ADMIN,
        case_id=CASE_ID,
        basis=ErasureBasis.DATA_SUBJECT_REQUEST,
        erased_fields=(PersonalDataField.PERSON_GIVEN_NAME, PersonalDataField.PERSON_PHONE),
    ),
    ConsentRecordedV1(**_CASEWORKER_ACTOR, case_id=CASE_ID, consent=_CONSENT),
    ConsentWithdrawnV1(
        **_CASEWORKER_ACTOR,
        case_id=CASE_ID,
        consent_id=CONSENT_ID,
        withdrawn_scopes=(ConsentScope.DATA_SHARING,),
    ),
    CaseTransferRequestedV1(
        **_CASEWORKER_ACTOR,
        case_id=CASE_ID,
        transfer_id=TRANSFER_ID,
        initiator=TransferInitiator.SENDER,
        from_owner_id=CASEWORKER,
        from_team="ne-agadez-cm",
        from_agency="iom-ne",
        from_country="NE",
        to_team="ne-niamey-cm",
        to_agency="iom-ne",
        to_country="NE",
        sender_keeps_access=False,
    ),
    CaseTransferAcceptedV1(
        actor_id="caseworker:u-204",
        actor_role=ActorRole.CASEWORKER,
        case_id=CASE_ID,
        transfer_id=TRANSFER_ID,
        previous_owner_id=CASEWORKER,
        owner_id="caseworker:u-204",
        owner_team="ne-niamey-cm",
        owner_agency="iom-ne",
        owner_country="NE",
        sender_keeps_access=False,
    ),
    CaseTransferRejectedV1(
        actor_id="caseworker:u-204",
        actor_role=ActorRole.CASEWORKER,
        case_id=CASE_ID,
        transfer_id=TRANSFER_ID,
    ),
    CaseTransferRevokedV1(**_CASEWORKER_ACTOR, case_id=CASE_ID, transfer_id=TRANSFER_ID),
    CaseAssessedV1(
        **_CASEWORKER_ACTOR,
        case_id=CASE_ID,
        assessment_id=ASSESSMENT_ID,
        assessed_at=_T0,
        risk_level=RiskLevel.HIGH,
        protection_concerns=(
            ProtectionConcern.TRAFFICKING_EXPLOITATION,
            ProtectionConcern.FAMILY_SEPARATION,
        ),
        is_latest=True,
        case_risk_level=RiskLevel.HIGH,
    ),
    CaseInterventionPlannedV1(
        **_CASEWORKER_ACTOR,
        case_id=CASE_ID,
        intervention_id=INTERVENTION_ID,
        need_id=NEED_ID,
        referral_id=REFERRAL_ID,
        responsible_id=CASEWORKER,
        target_at=datetime(2026, 3, 9, tzinfo=UTC),
        status=InterventionStatus.PLANNED,
    ),
    CaseInterventionUpdatedV1(
        **_CASEWORKER_ACTOR,
        case_id=CASE_ID,
        intervention_id=INTERVENTION_ID,
        responsible_id=CASEWORKER,
        target_at=datetime(2026, 3, 9, tzinfo=UTC),
        status=InterventionStatus.DONE,
    ),
    FollowUpScheduledV1(
        **_CASEWORKER_ACTOR,
        case_id=CASE_ID,
        follow_up_id=FOLLOW_UP_ID,
        follow_up_type=FollowUpType.PHONE_CALL,
        due_at=datetime(2026, 3, 5, tzinfo=UTC),
    ),
    FollowUpDoneV1(
        **_CASEWORKER_ACTOR,
        case_id=CASE_ID,
        follow_up_id=FOLLOW_UP_ID,
        follow_up_type=FollowUpType.PHONE_CALL,
        done_at=datetime(2026, 3, 4, 15, tzinfo=UTC),
        outcome=FollowUpOutcome.REACHED,
        was_overdue=False,
    ),
    FollowUpOverdueV1(
        case_id=CASE_ID,
        follow_up_id=FOLLOW_UP_ID,
        follow_up_type=FollowUpType.PHONE_CALL,
        due_at=datetime(2026, 3, 5, tzinfo=UTC),
        owner_id=CASEWORKER,
        **_OWNING_TEAM,
    ),
    CaseApprovalRequestedV1(
        **_CASEWORKER_ACTOR,
        case_id=CASE_ID,
        approval_id=APPROVAL_ID,
        subject=ApprovalSubject.CLOSURE,
        closure_reason=CaseClosureReason.NEEDS_MET,
        **_OWNING_TEAM,
    ),
    CaseApprovalDecidedV1(
        **_SUPERVISOR_ACTOR,
        case_id=CASE_ID,
        approval_id=APPROVAL_ID,
        subject=ApprovalSubject.CLOSURE,
        decision=ApprovalState.APPROVED,
        requested_by=CASEWORKER,
    ),
    CaseReopenedV1(
        **_CASEWORKER_ACTOR,
        case_id=CASE_ID,
        reason=CaseReopenReason.NEW_NEED,
        closed_at=datetime(2026, 4, 1, tzinfo=UTC),
    ),
    ReferralRequestedV1(
        **_CASEWORKER_ACTOR,
        **_REFERRAL,
        category=NeedCategory.SHELTER,
        urgency=Urgency.CRITICAL,
        assistance_country="NE",
    ),
    ReferralRoutedV1(
        **_ASSIGNED,
        category=NeedCategory.SHELTER,
        urgency=Urgency.CRITICAL,
        attempt=1,
        acceptance_due_at=datetime(2026, 3, 2, 13, 30, tzinfo=UTC),
        explanation=RoutingExplanation(
            candidates=(
                RoutingCandidate(service_id=SERVICE_ID, partner_id=PARTNER_ID, rank=1, score=0.92),
                RoutingCandidate(
                    service_id=OTHER_SERVICE_ID, partner_id=OTHER_PARTNER_ID, rank=2, score=0.71
                ),
            ),
            exclusions=(
                ExclusionCount(reason=RoutingExclusionReason.CONSENT_REFUSED_PARTNER_TYPE, count=2),
                ExclusionCount(reason=RoutingExclusionReason.OUTSIDE_COVERAGE, count=5),
            ),
        ),
    ),
    ReferralUnroutableV1(
        **_REFERRAL,
        category=NeedCategory.SHELTER,
        urgency=Urgency.CRITICAL,
        reason=UnroutableReason.ALL_CANDIDATES_DECLINED,
        attempts=3,
        exclusions=(ExclusionCount(reason=RoutingExclusionReason.PREVIOUSLY_DECLINED, count=3),),
    ),
    ReferralAcceptedV1(**_PARTNER_ACTOR, **_ASSIGNED, start_due_at=_T0),
    ReferralDeclinedV1(
        **_PARTNER_ACTOR, **_ASSIGNED, reason=ReferralStatusReason.LACK_OF_CAPACITY, attempt=1
    ),
    ReferralStartedV1(**_PARTNER_ACTOR, **_ASSIGNED),
    ReferralOnHoldV1(**_PARTNER_ACTOR, **_ASSIGNED, reason=HoldReason.AWAITING_DOCUMENTS),
    ReferralResumedV1(**_PARTNER_ACTOR, **_ASSIGNED),
    ReferralCompletedV1(**_PARTNER_ACTOR, **_ASSIGNED, outcome=OutcomeCode.SERVICE_PROVIDED),
    ReferralFailedV1(
        **_PARTNER_ACTOR, **_ASSIGNED, reason=ReferralStatusReason.UNABLE_TO_CONTACT_CLIENT
    ),
    ReferralCancelledV1(
        actor_id="service:mpa-referral",
        actor_role=ActorRole.SYSTEM,
        **_REFERRAL,
        reason=CancelReason.CONSENT_WITHDRAWN,
        partner_id=PARTNER_ID,
    ),
    ReferralSlaBreachedV1(
        **_ASSIGNED,
        urgency=Urgency.CRITICAL,
        milestone=SlaMilestone.ACCEPTANCE,
        due_at=datetime(2026, 3, 2, 13, 30, tzinfo=UTC),
    ),
    ReferralReroutedV1(
        **_REFERRAL,
        previous_partner_id=PARTNER_ID,
        previous_service_id=SERVICE_ID,
        cause=RerouteCause.SLA_BREACHED,
        reroute_count=1,
    ),
    ReferralConsentOverrideUsedV1(
        actor_id="operator:u-42",
        actor_role=ActorRole.SUPERVISOR,
        **_REFERRAL,
        reason=ConsentOverrideReason.CHILD_AT_IMMEDIATE_RISK,
    ),
    PartnerRegisteredV1(
        **_DIRECTORY_ACTOR,
        partner_id=PARTNER_ID,
        partner_code="NRC-NE",
        partner_type=PartnerType.CIVIL_SOCIETY_ORGANISATION,
        countries=("NE",),
    ),
    PartnerUpdatedV1(
        **_DIRECTORY_ACTOR,
        partner_id=PARTNER_ID,
        partner_code="NRC-NE",
        partner_type=PartnerType.CIVIL_SOCIETY_ORGANISATION,
        countries=("NE", "ML"),
    ),
    PartnerDeactivatedV1(
        **_DIRECTORY_ACTOR, partner_id=PARTNER_ID, reason=DeactivationReason.AGREEMENT_ENDED
    ),
    ServiceRegisteredV1(**_DIRECTORY_ACTOR, **_SERVICE),
    ServiceUpdatedV1(
        **_DIRECTORY_ACTOR, **{**_SERVICE, "status": ServiceStatus.TEMPORARILY_CLOSED}
    ),
    ServiceDeactivatedV1(
        **_DIRECTORY_ACTOR,
        service_id=SERVICE_ID,
        partner_id=PARTNER_ID,
        reason=DeactivationReason.SERVICE_DISCONTINUED,
    ),
    ServiceCapacityChangedV1(
        **_PARTNER_ACTOR,
        service_id=SERVICE_ID,
        partner_id=PARTNER_ID,
        available_slots=0,
        total_slots=12,
    ),
    NotificationDeliveredV1(**_NOTIFICATION, trigger_event_id=TRIGGER_EVENT_ID, attempt=2),
    NotificationAttemptFailedV1(
        **_NOTIFICATION,
        attempt=1,
        failure=DeliveryFailureReason.HTTP_SERVER_ERROR,
        http_status=503,
        next_attempt_at=datetime(2026, 3, 2, 9, 31, tzinfo=UTC),
    ),
    NotificationExhaustedV1(
        **_NOTIFICATION, attempts=8, last_failure=DeliveryFailureReason.TIMEOUT
    ),
    NotificationEndpointDisabledV1(
        partner_id=PARTNER_ID,
        channel=NotificationChannel.WEBHOOK,
        reason=EndpointDisabledReason.CONSECUTIVE_FAILURES,
        consecutive_failures=25,
    ),
    PersonalDataAccessedV1(
        **_PARTNER_ACTOR,
        case_id=CASE_ID,
        fields=(PersonalDataField.PERSON_GIVEN_NAME, PersonalDataField.SAFETY_SAFE_CONTACT_DETAILS),
        purpose=AccessPurpose.SERVICE_DELIVERY,
        referral_id=REFERRAL_ID,
        actor_partner_id=PARTNER_ID,
    ),
    BreakGlassAccessV1(
        actor_id="caseworker:u-204",
        actor_role=ActorRole.CASEWORKER,
        case_id=CASE_ID,
        reason=BreakGlassReason.OWNER_UNAVAILABLE,
        actor_scope=CaseScope.TEAM,
        actor_team="ml-gao-cm",
        actor_agency="iom-ml",
        actor_country="ML",
        owner_id="caseworker:u-117",
        owner_team="ne-agadez-cm",
        owner_agency="iom-ne",
        owner_country="NE",
    ),
    ServiceFeedbackRecordedV1(
        **_CASEWORKER_ACTOR,
        case_id=CASE_ID,
        feedback_id=UUID("7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d"),
        referral_id=REFERRAL_ID,
        received=ServiceReceived.RECEIVED,
        quality=ServiceQuality.GOOD,
        waiting_time=WaitingTime.WITHIN_A_WEEK,
        felt_safe=True,
        anonymous_to_provider=True,
    ),
    FeedbackInvitedV1(
        **_CASEWORKER_ACTOR,
        case_id=CASE_ID,
        invitation_id=UUID("2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e"),
        referral_id=REFERRAL_ID,
        channel=SafeContactMethod.SMS,
        expires_at=datetime(2026, 3, 16, 9, 30, tzinfo=UTC),
    ),
    PseaComplaintReceivedV1(
        actor_id="caseworker:u-204",
        actor_role=ActorRole.CASEWORKER,
        complaint_id=COMPLAINT_ID,
        assistance_due_at=datetime(2026, 3, 3, 9, 30, tzinfo=UTC),
        allegation_referral_due_at=datetime(2026, 3, 3, 9, 30, tzinfo=UTC),
    ),
    PseaComplaintReadV1(
        actor_id="psea:u-301",
        actor_role=ActorRole.PSEA_FOCAL_POINT,
        complaint_id=COMPLAINT_ID,
        fields=(PersonalDataField.PSEA_ACCOUNT,),
    ),
    PseaAssistanceDecidedV1(
        actor_id="psea:u-301",
        actor_role=ActorRole.PSEA_FOCAL_POINT,
        complaint_id=COMPLAINT_ID,
        decision=PseaAssistanceDecision.REFERRED,
        on_time=True,
    ),
    PseaAllegationReferredV1(
        actor_id="psea:u-301",
        actor_role=ActorRole.PSEA_FOCAL_POINT,
        complaint_id=COMPLAINT_ID,
        implicated_partner_id=PARTNER_ID,
        allegation_type=PseaAllegationType.SEXUAL_EXPLOITATION,
        survivor_identity_shared=False,
        investigation_due_at=datetime(2026, 6, 1, tzinfo=UTC),
        on_time=True,
    ),
    PseaInvestigationConcludedV1(
        actor_id="psea:u-301",
        actor_role=ActorRole.PSEA_FOCAL_POINT,
        complaint_id=COMPLAINT_ID,
        implicated_partner_id=PARTNER_ID,
        outcome=PseaInvestigationOutcome.SUBSTANTIATED,
        suspend_partner=True,
        on_time=True,
    ),
    PseaDeadlineMissedV1(
        actor_id="system:intake",
        actor_role=ActorRole.SYSTEM,
        complaint_id=COMPLAINT_ID,
        step=PseaStep.ALLEGATION_REFERRAL,
        due_at=datetime(2026, 3, 3, 9, 30, tzinfo=UTC),
    ),
    ContactWithheldV1(
        **_PARTNER_ACTOR,
        case_id=CASE_ID,
        path=ContactPath.PARTNER_DISCLOSURE,
        reason=ContactRefusal.DO_NOT_CONTACT,
        withheld_fields=(PersonalDataField.PERSON_PHONE,),
        referral_id=REFERRAL_ID,
        actor_partner_id=PARTNER_ID,
    ),
)

EXAMPLES: Mapping[str, EventData] = MappingProxyType(
    {
        example.event_type: example
        for example in (*_EXAMPLES, *PROTECTION_EXAMPLES, *CROSS_BORDER_EXAMPLES)
    }
)


def example_event(event_type: str) -> EventData:
    """The example payload of an event type; raises KeyError for a type without one."""
    return EXAMPLES[event_type]
