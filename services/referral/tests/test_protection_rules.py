"""Protection rules in routing (issue 17), on the in-memory store: no return or
family-reunification referral of an unaccompanied or separated child before a best-interests
determination (automatic referrals wait unroutable with that reason, one by hand is refused),
both go ahead after it; and assistance never depends on cooperating with the authorities."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from mpa_contracts.events.protection import BestInterestsDeterminedV1
from mpa_contracts.events.referral import ReferralUnroutableV1
from mpa_contracts.vocabularies import (
    ActorRole,
    AgeBand,
    BestInterestsOption,
    NeedCategory,
    ReferralState,
    UnroutableReason,
    Urgency,
    Vulnerability,
)
from mpa_referral.app.common import ReferralContext
from mpa_referral.app.request import RequestReferral, request_referral
from mpa_referral.domain.cases import CaseProfile
from mpa_referral.domain.disclosure import Viewer
from mpa_referral.domain.errors import BestInterestsDeterminationRequired
from mpa_referral.domain.routing import RoutingRequest
from mpa_referral.testing import CASEWORKER, MemoryStore, add_partner, registered

Deliver = Callable[[Any], Awaitable[Any]]
DETERMINED = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)


def determined(case_id: uuid.UUID) -> BestInterestsDeterminedV1:
    return BestInterestsDeterminedV1(
        actor_id="caseworker:cw-1",
        actor_role=ActorRole.CASEWORKER,
        case_id=case_id,
        determination_id=uuid.uuid4(),
        determined_at=DETERMINED,
        panel_size=3,
        decision=BestInterestsOption.RETURN_TO_COUNTRY_OF_ORIGIN,
        approval_id=uuid.uuid4(),
        approved_by="supervisor:sv-1",
    )


async def _states(store: MemoryStore, case_id: uuid.UUID) -> dict[NeedCategory, ReferralState]:
    return {r.category: r.state for r in store.referrals.values() if r.case_id == case_id}


async def test_a_separated_childs_return_waits_for_the_determination_then_is_routed(
    store: MemoryStore, context: ReferralContext, deliver: Deliver
) -> None:
    _, (ret, shelter) = await add_partner(
        context, "NE", NeedCategory.RETURN_ASSISTANCE, NeedCategory.SHELTER
    )
    case = registered(
        "NE",
        [(NeedCategory.RETURN_ASSISTANCE, Urgency.HIGH), (NeedCategory.SHELTER, Urgency.HIGH)],
        vulnerabilities=(Vulnerability.SEPARATED_CHILD,),
        age_band=AgeBand.AGE_9_17,
    )
    await deliver(case)
    states = await _states(store, case.case_id)
    assert states[NeedCategory.SHELTER] is ReferralState.ROUTED  # other help does not wait
    assert states[NeedCategory.RETURN_ASSISTANCE] is ReferralState.UNROUTABLE
    (unroutable,) = [
        e
        for e in store.events_of(ReferralUnroutableV1)
        if e.category is NeedCategory.RETURN_ASSISTANCE
    ]
    assert unroutable.reason is UnroutableReason.BEST_INTERESTS_DETERMINATION_REQUIRED
    await deliver(determined(case.case_id))
    states = await _states(store, case.case_id)
    assert states[NeedCategory.RETURN_ASSISTANCE] is ReferralState.ROUTED
    referral = next(
        r for r in store.referrals.values() if r.category is NeedCategory.RETURN_ASSISTANCE
    )
    assert referral.service_id == ret
    assert store.cases[case.case_id][0].best_interests_determined_at == DETERMINED
    # A replay of the determination routes nothing twice.
    await deliver(determined(case.case_id))
    assert (
        sum(
            r.case_id == case.case_id and r.category is NeedCategory.RETURN_ASSISTANCE
            for r in store.referrals.values()
        )
        == 1
    )
    assert shelter


async def test_a_return_referral_by_hand_is_refused_before_and_allowed_after(
    store: MemoryStore, context: ReferralContext, deliver: Deliver
) -> None:
    await add_partner(context, "NE", NeedCategory.FAMILY_TRACING)
    case = registered(
        "NE",
        [(NeedCategory.FAMILY_TRACING, Urgency.MEDIUM)],
        vulnerabilities=(Vulnerability.UNACCOMPANIED_CHILD,),
        age_band=AgeBand.AGE_0_8,
    )
    await deliver(case)
    (need,) = case.needs
    # Not even the automatic one was routed; cancel it to refer by hand.
    (waiting,) = [r for r in store.referrals.values() if r.need_id == need.need_id]
    assert waiting.state is ReferralState.UNROUTABLE
    del store.referrals[waiting.id]
    command = RequestReferral(
        case_id=case.case_id, need_id=need.need_id, actor=CASEWORKER, viewer=Viewer.referrer()
    )
    with pytest.raises(BestInterestsDeterminationRequired, match="best-interests determination"):
        await request_referral(context, command)
    assert not [r for r in store.referrals.values() if r.need_id == need.need_id]
    stored, reference = store.cases[case.case_id]
    store.cases[case.case_id] = (
        dataclasses.replace(stored, best_interests_determined_at=DETERMINED),
        reference,
    )
    view = await request_referral(context, command)
    assert view.referral.state is ReferralState.ROUTED


async def test_adults_and_accompanied_children_are_not_held_back(
    store: MemoryStore, context: ReferralContext, deliver: Deliver
) -> None:
    await add_partner(context, "NE", NeedCategory.RETURN_ASSISTANCE)
    adult_victim = registered(
        "NE",
        [(NeedCategory.RETURN_ASSISTANCE, Urgency.HIGH)],
        vulnerabilities=(Vulnerability.TRAFFICKING_VICTIM,),
    )
    child_with_family = registered(
        "NE", [(NeedCategory.RETURN_ASSISTANCE, Urgency.HIGH)], age_band=AgeBand.AGE_9_17
    )
    for case in (adult_victim, child_with_family):
        await deliver(case)
        states = await _states(store, case.case_id)
        assert states[NeedCategory.RETURN_ASSISTANCE] is ReferralState.ROUTED


async def test_routing_never_asks_about_cooperation_with_the_authorities(
    store: MemoryStore, context: ReferralContext, deliver: Deliver
) -> None:
    """Council of Europe Convention art. 12(6): assistance is not conditional on the
    person's willingness to act as a witness. Nothing routing reads can say it: neither the
    case's read model nor a routing request has such a field, and a presumed victim with
    no identification decision at all is routed to every need."""
    for model in (CaseProfile, RoutingRequest):
        names = {f.name for f in dataclasses.fields(model)}
        assert not {n for n in names if "cooperat" in n or "identification" in n or "witness" in n}
    await add_partner(
        context, "NE", NeedCategory.SHELTER, NeedCategory.MEDICAL, NeedCategory.LEGAL_AID
    )
    case = registered(
        "NE",
        [
            (NeedCategory.SHELTER, Urgency.CRITICAL),
            (NeedCategory.MEDICAL, Urgency.HIGH),
            (NeedCategory.LEGAL_AID, Urgency.MEDIUM),
        ],
        vulnerabilities=(Vulnerability.TRAFFICKING_VICTIM,),
    )
    await deliver(case)
    assert set((await _states(store, case.case_id)).values()) == {ReferralState.ROUTED}
