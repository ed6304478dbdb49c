"""The case aggregate: pseudonymous routing attributes, needs, consent and lifecycle.

Personal data is not part of this object: it lives in `PersonalData`, encrypted at rest,
and is only decrypted for a use case that needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from mpa_contracts.events.case import Need, RoutingProfile, SafetyFlags
from mpa_contracts.vocabularies import (
    AgeBand,
    CaseClosureReason,
    ConsentScope,
    ErasureBasis,
    NeedCategory,
    RiskLevel,
    Urgency,
    Vulnerability,
    is_child,
)
from mpa_intake.domain.consent import ConsentRecord
from mpa_intake.domain.errors import CaseConflict, FieldError, PersonalDataErased
from mpa_intake.domain.ownership import Ownership
from mpa_intake.domain.personal_data import PersonalData

# Vulnerabilities that only a child can have.
CHILD_VULNERABILITIES = frozenset(
    {Vulnerability.UNACCOMPANIED_CHILD, Vulnerability.SEPARATED_CHILD}
)


class CaseStatus(StrEnum):
    """Lifecycle of a case in intake (referrals have their own, in the referral service)."""

    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class NeedEntry:
    need_id: UUID
    category: NeedCategory
    urgency: Urgency
    assistance_country: str | None
    added_at: datetime

    def as_contract(self) -> Need:
        return Need(
            need_id=self.need_id,
            category=self.category,
            urgency=self.urgency,
            assistance_country=self.assistance_country,
        )


@dataclass
class Case:
    case_id: UUID
    reference: str
    status: CaseStatus
    # Every event of the case shares it: the registration starts the case's story.
    correlation_id: UUID
    profile: RoutingProfile
    safety: SafetyFlags
    needs: list[NeedEntry]
    consent: ConsentRecord | None
    registered_at: datetime
    registered_by: str
    updated_at: datetime
    ownership: Ownership
    closed_at: datetime | None = None
    closure_reason: CaseClosureReason | None = None
    erased_at: datetime | None = None
    erasure_basis: ErasureBasis | None = None
    # The latest assessment's risk level (None until the first assessment).
    risk_level: RiskLevel | None = None

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None

    def ensure_not_erased(self) -> None:
        if self.is_erased:
            raise PersonalDataErased("the personal data of this case was erased")

    def ensure_open(self) -> None:
        if self.status is CaseStatus.CLOSED:
            raise CaseConflict("the case is closed")

    def needs_of(self, need_ids: set[UUID]) -> list[NeedEntry]:
        return [need for need in self.needs if need.need_id in need_ids]

    def add_needs(self, needs: list[NeedEntry], now: datetime) -> None:
        self.ensure_open()
        self.ensure_not_erased()
        self.needs.extend(needs)
        self.updated_at = now

    def record_consent(self, consent: ConsentRecord, now: datetime) -> None:
        """A new consent replaces the current one entirely."""
        self.ensure_open()
        self.ensure_not_erased()
        self.consent = consent
        self.updated_at = now

    def withdraw_consent(self, scopes: tuple[ConsentScope, ...], now: datetime) -> ConsentRecord:
        """Narrows the current consent; allowed on closed and erased cases too (a person
        may always withdraw). Returns the consent as it was before, for its id."""
        if self.consent is None or not self.consent.scopes:
            raise CaseConflict("the case has no consent in force to withdraw")
        before = self.consent
        self.consent = before.withdraw(scopes)
        self.updated_at = now
        return before

    def update_profile(self, profile: RoutingProfile, safety: SafetyFlags, now: datetime) -> None:
        self.ensure_open()
        self.ensure_not_erased()
        self.profile = profile
        self.safety = safety
        self.updated_at = now

    def close(self, reason: CaseClosureReason, now: datetime) -> None:
        self.ensure_open()
        self.status = CaseStatus.CLOSED
        self.closed_at = now
        self.closure_reason = reason
        self.updated_at = now

    def reopen(self, now: datetime) -> datetime:
        """Opens a closed case again; returns when it had been closed."""
        if self.status is not CaseStatus.CLOSED or self.closed_at is None:
            raise CaseConflict("the case is not closed")
        self.ensure_not_erased()
        closed_at = self.closed_at
        self.status = CaseStatus.OPEN
        self.closed_at = None
        self.closure_reason = None
        self.updated_at = now
        return closed_at

    def erase(self, basis: ErasureBasis, now: datetime) -> None:
        self.ensure_not_erased()
        self.erased_at = now
        self.erasure_basis = basis
        self.updated_at = now


def person_rule_errors(person: PersonalData, today: date, *, field: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if person.date_of_birth is not None and person.date_of_birth > today:
        errors.append(FieldError(f"{field}.date_of_birth", "must not be in the future"))
    return errors


def profile_rule_errors(profile: RoutingProfile, *, field: str) -> list[FieldError]:
    """Rules across the routing attributes; `field` is where vulnerabilities sit."""
    if not is_child(profile.age_band):
        adult_only = sorted(v.value for v in CHILD_VULNERABILITIES & set(profile.vulnerabilities))
        if adult_only:
            return [
                FieldError(
                    field,
                    f"{', '.join(adult_only)} apply to children only, and the person's age "
                    "is 18 or more",
                )
            ]
    return []


def routing_profile(
    *,
    band: AgeBand,
    sex: str,
    nationality: str | None,
    languages: tuple[str, ...],
    country: str,
    admin_area: str | None,
    vulnerabilities: tuple[Vulnerability, ...],
) -> RoutingProfile:
    return RoutingProfile.model_validate(
        {
            "age_band": band,
            "sex": sex,
            "nationality": nationality,
            "languages": languages,
            "location": {"country": country, "admin_area": admin_area},
            "vulnerabilities": vulnerabilities,
        }
    )
