"""Events of the person's safety profile at work (topic `mpa.access.v1`, key `case_id`,
beside the reads it guards): a contact the profile refused, or contact details it withheld.

The refusal is recorded so that oversight can see the profile held, on every path; it says
which path, which channel and why, never the details themselves.
"""

from pydantic import Field

from mpa_contracts.events.base import ActorEventData, EventData
from mpa_contracts.types import CaseId, PartnerId, ReferralId, UniqueTuple
from mpa_contracts.vocabularies import (
    ContactPath,
    ContactRefusal,
    PersonalDataField,
    SafeContactMethod,
)


class ContactWithheldV1(ActorEventData):
    """The person's safety profile refused a contact, or withheld from a reader how to make
    one (their phone, e-mail or safe-contact details)."""

    event_type = "org.mpa.access.contact_withheld.v1"

    case_id: CaseId
    path: ContactPath
    reason: ContactRefusal
    channel: SafeContactMethod | None = Field(
        default=None, description="The channel asked for; absent for a disclosure"
    )
    withheld_fields: UniqueTuple[PersonalDataField] = Field(
        default=(), description="Contact fields held back from the reader (a disclosure)"
    )
    referral_id: ReferralId | None = Field(
        default=None, description="The referral the reader acted for, if any"
    )
    actor_partner_id: PartnerId | None = Field(
        default=None, description="Partner the actor works for, when partner staff asked"
    )


SAFE_CONTACT_EVENTS: tuple[type[EventData], ...] = (ContactWithheldV1,)
