"""Events of personal-data access (topic `mpa.access.v1`, key `case_id`).

Every read of a person's record is announced, so the audit service can answer
"who saw what about me, and why" (GDPR art. 15) without holding the data itself.
"""

from pydantic import Field

from mpa_contracts.events.base import ActorEventData, EventData
from mpa_contracts.types import (
    ActorId,
    CaseId,
    CountryCode,
    OrgUnitCode,
    PartnerId,
    ReferralId,
    UniqueTuple,
)
from mpa_contracts.vocabularies import AccessPurpose, BreakGlassReason, CaseScope, PersonalDataField


class PersonalDataAccessedV1(ActorEventData):
    """A principal read personal data of a case."""

    event_type = "org.mpa.access.personal_data_accessed.v1"

    case_id: CaseId
    fields: UniqueTuple[PersonalDataField] = Field(min_length=1)
    purpose: AccessPurpose
    referral_id: ReferralId | None = Field(
        default=None, description="Referral the read served, if any"
    )
    actor_partner_id: PartnerId | None = Field(
        default=None, description="Partner the actor works for, when partner staff read"
    )


class BreakGlassAccessV1(ActorEventData):
    """A principal read a case outside its scope, giving a reason (break-glass). Emitted
    beside the read's `personal_data_accessed`; the owner's supervisor is to be told, and
    reviews of emergency access start from these."""

    event_type = "org.mpa.access.break_glass_used.v1"

    case_id: CaseId
    reason: BreakGlassReason
    actor_scope: CaseScope = Field(description="The read scope the actor's role has")
    actor_team: OrgUnitCode | None = Field(default=None, description="The actor's team")
    actor_agency: OrgUnitCode | None = Field(default=None, description="The actor's agency")
    actor_country: CountryCode | None = Field(default=None, description="The actor's country")
    owner_id: ActorId = Field(description="The case's owning caseworker")
    owner_team: OrgUnitCode | None = Field(default=None, description="The owning team")
    owner_agency: OrgUnitCode | None = Field(default=None, description="The owning agency")
    owner_country: CountryCode = Field(description="The owning country office")


ACCESS_EVENTS: tuple[type[EventData], ...] = (PersonalDataAccessedV1, BreakGlassAccessV1)
