"""What changes in the directory or in a person's consent do to open referrals, on the real
stack (issue 7): a service or partner that leaves the directory sends the referrals it holds
that have not started back to routing (work in progress stays), releasing its places; a new
consent that refuses a partner, or a kind of partner, cancels what that partner holds and
refers the need afresh; the statutory child-protection referral stays."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from mpa_common.auth import Role
from mpa_contracts.events.case import ConsentRecordedV1
from mpa_contracts.vocabularies import (
    ActorRole,
    AgeBand,
    NeedCategory,
    PartnerType,
    Urgency,
    Vulnerability,
)
from tests.integration.referral_support import (
    ADMIN,
    CASEWORKER,
    OPERATOR,
    ReferralService,
    ReferralStack,
    add_partner,
    envelope,
    eventually,
    open_referral_stack,
    referrals_of,
    registered,
    token,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def stack(bootstrap_servers: str) -> AsyncIterator[ReferralStack]:
    async for opened in open_referral_stack(bootstrap_servers):
        yield opened


@pytest.fixture(scope="module")
async def service(stack: ReferralStack) -> ReferralService:
    return await stack.start_instance()


async def referral(service: ReferralService, referral_id: str) -> dict[str, Any]:
    answer = await service.client.get(f"/v1/referrals/{referral_id}", headers=OPERATOR)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def act(
    service: ReferralService, partner_id: uuid.UUID, referral_id: str, action: str
) -> None:
    answer = await service.client.post(
        f"/v1/referrals/{referral_id}/{action}", headers=token(Role.PARTNER, partner_id)
    )
    assert answer.status_code == 200, answer.text


async def capacity(service: ReferralService, partner_id: uuid.UUID) -> int:
    (listed,) = (
        await service.client.get(f"/v1/partners/{partner_id}/services", headers=ADMIN)
    ).json()
    return int(listed["capacity_available"])


async def events_about(stack: ReferralStack, aggregate_id: uuid.UUID) -> list[str]:
    rows = await stack.sql(
        "SELECT event_type FROM outbox WHERE envelope->>'subject' LIKE :subject ORDER BY position",
        subject=f"%/{aggregate_id}",
    )
    return [row[0].split(".")[3] for row in rows]


async def test_a_deactivated_service_sends_what_it_holds_back_to_routing(
    stack: ReferralStack, service: ReferralService
) -> None:
    client = service.client
    country = stack.new_country()
    leaving, (leaving_service,) = await add_partner(
        client,
        country,
        NeedCategory.SHELTER,
        service_fields={"capacity_total": 5, "capacity_available": 5},
    )
    staying, _ = await add_partner(
        client, country, NeedCategory.SHELTER, service_fields={"languages": ["en"]}
    )
    cases = [registered(country, [(NeedCategory.SHELTER, Urgency.HIGH)]) for _ in range(3)]
    await stack.publish(*(envelope(c) for c in cases))
    routed, accepted, started = [(await referrals_of(client, c.case_id, 1))[0] for c in cases]
    assert {r["partner_id"] for r in (routed, accepted, started)} == {str(leaving)}
    await act(service, leaving, accepted["id"], "accept")
    await act(service, leaving, started["id"], "accept")
    await act(service, leaving, started["id"], "start")
    assert await capacity(service, leaving) == 2

    path = f"/v1/partners/{leaving}/services/{leaving_service}"
    no_reason = await client.patch(path, json={"status": "inactive"}, headers=ADMIN)
    assert no_reason.status_code == 422
    assert "deactivation_reason" in no_reason.json()["detail"]
    # The partner's own staff may take its service out of the directory.
    own = token(Role.PARTNER, leaving)
    answer = await client.patch(
        path, json={"status": "inactive", "deactivation_reason": "suspended"}, headers=own
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["deactivation_reason"] == "suspended"

    for moved in (routed, accepted):
        body = await referral(service, moved["id"])
        assert body["state"] == "routed"
        assert body["partner_id"] == str(staying)
        assert body["accepted_at"] is None
        rerouted = [h for h in body["history"] if h["event_type"].endswith(".rerouted.v1")]
        assert [h["reason"] for h in rerouted] == ["service_deactivated"]
    # Work in progress stays with the partner, which may still finish it.
    assert (await referral(service, started["id"]))["partner_id"] == str(leaving)
    done = await client.post(
        f"/v1/referrals/{started['id']}/complete",
        json={"outcome": "service_provided"},
        headers=own,
    )
    assert done.status_code == 200, done.text
    assert await capacity(service, leaving) == 5  # every place it held is free again
    assert (await events_about(stack, leaving_service))[-1] == "service_deactivated"
    assert "service_updated" not in await events_about(stack, leaving_service)


async def test_a_deactivated_partner_hands_its_referrals_on_and_gets_them_back_on_return(
    stack: ReferralStack, service: ReferralService
) -> None:
    client = service.client
    country = stack.new_country()
    leaving, _ = await add_partner(client, country, NeedCategory.FOOD, NeedCategory.LEGAL_AID)
    staying, _ = await add_partner(
        client, country, NeedCategory.FOOD, service_fields={"languages": ["en"]}
    )
    case = registered(
        country, [(NeedCategory.FOOD, Urgency.MEDIUM), (NeedCategory.LEGAL_AID, Urgency.LOW)]
    )
    await stack.publish(envelope(case))
    food, legal = sorted(await referrals_of(client, case.case_id, 2), key=lambda r: r["category"])
    assert food["partner_id"] == legal["partner_id"] == str(leaving)

    answer = await client.patch(
        f"/v1/partners/{leaving}",
        json={"active": False, "deactivation_reason": "agreement_ended"},
        headers=ADMIN,
    )
    assert answer.status_code == 200, answer.text
    assert "partner_deactivated" in await events_about(stack, leaving)
    assert (await referral(service, food["id"]))["partner_id"] == str(staying)
    # Nobody else gives legal aid there: unroutable until the directory changes...
    stranded = await referral(service, legal["id"])
    assert stranded["state"] == "unroutable"
    assert stranded["status_reason"] == "all_candidates_excluded"
    # ...and the partner's return is such a change: it gets the referral back.
    back = await client.patch(f"/v1/partners/{leaving}", json={"active": True}, headers=ADMIN)
    assert back.status_code == 200, back.text

    async def routed_again() -> bool:
        body = await referral(service, legal["id"])
        return bool(body["state"] == "routed" and body["partner_id"] == str(leaving))

    await eventually(routed_again, timeout=10, what="the unroutable referral retried")


async def test_a_consent_refusing_partners_cancels_their_referrals_and_refers_again(
    stack: ReferralStack, service: ReferralService
) -> None:
    client = service.client
    country = stack.new_country()
    government, _ = await add_partner(
        client,
        country,
        NeedCategory.CHILD_PROTECTION,
        NeedCategory.FOOD,
        partner_type=PartnerType.GOVERNMENT_AGENCY,
        designations=("child_protection_authority",),
    )
    ngo, _ = await add_partner(
        client, country, NeedCategory.FOOD, service_fields={"languages": ["en"]}
    )
    shelter, _ = await add_partner(
        client,
        country,
        NeedCategory.SHELTER,
        service_fields={"capacity_total": 2, "capacity_available": 2},
    )
    un_agency, _ = await add_partner(
        client,
        country,
        NeedCategory.SHELTER,
        partner_type=PartnerType.UN_AGENCY,
        service_fields={"languages": ["en"]},
    )
    case = registered(
        country,
        [(NeedCategory.FOOD, Urgency.MEDIUM), (NeedCategory.SHELTER, Urgency.HIGH)],
        vulnerabilities=(Vulnerability.UNACCOMPANIED_CHILD,),
        age_band=AgeBand.AGE_9_17,
    )
    await stack.publish(envelope(case))
    before = {r["category"]: r for r in await referrals_of(client, case.case_id, 3)}
    assert before["food"]["partner_id"] == str(government)
    assert before["child_protection"]["partner_id"] == str(government)
    assert before["shelter"]["partner_id"] == str(shelter)
    await act(service, shelter, before["shelter"]["id"], "accept")
    await act(service, shelter, before["shelter"]["id"], "start")
    assert await capacity(service, shelter) == 1

    # The person now refuses government agencies and the shelter's organisation.
    assert case.consent is not None
    renewed = case.consent.model_copy(
        update={
            "consent_id": uuid.uuid4(),
            "refused_partner_ids": (shelter,),
            "refused_partner_types": (PartnerType.GOVERNMENT_AGENCY,),
        }
    )
    await stack.publish(
        envelope(
            ConsentRecordedV1(
                case_id=case.case_id,
                consent=renewed,
                actor_id=CASEWORKER,
                actor_role=ActorRole.CASEWORKER,
            )
        )
    )
    after: list[dict[str, Any]] = []

    async def re_referred() -> bool:
        nonlocal after
        after = await referrals_of(client, case.case_id, 5)
        return len(after) == 5

    await eventually(re_referred, what="the refused partners' needs referred again")
    for category in ("food", "shelter"):  # in progress or not, the refused partner stops
        old = await referral(service, before[category]["id"])
        assert old["state"] == "cancelled"
        assert old["status_reason"] == "consent_withdrawn"
    fresh = {r["category"]: r for r in after if r["id"] not in {b["id"] for b in before.values()}}
    assert fresh["food"]["state"] == fresh["shelter"]["state"] == "routed"
    assert fresh["food"]["partner_id"] == str(ngo)
    assert fresh["shelter"]["partner_id"] == str(un_agency)
    assert await capacity(service, shelter) == 2
    # The statutory referral to the child-protection authority is made whatever is refused.
    statutory = await referral(service, before["child_protection"]["id"])
    assert statutory["state"] == "routed"
    assert statutory["partner_id"] == str(government)
