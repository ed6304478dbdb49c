"""Informed consent: what the person agreed to, and whether that still holds at a moment."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from mpa_contracts.events.case import Consent
from mpa_contracts.vocabularies import (
    AgeBand,
    ConsentGivenBy,
    ConsentMethod,
    ConsentScope,
    PartnerType,
    is_child,
)
from mpa_intake.domain.errors import CaseConflict, FieldError


class ConsentRecord(BaseModel):
    """One consent as recorded; a newer record replaces it, a withdrawal narrows it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    consent_id: UUID
    scopes: tuple[ConsentScope, ...]  # the scopes still in force
    withdrawn_scopes: tuple[ConsentScope, ...] = ()
    given_by: ConsentGivenBy
    method: ConsentMethod
    obtained_by: str  # actor id of the principal who recorded it (from the token)
    obtained_at: datetime
    expires_at: datetime | None = None
    refused_partner_ids: tuple[UUID, ...] = ()
    refused_partner_types: tuple[PartnerType, ...] = ()
    recorded_at: datetime

    def in_force(self, scope: ConsentScope, now: datetime) -> bool:
        return scope in self.scopes and (self.expires_at is None or now < self.expires_at)

    def allows_sharing_with(self, partner_id: UUID, now: datetime) -> bool:
        """Whether this partner may see the person's data (partner types are enforced by
        routing, which knows each partner's type; intake knows the partner's id)."""
        return (
            self.in_force(ConsentScope.DATA_SHARING, now)
            and partner_id not in self.refused_partner_ids
        )

    def withdraw(self, scopes: tuple[ConsentScope, ...]) -> ConsentRecord:
        held = [scope for scope in scopes if scope not in self.scopes]
        if held:
            raise CaseConflict(
                "the current consent does not include scope(s): "
                + ", ".join(scope.value for scope in held)
            )
        return self.model_copy(
            update={
                "scopes": tuple(s for s in self.scopes if s not in scopes),
                "withdrawn_scopes": (*self.withdrawn_scopes, *scopes),
            }
        )

    def as_contract(self) -> Consent | None:
        """The consent as routing sees it; None once every scope was withdrawn."""
        if not self.scopes:
            return None
        return Consent(
            consent_id=self.consent_id,
            scopes=self.scopes,
            given_by=self.given_by,
            method=self.method,
            expires_at=self.expires_at,
            refused_partner_ids=self.refused_partner_ids,
            refused_partner_types=self.refused_partner_types,
        )


def consent_rule_errors(
    consent: ConsentRecord, band: AgeBand, *, field: str, now: datetime
) -> list[FieldError]:
    """Rules a new consent must meet; `field` is where the consent sits in the request."""
    errors: list[FieldError] = []
    if is_child(band) and consent.given_by is ConsentGivenBy.SELF:
        errors.append(
            FieldError(
                f"{field}.given_by",
                "a child's consent must be given by a parent, guardian, caregiver or "
                "other representative",
            )
        )
    if consent.obtained_at > now:
        errors.append(FieldError(f"{field}.obtained_at", "must not be in the future"))
    if consent.expires_at is not None and consent.expires_at <= consent.obtained_at:
        errors.append(FieldError(f"{field}.expires_at", "must be after obtained_at"))
    return errors
