"""Example payloads of the protection events (issue 17), merged into `examples.EXAMPLES`.

Fixed ids, fictitious data; kept apart from `examples.py` so the catalogues of different
workflows grow without touching each other.
"""

from datetime import UTC, datetime, timedelta
from uuid import UUID

from mpa_contracts.events.base import EventData
from mpa_contracts.events.protection import (
    BestInterestsAssessedV1,
    BestInterestsDeterminedV1,
    ChildAssentRecordedV1,
    ConclusiveGroundsDecidedV1,
    GuardianAppointedV1,
    IdentificationAppealDecidedV1,
    IdentificationAppealedV1,
    ReasonableGroundsDecidedV1,
    ReflectionPeriodEndedV1,
    ReflectionPeriodEndingV1,
    ReflectionPeriodExtendedV1,
    ReflectionPeriodStartedV1,
    TraffickingIndicatorsNotedV1,
)
from mpa_contracts.events.report import StatisticsExportedV1
from mpa_contracts.vocabularies import (
    ActorRole,
    AppealOutcome,
    BestInterestsOption,
    CaseScope,
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
    StatisticsReport,
)

CASE_ID = UUID("6f1c2a3e-8d4b-4c1a-9e2f-0a1b2c3d4e5f")  # the case of examples.py
IDENTIFICATION_ID = UUID("a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d")
REFLECTION_PERIOD_ID = UUID("b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e")
ASSENT_ID = UUID("c3d4e5f6-a7b8-4c9d-8e1f-2a3b4c5d6e7f")
GUARDIAN_APPOINTMENT_ID = UUID("d4e5f6a7-b8c9-4d0e-9f2a-3b4c5d6e7f80")
BIA_ID = UUID("e5f6a7b8-c9d0-4e1f-8a3b-4c5d6e7f8091")
DETERMINATION_ID = UUID("f6a7b8c9-d0e1-4f2a-9b4c-5d6e7f8091a2")
APPROVAL_ID = UUID("f3a4b5c6-d7e8-4f9a-8b1c-2d3e4f5a6b7c")  # examples.py's approval
CASEWORKER = "caseworker:u-204"
_ACTOR = {"actor_id": CASEWORKER, "actor_role": ActorRole.CASEWORKER}
_DECIDED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
_ENDS = _DECIDED + timedelta(days=30)
_EXPLOITATION = (ExploitationType.FORCED_LABOUR, ExploitationType.FORCED_BEGGING)
_CONTROL = (MeansOfControl.DEBT_BONDAGE, MeansOfControl.WITHHOLDS_DOCUMENTS)
_OWNER = {"owner_id": CASEWORKER, "owner_team": "ne-agadez-cm", "owner_country": "NE"}

PROTECTION_EXAMPLES: tuple[EventData, ...] = (
    TraffickingIndicatorsNotedV1(
        **_ACTOR,
        case_id=CASE_ID,
        identification_id=IDENTIFICATION_ID,
        status=IdentificationStatus.POTENTIAL,
        exploitation_types=_EXPLOITATION,
        means_of_control=_CONTROL,
    ),
    ReasonableGroundsDecidedV1(
        **_ACTOR,
        case_id=CASE_ID,
        identification_id=IDENTIFICATION_ID,
        status=IdentificationStatus.PRESUMED,
        decided_at=_DECIDED,
        deciding_organisation_type=DecidingOrganisationType.COMPETENT_AUTHORITY,
        basis=IdentificationBasis.INDICATORS_ASSESSMENT,
        exploitation_types=_EXPLOITATION,
        means_of_control=_CONTROL,
    ),
    ConclusiveGroundsDecidedV1(
        **_ACTOR,
        case_id=CASE_ID,
        identification_id=IDENTIFICATION_ID,
        status=IdentificationStatus.IDENTIFIED,
        decided_at=_DECIDED + timedelta(days=41),
        deciding_organisation_type=DecidingOrganisationType.COMPETENT_AUTHORITY,
    ),
    IdentificationAppealedV1(
        **_ACTOR,
        case_id=CASE_ID,
        identification_id=IDENTIFICATION_ID,
        lodged_at=_DECIDED + timedelta(days=45),
        status=IdentificationStatus.NOT_IDENTIFIED,
    ),
    IdentificationAppealDecidedV1(
        **_ACTOR,
        case_id=CASE_ID,
        identification_id=IDENTIFICATION_ID,
        decided_at=_DECIDED + timedelta(days=70),
        outcome=AppealOutcome.OVERTURNED,
        status=IdentificationStatus.IDENTIFIED,
    ),
    ReflectionPeriodStartedV1(
        **_ACTOR,
        case_id=CASE_ID,
        identification_id=IDENTIFICATION_ID,
        reflection_period_id=REFLECTION_PERIOD_ID,
        starts_at=_DECIDED,
        ends_at=_ENDS,
        days=30,
        non_removal=True,
        remind_at=_ENDS - timedelta(days=7),
    ),
    ReflectionPeriodExtendedV1(
        **_ACTOR,
        case_id=CASE_ID,
        reflection_period_id=REFLECTION_PERIOD_ID,
        extension_days=30,
        reason=ReflectionExtensionReason.RECOVERY_NEEDS,
        ends_at=_ENDS + timedelta(days=30),
        non_removal=True,
        remind_at=_ENDS + timedelta(days=23),
    ),
    ReflectionPeriodEndingV1(
        case_id=CASE_ID,
        reflection_period_id=REFLECTION_PERIOD_ID,
        ends_at=_ENDS,
        non_removal=True,
        **_OWNER,
    ),
    ReflectionPeriodEndedV1(
        case_id=CASE_ID, reflection_period_id=REFLECTION_PERIOD_ID, ends_at=_ENDS
    ),
    ChildAssentRecordedV1(
        **_ACTOR,
        case_id=CASE_ID,
        assent_id=ASSENT_ID,
        consent_given_by=ConsentGivenBy.LEGAL_GUARDIAN,
        assent=ChildAssent.GIVEN,
        views_recorded=True,
    ),
    GuardianAppointedV1(
        **_ACTOR,
        case_id=CASE_ID,
        guardian_appointment_id=GUARDIAN_APPOINTMENT_ID,
        appointed_at=_DECIDED,
        appointing_authority=GuardianAppointingAuthority.CHILD_PROTECTION_AUTHORITY,
    ),
    BestInterestsAssessedV1(
        **_ACTOR,
        case_id=CASE_ID,
        assessment_id=BIA_ID,
        assessed_at=_DECIDED + timedelta(days=3),
        assessor_id=CASEWORKER,
        risks=(ProtectionConcern.FAMILY_SEPARATION, ProtectionConcern.THREAT_FROM_EXPLOITERS),
        recommendation=BestInterestsOption.FAMILY_REUNIFICATION,
    ),
    BestInterestsDeterminedV1(
        **_ACTOR,
        case_id=CASE_ID,
        determination_id=DETERMINATION_ID,
        determined_at=_DECIDED + timedelta(days=10),
        panel_size=3,
        decision=BestInterestsOption.FAMILY_REUNIFICATION,
        approval_id=APPROVAL_ID,
        approved_by="supervisor:u-301",
    ),
    StatisticsExportedV1(
        actor_id="supervisor:u-301",
        actor_role=ActorRole.SUPERVISOR,
        export_id=UUID("a7b8c9d0-e1f2-4a3b-8c4d-6e7f8091a2b3"),
        report=StatisticsReport.CTDC,
        generated_at=_DECIDED + timedelta(days=90),
        scope=CaseScope.COUNTRY,
        scope_country="NE",
        registered_from=datetime(2026, 1, 1, tzinfo=UTC),
        registered_before=datetime(2027, 1, 1, tzinfo=UTC),
        k=11,
        rows=4,
        cases_included=57,
        cases_generalised=12,
        cases_suppressed=3,
    ),
)
