"""The person's own feedback link (issue 17) on the fakes: the safety profile decides now;
only the token's hash is kept; the answer is staff feedback's event, marked; a link works
once, and unknown, used and expired links answer alike."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from mpa_contracts.events.feedback import FeedbackInvitedV1, ServiceFeedbackRecordedV1
from mpa_contracts.events.safe_contact import ContactWithheldV1
from mpa_contracts.vocabularies import (
    ActorRole,
    ContactRefusal,
    FeedbackCollection,
    NeedCategory,
    ReferralState,
    SafeContactMethod,
)
from mpa_intake.app import cases, casework, feedback_invitations
from mpa_intake.app.commands import RegisterCase
from mpa_intake.app.context import Actor
from mpa_intake.app.feedback import FeedbackAnswer
from mpa_intake.app.feedback_invitations import InviteFeedback
from mpa_intake.domain.errors import ContactRefused, InvitationNotFound
from mpa_intake.domain.feedback import FeedbackInvitation, record_id_of
from mpa_intake.testing import FakeIntake, FakeIntakeUnitOfWork, fake_intake

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NIAMEY = {"team": "ne-niamey-cm", "agency": "iom-ne", "country": "NE"}
CASEWORKER = Actor(subject="cw-1", actor_id="caseworker:cw-1", role=ActorRole.CASEWORKER, **NIAMEY)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def intake(clock: Clock) -> FakeIntake:
    return fake_intake(clock=clock)


async def a_case(intake: FakeIntake, safety: dict[str, object], age: int = 30) -> uuid.UUID:
    command = RegisterCase.model_validate({
        "person": {"given_name": "Aïcha", "family_name": "Exemple", "estimated_age": age,
                   "sex": "female", "languages": ["ha"], "phone": "+22790000000"},
        "location": {"country": "NE"},
        "needs": [{"category": "shelter", "urgency": "high"}],
        "consent": {"given": False},
        "safety": safety,
    })  # fmt: skip
    return (await cases.register_case(intake.context, CASEWORKER, command)).case_id


async def accepted_referral(intake: FakeIntake, case_id: uuid.UUID) -> uuid.UUID:
    referral_id = uuid.uuid4()
    need_id = intake.memory.cases[case_id].case.needs[0].need_id
    for state in (ReferralState.ROUTED, ReferralState.ACCEPTED):
        async with FakeIntakeUnitOfWork(intake.memory) as uow:
            await casework.learn_referral_state(
                uow, referral_id=referral_id, case_id=case_id, need_id=need_id, state=state,
                at=NOW,
            )  # fmt: skip
            await uow.commit()
    return referral_id


SMS = {"do_not_contact": False, "safe_contact_method": "sms"}
ANSWER = FeedbackAnswer.model_validate({"received": "received", "quality": "good"})


async def test_a_refused_channel_is_a_contact_withheld_event_and_no_invitation(
    intake: FakeIntake,
) -> None:
    no_contact = await a_case(intake, {"do_not_contact": True, "safe_contact_method": "none"})
    sms_only = await a_case(intake, SMS)
    child = await a_case(intake, SMS, age=15)
    expected = {
        (no_contact, SafeContactMethod.SMS): ContactRefusal.DO_NOT_CONTACT,
        (sms_only, SafeContactMethod.EMAIL): ContactRefusal.CHANNEL_NOT_SAFE,
        (child, SafeContactMethod.SMS): ContactRefusal.CHILD,
    }
    for (case_id, channel), reason in expected.items():
        referral_id = await accepted_referral(intake, case_id)
        command = InviteFeedback(referral_id=referral_id, channel=channel)
        with pytest.raises(ContactRefused) as refused:
            await feedback_invitations.invite_feedback(intake.context, CASEWORKER, case_id, command)
        assert refused.value.reason == reason.value
    withheld = [e.data for e in intake.memory.events_of(ContactWithheldV1)]
    assert [(d.case_id, d.reason) for d in withheld if isinstance(d, ContactWithheldV1)] == [
        (case_id, reason) for (case_id, _), reason in expected.items()
    ]
    assert intake.memory.events_of(FeedbackInvitedV1) == []


async def test_the_person_answers_once_through_the_link_as_staff_feedback_marked(
    intake: FakeIntake,
) -> None:
    case_id = await a_case(intake, SMS)
    referral_id = await accepted_referral(intake, case_id)
    created = await feedback_invitations.invite_feedback(
        intake.context, CASEWORKER, case_id,
        InviteFeedback(referral_id=referral_id, channel=SafeContactMethod.SMS),
    )  # fmt: skip
    (invited,) = [e.data for e in intake.memory.events_of(FeedbackInvitedV1)]
    assert isinstance(invited, FeedbackInvitedV1)
    assert created.token not in invited.model_dump_json()
    assert invited.expires_at == NOW + timedelta(days=14)
    # Only the hash is kept: the token is in no stored record.
    async with FakeIntakeUnitOfWork(intake.memory) as uow:
        stored = await uow.casework.get(FeedbackInvitation, record_id_of(created.token))
    assert stored is not None
    assert created.token not in stored.model_dump_json()

    question = await feedback_invitations.question_of(intake.context, created.token)
    assert question.service_category is NeedCategory.SHELTER
    recorded = await feedback_invitations.answer_invitation(intake.context, created.token, ANSWER)
    (event,) = [e.data for e in intake.memory.events_of(ServiceFeedbackRecordedV1)]
    assert isinstance(event, ServiceFeedbackRecordedV1)
    assert (event.feedback_id, event.referral_id, event.case_id) == (
        recorded.feedback_id, referral_id, case_id,
    )  # fmt: skip
    assert event.collected_via is FeedbackCollection.INVITATION
    assert (event.actor_role, event.actor_id) == (ActorRole.SYSTEM, "system:feedback-invitation")
    assert event.anonymous_to_provider is True  # the default
    with pytest.raises(InvitationNotFound):
        await feedback_invitations.answer_invitation(intake.context, created.token, ANSWER)
    with pytest.raises(InvitationNotFound):
        await feedback_invitations.question_of(intake.context, created.token)


async def test_unknown_and_expired_links_answer_alike(intake: FakeIntake, clock: Clock) -> None:
    case_id = await a_case(intake, SMS)
    referral_id = await accepted_referral(intake, case_id)
    created = await feedback_invitations.invite_feedback(
        intake.context, CASEWORKER, case_id,
        InviteFeedback(referral_id=referral_id, channel=SafeContactMethod.SMS),
    )  # fmt: skip
    clock.now = NOW + timedelta(days=14)
    for token in (created.token, "not-a-token"):
        with pytest.raises(InvitationNotFound, match="no open feedback invitation"):
            await feedback_invitations.answer_invitation(intake.context, token, ANSWER)
    assert intake.memory.events_of(ServiceFeedbackRecordedV1) == []
