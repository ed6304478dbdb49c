"""The person's voice: their feedback on a service they were referred to (topic
`mpa.case.v1`, key `case_id`: it is part of the case's story, told by its caseworker).

Codes and flags only — no comment in words, nothing that identifies the person. Whether the
provider may see it as the person's own (`anonymous_to_provider`) is the person's choice;
the referral service, which learns the partner from the referral, keeps it for the
partner's figures and honours that choice.
"""

from uuid import UUID

from pydantic import Field

from mpa_contracts.events.base import ActorEventData, EventData
from mpa_contracts.types import CaseId, FeedbackId, ReferralId, UtcTimestamp
from mpa_contracts.vocabularies import (
    FeedbackCollection,
    SafeContactMethod,
    ServiceQuality,
    ServiceReceived,
    WaitingTime,
)


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
    collected_via: FeedbackCollection | None = Field(
        default=None,
        description="Who entered it: the case's staff, or the person through a feedback "
        "invitation (then the actor is `system:feedback-invitation`); absent: staff",
    )


class FeedbackInvitedV1(ActorEventData):
    """Staff asked for a one-time feedback link for a referral of the case, to pass on to
    the person through `channel` (cleared by their safety profile). Neither the link nor
    anything about the person is in the event."""

    event_type = "org.mpa.case.feedback_invited.v1"

    case_id: CaseId
    invitation_id: UUID = Field(description="Id of the invitation (not its token)")
    referral_id: ReferralId
    channel: SafeContactMethod = Field(description="How staff will pass the link on")
    expires_at: UtcTimestamp = Field(description="When the link stops working")


FEEDBACK_EVENTS: tuple[type[EventData], ...] = (ServiceFeedbackRecordedV1, FeedbackInvitedV1)
