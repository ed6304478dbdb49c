"""Transnational referrals (issue 17) through the handler table, on the in-memory store: a
need whose assistance country is not the person's waits for a transfer consent naming that
country, is routed when it comes, and stops when it is withdrawn."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from mpa_contracts.events.case import CaseRegisteredV1, CaseUpdatedV1, Location, Need
from mpa_contracts.events.cross_border import (
    TransferConsentRecordedV1,
    TransferConsentWithdrawnV1,
)
from mpa_contracts.events.referral import ReferralCancelledV1, ReferralUnroutableV1
from mpa_contracts.vocabularies import (
    ActorRole,
    CancelReason,
    ConsentGivenBy,
    ConsentMethod,
    NeedCategory,
    ReferralState,
    UnroutableReason,
    Urgency,
)
from mpa_referral.app.common import ReferralContext
from mpa_referral.app.ports import ReferralFilter
from mpa_referral.app.queries import ListReferrals, list_referrals
from mpa_referral.domain.cases import CaseProfile
from mpa_referral.domain.disclosure import Viewer
from mpa_referral.domain.referral import Referral
from mpa_referral.testing import CASEWORKER, MemoryStore, add_partner, registered

Deliver = Callable[[Any], Awaitable[Any]]

AWAITING = UnroutableReason.AWAITING_TRANSFER_CONSENT


def transnational(home: str, abroad: str) -> CaseRegisteredV1:
    """A person in `home` wanting shelter there and reintegration in `abroad`."""
    case = registered(home, [(NeedCategory.SHELTER, Urgency.HIGH)])
    return case.model_copy(
        update={
            "needs": (
                *case.needs,
                Need(
                    need_id=uuid.uuid4(),
                    category=NeedCategory.REINTEGRATION,
                    urgency=Urgency.MEDIUM,
                    assistance_country=abroad,
                ),
            )
        }
    )


def consent(
    case_id: uuid.UUID, *countries: str, consent_id: uuid.UUID | None = None, **fields: object
) -> TransferConsentRecordedV1:
    return TransferConsentRecordedV1.model_validate(
        {
            "actor_id": CASEWORKER.actor_id,
            "actor_role": ActorRole.CASEWORKER,
            "case_id": case_id,
            "transfer_consent_id": consent_id or uuid.uuid4(),
            "destination_countries": countries,
            "given_by": ConsentGivenBy.SELF,
            "method": ConsentMethod.WRITTEN,
            "obtained_at": datetime.now(UTC) - timedelta(minutes=1),
            **fields,
        }
    )


def withdrawal(
    case_id: uuid.UUID, consent_id: uuid.UUID, *countries: str
) -> TransferConsentWithdrawnV1:
    return TransferConsentWithdrawnV1(
        actor_id=CASEWORKER.actor_id,
        actor_role=ActorRole.CASEWORKER,
        case_id=case_id,
        transfer_consent_id=consent_id,
        withdrawn_countries=countries,
    )


async def referrals_of(context: ReferralContext, case_id: uuid.UUID) -> list[Referral]:
    page = await list_referrals(
        context, ListReferrals(Viewer.referrer(), ReferralFilter(case_id=case_id), limit=50)
    )
    return page.items


def of_category(found: list[Referral], category: NeedCategory) -> list[Referral]:
    return [r for r in found if r.category is category]


async def test_a_transnational_need_waits_for_a_transfer_consent_naming_its_country(
    store: MemoryStore, context: ReferralContext, deliver: Deliver
) -> None:
    await add_partner(context, "NE", NeedCategory.SHELTER)
    _, (mali_service,) = await add_partner(context, "ML", NeedCategory.REINTEGRATION)
    case = transnational("NE", "ML")
    await deliver(case)
    found = await referrals_of(context, case.case_id)
    (shelter,) = of_category(found, NeedCategory.SHELTER)
    (waiting,) = of_category(found, NeedCategory.REINTEGRATION)
    assert shelter.state is ReferralState.ROUTED  # help where the person is never waits
    assert (waiting.state, waiting.status_reason) == (ReferralState.UNROUTABLE, AWAITING)
    assert waiting.partner_id is None  # nothing went to a partner abroad
    (unroutable,) = [
        e for e in store.events_of(ReferralUnroutableV1) if e.referral_id == waiting.id
    ]
    assert unroutable.reason is AWAITING

    # A consent for another country, or one that lapsed, routes nothing.
    await deliver(consent(case.case_id, "SN"))
    await deliver(consent(case.case_id, "ML", expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    (still,) = of_category(await referrals_of(context, case.case_id), NeedCategory.REINTEGRATION)
    assert (still.state, still.status_reason) == (ReferralState.UNROUTABLE, AWAITING)

    await deliver(consent(case.case_id, "ML", "SN"))
    (routed,) = of_category(await referrals_of(context, case.case_id), NeedCategory.REINTEGRATION)
    assert routed.id == waiting.id
    assert (routed.state, routed.service_id) == (ReferralState.ROUTED, mali_service)


async def test_withdrawing_the_transfer_consent_stops_disclosure_there_and_a_new_one_refers_afresh(
    store: MemoryStore, context: ReferralContext, deliver: Deliver
) -> None:
    await add_partner(context, "NE", NeedCategory.SHELTER)
    await add_partner(context, "ML", NeedCategory.REINTEGRATION)
    case = transnational("NE", "ML")
    consent_id = uuid.uuid4()
    await deliver(case)
    await deliver(consent(case.case_id, "ML", "SN", consent_id=consent_id))
    (routed,) = of_category(await referrals_of(context, case.case_id), NeedCategory.REINTEGRATION)
    assert routed.state is ReferralState.ROUTED

    # Withdrawn for Senegal only: Mali's referral stands.
    await deliver(withdrawal(case.case_id, consent_id, "SN"))
    assert store.events_of(ReferralCancelledV1) == []

    await deliver(withdrawal(case.case_id, consent_id, "ML"))
    found = await referrals_of(context, case.case_id)
    (cancelled,) = of_category(found, NeedCategory.REINTEGRATION)
    assert cancelled.state is ReferralState.CANCELLED
    assert cancelled.status_reason is CancelReason.TRANSFER_CONSENT_WITHDRAWN
    (event,) = store.events_of(ReferralCancelledV1)
    assert event.partner_id == routed.partner_id  # the partner is told, and loses access
    (shelter,) = of_category(found, NeedCategory.SHELTER)
    assert shelter.state is ReferralState.ROUTED  # at home nothing changes

    # A later change of the case refers the need again, and it waits again.
    await deliver(
        CaseUpdatedV1(
            actor_id=CASEWORKER.actor_id,
            actor_role=ActorRole.CASEWORKER,
            case_id=case.case_id,
            profile=case.profile,
            safety=case.safety,
        )
    )
    again = of_category(await referrals_of(context, case.case_id), NeedCategory.REINTEGRATION)
    (waiting,) = [r for r in again if r.id != routed.id]
    assert (waiting.state, waiting.status_reason) == (ReferralState.UNROUTABLE, AWAITING)
    await deliver(consent(case.case_id, "ML"))
    (now_routed,) = [
        r
        for r in of_category(await referrals_of(context, case.case_id), NeedCategory.REINTEGRATION)
        if r.state is ReferralState.ROUTED
    ]
    assert now_routed.id == waiting.id


async def test_once_the_person_is_in_the_assistance_country_the_waiting_referral_is_routed(
    context: ReferralContext, deliver: Deliver
) -> None:
    _, (mali_service,) = await add_partner(context, "ML", NeedCategory.REINTEGRATION)
    case = transnational("NE", "ML")
    await deliver(case)
    now = datetime.now(UTC)
    assert not (await case_profile(context, case.case_id)).allows_transfer_to("ML", now)
    # The person arrived in Mali (intake moves the case's location on the hand-off).
    moved = case.profile.model_copy(update={"location": Location(country="ML")})
    await deliver(
        CaseUpdatedV1(
            actor_id=CASEWORKER.actor_id,
            actor_role=ActorRole.CASEWORKER,
            case_id=case.case_id,
            profile=moved,
            safety=case.safety,
        )
    )
    after = await case_profile(context, case.case_id)
    assert after.allows_transfer_to("ML", now)
    assert not after.allows_transfer_to("NE", now)  # home is abroad now
    (routed,) = of_category(await referrals_of(context, case.case_id), NeedCategory.REINTEGRATION)
    assert (routed.state, routed.service_id) == (ReferralState.ROUTED, mali_service)


async def case_profile(context: ReferralContext, case_id: uuid.UUID) -> CaseProfile:
    async with context.units_of_work() as uow:
        case = await uow.cases.get(case_id)
    assert case is not None
    return case
