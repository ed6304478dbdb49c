"""Events of cross-border work on a case (issue 17) on topic `mpa.case.v1` (key `case_id`,
beside the case's own events so one case's story stays in order): the person's consent to
the transfer of their data to named countries, and the hand-off of a person who travels to
another country office, which accepts responsibility before travel and records arrival.

A referral whose assistance country is not the country the person is in is a transnational
referral: it is neither routed nor disclosed to a partner without a transfer consent in
force for that country. Codes, ids, country codes, dates and flags only; the notes that go
with a step stay in the intake service, encrypted with the case's personal data.
"""

from typing import Annotated
from uuid import UUID

from pydantic import Field

from mpa_contracts.events.base import ActorEventData, EventData
from mpa_contracts.types import (
    ActorId,
    CaseId,
    CountryCode,
    OrgUnitCode,
    TransferId,
    UniqueTuple,
    UtcTimestamp,
)
from mpa_contracts.vocabularies import (
    ConsentGivenBy,
    ConsentMethod,
    HandoffCancelReason,
    HandoffDeclineReason,
)

TransferConsentId = Annotated[
    UUID, Field(description="Id of a consent to the transfer of data across borders")
]
HandoffId = Annotated[UUID, Field(description="Id of a cross-border hand-off")]
DestinationCountries = Annotated[
    UniqueTuple[CountryCode],
    Field(min_length=1, max_length=20, description="ISO 3166-1 alpha-2 codes"),
]


class TransferConsentRecordedV1(ActorEventData):
    """The person consented to their data being transferred to the named countries (to be
    referred there, and disclosed to the partner that takes the referral). Other transfer
    consents of the case stand beside it; a country is covered while any one in force
    names it."""

    event_type = "org.mpa.case.transfer_consent_recorded.v1"

    case_id: CaseId
    transfer_consent_id: TransferConsentId
    destination_countries: DestinationCountries
    given_by: ConsentGivenBy
    method: ConsentMethod
    obtained_at: UtcTimestamp = Field(description="When the consent was obtained")
    expires_at: UtcTimestamp | None = Field(default=None, description="Absent: no expiry")


class TransferConsentWithdrawnV1(ActorEventData):
    """The person withdrew a transfer consent for some or all of its countries: no further
    disclosure there; open referrals in those countries stop."""

    event_type = "org.mpa.case.transfer_consent_withdrawn.v1"

    case_id: CaseId
    transfer_consent_id: TransferConsentId
    withdrawn_countries: DestinationCountries
    remaining_countries: UniqueTuple[CountryCode] = Field(
        default=(), description="The countries the consent still names"
    )


class HandoffEventData(ActorEventData):
    """Base of a hand-off's steps: which case, which hand-off."""

    case_id: CaseId
    handoff_id: HandoffId


class HandoffRequestedV1(HandoffEventData):
    """The office responsible for a case asked another country office to take responsibility
    for the person, who is to travel there."""

    event_type = "org.mpa.case.handoff_requested.v1"

    from_country: CountryCode = Field(description="The sending country office")
    from_owner_id: ActorId = Field(description="The case's owner when it was asked")
    to_country: CountryCode = Field(description="The receiving country office")
    planned_travel_at: UtcTimestamp = Field(description="When the person is to travel")


class HandoffAcceptedV1(HandoffEventData):
    """The receiving country office accepted responsibility (before travel); `actor_id` is
    who accepted it, and owns the case once the person arrives."""

    event_type = "org.mpa.case.handoff_accepted.v1"

    to_country: CountryCode
    receiving_team: OrgUnitCode | None = Field(default=None, description="The receiving team")
    receiving_agency: OrgUnitCode | None = Field(default=None, description="The agency")


class HandoffDeclinedV1(HandoffEventData):
    """The receiving country office declined the hand-off; nothing else changed."""

    event_type = "org.mpa.case.handoff_declined.v1"

    to_country: CountryCode
    reason: HandoffDeclineReason


class HandoffCancelledV1(HandoffEventData):
    """The sending office withdrew the hand-off before the person travelled."""

    event_type = "org.mpa.case.handoff_cancelled.v1"

    reason: HandoffCancelReason


class HandoffDepartedV1(HandoffEventData):
    """The sending office recorded the person's departure (only after acceptance)."""

    event_type = "org.mpa.case.handoff_departed.v1"

    departed_at: UtcTimestamp
    to_country: CountryCode


class HandoffArrivedV1(HandoffEventData):
    """The receiving office recorded the person's arrival: the hand-off ends and the case's
    responsibility has moved to the receiving office through a transfer of responsibility
    (`transfer_id`, announced as `org.mpa.case.transfer_accepted.v1` just before)."""

    event_type = "org.mpa.case.handoff_arrived.v1"

    arrived_at: UtcTimestamp
    from_country: CountryCode
    to_country: CountryCode
    transfer_id: TransferId
    owner_id: ActorId = Field(description="The case's owner from now on")
    departure_recorded: bool = Field(description="Whether a departure was recorded first")


CROSS_BORDER_EVENTS: tuple[type[EventData], ...] = (
    TransferConsentRecordedV1,
    TransferConsentWithdrawnV1,
    HandoffRequestedV1,
    HandoffAcceptedV1,
    HandoffDeclinedV1,
    HandoffCancelledV1,
    HandoffDepartedV1,
    HandoffArrivedV1,
)
