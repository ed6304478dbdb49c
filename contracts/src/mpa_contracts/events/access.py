"""Events of personal-data access (topic `mpa.access.v1`, key `case_id`).

Every read of a person's record is announced, so the audit service can answer
"who saw what about me, and why" (GDPR art. 15) without holding the data itself.
"""

from pydantic import Field

from mpa_contracts.events.base import ActorEventData, EventData
from mpa_contracts.types import CaseId, PartnerId, ReferralId, UniqueTuple
from mpa_contracts.vocabularies import AccessPurpose, PersonalDataField


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


ACCESS_EVENTS: tuple[type[EventData], ...] = (PersonalDataAccessedV1,)
