"""Controlled vocabularies: every code that may cross Kafka, in one place.

Services, reports and templates read these enums instead of spelling codes themselves.
Values are stable wire codes: renaming or removing one is a breaking change (see README),
adding one is compatible for readers that validate against the newer contracts.
"""

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class NeedCategory(StrEnum):
    """What kind of help a person needs; also what a partner's service offers."""

    SHELTER = "shelter"
    MEDICAL = "medical"
    MHPSS = "mhpss"  # mental health and psychosocial support
    LEGAL_AID = "legal_aid"
    FAMILY_TRACING = "family_tracing"
    RETURN_ASSISTANCE = "return_assistance"
    REINTEGRATION = "reintegration"
    LIVELIHOOD = "livelihood"
    DOCUMENTATION = "documentation"
    CHILD_PROTECTION = "child_protection"
    CASE_MANAGEMENT = "case_management"
    FOOD = "food"
    CASH = "cash"
    # GBV case management and response: the gender-based-violence referral pathway
    # (survivor-centred, usually a GBV-sensitive service).
    GBV_RESPONSE = "gbv_response"


class Urgency(StrEnum):
    """How soon a need must be met; drives the referral's service-level deadlines."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Vulnerability(StrEnum):
    """Protection profile of a person, used for routing to specialised services."""

    TRAFFICKING_VICTIM = "trafficking_victim"
    UNACCOMPANIED_CHILD = "unaccompanied_child"
    SEPARATED_CHILD = "separated_child"
    GBV_SURVIVOR = "gbv_survivor"  # gender-based violence
    STRANDED_MIGRANT = "stranded_migrant"
    RETURNEE = "returnee"
    MIGRANT_IN_VULNERABLE_SITUATION = "migrant_in_vulnerable_situation"
    PERSON_WITH_DISABILITY = "person_with_disability"
    SERIOUS_MEDICAL_CONDITION = "serious_medical_condition"
    PREGNANT_OR_LACTATING = "pregnant_or_lactating"
    OLDER_PERSON = "older_person"


class Sex(StrEnum):
    """Sex as recorded for service eligibility (gender identity stays in the case record)."""

    FEMALE = "female"
    MALE = "male"
    INTERSEX = "intersex"
    UNKNOWN = "unknown"


class AgeBand(StrEnum):
    """Age bands of the Counter-Trafficking Data Collaborative (CTDC).

    Events carry a band, never a date of birth: the bands are coarse enough to keep a person
    hard to single out and still separate children from adults.
    """

    AGE_0_8 = "0-8"
    AGE_9_17 = "9-17"
    AGE_18_20 = "18-20"
    AGE_21_23 = "21-23"
    AGE_24_26 = "24-26"
    AGE_27_29 = "27-29"
    AGE_30_38 = "30-38"
    AGE_39_47 = "39-47"
    AGE_48_PLUS = "48+"


# Inclusive lower bound of each band, oldest first so the first match wins.
_AGE_BAND_LOWER_BOUNDS: tuple[tuple[int, AgeBand], ...] = (
    (48, AgeBand.AGE_48_PLUS),
    (39, AgeBand.AGE_39_47),
    (30, AgeBand.AGE_30_38),
    (27, AgeBand.AGE_27_29),
    (24, AgeBand.AGE_24_26),
    (21, AgeBand.AGE_21_23),
    (18, AgeBand.AGE_18_20),
    (9, AgeBand.AGE_9_17),
    (0, AgeBand.AGE_0_8),
)

_CHILD_AGE_BANDS: frozenset[AgeBand] = frozenset({AgeBand.AGE_0_8, AgeBand.AGE_9_17})


def age_band(age_years: int) -> AgeBand:
    """Return the CTDC band of an age in completed years.

    Raises ValueError for a negative age: that is a data-entry error, not an age.
    """
    if age_years < 0:
        raise ValueError("age_years must not be negative")
    for lower_bound, band in _AGE_BAND_LOWER_BOUNDS:
        if age_years >= lower_bound:
            return band
    raise AssertionError("unreachable: the lowest band starts at 0")


def is_child(band: AgeBand) -> bool:
    """Whether every age in the band is under 18 (child protection rules apply)."""
    return band in _CHILD_AGE_BANDS


class PartnerType(StrEnum):
    """Kind of organisation a partner is; a person may refuse referral to a whole kind."""

    GOVERNMENT_AGENCY = "government_agency"
    CIVIL_SOCIETY_ORGANISATION = "civil_society_organisation"
    INTERNATIONAL_ORGANISATION = "international_organisation"
    UN_AGENCY = "un_agency"
    PRIVATE_SECTOR = "private_sector"


class ConsentScope(StrEnum):
    """What a person agreed to."""

    REFERRAL = "referral"
    DATA_SHARING = "data_sharing"
    # Counting the case, without identities, in statistics (the CTDC export, issue 17).
    STATISTICAL_REPORTING = "statistical_reporting"


class ConsentGivenBy(StrEnum):
    """Who gave consent; for a child it is a parent, guardian or caregiver."""

    SELF = "self"
    PARENT = "parent"
    LEGAL_GUARDIAN = "legal_guardian"
    CAREGIVER = "caregiver"
    OTHER_REPRESENTATIVE = "other_representative"


class ConsentMethod(StrEnum):
    """How consent was captured."""

    VERBAL = "verbal"
    WRITTEN = "written"
    ELECTRONIC = "electronic"


class SafeContactMethod(StrEnum):
    """The only way a partner may reach the person; `none` means no contact at all."""

    NONE = "none"
    PHONE_CALL = "phone_call"
    SMS = "sms"
    MESSAGING_APP = "messaging_app"
    EMAIL = "email"
    IN_PERSON = "in_person"
    THROUGH_CASEWORKER = "through_caseworker"


# --- safe contact (issue 17) ---------------------------------------------------------------


class SafeContactTime(StrEnum):
    """When, in the person's local time, contact is safe; a profile naming none puts no
    limit on the time (see `SAFE_CONTACT_HOURS`)."""

    MORNING = "morning"
    AFTERNOON = "afternoon"
    EVENING = "evening"
    NIGHT = "night"


# The local hours each safe time covers: [start, end), on a 24-hour clock; night wraps.
SAFE_CONTACT_HOURS: Final[Mapping[SafeContactTime, tuple[int, int]]] = MappingProxyType(
    {
        SafeContactTime.MORNING: (6, 12),
        SafeContactTime.AFTERNOON: (12, 18),
        SafeContactTime.EVENING: (18, 22),
        SafeContactTime.NIGHT: (22, 6),
    }
)


class ContactPath(StrEnum):
    """A way the platform would let someone contact the person, or tell them how."""

    PARTNER_DISCLOSURE = "partner_disclosure"  # a partner reading the person's record
    CONTACT_CHECK = "contact_check"  # staff asking before they call, write or visit


class FeedbackCollection(StrEnum):
    """Who entered the person's feedback on a service."""

    STAFF = "staff"  # the case's staff, with the person
    INVITATION = "invitation"  # the person, through a one-time feedback link


class ContactRefusal(StrEnum):
    """Why the person's safety profile refused a contact or withheld how to make one."""

    DO_NOT_CONTACT = "do_not_contact"  # the person is not to be contacted at all
    CHANNEL_NOT_SAFE = "channel_not_safe"  # not the person's safe channel
    OUTSIDE_SAFE_TIMES = "outside_safe_times"  # not at a time the person said is safe
    NO_VOICEMAIL = "no_voicemail"  # no message may be left
    # A child is not contacted on their own contact: the guardian or the caseworker is.
    CHILD = "child"
    # A child with neither a guardian to reach nor a caseworker: nobody is contacted.
    NO_GUARDIAN_OR_CASEWORKER = "no_guardian_or_caseworker"


class StatisticsReport(StrEnum):
    """A statistics export without identities."""

    CTDC = "ctdc"  # the Counter-Trafficking Data Collaborative's variables, k-anonymous


class ChildContactRoute(StrEnum):
    """Whom a notice about a child goes to instead of the child's own contact."""

    GUARDIAN = "guardian"  # the appointed guardian, at the contact recorded with them
    CASEWORKER = "caseworker"  # the caseworker who owns the case


# --- the person's voice: feedback on a service (issue 17) ------------------------------------


class ServiceReceived(StrEnum):
    """Whether the person got the service they were referred for, in their own view."""

    RECEIVED = "received"
    PARTLY = "partly"
    NOT_RECEIVED = "not_received"


class ServiceQuality(StrEnum):
    """How the person rates the service (a five-point scale; see `SERVICE_QUALITY_SCORE`)."""

    VERY_POOR = "very_poor"
    POOR = "poor"
    FAIR = "fair"
    GOOD = "good"
    VERY_GOOD = "very_good"


SERVICE_QUALITY_SCORE: Final[Mapping[ServiceQuality, int]] = MappingProxyType(
    {quality: score for score, quality in enumerate(ServiceQuality, start=1)}
)


class WaitingTime(StrEnum):
    """How long the person waited for the service, as they tell it."""

    SAME_DAY = "same_day"
    WITHIN_A_WEEK = "within_a_week"
    WITHIN_A_MONTH = "within_a_month"
    OVER_A_MONTH = "over_a_month"


# --- PSEA: protection from sexual exploitation and abuse (issue 17) --------------------------


class PseaAllegationType(StrEnum):
    """What a PSEA complaint alleges (the IASC definitions)."""

    SEXUAL_EXPLOITATION = "sexual_exploitation"
    SEXUAL_ABUSE = "sexual_abuse"


class PseaStep(StrEnum):
    """A step of a PSEA complaint that has a deadline."""

    ASSISTANCE = "assistance"  # the survivor offered assistance through the GBV pathway
    ALLEGATION_REFERRAL = "allegation_referral"  # allegation to the implicated organisation
    INVESTIGATION = "investigation"  # the investigation's outcome recorded


class PseaInvestigationOutcome(StrEnum):
    """What the implicated organisation's investigation concluded."""

    SUBSTANTIATED = "substantiated"
    UNSUBSTANTIATED = "unsubstantiated"
    INCONCLUSIVE = "inconclusive"


class PseaAssistanceDecision(StrEnum):
    """What became of the assistance offered to a survivor."""

    REFERRED = "referred"  # a GBV-pathway need added to the survivor's case, with consent
    DECLINED = "declined"  # the survivor did not want assistance


class ReferralState(StrEnum):
    """Lifecycle of a referral, aligned with HL7 FHIR Task.status.

    `routed` is FHIR `received`/`ready` (a partner has been chosen and notified) and
    `unroutable` is our terminal state for "no eligible partner service exists".
    """

    REQUESTED = "requested"
    ROUTED = "routed"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNROUTABLE = "unroutable"


class ReferralStatusReason(StrEnum):
    """Why a partner declined a referral, or why an accepted referral failed."""

    LACK_OF_CAPACITY = "lack_of_capacity"
    NOT_ELIGIBLE = "not_eligible"
    CLIENT_REFUSED_SERVICES = "client_refused_services"
    SERVICES_NO_LONGER_NEEDED = "services_no_longer_needed"
    UNABLE_TO_CONTACT_CLIENT = "unable_to_contact_client"
    UNABLE_TO_CONTACT_RECEIVING_ORGANISATION = "unable_to_contact_receiving_organisation"
    OTHER = "other"


# One vocabulary under two names, so decline and failure reasons can never drift apart.
DeclineReason = ReferralStatusReason
FailureReason = ReferralStatusReason


class CancelReason(StrEnum):
    """Why the referring side cancelled a referral."""

    CONSENT_WITHDRAWN = "consent_withdrawn"
    # The person withdrew their consent to the transfer of their data to the referral's
    # (assistance) country; the need may be referred again under a new transfer consent.
    TRANSFER_CONSENT_WITHDRAWN = "transfer_consent_withdrawn"
    CASE_CLOSED = "case_closed"
    REFERRER_CANCELLED = "referrer_cancelled"
    DUPLICATE = "duplicate"
    OTHER = "other"


class OutcomeCode(StrEnum):
    """Result of a completed referral."""

    SERVICE_PROVIDED = "service_provided"
    SERVICE_PARTIALLY_PROVIDED = "service_partially_provided"
    CLIENT_REFERRED_ONWARD = "client_referred_onward"
    OTHER = "other"


class HoldReason(StrEnum):
    """Why a partner paused work on an accepted referral."""

    AWAITING_CLIENT = "awaiting_client"
    AWAITING_DOCUMENTS = "awaiting_documents"
    AWAITING_CAPACITY = "awaiting_capacity"
    SAFETY_CONCERN = "safety_concern"
    OTHER = "other"


class SlaMilestone(StrEnum):
    """The deadline a referral missed."""

    ACCEPTANCE = "acceptance"  # partner neither accepted nor declined in time
    SERVICE_START = "service_start"  # accepted but not started in time


class RerouteCause(StrEnum):
    """Why a referral left its partner and went back to routing."""

    DECLINED = "declined"
    SLA_BREACHED = "sla_breached"
    PARTNER_DEACTIVATED = "partner_deactivated"
    SERVICE_DEACTIVATED = "service_deactivated"
    SUPERVISOR_REQUEST = "supervisor_request"


class UnroutableReason(StrEnum):
    """Why routing gave up on a referral."""

    NO_MATCHING_SERVICE = "no_matching_service"
    ALL_CANDIDATES_EXCLUDED = "all_candidates_excluded"
    ALL_CANDIDATES_DECLINED = "all_candidates_declined"
    REROUTE_LIMIT_REACHED = "reroute_limit_reached"
    NO_CONSENT = "no_consent"
    # A return or family-reunification referral of an unaccompanied or separated child
    # waits for a best-interests determination (vocabularies.BEST_INTERESTS_GATED_NEEDS).
    BEST_INTERESTS_DETERMINATION_REQUIRED = "best_interests_determination_required"
    # A transnational referral (its assistance country is not the country the person is
    # in) waits for the person's consent to the transfer of their data to that country.
    AWAITING_TRANSFER_CONSENT = "awaiting_transfer_consent"


class RoutingExclusionReason(StrEnum):
    """Why routing set a service aside; counted in a routing explanation."""

    CONSENT_REFUSED_PARTNER = "consent_refused_partner"
    CONSENT_REFUSED_PARTNER_TYPE = "consent_refused_partner_type"
    OUTSIDE_COVERAGE = "outside_coverage"
    LANGUAGE_NOT_SUPPORTED = "language_not_supported"
    AGE_BAND_NOT_SERVED = "age_band_not_served"
    SEX_NOT_SERVED = "sex_not_served"
    NO_CAPACITY = "no_capacity"
    SERVICE_NOT_ACTIVE = "service_not_active"
    PREVIOUSLY_DECLINED = "previously_declined"
    CATEGORY_MISMATCH = "category_mismatch"
    NATIONALITY_NOT_SERVED = "nationality_not_served"
    VULNERABILITY_NOT_SERVED = "vulnerability_not_served"
    NOT_DESIGNATED = "not_designated"  # a mandatory rule needs a designated authority
    NOT_CHOSEN = "not_chosen"  # the caseworker referred to another, chosen service


class ConsentOverrideReason(StrEnum):
    """Why a supervisor referred without consent: only a threat to life or safety qualifies."""

    RISK_TO_LIFE = "risk_to_life"
    IMMINENT_SERIOUS_HARM = "imminent_serious_harm"
    CHILD_AT_IMMEDIATE_RISK = "child_at_immediate_risk"
    MEDICAL_EMERGENCY = "medical_emergency"


class CaseClosureReason(StrEnum):
    """Why a case was closed."""

    NEEDS_MET = "needs_met"
    CLIENT_REQUEST = "client_request"
    LOST_CONTACT = "lost_contact"
    TRANSFERRED = "transferred"
    DUPLICATE = "duplicate"
    OTHER = "other"


class ErasureBasis(StrEnum):
    """Why personal data of a case was erased."""

    DATA_SUBJECT_REQUEST = "data_subject_request"
    RETENTION_PERIOD_ENDED = "retention_period_ended"
    CONSENT_WITHDRAWN = "consent_withdrawn"


class ActorRole(StrEnum):
    """Role of the principal whose action caused an event.

    The same vocabulary as the roles in access tokens (mpa_common.auth.Role), so an event
    names the role the actor was authorised by.
    """

    OPERATOR = "operator"  # hotline operator: registers cases, refers
    CASEWORKER = "caseworker"  # follows cases, reads their personal data
    SUPERVISOR = "supervisor"  # consent overrides where a life is at risk, escalations
    PARTNER = "partner"  # staff of a partner organisation
    AUDITOR = "auditor"  # reviews the audit log; never reads personal data
    ADMIN = "admin"  # directory administration, erasure (the data-protection function)
    SERVICE = "service"  # another platform service calling an API
    # The PSEA focal point: receives and handles complaints of sexual exploitation and abuse,
    # the only role that sees them (issue 17). A short code: actor ids are `<role>:<subject>`.
    PSEA_FOCAL_POINT = "psea"
    SYSTEM = "system"  # a service acting on a rule, e.g. cancelling after consent withdrawal


class ServiceStatus(StrEnum):
    """Whether a partner's service takes referrals."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    TEMPORARILY_CLOSED = "temporarily_closed"


class DeactivationReason(StrEnum):
    """Why a partner or service left the directory."""

    AGREEMENT_ENDED = "agreement_ended"
    ORGANISATION_CLOSED = "organisation_closed"
    SUSPENDED = "suspended"
    SERVICE_DISCONTINUED = "service_discontinued"
    DUPLICATE = "duplicate"
    OTHER = "other"


class NotificationChannel(StrEnum):
    """How a partner is told about a referral."""

    WEBHOOK = "webhook"
    EMAIL = "email"


class DeliveryFailureReason(StrEnum):
    """Why one notification delivery attempt failed."""

    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection_error"
    TLS_ERROR = "tls_error"
    HTTP_CLIENT_ERROR = "http_client_error"  # 4xx: retrying rarely helps
    HTTP_SERVER_ERROR = "http_server_error"  # 5xx: worth retrying
    SMTP_REJECTED = "smtp_rejected"
    INVALID_ENDPOINT = "invalid_endpoint"


class EndpointDisabledReason(StrEnum):
    """Why the notification service stopped using a partner's endpoint."""

    CONSECUTIVE_FAILURES = "consecutive_failures"
    INVALID_CONFIGURATION = "invalid_configuration"
    PARTNER_REQUEST = "partner_request"
    # An administrator disabled it: only an administrator may enable it again.
    ADMINISTRATOR_REQUEST = "administrator_request"
    PARTNER_DEACTIVATED = "partner_deactivated"
    GONE = "gone"  # the endpoint answered 410 Gone


class NotificationRecipient(StrEnum):
    """Whom a notification was for: a kind of recipient, never an address."""

    PARTNER = "partner"  # a partner's webhook endpoint or contact address
    REFERRER = "referrer"  # the principal who requested the referral
    SUPERVISORS = "supervisors"  # the supervisors' address of the referral's country
    TEAM_SUPERVISORS = "team_supervisors"  # the supervisors of a case's owning team
    CASE_OWNER = "case_owner"  # the caseworker who owns a case
    INVESTIGATORS = "investigators"  # a partner's investigation focal point (PSEA)


class AccessPurpose(StrEnum):
    """Why someone read personal data (purpose limitation, GDPR art. 5(1)(b))."""

    CASE_MANAGEMENT = "case_management"
    REFERRAL_FOLLOW_UP = "referral_follow_up"
    SERVICE_DELIVERY = "service_delivery"
    AUDIT_REVIEW = "audit_review"
    DATA_SUBJECT_REQUEST = "data_subject_request"
    ERASURE = "erasure"


class CaseScope(StrEnum):
    """Which cases a role may read or change, relative to the case's owner (Primero's
    record scopes): the owner's own, the owning team's, agency's or country office's, all."""

    OWN = "own"
    TEAM = "team"
    AGENCY = "agency"
    COUNTRY = "country"
    ALL = "all"


class BreakGlassReason(StrEnum):
    """Why someone read a case outside their scope (an emergency access, always reviewed)."""

    LIFE_OR_SAFETY_RISK = "life_or_safety_risk"
    CHILD_PROTECTION_EMERGENCY = "child_protection_emergency"
    OWNER_UNAVAILABLE = "owner_unavailable"
    LEGAL_OBLIGATION = "legal_obligation"


class PersonalDataField(StrEnum):
    """Fields of a person's record that a read can touch; named `<section>.<field>`.

    These name the fields, they never carry them: the values stay in the intake service.
    """

    PERSON_GIVEN_NAME = "person.given_name"
    PERSON_FAMILY_NAME = "person.family_name"
    PERSON_DATE_OF_BIRTH = "person.date_of_birth"
    PERSON_ESTIMATED_AGE = "person.estimated_age"
    PERSON_PHONE = "person.phone"
    PERSON_EMAIL = "person.email"
    PERSON_GENDER_IDENTITY = "person.gender_identity"
    PERSON_IDENTITY_DOCUMENT_NUMBER = "person.identity_document_number"
    LOCATION_PLACE = "location.place"
    NEEDS_NOTE = "needs.note"
    # Free text of the casework: assessment, plan, follow-up, transfer, approval and
    # reopening comments (kept encrypted with the case's personal data).
    CASEWORK_NOTE = "casework.note"
    SAFETY_SAFE_CONTACT_DETAILS = "safety.safe_contact_details"
    # The account of a PSEA complaint, in the words it was given (restricted record).
    PSEA_ACCOUNT = "psea.account"


# --- protection workflows (issue 17) -----------------------------------------------------------
# Trafficking identification after IOM's Human Trafficking Case Data Standard (HTCDS) and the
# Counter-Trafficking Data Collaborative (CTDC) data dictionary; the recovery and reflection
# period of the Council of Europe Convention on Action against Trafficking in Human Beings
# (art. 10 and 13); children's assent and best interests after UNHCR's Best Interests
# Procedure guidelines (2021).


class IdentificationStatus(StrEnum):
    """Where the identification of a person as a victim of trafficking stands, apart from any
    referral: `potential` (indicators noted), `presumed` (a reasonable-grounds decision),
    then `identified` or `not_identified` (the conclusive decision, open to appeal)."""

    POTENTIAL = "potential"
    PRESUMED = "presumed"
    IDENTIFIED = "identified"
    NOT_IDENTIFIED = "not_identified"


class ExploitationType(StrEnum):
    """Type of exploitation (HTCDS; CTDC's `isForcedLabour`, `isSexualExploit`, ...)."""

    FORCED_LABOUR = "forced_labour"
    SEXUAL_EXPLOITATION = "sexual_exploitation"
    FORCED_MARRIAGE = "forced_marriage"
    FORCED_MILITARY = "forced_military"
    SLAVERY_AND_SIMILAR_PRACTICES = "slavery_and_similar_practices"
    REMOVAL_OF_ORGANS = "removal_of_organs"
    FORCED_CRIMINALITY = "forced_criminality"
    FORCED_BEGGING = "forced_begging"
    OTHER = "other"


class MeansOfControl(StrEnum):
    """How the person was controlled (HTCDS; CTDC's `meansOfControl*` variables)."""

    DEBT_BONDAGE = "debt_bondage"
    TAKES_EARNINGS = "takes_earnings"
    RESTRICTS_FINANCIAL_ACCESS = "restricts_financial_access"
    THREATS = "threats"
    PSYCHOLOGICAL_ABUSE = "psychological_abuse"
    PHYSICAL_ABUSE = "physical_abuse"
    SEXUAL_ABUSE = "sexual_abuse"
    FALSE_PROMISES = "false_promises"
    PSYCHOACTIVE_SUBSTANCES = "psychoactive_substances"
    RESTRICTS_MOVEMENT = "restricts_movement"
    RESTRICTS_MEDICAL_CARE = "restricts_medical_care"
    EXCESSIVE_WORKING_HOURS = "excessive_working_hours"
    USES_CHILDREN = "uses_children"
    THREAT_OF_LAW_ENFORCEMENT = "threat_of_law_enforcement"
    WITHHOLDS_NECESSITIES = "withholds_necessities"
    WITHHOLDS_DOCUMENTS = "withholds_documents"
    OTHER = "other"


class DecidingOrganisationType(StrEnum):
    """What kind of organisation took an identification decision."""

    COMPETENT_AUTHORITY = "competent_authority"  # the national identification body
    LAW_ENFORCEMENT = "law_enforcement"
    LABOUR_INSPECTORATE = "labour_inspectorate"
    JUDICIARY = "judiciary"
    CHILD_PROTECTION_AUTHORITY = "child_protection_authority"
    CIVIL_SOCIETY_ORGANISATION = "civil_society_organisation"
    INTERNATIONAL_ORGANISATION = "international_organisation"
    OTHER = "other"


class IdentificationBasis(StrEnum):
    """On what a reasonable-grounds decision rests."""

    INDICATORS_ASSESSMENT = "indicators_assessment"
    SELF_IDENTIFICATION = "self_identification"
    THIRD_PARTY_REFERRAL = "third_party_referral"
    LAW_ENFORCEMENT_FINDING = "law_enforcement_finding"
    OTHER = "other"


class AppealOutcome(StrEnum):
    """The outcome of an appeal against a conclusive identification decision."""

    UPHELD = "upheld"  # the decision stands
    OVERTURNED = "overturned"  # the other conclusion replaces it


class ReflectionExtensionReason(StrEnum):
    """Why a recovery and reflection period was extended."""

    RECOVERY_NEEDS = "recovery_needs"
    SAFETY = "safety"
    CHILD_BEST_INTERESTS = "child_best_interests"
    PENDING_DECISION = "pending_decision"
    OTHER = "other"


# The Convention's floor (art. 13(1)): "at least 30 days". A country may give more, never less.
MINIMUM_REFLECTION_DAYS: Final = 30


class ChildAssent(StrEnum):
    """The child's own agreement, beside the consent a parent, guardian or caregiver gave."""

    GIVEN = "given"
    REFUSED = "refused"
    NOT_CAPABLE = "not_capable"  # too young or unable to form a view


class GuardianAppointingAuthority(StrEnum):
    """Who appointed a child's guardian."""

    COURT = "court"
    CHILD_PROTECTION_AUTHORITY = "child_protection_authority"
    OTHER_AUTHORITY = "other_authority"


class BestInterestsOption(StrEnum):
    """What a best-interests assessment recommends, or a determination decides."""

    FAMILY_REUNIFICATION = "family_reunification"
    RETURN_TO_COUNTRY_OF_ORIGIN = "return_to_country_of_origin"
    LOCAL_INTEGRATION = "local_integration"
    THIRD_COUNTRY_SOLUTION = "third_country_solution"
    ALTERNATIVE_CARE = "alternative_care"
    REMAIN_IN_CURRENT_CARE = "remain_in_current_care"


# Referrals that decide a child's durable solution or family: for an unaccompanied or
# separated child they wait for a recorded best-interests determination. `family_tracing`
# is the platform's tracing-and-reunification category (it has no reunification category of
# its own yet, ROADMAP 4).
BEST_INTERESTS_GATED_NEEDS: Final[frozenset[NeedCategory]] = frozenset(
    {NeedCategory.RETURN_ASSISTANCE, NeedCategory.FAMILY_TRACING}
)
# The vulnerabilities that make a child unaccompanied or separated.
UNACCOMPANIED_OR_SEPARATED: Final[frozenset[Vulnerability]] = frozenset(
    {Vulnerability.UNACCOMPANIED_CHILD, Vulnerability.SEPARATED_CHILD}
)


def needs_best_interests_determination(
    category: NeedCategory, vulnerabilities: frozenset[Vulnerability] | set[Vulnerability]
) -> bool:
    """Whether a referral of `category` for a person with `vulnerabilities` waits for a
    best-interests determination."""
    return category in BEST_INTERESTS_GATED_NEEDS and bool(
        UNACCOMPANIED_OR_SEPARATED & set(vulnerabilities)
    )


# --- case management (issue 16) ----------------------------------------------------------------


class RiskLevel(StrEnum):
    """The risk an assessment finds for the person (the latest one is the case's)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


# Routing may treat a need as at least this urgent while the case's latest risk level is so.
URGENCY_FLOOR_OF_RISK: Final[Mapping[RiskLevel, Urgency]] = MappingProxyType(
    {
        RiskLevel.LOW: Urgency.LOW,
        RiskLevel.MEDIUM: Urgency.MEDIUM,
        RiskLevel.HIGH: Urgency.HIGH,
        RiskLevel.CRITICAL: Urgency.CRITICAL,
    }
)

_URGENCY_RANK: Final[Mapping[Urgency, int]] = MappingProxyType(
    {Urgency.LOW: 0, Urgency.MEDIUM: 1, Urgency.HIGH: 2, Urgency.CRITICAL: 3}
)


def urgency_with_risk(urgency: Urgency, risk_level: RiskLevel | None) -> Urgency:
    """The urgency routing may give a need of a case whose latest assessment found
    `risk_level` (`org.mpa.case.assessed.v1`'s `case_risk_level`): the more urgent of the
    need's own and the risk's floor."""
    if risk_level is None:
        return urgency
    floor = URGENCY_FLOOR_OF_RISK[risk_level]
    return floor if _URGENCY_RANK[floor] > _URGENCY_RANK[urgency] else urgency


class ProtectionConcern(StrEnum):
    """What an assessment found the person needs protecting from (a closed vocabulary,
    after the CTDC's exploitation types and common child-protection concerns)."""

    TRAFFICKING_EXPLOITATION = "trafficking_exploitation"
    FORCED_LABOUR = "forced_labour"
    SEXUAL_EXPLOITATION = "sexual_exploitation"
    PHYSICAL_VIOLENCE = "physical_violence"
    SEXUAL_VIOLENCE = "sexual_violence"
    GENDER_BASED_VIOLENCE = "gender_based_violence"
    CHILD_LABOUR = "child_labour"
    CHILD_MARRIAGE = "child_marriage"
    FAMILY_SEPARATION = "family_separation"
    NEGLECT = "neglect"
    DETENTION = "detention"
    THREAT_FROM_EXPLOITERS = "threat_from_exploiters"
    PSYCHOLOGICAL_DISTRESS = "psychological_distress"
    MEDICAL_EMERGENCY = "medical_emergency"
    LACK_OF_DOCUMENTATION = "lack_of_documentation"
    OTHER = "other"


class TransferInitiator(StrEnum):
    """Who asked for a transfer of responsibility: the owning side handing the case over,
    or the receiving office asking to take it."""

    SENDER = "sender"
    RECEIVER = "receiver"


class TransferState(StrEnum):
    """Where a transfer of responsibility stands."""

    REQUESTED = "requested"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    REVOKED = "revoked"


class InterventionStatus(StrEnum):
    """Where one intervention of the case plan stands."""

    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


class FollowUpType(StrEnum):
    """How the person is followed up."""

    PHONE_CALL = "phone_call"
    HOME_VISIT = "home_visit"
    OFFICE_VISIT = "office_visit"
    PARTNER_CHECK = "partner_check"
    SAFETY_CHECK = "safety_check"
    OTHER = "other"


class FollowUpOutcome(StrEnum):
    """What a follow-up found; `reached` and `needs_escalation` count as a contact."""

    REACHED = "reached"
    NOT_REACHED = "not_reached"
    NEEDS_ESCALATION = "needs_escalation"
    NO_LONGER_NEEDED = "no_longer_needed"


class ApprovalSubject(StrEnum):
    """What a supervisor approves."""

    CASE_PLAN = "case_plan"
    CLOSURE = "closure"
    # A best-interests panel's determination for a child (issue 17).
    BEST_INTERESTS_DETERMINATION = "best_interests_determination"


class ApprovalState(StrEnum):
    """Where a request for a supervisor's approval stands."""

    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"


class CaseReopenReason(StrEnum):
    """Why a closed case was reopened."""

    NEW_NEED = "new_need"
    SITUATION_CHANGED = "situation_changed"
    CLOSED_IN_ERROR = "closed_in_error"
    OTHER = "other"


# --- cross-border hand-off (issue 17) ----------------------------------------------------------


class HandoffState(StrEnum):
    """Where a cross-border hand-off stands: the receiving country office accepts
    responsibility before the person travels, and the loop closes on arrival."""

    REQUESTED = "requested"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"  # the sending office withdrew it (the person does not travel)
    DEPARTED = "departed"
    ARRIVED = "arrived"


class HandoffDeclineReason(StrEnum):
    """Why a receiving country office declined a hand-off."""

    NO_CAPACITY = "no_capacity"
    OUTSIDE_MANDATE = "outside_mandate"
    INSUFFICIENT_INFORMATION = "insufficient_information"
    TRAVEL_NOT_FEASIBLE = "travel_not_feasible"
    OTHER = "other"


class HandoffCancelReason(StrEnum):
    """Why the sending office withdrew a hand-off."""

    TRAVEL_CANCELLED = "travel_cancelled"
    PERSON_CHANGED_MIND = "person_changed_mind"
    TRANSFER_CONSENT_WITHDRAWN = "transfer_consent_withdrawn"
    OTHER = "other"
