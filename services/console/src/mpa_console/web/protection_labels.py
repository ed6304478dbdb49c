"""Labels of the protection workflows' vocabulary codes (issue 17), merged into `labels`.

Kept apart so each workflow's labels grow without touching the others'; the catalogues
translate them like every other message.
"""

from __future__ import annotations

from enum import StrEnum

from mpa_console.messages import N_
from mpa_contracts.vocabularies import (
    BestInterestsOption,
    ChildAssent,
    DecidingOrganisationType,
    ExploitationType,
    GuardianAppointingAuthority,
    IdentificationBasis,
    IdentificationStatus,
    MeansOfControl,
    ReflectionExtensionReason,
)

PROTECTION_LABELS: dict[type[StrEnum], dict[str, str]] = {
    IdentificationStatus: {
        IdentificationStatus.POTENTIAL: N_("Potential victim"),
        IdentificationStatus.PRESUMED: N_("Presumed victim"),
        IdentificationStatus.IDENTIFIED: N_("Identified victim"),
        IdentificationStatus.NOT_IDENTIFIED: N_("Not identified as a victim"),
    },
    ExploitationType: {
        ExploitationType.FORCED_LABOUR: N_("Forced labour"),
        ExploitationType.SEXUAL_EXPLOITATION: N_("Sexual exploitation"),
        ExploitationType.FORCED_MARRIAGE: N_("Forced marriage"),
        ExploitationType.FORCED_MILITARY: N_("Forced military service"),
        ExploitationType.SLAVERY_AND_SIMILAR_PRACTICES: N_("Slavery and similar practices"),
        ExploitationType.REMOVAL_OF_ORGANS: N_("Removal of organs"),
        ExploitationType.FORCED_CRIMINALITY: N_("Forced criminal activity"),
        ExploitationType.FORCED_BEGGING: N_("Forced begging"),
        ExploitationType.OTHER: N_("Other exploitation"),
    },
    MeansOfControl: {
        MeansOfControl.DEBT_BONDAGE: N_("Debt bondage"),
        MeansOfControl.TAKES_EARNINGS: N_("Takes earnings"),
        MeansOfControl.RESTRICTS_FINANCIAL_ACCESS: N_("Restricts access to money"),
        MeansOfControl.THREATS: N_("Threats"),
        MeansOfControl.PSYCHOLOGICAL_ABUSE: N_("Psychological abuse"),
        MeansOfControl.PHYSICAL_ABUSE: N_("Physical abuse"),
        MeansOfControl.SEXUAL_ABUSE: N_("Sexual abuse"),
        MeansOfControl.FALSE_PROMISES: N_("False promises"),
        MeansOfControl.PSYCHOACTIVE_SUBSTANCES: N_("Psychoactive substances"),
        MeansOfControl.RESTRICTS_MOVEMENT: N_("Restricts movement"),
        MeansOfControl.RESTRICTS_MEDICAL_CARE: N_("Restricts medical care"),
        MeansOfControl.EXCESSIVE_WORKING_HOURS: N_("Excessive working hours"),
        MeansOfControl.USES_CHILDREN: N_("Uses children"),
        MeansOfControl.THREAT_OF_LAW_ENFORCEMENT: N_("Threat of the police or deportation"),
        MeansOfControl.WITHHOLDS_NECESSITIES: N_("Withholds necessities"),
        MeansOfControl.WITHHOLDS_DOCUMENTS: N_("Withholds documents"),
        MeansOfControl.OTHER: N_("Other means of control"),
    },
    DecidingOrganisationType: {
        DecidingOrganisationType.COMPETENT_AUTHORITY: N_("National identification authority"),
        DecidingOrganisationType.LAW_ENFORCEMENT: N_("Law enforcement"),
        DecidingOrganisationType.LABOUR_INSPECTORATE: N_("Labour inspectorate"),
        DecidingOrganisationType.JUDICIARY: N_("Prosecution or court"),
        DecidingOrganisationType.CHILD_PROTECTION_AUTHORITY: N_("Child protection authority"),
        DecidingOrganisationType.CIVIL_SOCIETY_ORGANISATION: N_("Civil society organisation"),
        DecidingOrganisationType.INTERNATIONAL_ORGANISATION: N_("International organisation"),
        DecidingOrganisationType.OTHER: N_("Other organisation"),
    },
    IdentificationBasis: {
        IdentificationBasis.INDICATORS_ASSESSMENT: N_("Assessment of indicators"),
        IdentificationBasis.SELF_IDENTIFICATION: N_("The person's own account"),
        IdentificationBasis.THIRD_PARTY_REFERRAL: N_("Referral by a third party"),
        IdentificationBasis.LAW_ENFORCEMENT_FINDING: N_("Finding of law enforcement"),
        IdentificationBasis.OTHER: N_("Other basis"),
    },
    ReflectionExtensionReason: {
        ReflectionExtensionReason.RECOVERY_NEEDS: N_("Recovery needs more time"),
        ReflectionExtensionReason.SAFETY: N_("Safety"),
        ReflectionExtensionReason.CHILD_BEST_INTERESTS: N_("The child's best interests"),
        ReflectionExtensionReason.PENDING_DECISION: N_("A decision is pending"),
        ReflectionExtensionReason.OTHER: N_("Other reason for the extension"),
    },
    ChildAssent: {
        ChildAssent.GIVEN: N_("The child agrees"),
        ChildAssent.REFUSED: N_("The child refuses"),
        ChildAssent.NOT_CAPABLE: N_("Not able to form a view"),
    },
    GuardianAppointingAuthority: {
        GuardianAppointingAuthority.COURT: N_("A court"),
        GuardianAppointingAuthority.CHILD_PROTECTION_AUTHORITY: N_(
            "The child protection authority"
        ),
        GuardianAppointingAuthority.OTHER_AUTHORITY: N_("Another authority"),
    },
    BestInterestsOption: {
        BestInterestsOption.FAMILY_REUNIFICATION: N_("Family reunification"),
        BestInterestsOption.RETURN_TO_COUNTRY_OF_ORIGIN: N_("Return to the country of origin"),
        BestInterestsOption.LOCAL_INTEGRATION: N_("Local integration"),
        BestInterestsOption.THIRD_COUNTRY_SOLUTION: N_("A solution in a third country"),
        BestInterestsOption.ALTERNATIVE_CARE: N_("Alternative care"),
        BestInterestsOption.REMAIN_IN_CURRENT_CARE: N_("Remain in the current care"),
    },
}

PROTECTION_VOCABULARIES: dict[str, type[StrEnum]] = {
    "identification_status": IdentificationStatus,
    "exploitation_type": ExploitationType,
    "means_of_control": MeansOfControl,
    "deciding_organisation": DecidingOrganisationType,
    "identification_basis": IdentificationBasis,
    "extension_reason": ReflectionExtensionReason,
    "child_assent": ChildAssent,
    "guardian_authority": GuardianAppointingAuthority,
    "best_interests_option": BestInterestsOption,
}
