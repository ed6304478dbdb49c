"""Referral service on the real stack: directory, routing from intake's case events,
the partner lifecycle, consent cascades and capacity under concurrency (issue 7)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from mpa_common.auth import Role
from mpa_common.uow import Cause
from mpa_contracts.events.case import ConsentWithdrawnV1
from mpa_contracts.vocabularies import (
    ActorRole,
    AgeBand,
    ConsentOverrideReason,
    ConsentScope,
    NeedCategory,
    PartnerType,
    Urgency,
    Vulnerability,
)
from mpa_referral.app.case_events import case_registered
from mpa_referral.app.request import RequestReferral, request_referral
from mpa_referral.domain.actors import Actor
from mpa_referral.domain.disclosure import Viewer
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


async def test_directory_changes_are_validated_authorised_and_emitted(
    stack: ReferralStack, service: ReferralService
) -> None:
    client = service.client
    country = stack.new_country()
    partner_id, (service_id,) = await add_partner(
        client,
        country,
        NeedCategory.SHELTER,
        service_fields={"capacity_total": 5, "capacity_available": 5},
    )
    # Only admins register; bad input names the field, never the value.
    assert (await client.post("/v1/partners", json={}, headers=OPERATOR)).status_code == 403
    bad = await client.post(
        f"/v1/partners/{partner_id}/services",
        json={
            "name": "x",
            "category": "shelter",
            "coverage": [{"country": country}],
            "languages": ["fr"],
            "min_age": 16,
            "max_age": 17,
        },
        headers=ADMIN,
    )
    assert bad.status_code == 422
    assert "min_age" in bad.json()["detail"]
    # The partner's own staff may change capacity and status, nothing else, and only its own.
    own = token(Role.PARTNER, partner_id)
    path = f"/v1/partners/{partner_id}/services/{service_id}"
    changed = await client.patch(path, json={"capacity_available": 2}, headers=own)
    assert changed.status_code == 200
    assert changed.json()["capacity_available"] == 2
    assert (await client.patch(path, json={"name": "Renamed"}, headers=own)).status_code == 403
    other = token(Role.PARTNER, uuid.uuid4())
    assert (
        await client.patch(path, json={"capacity_available": 1}, headers=other)
    ).status_code == 404
    listed = await client.get(
        "/v1/services", params={"country": country, "category": "shelter"}, headers=OPERATOR
    )
    assert [s["id"] for s in listed.json()] == [str(service_id)]
    # Every change went through the outbox as a directory event without contacts.
    rows = await stack.sql(
        "SELECT event_type, envelope::text FROM outbox WHERE kafka_key = :key ORDER BY position",
        key=str(partner_id).encode(),
    )
    types = [r[0] for r in rows]
    assert types == [
        "org.mpa.directory.partner_registered.v1",
        "org.mpa.directory.service_registered.v1",
        "org.mpa.directory.service_capacity_changed.v1",
    ]
    assert all("desk@partner.example" not in r[1] for r in rows)


async def test_a_case_with_three_needs_gets_three_routed_referrals_with_explanations(
    stack: ReferralStack, service: ReferralService
) -> None:
    client = service.client
    country = stack.new_country()
    _, services = await add_partner(
        client, country, NeedCategory.SHELTER, NeedCategory.MEDICAL, NeedCategory.LEGAL_AID
    )
    case = registered(
        country,
        [
            (NeedCategory.SHELTER, Urgency.HIGH),
            (NeedCategory.MEDICAL, Urgency.CRITICAL),
            (NeedCategory.LEGAL_AID, Urgency.LOW),
        ],
    )
    await stack.publish(envelope(case))
    found = await referrals_of(client, case.case_id, 3)
    assert {r["state"] for r in found} == {"routed"}
    assert {uuid.UUID(r["service_id"]) for r in found} == set(services)
    detail = (await client.get(f"/v1/referrals/{found[0]['id']}", headers=OPERATOR)).json()
    (decision,) = detail["explanation"]
    chosen = decision["candidates"][0]
    assert chosen["rule"] == "eligible"
    assert chosen["rank"] == 1
    assert 0 < chosen["score"] <= 1
    assert [h["to_state"] for h in detail["history"]] == ["requested", "routed"]
    fhir = (await client.get(f"/v1/referrals/{found[0]['id']}/fhir", headers=OPERATOR)).json()
    assert fhir["resourceType"] == "Task"
    assert fhir["status"] == "received"
    assert fhir["intent"] == "order"
    assert len(fhir["relevantHistory"]) == 2


async def test_an_unaccompanied_child_always_gets_the_child_protection_authority(
    stack: ReferralStack, service: ReferralService
) -> None:
    client = service.client
    country = stack.new_country()
    authority, _ = await add_partner(
        client,
        country,
        NeedCategory.CHILD_PROTECTION,
        partner_type=PartnerType.GOVERNMENT_AGENCY,
        designations=["child_protection_authority"],
    )
    await add_partner(
        client, country, NeedCategory.CHILD_PROTECTION, NeedCategory.FOOD
    )  # not designated
    # Only food was asked for, and the person refused government agencies: the statutory
    # referral is made all the same.
    case = registered(
        country,
        [(NeedCategory.FOOD, Urgency.MEDIUM)],
        vulnerabilities=(Vulnerability.UNACCOMPANIED_CHILD,),
        age_band=AgeBand.AGE_9_17,
        refused_partner_types=(PartnerType.GOVERNMENT_AGENCY,),
    )
    await stack.publish(envelope(case))
    found = await referrals_of(client, case.case_id, 2)
    protection = next(r for r in found if r["category"] == "child_protection")
    assert protection["state"] == "routed"
    assert protection["partner_id"] == str(authority)
    assert protection["mandatory_rule"] == "child_protection_authority"
    detail = (await client.get(f"/v1/referrals/{protection['id']}", headers=OPERATOR)).json()
    rules = {c["rule"] for c in detail["explanation"][0]["candidates"]}
    assert rules == {"eligible", "not_designated"}


async def test_consent_restrictions_exclude_a_partner_and_a_partner_type(
    stack: ReferralStack, service: ReferralService
) -> None:
    client = service.client
    country = stack.new_country()
    refused, _ = await add_partner(client, country, NeedCategory.SHELTER)
    await add_partner(
        client, country, NeedCategory.SHELTER, partner_type=PartnerType.GOVERNMENT_AGENCY
    )
    accepted, _ = await add_partner(
        client, country, NeedCategory.SHELTER, partner_type=PartnerType.UN_AGENCY
    )
    case = registered(
        country,
        [(NeedCategory.SHELTER, Urgency.HIGH)],
        refused_partner_ids=(refused,),
        refused_partner_types=(PartnerType.GOVERNMENT_AGENCY,),
    )
    await stack.publish(envelope(case))
    (referral,) = await referrals_of(client, case.case_id, 1)
    assert referral["partner_id"] == str(accepted)
    detail = (await client.get(f"/v1/referrals/{referral['id']}", headers=OPERATOR)).json()
    rules = sorted(c["rule"] for c in detail["explanation"][0]["candidates"])
    assert rules == ["consent_refused_partner", "consent_refused_partner_type", "eligible"]


async def test_partner_lifecycle_isolation_illegal_transitions_and_decline_reroutes(
    stack: ReferralStack, service: ReferralService
) -> None:
    client = service.client
    country = stack.new_country()
    first, _ = await add_partner(
        client,
        country,
        NeedCategory.MHPSS,
        service_fields={"languages": ["fr", "en"], "capacity_total": 3, "capacity_available": 3},
    )
    second, _ = await add_partner(
        client, country, NeedCategory.MHPSS, service_fields={"languages": ["en"]}
    )
    case = registered(country, [(NeedCategory.MHPSS, Urgency.HIGH)])
    await stack.publish(envelope(case))
    (referral,) = await referrals_of(client, case.case_id, 1)
    assert referral["partner_id"] == str(first)  # speaks the person's language
    path = f"/v1/referrals/{referral['id']}"
    mine, theirs = token(Role.PARTNER, first), token(Role.PARTNER, second)
    # Another partner neither sees nor acts on it.
    assert (await client.get(path, headers=theirs)).status_code == 404
    assert (await client.post(f"{path}/accept", headers=theirs)).status_code == 404
    assert (await client.get("/v1/referrals", headers=theirs)).json()["items"] == []
    # Illegal transition: 409 problem+json.
    illegal = await client.post(
        f"{path}/complete", json={"outcome": "service_provided"}, headers=mine
    )
    assert illegal.status_code == 409
    assert illegal.headers["content-type"] == "application/problem+json"
    # A decline re-routes at once to the next candidate and frees the place.
    declined = await client.post(
        f"{path}/decline", json={"reason": "lack_of_capacity"}, headers=mine
    )
    assert declined.status_code == 200, declined.text
    assert declined.json()["state"] == "declined"
    body = (await client.get(path, headers=OPERATOR)).json()
    assert body["state"] == "routed"
    assert body["partner_id"] == str(second)
    assert body["reroute_count"] == 1
    assert [h["to_state"] for h in body["history"]] == [
        "requested",
        "routed",
        "declined",
        "requested",
        "routed",
    ]
    assert (await client.get(path, headers=mine)).status_code == 404  # no longer the holder
    # The new holder takes it through to completion.
    for action, payload in (
        ("accept", None),
        ("start", None),
        ("hold", {"reason": "awaiting_client"}),
        ("resume", None),
        ("complete", {"outcome": "service_provided", "note": "done"}),
    ):
        answer = await client.post(f"{path}/{action}", json=payload, headers=theirs)
        assert answer.status_code == 200, (action, answer.text)
    assert answer.json()["state"] == "completed"
    services = (await client.get(f"/v1/partners/{first}/services", headers=ADMIN)).json()
    assert services[0]["capacity_available"] == 3


async def test_consent_withdrawal_cancels_open_referrals(
    stack: ReferralStack, service: ReferralService
) -> None:
    client = service.client
    country = stack.new_country()
    await add_partner(client, country, NeedCategory.SHELTER, NeedCategory.FOOD)
    case = registered(
        country, [(NeedCategory.SHELTER, Urgency.HIGH), (NeedCategory.FOOD, Urgency.LOW)]
    )
    await stack.publish(envelope(case))
    await referrals_of(client, case.case_id, 2)
    assert case.consent is not None
    withdrawn = ConsentWithdrawnV1(
        case_id=case.case_id,
        consent_id=case.consent.consent_id,
        withdrawn_scopes=(ConsentScope.REFERRAL,),
        actor_id=CASEWORKER,
        actor_role=ActorRole.CASEWORKER,
    )
    await stack.publish(envelope(withdrawn))

    async def all_cancelled() -> bool:
        page = (
            await client.get(
                "/v1/referrals", params={"case_id": str(case.case_id)}, headers=OPERATOR
            )
        ).json()
        return {r["state"] for r in page["items"]} == {"cancelled"}

    await eventually(all_cancelled, what="referrals cancelled")
    page = (
        await client.get("/v1/referrals", params={"case_id": str(case.case_id)}, headers=OPERATOR)
    ).json()
    assert {r["status_reason"] for r in page["items"]} == {"consent_withdrawn"}


async def test_capacity_is_never_over_allocated_under_concurrent_routing(
    stack: ReferralStack, service: ReferralService
) -> None:
    client = service.client
    country = stack.new_country()
    _, (service_id,) = await add_partner(
        client,
        country,
        NeedCategory.SHELTER,
        service_fields={"capacity_total": 10, "capacity_available": 10},
    )
    cases = [
        registered(country, [(NeedCategory.SHELTER, Urgency.HIGH)], consent=False)
        for _ in range(50)
    ]
    context = service.referral
    async with stack.uow(service) as uow:  # the read model, without consent: nothing routed yet
        for case in cases:
            await case_registered(uow, context.policy, case, Cause(uuid.uuid4()), context.clock())
        await uow.commit()
    # 50 routings at once through the use case, each in its own transaction, as 50 case
    # events or requests would run them (a supervisor's override stands in for consent).
    actor = Actor("supervisor:test", ActorRole.SUPERVISOR)

    async def route_one(index: int) -> str:
        case = cases[index]
        view = await request_referral(
            context,
            RequestReferral(
                case_id=case.case_id,
                need_id=case.needs[0].need_id,
                actor=actor,
                viewer=Viewer.referrer(),
                consent_override_reason=ConsentOverrideReason.RISK_TO_LIFE,
            ),
        )
        return str(view.referral.state)

    states = await asyncio.gather(*(route_one(i) for i in range(50)))
    assert states.count("routed") == 10
    assert states.count("unroutable") == 40
    (available,) = await stack.sql(
        "SELECT capacity_available FROM services WHERE id = :id", id=service_id
    )
    assert available[0] == 0
