"""Free text and directory contacts reach only who needs them, on the real stack (issue 12,
findings 3, 5 and 6): a partner reads only its own entries, notes and line of the routing
explanation; an auditor reads actions, reasons and actors but no free text; notes are
encrypted at rest and destroyed when the case's personal data is erased; a partner cannot
lift an administrator's suspension; contacts go only to roles that reach partners, and a
partner that only runs GBV services is hidden like them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from mpa_common.auth import Role
from mpa_contracts.events.case import CasePersonalDataErasedV1
from mpa_contracts.vocabularies import (
    ActorRole,
    ErasureBasis,
    NeedCategory,
    PersonalDataField,
    Urgency,
)
from tests.integration.referral_support import (
    ADMIN,
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

DECLINE_NOTE = "Declined: the person's cousin works at our shelter (fictional)"
ACCEPT_NOTE = "Accepted; first visit Tuesday (fictional)"


@pytest.fixture(scope="module")
async def stack(bootstrap_servers: str) -> AsyncIterator[ReferralStack]:
    async for opened in open_referral_stack(bootstrap_servers):
        yield opened


@pytest.fixture(scope="module")
async def service(stack: ReferralStack) -> ReferralService:
    return await stack.start_instance()


async def detail(service: ReferralService, referral_id: str, headers: dict[str, str]) -> Any:
    answer = await service.client.get(f"/v1/referrals/{referral_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def declined_then_accepted(
    stack: ReferralStack, service: ReferralService
) -> tuple[str, uuid.UUID, uuid.UUID, uuid.UUID]:
    """A referral partner A declined with a note and partner B accepted with one; the person
    refused partner C. Returns (referral id, A, B, case id)."""
    client = service.client
    country = stack.new_country()
    first, _ = await add_partner(client, country, NeedCategory.SHELTER)
    second, _ = await add_partner(
        client, country, NeedCategory.SHELTER, service_fields={"languages": ["en"]}
    )
    refused, _ = await add_partner(client, country, NeedCategory.SHELTER)
    case = registered(
        country, [(NeedCategory.SHELTER, Urgency.HIGH)], refused_partner_ids=(refused,)
    )
    await stack.publish(envelope(case))
    (referral,) = await referrals_of(client, case.case_id, 1)
    assert referral["partner_id"] == str(first)
    path = f"/v1/referrals/{referral['id']}"
    declined = await client.post(
        f"{path}/decline",
        json={"reason": "not_eligible", "note": DECLINE_NOTE},
        headers=token(Role.PARTNER, first),
    )
    assert declined.status_code == 200, declined.text
    accepted = await client.post(
        f"{path}/accept", json={"note": ACCEPT_NOTE}, headers=token(Role.PARTNER, second)
    )
    assert accepted.status_code == 200, accepted.text
    return referral["id"], first, second, case.case_id


async def test_a_partner_reads_only_its_own_entries_notes_and_line_of_the_explanation(
    stack: ReferralStack, service: ReferralService
) -> None:
    referral_id, first, second, _ = await declined_then_accepted(stack, service)
    seen = await detail(service, referral_id, token(Role.PARTNER, second))
    assert [h["event_type"].split(".")[3] for h in seen["history"]] == ["routed", "accepted"]
    assert [h["note"] for h in seen["history"]] == [None, ACCEPT_NOTE]
    assert DECLINE_NOTE not in str(seen)
    # Only the routing that chose it, and in it only its own line: not whom else routing
    # considered, nor what the person refused.
    (attempt,) = seen["explanation"]
    assert attempt["partner_id"] == str(second)
    assert {c["partner_id"] for c in attempt["candidates"]} == {str(second)}
    assert str(first) not in str(seen["explanation"])
    assert "consent_refused_partner" not in str(seen)
    fhir = await service.client.get(
        f"/v1/referrals/{referral_id}/fhir", headers=token(Role.PARTNER, second)
    )
    assert len(fhir.json()["relevantHistory"]) == 2
    # The referring side sees the whole story, notes included.
    full = await detail(service, referral_id, OPERATOR)
    assert len(full["history"]) == 6
    assert {DECLINE_NOTE, ACCEPT_NOTE} <= {h["note"] for h in full["history"]}
    assert "consent_refused_partner" in str(full["explanation"])


async def test_an_auditor_reads_actions_reasons_and_actors_but_no_free_text(
    stack: ReferralStack, service: ReferralService
) -> None:
    referral_id, *_ = await declined_then_accepted(stack, service)
    audited = await detail(service, referral_id, token(Role.AUDITOR))
    assert [h["note"] for h in audited["history"]] == [None] * 6
    declined = next(h for h in audited["history"] if h["event_type"].endswith(".declined.v1"))
    assert (declined["reason"], declined["actor_role"]) == ("not_eligible", "partner")
    assert declined["actor_id"].startswith("partner:")


async def test_notes_are_encrypted_at_rest_and_destroyed_with_the_persons_data(
    stack: ReferralStack, service: ReferralService
) -> None:
    referral_id, _, _, case_id = await declined_then_accepted(stack, service)
    # Nowhere in the stored rows, whatever their columns, is the text readable.
    rows = await stack.sql(
        "SELECT count(*) FROM referral_history h WHERE h.referral_id = :id "
        "AND (h::text LIKE '%fictional%')",
        id=uuid.UUID(referral_id),
    )
    assert rows[0][0] == 0
    before = await detail(service, referral_id, OPERATOR)
    await stack.publish(
        envelope(
            CasePersonalDataErasedV1(
                case_id=case_id,
                basis=ErasureBasis.DATA_SUBJECT_REQUEST,
                erased_fields=(PersonalDataField.PERSON_GIVEN_NAME,),
                actor_id="admin:test-dpo",
                actor_role=ActorRole.ADMIN,
            )
        )
    )

    async def erased() -> bool:
        body = await detail(service, referral_id, OPERATOR)
        return all(h["note"] is None for h in body["history"])

    await eventually(erased, what="the notes destroyed after the erasure")
    after = await detail(service, referral_id, OPERATOR)
    # The history stays, entry for entry; only the text is gone (the ciphertext too).
    assert [(h["event_id"], h["reason"]) for h in after["history"]] == [
        (h["event_id"], h["reason"]) for h in before["history"]
    ]
    (sealed,) = await stack.sql(
        "SELECT count(*) FILTER (WHERE note_sealed IS NOT NULL),"
        " count(*) FILTER (WHERE note_erased) FROM referral_history WHERE referral_id = :id",
        id=uuid.UUID(referral_id),
    )
    assert tuple(sealed) == (0, 2)


async def test_a_partner_cannot_lift_an_administrators_suspension(
    stack: ReferralStack, service: ReferralService
) -> None:
    client = service.client
    partner, (service_id,) = await add_partner(client, stack.new_country(), NeedCategory.FOOD)
    path = f"/v1/partners/{partner}/services/{service_id}"
    own = token(Role.PARTNER, partner)
    suspended = await client.patch(
        path, json={"status": "inactive", "deactivation_reason": "suspended"}, headers=ADMIN
    )
    assert suspended.status_code == 200, suspended.text
    lifted = await client.patch(path, json={"status": "active"}, headers=own)
    assert lifted.status_code == 403
    assert lifted.headers["content-type"] == "application/problem+json"
    reworded = await client.patch(path, json={"deactivation_reason": "other"}, headers=own)
    assert reworded.status_code == 403
    listed = (await client.get(f"/v1/partners/{partner}/services", headers=ADMIN)).json()
    assert (listed[0]["status"], listed[0]["deactivation_reason"]) == ("inactive", "suspended")
    # Capacity is still the partner's to report, and the administrator lifts the suspension.
    assert (await client.patch(path, json={"capacity_total": 4}, headers=own)).status_code == 200
    back = await client.patch(path, json={"status": "active"}, headers=ADMIN)
    assert back.status_code == 200, back.text
    # A partner's own deactivation stays the partner's to lift.
    paused = await client.patch(
        path, json={"status": "inactive", "deactivation_reason": "suspended"}, headers=own
    )
    assert paused.status_code == 200, paused.text
    assert (await client.patch(path, json={"status": "active"}, headers=own)).status_code == 200


async def test_contacts_only_for_roles_that_reach_partners_and_gbv_only_partners_hidden(
    stack: ReferralStack, service: ReferralService
) -> None:
    client = service.client
    country = stack.new_country()
    ordinary, _ = await add_partner(client, country, NeedCategory.FOOD)
    gbv_only, (safe_house,) = await add_partner(
        client, country, NeedCategory.SHELTER, service_fields={"gbv_sensitive": True}
    )

    async def partners(headers: dict[str, str]) -> dict[str, Any]:
        answer = await client.get("/v1/partners", params={"country": country}, headers=headers)
        assert answer.status_code == 200, answer.text
        return {p["id"]: p for p in answer.json()}

    for role in (Role.OPERATOR, Role.CASEWORKER, Role.SUPERVISOR, Role.ADMIN):
        seen = await partners(token(role))
        assert set(seen) == {str(ordinary), str(gbv_only)}
        assert seen[str(ordinary)]["contacts"][0]["email"] == "desk@partner.example"
    audited = await partners(token(Role.AUDITOR))
    assert set(audited) == {str(ordinary)}  # the GBV-only partner is hidden like its services
    assert audited[str(ordinary)]["contacts"] == []
    other = await partners(token(Role.PARTNER, uuid.uuid4()))
    assert set(other) == {str(ordinary)}
    assert other[str(ordinary)]["contacts"] == []
    own = await partners(token(Role.PARTNER, gbv_only))
    assert own[str(gbv_only)]["contacts"] != []  # its own organisation, in full
    assert own[str(ordinary)]["contacts"] == []
    one = await client.get(f"/v1/partners/{gbv_only}", headers=token(Role.AUDITOR))
    assert one.status_code == 404
    services = await client.get(
        "/v1/services", params={"country": country}, headers=token(Role.AUDITOR)
    )
    assert str(safe_house) not in {s["id"] for s in services.json()}
    assert all(s["contacts"] == [] for s in services.json())
