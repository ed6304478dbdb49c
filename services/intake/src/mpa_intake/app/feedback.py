"""Use case of the person's voice (issue 17): their feedback on the service of a referral,
collected by the case's staff, or given by the person through a one-time link
(app.feedback_invitations), recorded alike.

Codes only (received, quality, waiting time, felt safe) and the person's choice whether the
provider may see it as theirs. It is announced as
`org.mpa.case.service_feedback_recorded.v1`; the referral service, which knows the partner
that delivered the service, turns it into the partner's figures. Intake keeps no copy: the
event (and the audit log) is the record.
"""

from __future__ import annotations

from uuid import UUID, uuid4

from pydantic import Field, model_validator

from mpa_common.request_types import StrictBool
from mpa_contracts.events.feedback import ServiceFeedbackRecordedV1
from mpa_contracts.vocabularies import (
    FeedbackCollection,
    ServiceQuality,
    ServiceReceived,
    WaitingTime,
)
from mpa_intake.app.cases import _emit, _load_for_change
from mpa_intake.app.commands import Command
from mpa_intake.app.context import Actor, IntakeContext
from mpa_intake.app.ports import IntakeUnitOfWorkPort
from mpa_intake.app.views import View
from mpa_intake.domain.case import Case
from mpa_intake.domain.casework import ReferralProgress
from mpa_intake.domain.errors import CaseConflict, FieldError, InvalidCase


class FeedbackAnswer(Command):
    """What the person said about a service (the codes; the person's own link names the
    referral)."""

    received: ServiceReceived = Field(
        description="Whether they got the service, in their view", examples=["received"]
    )
    quality: ServiceQuality | None = Field(
        default=None,
        description="How they rate it; absent when not received or not rated",
        examples=["good"],
    )
    waiting_time: WaitingTime | None = Field(
        default=None, description="How long they waited; absent: not said",
        examples=["within_a_week"],
    )  # fmt: skip
    felt_safe: StrictBool | None = Field(
        default=None, description="Whether they felt safe with the provider; absent: not said",
        examples=[True],
    )  # fmt: skip
    anonymous_to_provider: StrictBool = Field(
        default=True,
        description="The provider sees it only within its figures, never as this person's "
        "(the default: the person may choose otherwise)",
        examples=[True],
    )

    @model_validator(mode="after")
    def _no_rating_of_what_was_not_received(self) -> FeedbackAnswer:
        if self.received is ServiceReceived.NOT_RECEIVED and self.quality is not None:
            raise ValueError("quality is for a service that was received")
        return self


class RecordFeedback(FeedbackAnswer):
    """What the person said about the service of one of their referrals."""

    referral_id: UUID = Field(
        description="The referral whose service it is",
        examples=["3c2b1a09-8f7e-4d6c-9b5a-493827160f1e"],
    )


class FeedbackRecorded(View):
    feedback_id: UUID = Field(description="Id of the feedback (in the event)")


async def record_feedback(
    ctx: IntakeContext, actor: Actor, case_id: UUID, command: RecordFeedback
) -> FeedbackRecorded:
    """Within the actor's write scope; only for a referral of the case that a partner
    accepted (there was a service to speak of)."""
    async with ctx.unit_of_work() as uow:
        stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        case = stored.case
        recorded = await record_in(uow, actor, case, command, FeedbackCollection.STAFF)
        await uow.commit()
    return recorded


async def record_in(
    uow: IntakeUnitOfWorkPort,
    actor: Actor,
    case: Case,
    command: RecordFeedback,
    collected_via: FeedbackCollection,
) -> FeedbackRecorded:
    """Records the feedback in `uow` (the caller commits): staff's and the person's own."""
    case_id = case.case_id
    referral = await uow.casework.get(ReferralProgress, command.referral_id)
    if referral is None or referral.case_id != case_id:
        raise InvalidCase([FieldError("body.referral_id", "not a referral of this case")])
    if referral.accepted_at is None:
        raise CaseConflict("no partner accepted this referral: there is no service to rate")
    feedback_id = uuid4()
    _emit(
        uow,
        ServiceFeedbackRecordedV1(
            actor_id=actor.actor_id,
            actor_role=actor.role,
            case_id=case_id,
            feedback_id=feedback_id,
            referral_id=command.referral_id,
            received=command.received,
            quality=command.quality,
            waiting_time=command.waiting_time,
            felt_safe=command.felt_safe,
            anonymous_to_provider=command.anonymous_to_provider,
            collected_via=collected_via,
        ),
        case_id,
        correlation_id=case.correlation_id,
    )
    return FeedbackRecorded(feedback_id=feedback_id)
