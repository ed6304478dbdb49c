"""Labels of issue 17's remaining vocabularies — the PSEA channel, the person's feedback and
safe contact — merged into `labels` as the protection workflows' are.
"""

from __future__ import annotations

from enum import StrEnum

from mpa_console.messages import N_
from mpa_contracts.vocabularies import (
    ContactRefusal,
    PseaAllegationType,
    PseaAssistanceDecision,
    PseaInvestigationOutcome,
    PseaStep,
    SafeContactTime,
    ServiceQuality,
    ServiceReceived,
    WaitingTime,
)

VOICE_LABELS: dict[type[StrEnum], dict[str, str]] = {
    PseaAllegationType: {
        PseaAllegationType.SEXUAL_EXPLOITATION: N_("Sexual exploitation"),
        PseaAllegationType.SEXUAL_ABUSE: N_("Sexual abuse"),
    },
    PseaStep: {
        PseaStep.ASSISTANCE: N_("Assistance offered to the survivor"),
        PseaStep.ALLEGATION_REFERRAL: N_("Allegation referred to the organisation"),
        PseaStep.INVESTIGATION: N_("Outcome of the investigation"),
    },
    PseaInvestigationOutcome: {
        PseaInvestigationOutcome.SUBSTANTIATED: N_("Substantiated"),
        PseaInvestigationOutcome.UNSUBSTANTIATED: N_("Unsubstantiated"),
        PseaInvestigationOutcome.INCONCLUSIVE: N_("Inconclusive"),
    },
    PseaAssistanceDecision: {
        PseaAssistanceDecision.REFERRED: N_("Referred through the GBV pathway"),
        PseaAssistanceDecision.DECLINED: N_("The survivor declined assistance"),
    },
    ServiceReceived: {
        ServiceReceived.RECEIVED: N_("Received"),
        ServiceReceived.PARTLY: N_("Partly received"),
        ServiceReceived.NOT_RECEIVED: N_("Not received"),
    },
    ServiceQuality: {
        ServiceQuality.VERY_POOR: N_("Very poor"),
        ServiceQuality.POOR: N_("Poor"),
        ServiceQuality.FAIR: N_("Fair"),
        ServiceQuality.GOOD: N_("Good"),
        ServiceQuality.VERY_GOOD: N_("Very good"),
    },
    WaitingTime: {
        WaitingTime.SAME_DAY: N_("The same day"),
        WaitingTime.WITHIN_A_WEEK: N_("Within a week"),
        WaitingTime.WITHIN_A_MONTH: N_("Within a month"),
        WaitingTime.OVER_A_MONTH: N_("Over a month"),
    },
    SafeContactTime: {
        SafeContactTime.MORNING: N_("Morning (6:00 to 12:00)"),
        SafeContactTime.AFTERNOON: N_("Afternoon (12:00 to 18:00)"),
        SafeContactTime.EVENING: N_("Evening (18:00 to 22:00)"),
        SafeContactTime.NIGHT: N_("Night (22:00 to 6:00)"),
    },
    ContactRefusal: {
        ContactRefusal.DO_NOT_CONTACT: N_("The person is not to be contacted at all."),
        ContactRefusal.CHANNEL_NOT_SAFE: N_("This is not the person's safe channel."),
        ContactRefusal.OUTSIDE_SAFE_TIMES: N_("This is not a time the person said is safe."),
        ContactRefusal.NO_VOICEMAIL: N_("No voicemail or message may be left."),
        ContactRefusal.CHILD: N_(
            "A child is not contacted directly: contact the guardian or the caseworker."
        ),
        ContactRefusal.NO_GUARDIAN_OR_CASEWORKER: N_(
            "A child with no guardian to reach and no caseworker: nobody is contacted."
        ),
    },
}

VOICE_VOCABULARIES: dict[str, type[StrEnum]] = {
    "psea_allegation": PseaAllegationType,
    "psea_step": PseaStep,
    "psea_outcome": PseaInvestigationOutcome,
    "psea_assistance": PseaAssistanceDecision,
    "service_received": ServiceReceived,
    "service_quality": ServiceQuality,
    "waiting_time": WaitingTime,
    "safe_time": SafeContactTime,
    "contact_refusal": ContactRefusal,
}
