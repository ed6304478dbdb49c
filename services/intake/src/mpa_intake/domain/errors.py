"""What can go wrong in intake, as domain facts; the API maps each to a problem+json status.

Messages name fields and reasons only, never a submitted value: values may be personal data.
"""

from __future__ import annotations

from dataclasses import dataclass


class IntakeError(Exception):
    """Base of every error a use case raises on purpose."""


@dataclass(frozen=True)
class FieldError:
    """One rejected field: where (a dotted path in the request body) and why."""

    field: str
    reason: str


class InvalidCase(IntakeError):
    """The request breaks a case rule (e.g. a child consenting alone); nothing is written."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(f"{len(errors)} field(s) break case rules")
        self.errors = errors


class CaseNotFound(IntakeError):
    """No case has this id."""


class CaseConflict(IntakeError):
    """The request contradicts the case's state (closed, no consent to withdraw, ...)."""


class IdempotencyConflict(IntakeError):
    """An Idempotency-Key was reused with a different request body."""


class PersonalDataErased(IntakeError):
    """The case's personal data was erased (crypto-shredded); only the tombstone remains."""


class AccessDenied(IntakeError):
    """The principal may not do this to this case."""


class OutsideScope(AccessDenied):
    """The case lies outside the caller's scope (see domain.ownership); a read may still
    break the glass, with a reason."""


class ComplaintNotFound(IntakeError):
    """No PSEA complaint with this id is visible to the caller (or exists)."""


class ComplaintConflict(IntakeError):
    """The step conflicts with the PSEA complaint's state (taken already, no consent, ...)."""


class InvitationNotFound(IntakeError):
    """No feedback invitation answers to this token: unknown, used or expired alike."""


class ContactRefused(IntakeError):
    """The person's safety profile refuses the contact the step would make."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the person's safety profile refuses this contact: {reason}")
        self.reason = reason
