"""The pseudonymous read model of a case: what routing may know about a person.

Built from intake's events only (codes, bands and flags); no name, contact or place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from mpa_contracts.vocabularies import (
    AgeBand,
    CancelReason,
    ConsentScope,
    NeedCategory,
    PartnerType,
    ReferralState,
    SafeContactMethod,
    Sex,
    Urgency,
    Vulnerability,
    needs_best_interests_determination,
)
from mpa_referral.domain.mandatory import MandatoryRule, is_statutory


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

    def without(self, withdrawn: Collection[ConsentScope]) -> ConsentTerms | None:
        """The consent once `withdrawn` scopes are taken back; None when none is left."""
        remaining = self.scopes - frozenset(withdrawn)
        return dataclasses.replace(self, scopes=remaining) if remaining else None

    def refuses(self, partner_id: UUID, partner_type: PartnerType | None) -> bool:
        """Whether the person refused this partner, by id or by kind."""
        return partner_id in self.refused_partner_ids or (
            partner_type is not None and partner_type in self.refused_partner_types
        )


@dataclass(frozen=True, slots=True)
class TransferConsentTerms:
    """A consent to the transfer of the person's data to the named countries (issue 17)."""

    transfer_consent_id: UUID
    countries: frozenset[str]
    expires_at: datetime | None

    def covers(self, country: str, now: datetime) -> bool:
        return country in self.countries and (self.expires_at is None or now < self.expires_at)


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
    # The story's correlation id: events this service emits about the case carry it on.
    correlation_id: UUID | None = None
    # Intake erased the person's data: notes about the case are gone and no new one is kept.
    personal_data_erased: bool = False
    # When a best-interests panel's determination for the child was recorded (intake's
    # `best_interests_determined.v1`); until then no return or family-reunification
    # referral of an unaccompanied or separated child is made.
    best_interests_determined_at: datetime | None = None
    # The person's consents to transfers of their data abroad (intake's
    # `transfer_consent_recorded.v1`, narrowed by `transfer_consent_withdrawn.v1`).
    transfer_consents: tuple[TransferConsentTerms, ...] = ()

    def is_transnational(self, country: str) -> bool:
        """Whether help in `country` means sending the person's data abroad."""
        return country != self.country

    def allows_transfer_to(self, country: str, now: datetime) -> bool:
        """Whether the person's data may go to `country`: it is where they are, or a
        transfer consent in force names it."""
        return not self.is_transnational(country) or any(
            consent.covers(country, now) for consent in self.transfer_consents
        )

    def with_transfer_consent(self, consent: TransferConsentTerms) -> CaseProfile:
        kept = tuple(
            c
            for c in self.transfer_consents
            if c.transfer_consent_id != consent.transfer_consent_id
        )
        return dataclasses.replace(self, transfer_consents=(*kept, consent))

    def without_transfer_countries(
        self, transfer_consent_id: UUID, countries: Collection[str]
    ) -> CaseProfile:
        """The case once a transfer consent no longer names `countries` (a consent left
        naming none is dropped)."""
        kept: list[TransferConsentTerms] = []
        for consent in self.transfer_consents:
            if consent.transfer_consent_id == transfer_consent_id:
                consent = dataclasses.replace(
                    consent, countries=consent.countries - frozenset(countries)
                )
            if consent.countries:
                kept.append(consent)
        return dataclasses.replace(self, transfer_consents=tuple(kept))

    def awaits_best_interests_determination(self, category: NeedCategory) -> bool:
        return self.best_interests_determined_at is None and needs_best_interests_determination(
            category, self.vulnerabilities
        )

    def allows_referral(self, now: datetime) -> bool:
        return self.consent is not None and self.consent.allows_referral(now)


@dataclass(frozen=True, slots=True)
class CaseNeed:
    need_id: UUID
    case_id: UUID
    category: NeedCategory
    urgency: Urgency
    assistance_country: str | None  # None: where the person is
    mandatory_rule: MandatoryRule | None = None  # set for needs a mandatory rule added

    @property
    def statutory(self) -> bool:
        return is_statutory(self.mandatory_rule)


def referred_already(outcomes: Collection[tuple[ReferralState, str | None]]) -> bool:
    """Whether a need's earlier referrals (state, status reason) rule out a new one: any
    referral at all does, except one only ever cancelled because consent (or the consent to
    transfer the person's data abroad) was withdrawn (the need is referred afresh under the
    new consent)."""
    return any(
        state is not ReferralState.CANCELLED or reason not in _REFERRED_AFRESH
        for state, reason in outcomes
    )


_REFERRED_AFRESH = frozenset(
    {CancelReason.CONSENT_WITHDRAWN.value, CancelReason.TRANSFER_CONSENT_WITHDRAWN.value}
)
