"""The person's voice (issue 17) on the fakes: feedback on an accepted referral's service
is one event of codes, within the collector's scope; nothing to rate without a service."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from mpa_contracts.events.feedback import ServiceFeedbackRecordedV1
from mpa_contracts.vocabularies import ActorRole, ReferralState, ServiceQuality
from mpa_intake.app import cases, casework, feedback
from mpa_intake.app.commands import RegisterCase
from mpa_intake.app.context import Actor
from mpa_intake.app.feedback import RecordFeedback
from mpa_intake.domain.errors import CaseConflict, InvalidCase, OutsideScope
from mpa_intake.testing import FakeIntake, FakeIntakeUnitOfWork, fake_intake

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NIAMEY = {"team": "ne-niamey-cm", "agency": "iom-ne", "country": "NE"}
CASEWORKER = Actor(subject="cw-1", actor_id="caseworker:cw-1", role=ActorRole.CASEWORKER, **NIAMEY)
ELSEWHERE = Actor(subject="cw-9", actor_id="caseworker:cw-9", role=ActorRole.CASEWORKER,
                  team="ml-gao-cm", agency="iom-ml", country="ML")  # fmt: skip


@pytest.fixture
def intake() -> FakeIntake:
    return fake_intake(clock=lambda: NOW)


async def a_case(intake: FakeIntake) -> uuid.UUID:
    command = RegisterCase.model_validate({
        "person": {"given_name": "Aïcha", "family_name": "Exemple", "estimated_age": 30,
                   "sex": "female", "languages": ["ha"]},
        "location": {"country": "NE"},
        "needs": [{"category": "shelter", "urgency": "high"}],
        "consent": {"given": False},
        "safety": {"do_not_contact": False, "safe_contact_method": "through_caseworker"},
    })  # fmt: skip
    return (await cases.register_case(intake.context, CASEWORKER, command)).case_id


async def referral(intake: FakeIntake, case_id: uuid.UUID, *states: ReferralState) -> uuid.UUID:
    referral_id = uuid.uuid4()
    need_id = intake.memory.cases[case_id].case.needs[0].need_id
    for state in states:
        async with FakeIntakeUnitOfWork(intake.memory) as uow:
            await casework.learn_referral_state(
                uow, referral_id=referral_id, case_id=case_id, need_id=need_id, state=state,
                at=NOW,
            )  # fmt: skip
            await uow.commit()
    return referral_id


def said(referral_id: uuid.UUID, **changes: object) -> RecordFeedback:
    body = {"referral_id": str(referral_id), "received": "received", "quality": "good",
            "waiting_time": "within_a_week", "felt_safe": True, **changes}  # fmt: skip
    return RecordFeedback.model_validate(body)


async def test_feedback_on_an_accepted_referral_is_one_event_of_codes(intake: FakeIntake) -> None:
    case_id = await a_case(intake)
    referral_id = await referral(
        intake, case_id, ReferralState.ROUTED, ReferralState.ACCEPTED, ReferralState.COMPLETED
    )
    result = await feedback.record_feedback(intake.context, CASEWORKER, case_id, said(referral_id))
    (event,) = intake.memory.events_of(ServiceFeedbackRecordedV1)
    data = event.data
    assert isinstance(data, ServiceFeedbackRecordedV1)
    assert data.feedback_id == result.feedback_id
    assert (data.referral_id, data.quality, data.felt_safe) == (
        referral_id, ServiceQuality.GOOD, True,
    )  # fmt: skip
    assert data.anonymous_to_provider is True  # the default: the person may choose otherwise
    assert event.correlation_id == intake.memory.cases[case_id].case.correlation_id


async def test_no_feedback_without_a_service_outside_scope_or_on_another_cases_referral(
    intake: FakeIntake,
) -> None:
    case_id = await a_case(intake)
    routed_only = await referral(intake, case_id, ReferralState.ROUTED)
    with pytest.raises(CaseConflict, match="no service"):
        await feedback.record_feedback(intake.context, CASEWORKER, case_id, said(routed_only))
    other_case = await a_case(intake)
    theirs = await referral(intake, other_case, ReferralState.ACCEPTED)
    with pytest.raises(InvalidCase):
        await feedback.record_feedback(intake.context, CASEWORKER, case_id, said(theirs))
    with pytest.raises(OutsideScope):
        await feedback.record_feedback(intake.context, ELSEWHERE, other_case, said(theirs))
    with pytest.raises(ValidationError, match="quality is for a service that was received"):
        said(theirs, received="not_received")
    assert intake.memory.events_of(ServiceFeedbackRecordedV1) == []
