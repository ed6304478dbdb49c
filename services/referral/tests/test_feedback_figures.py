"""The person's voice in a partner's figures (issue 17), on the in-memory store: feedback
lands with the partner that holds the referral; the provider's own view never singles out
an anonymous answer; another partner's figures are not found."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from mpa_common.failures import EventRejected
from mpa_contracts.events.feedback import ServiceFeedbackRecordedV1
from mpa_contracts.examples import example_event
from mpa_contracts.vocabularies import (
    NeedCategory,
    ServiceQuality,
    ServiceReceived,
    Urgency,
    WaitingTime,
)
from mpa_referral.app.common import ReferralContext
from mpa_referral.app.feedback import PartnerFeedbackQuery, partner_feedback
from mpa_referral.domain.errors import NotFound
from mpa_referral.domain.feedback import ANONYMITY_FLOOR, Feedback, figures_of, providers_view
from mpa_referral.handlers import CaseEventHandlers
from mpa_referral.testing import MemoryStore, add_partner, delivery_of, registered

T0 = datetime(2026, 3, 2, tzinfo=UTC)
Deliver = Callable[[Any], Awaitable[Any]]


def answer(quality: ServiceQuality | None, *, anonymous: bool, **changes: object) -> Feedback:
    values: dict[str, object] = {
        "feedback_id": uuid.uuid4(), "referral_id": uuid.uuid4(), "partner_id": uuid.uuid4(),
        "service_id": None, "recorded_at": T0, "received": ServiceReceived.RECEIVED,
        "quality": quality, "waiting_time": WaitingTime.SAME_DAY, "felt_safe": True,
        "anonymous": anonymous, **changes,
    }  # fmt: skip
    return Feedback(**values)  # type: ignore[arg-type]


def test_figures_count_rates_and_the_mean_on_the_five_point_scale() -> None:
    figures = figures_of([
        answer(ServiceQuality.VERY_GOOD, anonymous=False),
        answer(ServiceQuality.POOR, anonymous=False, felt_safe=False),
        answer(None, anonymous=False, received=ServiceReceived.NOT_RECEIVED, felt_safe=None),
    ])  # fmt: skip
    assert figures.responses == 3
    assert figures.received_rate == pytest.approx(2 / 3)
    assert figures.quality_mean == pytest.approx((5 + 2) / 2)
    assert figures.felt_safe_rate == pytest.approx(1 / 2)
    assert figures.received == {ServiceReceived.RECEIVED: 2, ServiceReceived.NOT_RECEIVED: 1}


def test_the_provider_sees_anonymous_answers_only_in_numbers_that_hide_each_one() -> None:
    openly = [answer(ServiceQuality.GOOD, anonymous=False)]
    few = [answer(ServiceQuality.VERY_POOR, anonymous=True) for _ in range(ANONYMITY_FLOOR - 1)]
    figures, answers = providers_view(openly + few)
    assert answers == openly
    assert (figures.responses, figures.anonymous_withheld) == (1, ANONYMITY_FLOOR - 1)
    assert figures.quality_mean == 4  # the withheld ones do not move it either
    enough = [*few, answer(ServiceQuality.VERY_POOR, anonymous=True)]
    figures, answers = providers_view(openly + enough)
    assert answers == openly
    assert (figures.responses, figures.anonymous_withheld) == (1 + ANONYMITY_FLOOR, 0)


async def test_feedback_lands_with_the_referrals_partner_and_feeds_its_figures(
    store: MemoryStore, context: ReferralContext, deliver: Deliver
) -> None:
    partner, _ = await add_partner(context, "NE", NeedCategory.SHELTER)
    case = registered("NE", [(NeedCategory.SHELTER, Urgency.HIGH)])
    await deliver(case)
    (referral,) = store.referrals.values()
    assert referral.partner_id == partner
    example = example_event(ServiceFeedbackRecordedV1.event_type)
    handler = CaseEventHandlers(context).subscription().entry_for(example.event_type)
    assert handler is not None
    for anonymous in (False, True):
        data = example.model_copy(update={
            "case_id": case.case_id, "referral_id": referral.id,
            "feedback_id": uuid.uuid4(), "anonymous_to_provider": anonymous})  # fmt: skip
        async with context.units_of_work() as uow:
            await handler.handler(uow, data, delivery_of(data))
            await uow.commit()
    oversight = await partner_feedback(context, PartnerFeedbackQuery(partner, None, None, None))
    assert oversight.figures.responses == 2
    assert oversight.answers is None
    own = await partner_feedback(context, PartnerFeedbackQuery(partner, None, None, partner))
    assert own.figures.responses == 1  # the one anonymous answer is withheld
    assert own.figures.anonymous_withheld == 1
    assert [a.referral_id for a in own.answers or []] == [referral.id]
    with pytest.raises(NotFound):
        await partner_feedback(context, PartnerFeedbackQuery(partner, None, None, uuid.uuid4()))
    unknown = example.model_copy(update={"referral_id": uuid.uuid4()})
    async with context.units_of_work() as uow:
        with pytest.raises(EventRejected) as rejected:
            await handler.handler(uow, unknown, delivery_of(unknown))
    assert rejected.value.reason == "unknown_referral"
