"""The pseudonymous read model of a case: what routing may know about a person.

Built from intake's events only (codes, bands and flags); no name, contact or place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from mpa_contracts.vocabularies import (
    AgeBand,
    ConsentScope,
    NeedCategory,
    PartnerType,
    SafeContactMethod,
    Sex,
    Urgency,
    Vulnerability,
)


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class ConsentTerms:
    """The person's consent as routing applies it."""

    consent_id: UUID
    scopes: frozenset[ConsentScope]
    expires_at: datetime | None
    refused_partner_ids: frozenset[UUID]
    refused_partner_types: frozenset[PartnerType]

    def allows_referral(self, now: datetime) -> bool:
        in_force = self.expires_at is None or now < self.expires_at
        return in_force and ConsentScope.REFERRAL in self.scopes


@dataclass(frozen=True, slots=True)
class CaseProfile:
    case_id: UUID
    age_band: AgeBand
    sex: Sex
    nationality: str | None
    languages: tuple[str, ...]  # preferred first
    country: str
    admin_area: str | None
    vulnerabilities: frozenset[Vulnerability]
    consent: ConsentTerms | None
    do_not_contact: bool
    safe_contact_method: SafeContactMethod
    status: CaseStatus

    def allows_referral(self, now: datetime) -> bool:
        return self.consent is not None and self.consent.allows_referral(now)


@dataclass(frozen=True, slots=True)
class CaseNeed:
    need_id: UUID
    case_id: UUID
    category: NeedCategory
    urgency: Urgency
    assistance_country: str | None  # None: where the person is
    mandatory_rule: str | None = None  # set for needs a mandatory rule added
