"""Cross-border work on the real stack (issue 17, acceptance): a transnational need is not
routed before the person's transfer consent names its country and is routed after (intake's
own events, carried from its topic to the referral service's); withdrawal cancels it; a
hand-off's travel is refused before the receiving office accepts; a role of another country
cannot accept; arrival closes the loop and moves the case's responsibility. No event
carries the person's data."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from mpa_common.auth import Role
from mpa_contracts.envelope import Envelope, from_kafka_record
from mpa_contracts.vocabularies import NeedCategory
from tests.integration.intake_support import (
    CASE_TOPIC,
    FictionalPerson,
    IntakeUnderTest,
    case_body,
    intake_under_test,
    record_bytes,
)
from tests.integration.referral_support import (
    ADMIN,
    ReferralStack,
    add_partner,
    eventually,
    open_referral_stack,
    referrals_of,
)

pytestmark = pytest.mark.integration
MALI = {"team": "ml-bamako-cm", "agency": "iom-ml", "country": "ML"}
SENEGAL = {"team": "sn-dakar-cm", "agency": "iom-sn", "country": "SN"}


@pytest.fixture(scope="module")
async def intake(bootstrap_servers: str) -> AsyncIterator[IntakeUnderTest]:
    async with intake_under_test(bootstrap_servers) as stack:
        yield stack


@pytest.fixture(scope="module")
async def referral_stack(bootstrap_servers: str) -> AsyncIterator[ReferralStack]:
    async for stack in open_referral_stack(bootstrap_servers):
        await stack.start_instance()
        yield stack


def transnational(person: FictionalPerson) -> dict[str, Any]:
    """A person in Niger who needs shelter there and reintegration in Mali."""
    return case_body(
        person,
        needs=[
            {"category": "shelter", "urgency": "high", "note": "A bed tonight"},
            {"category": "reintegration", "urgency": "medium", "assistance_country": "ML"},
        ],
    )


async def carried(
    intake: IntakeUnderTest,
    stack: ReferralStack,
    case_id: uuid.UUID,
    event_type: str,
    person: FictionalPerson,
) -> Envelope:
    """Intake's event of the case, read from intake's topic (checked for the person's data)
    and published, as it is, on the referral service's."""
    (record,) = await intake.records(CASE_TOPIC, key=case_id, expected=1, event_type=event_type)
    raw = record_bytes(record)
    for needle in (person.given_name, person.family_name, person.phone, person.email):
        assert needle.encode() not in raw, event_type
    envelope = from_kafka_record(record.key, record.value, list(record.headers or ()))
    await stack.publish(envelope)
    return envelope


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


async def test_a_transnational_need_is_routed_only_once_a_transfer_consent_names_its_country(
    intake: IntakeUnderTest, referral_stack: ReferralStack
) -> None:
    (service,) = referral_stack.instances
    referral = service.client
    await add_partner(referral, "NE", NeedCategory.SHELTER)
    _, (mali_service,) = await add_partner(referral, "ML", NeedCategory.REINTEGRATION)
    person = FictionalPerson.new()
    staff = intake.auth(Role.CASEWORKER)
    case_id = uuid.UUID((await intake.register(transnational(person), headers=staff))["case_id"])
    await carried(intake, referral_stack, case_id, "org.mpa.case.registered.v1", person)

    found = {r["category"]: r for r in await referrals_of(referral, case_id, expected=2)}
    assert found["shelter"]["state"] == "routed"  # help where the person is never waits
    waiting = found["reintegration"]
    assert (waiting["state"], waiting["status_reason"]) == (
        "unroutable",
        "awaiting_transfer_consent",
    )
    assert waiting["partner_id"] is None  # nothing was disclosed to a partner in Mali
    detail = (await referral.get(f"/v1/referrals/{waiting['id']}", headers=ADMIN)).json()
    assert [h["reason"] for h in detail["history"]][-1] == "awaiting_transfer_consent"
    shown = await intake.client.get(f"/v1/cases/{case_id}/cross-border", headers=staff)
    assert shown.status_code == 200, shown.text
    assert shown.json()["awaiting_transfer_consent"] == ["ML"]

    # Bad input is a problem, not an error: the country the person is in, a made-up code.
    for countries in (["NE"], ["Mali"]):
        refused = await intake.client.post(
            f"/v1/cases/{case_id}/transfer-consents",
            json={
                "destination_countries": countries,
                "given_by": "self",
                "method": "written",
                "obtained_at": "2026-03-01T09:00:00Z",
            },
            headers=staff,
        )
        problem(refused, 422)

    recorded = await intake.client.post(
        f"/v1/cases/{case_id}/transfer-consents",
        json={
            "destination_countries": ["ML"],
            "given_by": "self",
            "method": "written",
            "obtained_at": "2026-03-01T09:00:00Z",
        },
        headers=staff,
    )
    assert recorded.status_code == 201, recorded.text
    consent_id = recorded.json()["transfer_consent_id"]
    await carried(
        intake, referral_stack, case_id, "org.mpa.case.transfer_consent_recorded.v1", person
    )

    async def in_state(state: str) -> dict[str, Any] | None:
        page = await referral.get("/v1/referrals", params={"case_id": str(case_id)}, headers=ADMIN)
        mine = [r for r in page.json()["items"] if r["id"] == waiting["id"]]
        return mine[0] if mine and mine[0]["state"] == state else None

    async def routed() -> bool:
        return await in_state("routed") is not None

    await eventually(routed, 30, what="the transnational referral routed")
    now_routed = await in_state("routed")
    assert now_routed is not None
    assert now_routed["service_id"] == str(mali_service)

    # Withdrawn: no further disclosure in Mali; the referral there stops.
    withdrawn = await intake.client.post(
        f"/v1/cases/{case_id}/transfer-consents/{consent_id}/withdraw", json={}, headers=staff
    )
    assert withdrawn.status_code == 200, withdrawn.text
    await carried(
        intake, referral_stack, case_id, "org.mpa.case.transfer_consent_withdrawn.v1", person
    )

    async def cancelled() -> bool:
        return await in_state("cancelled") is not None

    await eventually(cancelled, 30, what="the transnational referral cancelled")
    stopped = await in_state("cancelled")
    assert stopped is not None
    assert stopped["status_reason"] == "transfer_consent_withdrawn"
    shelter = (await referral.get(f"/v1/referrals/{found['shelter']['id']}", headers=ADMIN)).json()
    assert shelter["state"] == "routed"


async def test_a_handoff_is_accepted_before_travel_by_the_receiving_office_and_arrival_closes_it(
    intake: IntakeUnderTest,
) -> None:
    person = FictionalPerson.new()
    sender = intake.auth(Role.CASEWORKER)
    case_id = uuid.UUID((await intake.register(transnational(person), headers=sender))["case_id"])
    travel = {
        "to_country": "ML",
        "planned_travel_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
    }
    # Without the person's consent to their data going to Mali, no hand-off there.
    unconsented = await intake.client.post(
        f"/v1/cases/{case_id}/handoffs", json=travel, headers=sender
    )
    assert "no transfer consent" in problem(unconsented, 409)["detail"]
    consent = await intake.client.post(
        f"/v1/cases/{case_id}/transfer-consents",
        json={
            "destination_countries": ["ML"],
            "given_by": "self",
            "method": "verbal",
            "obtained_at": datetime.now(UTC).isoformat(),
        },
        headers=sender,
    )
    assert consent.status_code == 201, consent.text
    asked = await intake.client.post(f"/v1/cases/{case_id}/handoffs", json=travel, headers=sender)
    assert asked.status_code == 201, asked.text
    handoff = f"/v1/cases/{case_id}/handoffs/{asked.json()['handoff_id']}"

    # Travel before the receiving office accepted responsibility: refused.
    early = await intake.client.post(
        f"{handoff}/departure", json={"departed_at": datetime.now(UTC).isoformat()}, headers=sender
    )
    assert "accepted" in problem(early, 409)["detail"]

    # A role of another country cannot accept; nor can the sending office.
    for other in (
        intake.auth(Role.OPERATOR, **SENEGAL),
        intake.auth(Role.SUPERVISOR, **SENEGAL),
        intake.auth(Role.OPERATOR),
    ):
        problem(await intake.client.post(f"{handoff}/accept", headers=other), 403)
    # Nor a partner, whatever its country.
    partner = intake.auth(Role.PARTNER, partner_id=uuid.uuid4(), **MALI)
    problem(await intake.client.post(f"{handoff}/accept", headers=partner), 403)

    mali_subject = f"op-{uuid.uuid4().hex[:8]}"
    mali = intake.auth(Role.OPERATOR, subject=mali_subject, **MALI)
    inbox = await intake.client.get("/v1/handoffs", headers=mali)
    assert asked.json()["handoff_id"] in [h["handoff_id"] for h in inbox.json()["items"]]
    accepted = await intake.client.post(f"{handoff}/accept", headers=mali)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "accepted"

    departed = await intake.client.post(
        f"{handoff}/departure", json={"departed_at": datetime.now(UTC).isoformat()}, headers=sender
    )
    assert departed.status_code == 200, departed.text
    arrival = {"arrived_at": datetime.now(UTC).isoformat()}
    problem(
        await intake.client.post(
            f"{handoff}/arrival", json=arrival, headers=intake.auth(Role.OPERATOR, **SENEGAL)
        ),
        403,
    )
    arrived = await intake.client.post(
        f"{handoff}/arrival", json=arrival, headers=intake.auth(Role.CASEWORKER, **MALI)
    )
    assert arrived.status_code == 200, arrived.text
    assert arrived.json()["state"] == "arrived"
    transfer_id = arrived.json()["transfer_id"]

    # The loop is closed: the case is Mali's, owned by who accepted responsibility.
    shown = await intake.client.get(f"/v1/cases/{case_id}/cross-border", headers=mali)
    assert shown.status_code == 200, shown.text
    view = shown.json()
    assert (view["country"], view["owner_country"]) == ("ML", "ML")
    assert [h["state"] for h in view["handoffs"]] == ["arrived"]
    assert view["awaiting_transfer_consent"] == []  # reintegration in Mali is at home now
    problem(await intake.client.post(f"{handoff}/arrival", json=arrival, headers=mali), 409)
    # And no longer the sending office's to change.
    problem(
        await intake.client.post(
            f"/v1/cases/{case_id}/handoffs",
            json={**travel, "to_country": "SN"},
            headers=sender,
        ),
        403,
    )

    steps = {
        "org.mpa.case.handoff_requested.v1",
        "org.mpa.case.handoff_accepted.v1",
        "org.mpa.case.handoff_departed.v1",
        "org.mpa.case.transfer_requested.v1",
        "org.mpa.case.transfer_accepted.v1",
        "org.mpa.case.handoff_arrived.v1",
    }
    seen: dict[str, Any] = {}
    for step in steps:
        (record,) = await intake.records(CASE_TOPIC, key=case_id, expected=1, event_type=step)
        raw = record_bytes(record)
        for needle in (person.given_name, person.family_name, person.phone, person.email):
            assert needle.encode() not in raw, step
        seen[step] = from_kafka_record(record.key, record.value, list(record.headers or ())).data
    moved: Any = seen["org.mpa.case.transfer_accepted.v1"]
    assert (moved.owner_country, moved.owner_id) == ("ML", f"operator:{mali_subject}")
    closed: Any = seen["org.mpa.case.handoff_arrived.v1"]
    assert str(closed.transfer_id) == transfer_id == str(moved.transfer_id)
    assert (closed.from_country, closed.to_country, closed.departure_recorded) == (
        "NE",
        "ML",
        True,
    )
    accepted_event: Any = seen["org.mpa.case.handoff_accepted.v1"]
    assert accepted_event.actor_id == f"operator:{mali_subject}"
