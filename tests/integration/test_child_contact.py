"""A child is never contacted on their own contact (issue 17, acceptance), on the real stack
(intake with real Kafka and PostgreSQL): a partner reading a child's case learns the
caseworker, then — once a guardian is appointed — the guardian's contact, and never the
child's phone, e-mail or safe-contact details; staff's contact checks are refused on every
channel with whom to contact instead; each refusal is an event on `mpa.access.v1` that holds
no contact at all."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from mpa_common.auth import Role
from mpa_contracts.envelope import new_envelope
from mpa_contracts.events.referral import ReferralAcceptedV1
from mpa_contracts.events.safe_contact import ContactWithheldV1
from mpa_contracts.vocabularies import ActorRole, SafeContactMethod
from tests.integration.intake_support import (
    ACCESS_TOPIC,
    FictionalPerson,
    IntakeUnderTest,
    case_body,
    intake_under_test,
)

pytestmark = pytest.mark.integration
GUARDIAN = "Maître Fictif, tuteur désigné, +227 90 11 22 33"


@pytest.fixture(scope="module")
async def intake(bootstrap_servers: str) -> AsyncIterator[IntakeUnderTest]:
    async with intake_under_test(bootstrap_servers) as stack:
        yield stack


async def test_notices_about_a_child_go_to_the_caseworker_or_guardian_never_the_child(
    intake: IntakeUnderTest,
) -> None:
    person = FictionalPerson.new()
    body = case_body(person)
    body["person"]["date_of_birth"] = "2012-03-04"
    body["vulnerabilities"] = ["unaccompanied_child"]
    body["consent"]["details"]["given_by"] = "legal_guardian"
    caseworker_id = f"cw-child-{uuid.uuid4().hex[:8]}"
    staff = intake.auth(Role.CASEWORKER, subject=caseworker_id)
    result = await intake.register(body, staff)
    case_id = uuid.UUID(result["case_id"])
    shelter_need = uuid.UUID(result["need_ids"][0])
    partner_id = uuid.uuid4()
    partner = intake.auth(Role.PARTNER, subject="child-shelter", partner_id=partner_id)
    url = f"/v1/cases/{case_id}"
    accepted = ReferralAcceptedV1(
        actor_id="partner:child-shelter",
        actor_role=ActorRole.PARTNER,
        referral_id=uuid.uuid4(),
        case_id=case_id,
        need_id=shelter_need,
        partner_id=partner_id,
        service_id=uuid.uuid4(),
        start_due_at=datetime.now(UTC) + timedelta(days=1),
    )
    await intake.publish(new_envelope(accepted, source="urn:mpa:service:referral"))

    async def partner_can_read() -> bool:
        return (await intake.client.get(url, headers=partner)).status_code == 200

    await intake.wait_until(partner_can_read, what="the accepted referral to grant access")
    secrets = (person.phone, person.email, "Texts only, after 18:00")

    # No guardian yet: the partner is sent to the caseworker who owns the case.
    first = await intake.client.get(url, headers=partner)
    detail = first.json()
    for secret in secrets:
        assert secret not in first.text
    assert detail["person"]["phone"] is None
    assert detail["contact_via"]["route"] == "caseworker"
    assert detail["contact_via"]["caseworker_id"].endswith(caseworker_id)

    # A guardian appointed with their contact: the partner is sent to the guardian.
    appointed = await intake.client.post(
        f"{url}/child/guardian",
        headers=staff,
        json={
            "appointed_at": "2026-01-06T10:00:00Z",
            "appointing_authority": "court",
            "note": GUARDIAN,
        },
    )
    assert appointed.status_code == 201, appointed.text
    second = await intake.client.get(url, headers=partner)
    assert second.status_code == 200
    for secret in secrets:
        assert secret not in second.text
    via = second.json()["contact_via"]
    assert via["route"] == "guardian"
    assert via["guardian_contact"] == GUARDIAN
    assert via["guardian_appointment_id"] == appointed.json()["guardian_appointment_id"]
    assert "casework.note" in second.json()["disclosed_fields"]

    # Staff asking before a contact: refused on every channel, told whom to contact.
    for channel in SafeContactMethod:
        check = await intake.client.post(
            f"{url}/contact-checks", headers=staff, json={"channel": channel.value}
        )
        assert check.status_code == 200, check.text
        answer = check.json()
        assert answer["allowed"] is False, channel
        assert answer["refusal"] == "child"
        assert answer["contact_via"]["route"] == "guardian"
        assert GUARDIAN not in check.text

    # Every withholding (three partner reads: the wait's and the two above) and refusal is
    # on the access topic, and none holds a contact.
    expected = 3 + len(SafeContactMethod)
    records = await intake.records(
        ACCESS_TOPIC, key=case_id, expected=expected, event_type=ContactWithheldV1.event_type
    )
    assert len(records) == expected
    payloads = [json.loads(r.value) for r in records]
    assert {p["reason"] for p in payloads} == {"child"}
    assert [p["path"] for p in payloads].count("partner_disclosure") == 3
    for record in records:
        for secret in (*secrets, GUARDIAN):
            assert secret not in record.value.decode()
    # The case's own staff still read the child's record.
    own = await intake.client.get(url, headers=staff)
    assert own.json()["person"]["phone"] == person.phone
