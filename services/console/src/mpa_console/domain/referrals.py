"""Rules of the console's referral screens: inbox order, time left, the actions on offer.

Pure: no I/O. The referral service decides what is legal (it answers 409 otherwise); these
rules only decide what a screen offers and in which order it lists things.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mpa_contracts.vocabularies import ReferralState, Urgency

URGENCY_RANK = {Urgency.CRITICAL: 0, Urgency.HIGH: 1, Urgency.MEDIUM: 2, Urgency.LOW: 3}
OPEN_FOR_PARTNER = (
    ReferralState.ROUTED,
    ReferralState.ACCEPTED,
    ReferralState.IN_PROGRESS,
    ReferralState.ON_HOLD,
)
# What a partner may do in each state (the referral lifecycle, from its side).
PARTNER_ACTIONS: dict[str, tuple[str, ...]] = {
    ReferralState.ROUTED: ("accept", "decline"),
    ReferralState.ACCEPTED: ("start",),
    ReferralState.IN_PROGRESS: ("hold", "complete", "fail"),
    ReferralState.ON_HOLD: ("resume",),
}
# The vocabulary each action's reason comes from, if it needs one.
ACTION_REASONS: dict[str, str] = {
    "decline": "status_reason",
    "fail": "status_reason",
    "hold": "hold_reason",
    "complete": "outcome",
}


def _parse(moment: str | None) -> datetime | None:
    return datetime.fromisoformat(moment) if moment else None


def seconds_left(referral: dict[str, Any], now: datetime) -> float | None:
    """Seconds until the partner must answer (negative once overdue); None when no deadline
    runs (the referral is not waiting for an answer)."""
    if referral.get("state") != ReferralState.ROUTED:
        return None
    due = _parse(referral.get("acceptance_due_at"))
    return (due - now).total_seconds() if due else None


def inbox_order(referrals: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Most urgent first; within an urgency, the least time left first; those without a
    running deadline after those with one; then the oldest first."""

    def key(referral: dict[str, Any]) -> tuple[int, int, float, str]:
        left = seconds_left(referral, now)
        urgency = URGENCY_RANK.get(Urgency(referral["urgency"]), len(URGENCY_RANK))
        return (
            urgency,
            0 if left is not None else 1,
            left if left is not None else 0.0,
            str(referral.get("routed_at") or referral.get("created_at") or ""),
        )

    return sorted(referrals, key=key)


def partner_actions(state: str) -> tuple[str, ...]:
    return PARTNER_ACTIONS.get(state, ())


def action_body(action: str, reason: str | None, note: str | None) -> dict[str, Any] | None:
    """The request body of a partner action; None when a required reason is missing."""
    body: dict[str, Any] = {}
    if action in ACTION_REASONS:
        if not reason:
            return None
        body["outcome" if action == "complete" else "reason"] = reason
    if note:
        body["note"] = note
    return body
