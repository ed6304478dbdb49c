"""Human labels for the contracts' vocabulary codes, as gettext messages.

The codes come from `mpa_contracts.vocabularies` (never spelt here); this module only gives
each one an English label, which the message catalogues translate. `N_` marks a string for
extraction without translating it at import time.
"""

from __future__ import annotations

from enum import StrEnum

from mpa_console.messages import N_
from mpa_console.web.cross_border_labels import CROSS_BORDER_LABELS, CROSS_BORDER_VOCABULARIES
from mpa_console.web.i18n import gettext_
from mpa_console.web.protection_labels import PROTECTION_LABELS, PROTECTION_VOCABULARIES
from mpa_console.web.voice_labels import VOICE_LABELS, VOICE_VOCABULARIES
from mpa_contracts.vocabularies import (
    ApprovalState,
    ApprovalSubject,
    CancelReason,
    CaseClosureReason,
    CaseReopenReason,
    ConsentGivenBy,
    ConsentMethod,
    ConsentScope,
    FollowUpOutcome,
    FollowUpType,
    HoldReason,
    InterventionStatus,
    NeedCategory,
    OutcomeCode,
    PartnerType,
    ProtectionConcern,
    ReferralState,
    ReferralStatusReason,
    RiskLevel,
    SafeContactMethod,
    ServiceStatus,
    Sex,
    TransferInitiator,
    TransferState,
    Urgency,
    Vulnerability,
)

LABELS: dict[type[StrEnum], dict[str, str]] = {
    NeedCategory: {
        NeedCategory.SHELTER: N_("Shelter"),
        NeedCategory.MEDICAL: N_("Medical care"),
        NeedCategory.MHPSS: N_("Mental health and psychosocial support"),
        NeedCategory.LEGAL_AID: N_("Legal aid"),
        NeedCategory.FAMILY_TRACING: N_("Family tracing"),
        NeedCategory.RETURN_ASSISTANCE: N_("Return assistance"),
        NeedCategory.REINTEGRATION: N_("Reintegration"),
        NeedCategory.LIVELIHOOD: N_("Livelihood"),
        NeedCategory.DOCUMENTATION: N_("Documentation"),
        NeedCategory.CHILD_PROTECTION: N_("Child protection"),
        NeedCategory.CASE_MANAGEMENT: N_("Case management"),
        NeedCategory.FOOD: N_("Food"),
        NeedCategory.CASH: N_("Cash assistance"),
        NeedCategory.GBV_RESPONSE: N_("Gender-based violence response"),
    },
    Urgency: {
        Urgency.CRITICAL: N_("Critical"),
        Urgency.HIGH: N_("High"),
        Urgency.MEDIUM: N_("Medium"),
        Urgency.LOW: N_("Low"),
    },
    Vulnerability: {
        Vulnerability.TRAFFICKING_VICTIM: N_("Victim of trafficking"),
        Vulnerability.UNACCOMPANIED_CHILD: N_("Unaccompanied child"),
        Vulnerability.SEPARATED_CHILD: N_("Separated child"),
        Vulnerability.GBV_SURVIVOR: N_("Survivor of gender-based violence"),
        Vulnerability.STRANDED_MIGRANT: N_("Stranded migrant"),
        Vulnerability.RETURNEE: N_("Returnee"),
        Vulnerability.MIGRANT_IN_VULNERABLE_SITUATION: N_("Migrant in a vulnerable situation"),
        Vulnerability.PERSON_WITH_DISABILITY: N_("Person with a disability"),
        Vulnerability.SERIOUS_MEDICAL_CONDITION: N_("Serious medical condition"),
        Vulnerability.PREGNANT_OR_LACTATING: N_("Pregnant or breastfeeding"),
        Vulnerability.OLDER_PERSON: N_("Older person"),
    },
    Sex: {
        Sex.FEMALE: N_("Female"),
        Sex.MALE: N_("Male"),
        Sex.INTERSEX: N_("Intersex"),
        Sex.UNKNOWN: N_("Unknown"),
    },
    ConsentScope: {
        ConsentScope.REFERRAL: N_("Being referred to a partner"),
        ConsentScope.DATA_SHARING: N_("Sharing their data with that partner"),
        ConsentScope.STATISTICAL_REPORTING: N_("Being counted, without identity, in statistics"),
    },
    ConsentGivenBy: {
        ConsentGivenBy.SELF: N_("The person themself"),
        ConsentGivenBy.PARENT: N_("A parent"),
        ConsentGivenBy.LEGAL_GUARDIAN: N_("A legal guardian"),
        ConsentGivenBy.CAREGIVER: N_("A caregiver"),
        ConsentGivenBy.OTHER_REPRESENTATIVE: N_("Another representative"),
    },
    ConsentMethod: {
        ConsentMethod.VERBAL: N_("Verbal"),
        ConsentMethod.WRITTEN: N_("Written"),
        ConsentMethod.ELECTRONIC: N_("Electronic"),
    },
    SafeContactMethod: {
        SafeContactMethod.NONE: N_("No contact at all"),
        SafeContactMethod.PHONE_CALL: N_("Phone call"),
        SafeContactMethod.SMS: N_("Text message"),
        SafeContactMethod.MESSAGING_APP: N_("Messaging app"),
        SafeContactMethod.EMAIL: N_("E-mail"),
        SafeContactMethod.IN_PERSON: N_("In person"),
        SafeContactMethod.THROUGH_CASEWORKER: N_("Through the caseworker"),
    },
    ReferralState: {
        ReferralState.REQUESTED: N_("Being routed"),
        ReferralState.ROUTED: N_("Waiting for the partner"),
        ReferralState.ACCEPTED: N_("Accepted"),
        ReferralState.DECLINED: N_("Declined"),
        ReferralState.IN_PROGRESS: N_("In progress"),
        ReferralState.ON_HOLD: N_("On hold"),
        ReferralState.COMPLETED: N_("Completed"),
        ReferralState.FAILED: N_("Failed"),
        ReferralState.CANCELLED: N_("Cancelled"),
        ReferralState.UNROUTABLE: N_("No partner found"),
    },
    ReferralStatusReason: {
        ReferralStatusReason.LACK_OF_CAPACITY: N_("No capacity"),
        ReferralStatusReason.NOT_ELIGIBLE: N_("Not eligible"),
        ReferralStatusReason.CLIENT_REFUSED_SERVICES: N_("The person refused the service"),
        ReferralStatusReason.SERVICES_NO_LONGER_NEEDED: N_("No longer needed"),
        ReferralStatusReason.UNABLE_TO_CONTACT_CLIENT: N_("Could not reach the person"),
        ReferralStatusReason.UNABLE_TO_CONTACT_RECEIVING_ORGANISATION: N_(
            "Could not reach the receiving organisation"
        ),
        ReferralStatusReason.OTHER: N_("Other"),
    },
    HoldReason: {
        HoldReason.AWAITING_CLIENT: N_("Waiting for the person"),
        HoldReason.AWAITING_DOCUMENTS: N_("Waiting for documents"),
        HoldReason.AWAITING_CAPACITY: N_("Waiting for capacity"),
        HoldReason.SAFETY_CONCERN: N_("Safety concern"),
        HoldReason.OTHER: N_("Other"),
    },
    OutcomeCode: {
        OutcomeCode.SERVICE_PROVIDED: N_("Service provided"),
        OutcomeCode.SERVICE_PARTIALLY_PROVIDED: N_("Service partly provided"),
        OutcomeCode.CLIENT_REFERRED_ONWARD: N_("Referred onward"),
        OutcomeCode.OTHER: N_("Other"),
    },
    CancelReason: {
        CancelReason.CONSENT_WITHDRAWN: N_("Consent withdrawn"),
        CancelReason.TRANSFER_CONSENT_WITHDRAWN: N_("Consent to the transfer abroad withdrawn"),
        CancelReason.CASE_CLOSED: N_("Case closed"),
        CancelReason.REFERRER_CANCELLED: N_("Cancelled by the referrer"),
        CancelReason.DUPLICATE: N_("Duplicate"),
        CancelReason.OTHER: N_("Other"),
    },
    CaseClosureReason: {
        CaseClosureReason.NEEDS_MET: N_("Needs met"),
        CaseClosureReason.CLIENT_REQUEST: N_("At the person's request"),
        CaseClosureReason.LOST_CONTACT: N_("Contact lost"),
        CaseClosureReason.TRANSFERRED: N_("Transferred"),
        CaseClosureReason.DUPLICATE: N_("Duplicate"),
        CaseClosureReason.OTHER: N_("Other"),
    },
    PartnerType: {
        PartnerType.GOVERNMENT_AGENCY: N_("Government agency"),
        PartnerType.CIVIL_SOCIETY_ORGANISATION: N_("Civil-society organisation"),
        PartnerType.INTERNATIONAL_ORGANISATION: N_("International organisation"),
        PartnerType.UN_AGENCY: N_("UN agency"),
        PartnerType.PRIVATE_SECTOR: N_("Private sector"),
    },
    ServiceStatus: {
        ServiceStatus.ACTIVE: N_("Active"),
        ServiceStatus.INACTIVE: N_("Inactive"),
        ServiceStatus.TEMPORARILY_CLOSED: N_("Temporarily closed"),
    },
    RiskLevel: {
        RiskLevel.LOW: N_("Low risk"),
        RiskLevel.MEDIUM: N_("Medium risk"),
        RiskLevel.HIGH: N_("High risk"),
        RiskLevel.CRITICAL: N_("Critical risk"),
    },
    ProtectionConcern: {
        ProtectionConcern.TRAFFICKING_EXPLOITATION: N_("Trafficking or exploitation"),
        ProtectionConcern.FORCED_LABOUR: N_("Forced labour"),
        ProtectionConcern.SEXUAL_EXPLOITATION: N_("Sexual exploitation"),
        ProtectionConcern.PHYSICAL_VIOLENCE: N_("Physical violence"),
        ProtectionConcern.SEXUAL_VIOLENCE: N_("Sexual violence"),
        ProtectionConcern.GENDER_BASED_VIOLENCE: N_("Gender-based violence"),
        ProtectionConcern.CHILD_LABOUR: N_("Child labour"),
        ProtectionConcern.CHILD_MARRIAGE: N_("Child marriage"),
        ProtectionConcern.FAMILY_SEPARATION: N_("Family separation"),
        ProtectionConcern.NEGLECT: N_("Neglect"),
        ProtectionConcern.DETENTION: N_("Detention"),
        ProtectionConcern.THREAT_FROM_EXPLOITERS: N_("Threats from exploiters"),
        ProtectionConcern.PSYCHOLOGICAL_DISTRESS: N_("Psychological distress"),
        ProtectionConcern.MEDICAL_EMERGENCY: N_("Medical emergency"),
        ProtectionConcern.LACK_OF_DOCUMENTATION: N_("Lack of documentation"),
        ProtectionConcern.OTHER: N_("Other concern"),
    },
    FollowUpType: {
        FollowUpType.PHONE_CALL: N_("Phone call"),
        FollowUpType.HOME_VISIT: N_("Home visit"),
        FollowUpType.OFFICE_VISIT: N_("Office visit"),
        FollowUpType.PARTNER_CHECK: N_("Check with the partner"),
        FollowUpType.SAFETY_CHECK: N_("Safety check"),
        FollowUpType.OTHER: N_("Other follow-up"),
    },
    FollowUpOutcome: {
        FollowUpOutcome.REACHED: N_("Person reached"),
        FollowUpOutcome.NOT_REACHED: N_("Person not reached"),
        FollowUpOutcome.NEEDS_ESCALATION: N_("Needs escalation"),
        FollowUpOutcome.NO_LONGER_NEEDED: N_("No longer needed"),
    },
    InterventionStatus: {
        InterventionStatus.PLANNED: N_("Planned"),
        InterventionStatus.IN_PROGRESS: N_("In progress"),
        InterventionStatus.DONE: N_("Done"),
        InterventionStatus.CANCELLED: N_("Cancelled"),
    },
    ApprovalSubject: {
        ApprovalSubject.CASE_PLAN: N_("Case plan"),
        ApprovalSubject.CLOSURE: N_("Closure"),
        ApprovalSubject.BEST_INTERESTS_DETERMINATION: N_("Best-interests determination"),
    },
    ApprovalState: {
        ApprovalState.REQUESTED: N_("Awaiting a decision"),
        ApprovalState.APPROVED: N_("Approved"),
        ApprovalState.REJECTED: N_("Rejected"),
    },
    TransferState: {
        TransferState.REQUESTED: N_("Awaiting a decision"),
        TransferState.ACCEPTED: N_("Accepted"),
        TransferState.REJECTED: N_("Rejected"),
        TransferState.REVOKED: N_("Withdrawn"),
    },
    TransferInitiator: {
        TransferInitiator.SENDER: N_("Handed over by the owner"),
        TransferInitiator.RECEIVER: N_("Asked for by the receiving office"),
    },
    CaseReopenReason: {
        CaseReopenReason.NEW_NEED: N_("A new need"),
        CaseReopenReason.SITUATION_CHANGED: N_("The situation changed"),
        CaseReopenReason.CLOSED_IN_ERROR: N_("Closed in error"),
        CaseReopenReason.OTHER: N_("Other reason"),
    },
}

# The same labels by vocabulary name, for templates: label("need", code).
VOCABULARIES: dict[str, type[StrEnum]] = {
    "need": NeedCategory,
    "urgency": Urgency,
    "vulnerability": Vulnerability,
    "sex": Sex,
    "consent_scope": ConsentScope,
    "consent_given_by": ConsentGivenBy,
    "consent_method": ConsentMethod,
    "safe_contact": SafeContactMethod,
    "state": ReferralState,
    "status_reason": ReferralStatusReason,
    "hold_reason": HoldReason,
    "outcome": OutcomeCode,
    "cancel_reason": CancelReason,
    "closure_reason": CaseClosureReason,
    "partner_type": PartnerType,
    "service_status": ServiceStatus,
    "risk_level": RiskLevel,
    "protection_concern": ProtectionConcern,
    "follow_up_type": FollowUpType,
    "follow_up_outcome": FollowUpOutcome,
    "intervention_status": InterventionStatus,
    "approval_subject": ApprovalSubject,
    "approval_state": ApprovalState,
    "transfer_state": TransferState,
    "transfer_initiator": TransferInitiator,
    "reopen_reason": CaseReopenReason,
}

LABELS.update(PROTECTION_LABELS)
LABELS.update(VOICE_LABELS)
VOCABULARIES.update(PROTECTION_VOCABULARIES)
VOCABULARIES.update(VOICE_VOCABULARIES)
LABELS.update(CROSS_BORDER_LABELS)
VOCABULARIES.update(CROSS_BORDER_VOCABULARIES)

# Case statuses are intake's own (not a contracts vocabulary).
CASE_STATUS_LABELS = {"open": N_("Open"), "closed": N_("Closed")}


def label(vocabulary: str, code: str | None) -> str:
    """The translated label of `code`; an unknown code is shown as it is."""
    if code is None:
        return ""
    if vocabulary == "case_status":
        known = CASE_STATUS_LABELS.get(code)
    else:
        known = LABELS[VOCABULARIES[vocabulary]].get(code)
    return gettext_(known) if known else code


def choices(vocabulary: str) -> list[tuple[str, str]]:
    """(code, translated label) of every code of a vocabulary, in the contracts' order."""
    enum = VOCABULARIES[vocabulary]
    return [(member.value, label(vocabulary, member.value)) for member in enum]


ROLE_NAMES = {
    "operator": N_("Hotline operator"),
    "caseworker": N_("Caseworker"),
    "partner": N_("Partner staff"),
    "auditor": N_("Auditor"),
    "supervisor": N_("Supervisor"),
    "admin": N_("Administrator"),
    "psea": N_("PSEA focal point"),
}

ACTION_NAMES = {
    "accept": N_("Accept"),
    "decline": N_("Decline"),
    "start": N_("Start the service"),
    "hold": N_("Put on hold"),
    "resume": N_("Resume"),
    "complete": N_("Complete"),
    "fail": N_("Close as not delivered"),
}
