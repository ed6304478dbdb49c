"""Use cases of the person's own path to their feedback (issue 17): a one-time link.

Staff ask for an invitation for a referral of the case, naming the channel they will pass
it on through; the person's safety profile is applied now, as for any contact (a refusal
is `org.mpa.access.contact_withheld.v1` and the step fails). Allowed, the answer holds a
random token once; intake keeps only its hash (the record's id is derived from it), so the
token is in no table, event or log. The person answers without an account; the answer is
recorded by the same use case and event as staff feedback, marked `collected_via:
invitation`. Unknown, used and expired tokens all answer alike (no oracle).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from pydantic import Field

from mpa_contracts.events.feedback import FeedbackInvitedV1
from mpa_contracts.vocabularies import (
    ActorRole,
    FeedbackCollection,
    NeedCategory,
    SafeContactMethod,
)
from mpa_intake.app.cases import _emit, _load_for_change
from mpa_intake.app.commands import Command
from mpa_intake.app.context import Actor, IntakeContext
from mpa_intake.app.feedback import FeedbackAnswer, FeedbackRecorded, RecordFeedback, record_in
from mpa_intake.app.ports import IntakeUnitOfWorkPort
from mpa_intake.app.safe_contact import refuse_contact
from mpa_intake.app.views import View
from mpa_intake.domain.casework import ReferralProgress
from mpa_intake.domain.errors import (
    CaseConflict,
    ContactRefused,
    FieldError,
    InvalidCase,
    InvitationNotFound,
)
from mpa_intake.domain.feedback import FeedbackInvitation, record_id_of
from mpa_intake.domain.safe_contact import (
    ContactRequest,
)

INVITATION_LIFETIME = timedelta(days=14)
# The person answering through an invitation: no account, so no principal of their own.
PERSON_ACTOR = Actor(
    subject="feedback-invitation",
    actor_id="system:feedback-invitation",
    role=ActorRole.SYSTEM,
)


class InviteFeedback(Command):
    """Ask for a one-time link the person can answer on their own."""

    referral_id: UUID = Field(
        description="The referral whose service it is about",
        examples=["3c2b1a09-8f7e-4d6c-9b5a-493827160f1e"],
    )
    channel: SafeContactMethod = Field(
        description="How you will pass the link on (checked against the safety profile)",
        examples=["sms"],
    )


class FeedbackInvitationCreated(View):
    invitation_id: UUID = Field(description="Id of the invitation (in the event)")
    token: str = Field(
        description="The one-time token, shown this once: pass it on through the channel"
    )
    path: str = Field(description="Where the person answers: /feedback/{token} in the console")
    expires_at: datetime = Field(description="When the link stops working")


class FeedbackQuestion(View):
    """What an invitation asks about: nothing about the person."""

    service_category: NeedCategory | None = Field(
        description="The kind of service the question is about; null: not known"
    )
    expires_at: datetime = Field(description="When the link stops working")


async def invite_feedback(
    ctx: IntakeContext, actor: Actor, case_id: UUID, command: InviteFeedback
) -> FeedbackInvitationCreated:
    """Within the actor's write scope, for a referral a partner accepted; the safety
    profile must clear the channel (a child's own contact never is)."""
    async with ctx.unit_of_work() as uow:
        stored = await _load_for_change(ctx, actor, uow.cases, case_id)
        case = stored.case
        referral = await uow.casework.get(ReferralProgress, command.referral_id)
        if referral is None or referral.case_id != case_id:
            raise InvalidCase([FieldError("body.referral_id", "not a referral of this case")])
        if referral.accepted_at is None:
            raise CaseConflict("no partner accepted this referral: there is no service to rate")
        refusal, _ = await refuse_contact(
            ctx, uow, actor, stored, ContactRequest(command.channel), referral_id=referral.record_id
        )
        if refusal is not None:
            await uow.commit()
            raise ContactRefused(refusal.value)
        token = secrets.token_urlsafe(32)
        now = ctx.clock()
        invitation = FeedbackInvitation(
            record_id=record_id_of(token),
            case_id=case_id,
            created_at=now,
            invitation_id=uuid4(),
            referral_id=command.referral_id,
            channel=command.channel,
            expires_at=now + INVITATION_LIFETIME,
        )
        await uow.casework.add(invitation)
        _emit(
            uow,
            FeedbackInvitedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                invitation_id=invitation.invitation_id,
                referral_id=command.referral_id,
                channel=command.channel,
                expires_at=invitation.expires_at,
            ),
            case_id,
            correlation_id=case.correlation_id,
        )
        await uow.commit()
    return FeedbackInvitationCreated(
        invitation_id=invitation.invitation_id,
        token=token,
        path=f"/feedback/{token}",
        expires_at=invitation.expires_at,
    )


async def question_of(ctx: IntakeContext, token: str) -> FeedbackQuestion:
    async with ctx.unit_of_work() as uow:
        invitation = await _open_invitation(ctx, uow, token, for_update=False)
        stored = await uow.cases.get(invitation.case_id)
        referral = await uow.casework.get(ReferralProgress, invitation.referral_id)
        category = None
        if stored is not None and referral is not None:
            needs = stored.case.needs_of({referral.need_id})
            category = needs[0].category if needs else None
    return FeedbackQuestion(service_category=category, expires_at=invitation.expires_at)


async def answer_invitation(
    ctx: IntakeContext, token: str, answer: FeedbackAnswer
) -> FeedbackRecorded:
    """The person's own answer, about the invitation's referral: recorded as staff
    feedback is, then the link is spent."""
    async with ctx.unit_of_work() as uow:
        invitation = await _open_invitation(ctx, uow, token, for_update=True)
        stored = await uow.cases.get(invitation.case_id, for_update=True)
        if stored is None or stored.case.is_erased:
            raise InvitationNotFound("no open feedback invitation has this token")
        bound = RecordFeedback(referral_id=invitation.referral_id, **answer.model_dump())
        recorded = await record_in(
            uow, PERSON_ACTOR, stored.case, bound, FeedbackCollection.INVITATION
        )
        invitation.used_at = ctx.clock()
        await uow.casework.save(invitation)
        await uow.commit()
    return recorded


async def _open_invitation(
    ctx: IntakeContext, uow: IntakeUnitOfWorkPort, token: str, *, for_update: bool
) -> FeedbackInvitation:
    found = await uow.casework.get(FeedbackInvitation, record_id_of(token), for_update=for_update)
    if found is None or not found.open_at(ctx.clock()):
        raise InvitationNotFound("no open feedback invitation has this token")
    return found
