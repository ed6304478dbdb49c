"""The person's voice: their feedback on a service they were referred to (topic
`mpa.case.v1`, key `case_id`: it is part of the case's story, told by its caseworker).

Codes and flags only — no comment in words, nothing that identifies the person. Whether the
provider may see it as the person's own (`anonymous_to_provider`) is the person's choice;
the referral service, which learns the partner from the referral, keeps it for the
partner's figures and honours that choice.
"""

from pydantic import Field

from mpa_contracts.events.base import ActorEventData, EventData
from mpa_contracts.types import CaseId, FeedbackId, ReferralId
from mpa_contracts.vocabularies import ServiceQuality, ServiceReceived, WaitingTime


class ServiceFeedbackRecordedV1(ActorEventData):
    """The person gave feedback on the service of one of their referrals."""

    event_type = "org.mpa.case.service_feedback_recorded.v1"

    case_id: CaseId
    feedback_id: FeedbackId
    referral_id: ReferralId
    received: ServiceReceived
    quality: ServiceQuality | None = Field(
        default=None, description="Absent when the service was not received or not rated"
    )
    waiting_time: WaitingTime | None = Field(default=None, description="Absent: not said")
    felt_safe: bool | None = Field(
        default=None, description="Whether they felt safe with the provider; absent: not said"
    )
    anonymous_to_provider: bool = Field(
        description="The provider sees it only within figures, never as this person's"
    )


FEEDBACK_EVENTS: tuple[type[EventData], ...] = (ServiceFeedbackRecordedV1,)
