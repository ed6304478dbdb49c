"""A referral as an HL7 FHIR R4 Task (closed-loop referral profile, pseudonymous ids only)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from mpa_contracts.vocabularies import ReferralState, Urgency
from mpa_referral.domain.referral import Referral

TASK_STATUS: Mapping[ReferralState, str] = {
    ReferralState.REQUESTED: "requested",
    ReferralState.ROUTED: "received",  # a potential performer has it and is evaluating it
    ReferralState.ACCEPTED: "accepted",
    ReferralState.DECLINED: "rejected",
    ReferralState.IN_PROGRESS: "in-progress",
    ReferralState.ON_HOLD: "on-hold",
    ReferralState.COMPLETED: "completed",
    ReferralState.FAILED: "failed",
    ReferralState.CANCELLED: "cancelled",
    ReferralState.UNROUTABLE: "failed",  # no performer could be found; businessStatus says so
}
TASK_PRIORITY: Mapping[Urgency, str] = {
    Urgency.CRITICAL: "stat",
    Urgency.HIGH: "asap",
    Urgency.MEDIUM: "urgent",
    Urgency.LOW: "routine",
}
SYSTEM = "urn:mpa"


def _identifier(kind: str, value: object) -> dict[str, Any]:
    return {"identifier": {"system": f"{SYSTEM}:{kind}", "value": str(value)}}


def _instant(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def referral_task(referral: Referral, history_event_ids: Sequence[UUID]) -> dict[str, Any]:
    """The FHIR R4 Task of a referral; each history entry is a Provenance reference."""
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": str(referral.id),
        "meta": {
            "versionId": str(len(history_event_ids)),
            "lastUpdated": _instant(referral.updated_at),
        },
        "identifier": [{"system": f"{SYSTEM}:referral", "value": str(referral.id)}],
        "status": TASK_STATUS[referral.state],
        "businessStatus": {
            "coding": [{"system": f"{SYSTEM}:referral-state", "code": referral.state.value}]
        },
        "intent": "order",
        "priority": TASK_PRIORITY[referral.urgency],
        "code": {
            "coding": [{"system": f"{SYSTEM}:need-category", "code": referral.category.value}]
        },
        "focus": _identifier("need", referral.need_id),
        "for": _identifier("case", referral.case_id),
        "authoredOn": _instant(referral.created_at),
        "lastModified": _instant(referral.updated_at),
        "requester": _identifier("actor", referral.requested_by),
        "relevantHistory": [
            {"reference": f"Provenance/{event_id}"} for event_id in history_event_ids
        ],
    }
    if referral.partner_id is not None:
        task["owner"] = _identifier("partner", referral.partner_id)
    if referral.acceptance_due_at is not None and referral.state is ReferralState.ROUTED:
        task["restriction"] = {"period": {"end": _instant(referral.acceptance_due_at)}}
    if referral.status_reason:
        task["statusReason"] = {
            "coding": [{"system": f"{SYSTEM}:status-reason", "code": referral.status_reason.value}]
        }
    if referral.outcome:
        task["output"] = [
            {
                "type": {"text": "outcome"},
                "valueCodeableConcept": {
                    "coding": [{"system": f"{SYSTEM}:outcome", "code": referral.outcome.value}]
                },
            }
        ]
    return task
