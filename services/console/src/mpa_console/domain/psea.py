"""Where each step of a PSEA complaint stands against its deadline (pure, no I/O).

Intake keeps the deadlines and the steps that missed them; this says, per step, what the
focal point's list and record show: done on time, done late, waiting (with the time left),
overdue, or not started yet (the investigation's clock starts with the referral).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mpa_contracts.vocabularies import PseaStep

# Each step: when it was taken (a field of the complaint) and its deadline's field.
_FIELDS = {
    PseaStep.ASSISTANCE: ("assistance", "assistance_due_at"),
    PseaStep.ALLEGATION_REFERRAL: ("allegation_referred_at", "allegation_referral_due_at"),
    PseaStep.INVESTIGATION: ("outcome", "investigation_due_at"),
}


@dataclass(frozen=True)
class StepTime:
    step: str
    state: str  # "on_time", "late", "waiting", "overdue" or "not_started"
    due_at: str | None
    seconds_left: float | None  # negative once overdue; None when done or not started


def timeliness(complaint: dict[str, Any], now: datetime) -> list[StepTime]:
    overdue = set(complaint.get("overdue_steps") or ())
    missed = set(complaint.get("missed_steps") or ())
    found = []
    for step, (taken_field, due_field) in _FIELDS.items():
        due = complaint.get(due_field)
        left = None
        taken = complaint.get(taken_field)
        if taken is not None:
            # A step taken after its deadline but before its timer fired is late too.
            after = (
                step is PseaStep.ALLEGATION_REFERRAL
                and due is not None
                and datetime.fromisoformat(taken) > datetime.fromisoformat(due)
            )
            state = "late" if step.value in missed or after else "on_time"
        elif due is None:
            state = "not_started"
        else:
            left = (datetime.fromisoformat(due) - now).total_seconds()
            state = "overdue" if step.value in overdue or left < 0 else "waiting"
        found.append(StepTime(step.value, state, due, left))
    return found
