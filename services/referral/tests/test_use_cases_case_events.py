"""Case events through the handler table and their use cases, on the in-memory store: the
read model, routing with mandatory rules, consent cascades, closure, erasure (milliseconds
each, no server)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from mpa_common.failures import EventRejected
from mpa_contracts.events.case import (
    CaseClosedV1,
    CaseNeedsAddedV1,
    CasePersonalDataErasedV1,
    CaseUpdatedV1,
    ConsentRecordedV1,
    ConsentWithdrawnV1,
    Need,
)
from mpa_contracts.events.referral import (
    ReferralCancelledV1,
    ReferralRequestedV1,
    ReferralRoutedV1,
    ReferralUnroutableV1,
)
from mpa_contracts.vocabularies import (
    AgeBand,
    CaseClosureReason,
    ConsentScope,
    ErasureBasis,
    NeedCategory,
    PartnerType,
    PersonalDataField,
    ReferralState,
    Urgency,
    Vulnerability,
)
from mpa_referral.app.common import ReferralContext
from mpa_referral.app.ports import ReferralFilter
from mpa_referral.app.queries import ListReferrals, list_referrals
from mpa_referral.domain.directory import DesignationRole
from mpa_referral.domain.disclosure import Viewer
from mpa_referral.domain.referral import Referral
from mpa_referral.handlers import CaseEventHandlers
from mpa_referral.testing import CASEWORKER, MemoryStore, add_partner, registered

Deliver = Callable[[Any], Awaitable[Any]]


async def referrals_of(context: ReferralContext, case_id: uuid.UUID) -> list[Referral]:
    page = await list_referrals(
        context, ListReferrals(Viewer.referrer(), ReferralFilter(case_id=case_id), limit=50)
    )
    return page.items


def test_the_handler_table_names_every_case_event() -> None:
    subscription = CaseEventHandlers(MemoryStore().context()).subscription()
    assert subscription.group == "mpa-referral.cases"
    # The case events (the best-interests determination and transfer consents among them),
    # the person's feedback and PSEA outcomes (mpa.psea.v1), issue 17.
    assert subscription.topics == ("mpa.case.v1", "mpa.psea.v1")
    assert len(subscription.event_types) == 10 + 2


async def test_a_registered_case_gets_each_need_routed_once(
    store: MemoryStore, context: ReferralContext, deliver: Deliver
) -> None:
    _, (shelter, medical) = await add_partner(
        context, "NE", NeedCategory.SHELTER, NeedCategory.MEDICAL
    )
    case = registered(
        "NE", [(NeedCategory.SHELTER, Urgency.HIGH), (NeedCategory.MEDICAL, Urgency.LOW)]
    )
    delivery = await deliver(case)
    found = await referrals_of(context, case.case_id)
    assert {(r.state, r.service_id) for r in found} == {
        (ReferralState.ROUTED, shelter),
        (ReferralState.ROUTED, medical),
    }
    events = [e for e in store.events if isinstance(e.data, ReferralRoutedV1)]
    assert {e.correlation_id for e in events} == {delivery.envelope.correlation_id}
    assert {e.causation_id for e in events} == {delivery.envelope.id}
    # A replay of the registration refers nothing twice.
    await deliver(case)
    assert len(await referrals_of(context, case.case_id)) == 2
    assert len(store.events_of(ReferralRequestedV1)) == 2


async def test_a_separated_child_gets_the_statutory_referral_whatever_it_refused(
    store: MemoryStore, context: ReferralContext, deliver: Deliver
) -> None:
    authority, _ = await add_partner(
        context,
        "ML",
        NeedCategory.CHILD_PROTECTION,
        partner_type=PartnerType.GOVERNMENT_AGENCY,
        designations=[DesignationRole.CHILD_PROTECTION_AUTHORITY],
    )
    await add_partner(context, "ML", NeedCategory.FOOD)
    case = registered(
        "ML",
        [(NeedCategory.FOOD, Urgency.MEDIUM)],
        vulnerabilities=[Vulnerability.SEPARATED_CHILD],
        age_band=AgeBand.AGE_9_17,
        refused_partner_types=[PartnerType.GOVERNMENT_AGENCY],
    )
    await deliver(case)
    found = {r.category: r for r in await referrals_of(context, case.case_id)}
    protection = found[NeedCategory.CHILD_PROTECTION]
    assert protection.partner_id == authority
    assert protection.statutory
    assert protection.requested_by == "system:referral"
    # Consent withdrawn: everything stops but the statutory referral.
    assert case.consent is not None
    await deliver(
        ConsentWithdrawnV1(
            case_id=case.case_id,
            consent_id=case.consent.consent_id,
            withdrawn_scopes=(ConsentScope.REFERRAL,),
            actor_id=CASEWORKER.actor_id,
            actor_role=CASEWORKER.role,
        )
    )
    after = {r.category: r.state for r in await referrals_of(context, case.case_id)}
    assert after == {
        NeedCategory.CHILD_PROTECTION: ReferralState.ROUTED,
        NeedCategory.FOOD: ReferralState.CANCELLED,
    }
    stored = store.cases[case.case_id][0]
    assert stored.consent is not None
    assert stored.consent.scopes == {ConsentScope.DATA_SHARING}


async def test_without_consent_nothing_is_referred_and_no_one_is_designated(
    context: ReferralContext, deliver: Deliver
) -> None:
    await add_partner(context, "QA", NeedCategory.SHELTER)
    case = registered(
        "QA",
        [(NeedCategory.SHELTER, Urgency.HIGH)],
        consent=False,
        vulnerabilities=[Vulnerability.TRAFFICKING_VICTIM],
    )
    await deliver(case)
    assert await referrals_of(context, case.case_id) == []


async def test_a_need_nobody_serves_is_unroutable_with_its_reason(
    store: MemoryStore, context: ReferralContext, deliver: Deliver
) -> None:
    case = registered("QB", [(NeedCategory.CASH, Urgency.LOW)])
    await deliver(case)
    (referral,) = await referrals_of(context, case.case_id)
    assert referral.state is ReferralState.UNROUTABLE
    (event,) = store.events_of(ReferralUnroutableV1)
    assert isinstance(event, ReferralUnroutableV1)
    assert event.reason.value == "no_matching_service"


async def test_updates_and_added_needs_refer_what_is_new(
    context: ReferralContext, deliver: Deliver
) -> None:
    await add_partner(context, "QC", NeedCategory.SHELTER, NeedCategory.LEGAL_AID)
    case = registered("QC", [(NeedCategory.SHELTER, Urgency.HIGH)])
    await deliver(case)
    await deliver(
        CaseNeedsAddedV1(
            case_id=case.case_id,
            needs=(
                Need(need_id=uuid.uuid4(), category=NeedCategory.LEGAL_AID, urgency=Urgency.LOW),
            ),
            actor_id=CASEWORKER.actor_id,
            actor_role=CASEWORKER.role,
        )
    )
    await deliver(
        CaseUpdatedV1(
            case_id=case.case_id,
            profile=case.profile,
            safety=case.safety,
            actor_id=CASEWORKER.actor_id,
            actor_role=CASEWORKER.role,
        )
    )
    assert {r.category for r in await referrals_of(context, case.case_id)} == {
        NeedCategory.SHELTER,
        NeedCategory.LEGAL_AID,
    }


async def test_a_consent_refusing_the_holder_cancels_and_refers_afresh(
    context: ReferralContext, deliver: Deliver
) -> None:
    first, _ = await add_partner(context, "QD", NeedCategory.FOOD)
    second, _ = await add_partner(context, "QD", NeedCategory.FOOD, languages=["en"])
    case = registered("QD", [(NeedCategory.FOOD, Urgency.MEDIUM)])
    await deliver(case)
    (before,) = await referrals_of(context, case.case_id)
    assert before.partner_id == first
    assert case.consent is not None
    renewed = case.consent.model_copy(
        update={"consent_id": uuid.uuid4(), "refused_partner_ids": (first,)}
    )
    await deliver(
        ConsentRecordedV1(
            case_id=case.case_id,
            consent=renewed,
            actor_id=CASEWORKER.actor_id,
            actor_role=CASEWORKER.role,
        )
    )
    by_state = {r.state: r for r in await referrals_of(context, case.case_id)}
    assert by_state[ReferralState.CANCELLED].id == before.id
    assert by_state[ReferralState.CANCELLED].status_reason.value == "consent_withdrawn"  # type: ignore[union-attr]
    assert by_state[ReferralState.ROUTED].partner_id == second


async def test_closing_a_case_cancels_everything_open(
    store: MemoryStore, context: ReferralContext, deliver: Deliver
) -> None:
    await add_partner(context, "QE", NeedCategory.SHELTER)
    case = registered("QE", [(NeedCategory.SHELTER, Urgency.HIGH)])
    await deliver(case)
    await deliver(
        CaseClosedV1(
            case_id=case.case_id,
            reason=CaseClosureReason.NEEDS_MET,
            actor_id=CASEWORKER.actor_id,
            actor_role=CASEWORKER.role,
        )
    )
    (referral,) = await referrals_of(context, case.case_id)
    assert referral.state is ReferralState.CANCELLED
    (cancelled,) = store.events_of(ReferralCancelledV1)
    assert isinstance(cancelled, ReferralCancelledV1)
    assert cancelled.reason.value == "case_closed"


async def test_events_about_unknown_cases_are_rejected(deliver: Deliver) -> None:
    with pytest.raises(EventRejected) as rejected:
        await deliver(
            CaseClosedV1(
                case_id=uuid.uuid4(),
                reason=CaseClosureReason.OTHER,
                actor_id=CASEWORKER.actor_id,
                actor_role=CASEWORKER.role,
            )
        )
    assert rejected.value.reason == "unknown_case"


async def test_an_erasure_destroys_the_notes_but_keeps_the_history(
    store: MemoryStore, context: ReferralContext, deliver: Deliver
) -> None:
    await add_partner(context, "QF", NeedCategory.SHELTER)
    case = registered("QF", [(NeedCategory.SHELTER, Urgency.HIGH)])
    await deliver(case)
    (referral,) = await referrals_of(context, case.case_id)
    entries = store.history[referral.id]
    store.history[referral.id] = [dataclasses.replace(e, note="free text") for e in entries]
    await deliver(
        CasePersonalDataErasedV1(
            case_id=case.case_id,
            basis=ErasureBasis.DATA_SUBJECT_REQUEST,
            erased_fields=(PersonalDataField.PERSON_GIVEN_NAME,),
            actor_id="admin:dpo",
            actor_role=CASEWORKER.role,
        )
    )
    after = store.history[referral.id]
    assert len(after) == len(entries)
    assert all(e.note is None and e.note_erased for e in after)
    assert store.cases[case.case_id][0].personal_data_erased
    # Erasing a case never seen here is not an error: there is nothing to erase.
    await deliver(
        CasePersonalDataErasedV1(
            case_id=uuid.uuid4(),
            basis=ErasureBasis.DATA_SUBJECT_REQUEST,
            erased_fields=(PersonalDataField.PERSON_GIVEN_NAME,),
            actor_id="admin:dpo",
            actor_role=CASEWORKER.role,
        )
    )
