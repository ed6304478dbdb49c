"""What the referral service refuses, and why, as domain errors (no HTTP here).

`api/errors.py` maps each kind to a problem+json answer; `handlers.py` turns the ones an
event can never get past into dead letters. Messages name fields and reasons, never the
values that were sent: a rejected request may carry personal data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ReferralError(Exception):
    """Base of every refusal the referral service answers with a problem."""


class NotFound(ReferralError):
    """No such thing, or none the caller may see (the same answer either way)."""


class Forbidden(ReferralError):
    """The caller's role or organisation may not do this."""


class Conflict(ReferralError):
    """The request conflicts with the state of a case, need, referral or the directory."""


class InvalidRequest(ReferralError):
    """A field of the request is wrong: `field` names it, the message says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class ChosenServiceRefused(Conflict):
    """A referral by hand to a chosen service that fails a hard filter (nothing is stored)."""

    def __init__(self, rule: str) -> None:
        super().__init__(f"service_id: the chosen service cannot take this referral ({rule})")
        self.rule = rule


class BestInterestsDeterminationRequired(Conflict):
    """A return or family-reunification referral of an unaccompanied or separated child
    before a best-interests determination was recorded (nothing is stored)."""

    def __init__(self, category: str) -> None:
        super().__init__(
            f"need_id: a {category} referral of an unaccompanied or separated child waits for "
            "a best-interests determination (record it in intake first)"
        )
        self.category = category


class UnknownCase(ReferralError):
    """An event about a case this service never saw registered."""

    def __init__(self) -> None:
        super().__init__("event for a case that was never registered")


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    reason: str


class InvalidService(ReferralError):
    """A service breaks a rule across its fields (checked as it would be stored)."""

    def __init__(self, violations: Sequence[FieldError]) -> None:
        super().__init__("; ".join(f"{v.field}: {v.reason}" for v in violations))
        self.violations = tuple(violations)


class InvalidDocument(ReferralError):
    """An HSDS document that cannot be imported; `errors` names every bad path."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__(f"{len(errors)} problem(s); nothing was imported")
        self.errors = tuple(errors)
