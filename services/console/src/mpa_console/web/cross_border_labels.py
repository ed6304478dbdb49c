"""Labels of the cross-border vocabulary codes (issue 17), merged into `labels`."""

from __future__ import annotations

from enum import StrEnum

from mpa_console.messages import N_
from mpa_contracts.vocabularies import HandoffCancelReason, HandoffDeclineReason, HandoffState

CROSS_BORDER_LABELS: dict[type[StrEnum], dict[str, str]] = {
    HandoffState: {
        HandoffState.REQUESTED: N_("Awaiting the receiving office"),
        HandoffState.ACCEPTED: N_("Accepted by the receiving office"),
        HandoffState.DECLINED: N_("Declined by the receiving office"),
        HandoffState.CANCELLED: N_("Cancelled"),
        HandoffState.DEPARTED: N_("Travelling"),
        HandoffState.ARRIVED: N_("Arrived"),
    },
    HandoffDeclineReason: {
        HandoffDeclineReason.NO_CAPACITY: N_("No capacity"),
        HandoffDeclineReason.OUTSIDE_MANDATE: N_("Outside our mandate"),
        HandoffDeclineReason.INSUFFICIENT_INFORMATION: N_("Not enough information"),
        HandoffDeclineReason.TRAVEL_NOT_FEASIBLE: N_("Travel not feasible"),
        HandoffDeclineReason.OTHER: N_("Other"),
    },
    HandoffCancelReason: {
        HandoffCancelReason.TRAVEL_CANCELLED: N_("Travel cancelled"),
        HandoffCancelReason.PERSON_CHANGED_MIND: N_("The person changed their mind"),
        HandoffCancelReason.TRANSFER_CONSENT_WITHDRAWN: N_(
            "Consent to the transfer abroad withdrawn"
        ),
        HandoffCancelReason.OTHER: N_("Other"),
    },
}

CROSS_BORDER_VOCABULARIES: dict[str, type[StrEnum]] = {
    "handoff_state": HandoffState,
    "handoff_decline_reason": HandoffDeclineReason,
    "handoff_cancel_reason": HandoffCancelReason,
}
