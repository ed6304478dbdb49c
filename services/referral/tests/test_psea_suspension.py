"""A substantiated PSEA allegation suspends the implicated partner (issue 17), through the
handler table as the consumer runs it: the directory's administrative suspension, which
the partner's staff cannot lift; an outcome that does not ask for it changes nothing."""

from __future__ import annotations

import uuid

import pytest

from mpa_common.failures import EventRejected
from mpa_contracts.events.directory import PartnerDeactivatedV1
from mpa_contracts.events.psea import PseaInvestigationConcludedV1
from mpa_contracts.examples import example_event
from mpa_contracts.vocabularies import ActorRole, DeactivationReason, NeedCategory
from mpa_referral.app.common import ReferralContext
from mpa_referral.handlers import CaseEventHandlers
from mpa_referral.testing import MemoryStore, add_partner, delivery_of


def concluded(partner_id: uuid.UUID, *, suspend: bool) -> PseaInvestigationConcludedV1:
    example = example_event(PseaInvestigationConcludedV1.event_type)
    return example.model_copy(  # type: ignore[return-value]
        update={"implicated_partner_id": partner_id, "suspend_partner": suspend}
    )


async def handle(context: ReferralContext, data: PseaInvestigationConcludedV1) -> None:
    entry = CaseEventHandlers(context).subscription().entry_for(data.event_type)
    assert entry is not None
    async with context.units_of_work() as uow:
        await entry.handler(uow, data, delivery_of(data))
        await uow.commit()


async def test_a_substantiated_allegation_suspends_the_partner_once(
    store: MemoryStore, context: ReferralContext
) -> None:
    partner, _ = await add_partner(context, "NE", NeedCategory.SHELTER)
    await handle(context, concluded(partner, suspend=False))
    assert store.partners[partner]["active"] is True
    await handle(context, concluded(partner, suspend=True))
    assert store.partners[partner]["active"] is False
    assert store.partners[partner]["deactivation_reason"] == DeactivationReason.SUSPENDED.value
    (suspended,) = [e for e in store.events_of() if isinstance(e, PartnerDeactivatedV1)]
    assert suspended.reason is DeactivationReason.SUSPENDED
    assert suspended.actor_role is ActorRole.SYSTEM
    await handle(context, concluded(partner, suspend=True))  # already suspended: nothing more
    assert len([e for e in store.events_of() if isinstance(e, PartnerDeactivatedV1)]) == 1


async def test_an_unknown_partner_is_rejected(context: ReferralContext) -> None:
    with pytest.raises(EventRejected) as rejected:
        await handle(context, concluded(uuid.uuid4(), suspend=True))
    assert rejected.value.reason == "unknown_partner"
