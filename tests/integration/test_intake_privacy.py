"""Intake acceptance on the real stack: personal data stays encrypted and out of events,
erasure crypto-shreds it, partners see only what their accepted referrals need, and every
read of personal data is announced."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from mpa_common.auth import Role
from mpa_contracts.envelope import from_kafka_record, new_envelope
from mpa_contracts.events.access import PersonalDataAccessedV1
from mpa_contracts.events.referral import (
    ReferralAcceptedV1,
    ReferralCompletedV1,
    ReferralRoutedV1,
)
from mpa_contracts.events.safe_contact import ContactWithheldV1
from mpa_contracts.examples import example_event
from mpa_contracts.vocabularies import ActorRole, OutcomeCode, ReferralState
from tests.integration.intake_support import (
    ACCESS_TOPIC,
    CASE_TOPIC,
    FictionalPerson,
    IntakeUnderTest,
    case_body,
    header,
    intake_under_test,
    record_bytes,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def intake(bootstrap_servers: str) -> AsyncIterator[IntakeUnderTest]:
    async with intake_under_test(bootstrap_servers) as stack:
        yield stack


async def test_registration_event_and_database_hold_no_plaintext_personal_data(
    intake: IntakeUnderTest,
) -> None:
    person = FictionalPerson.new()
    result = await intake.register(case_body(person))
    case_id = uuid.UUID(result["case_id"])
    assert result["reference"].startswith(f"MPA-{datetime.now(UTC).year}-")

    records = await intake.records(CASE_TOPIC, key=case_id, expected=1)
    assert [header(r, "ce_type") for r in records] == ["org.mpa.case.registered.v1"]
    event = from_kafka_record(records[0].key, records[0].value, records[0].headers or [])
    payload = json.loads(records[0].value)
    # Routing attributes as codes: an age band instead of the date of birth.
    assert payload["profile"]["age_band"] == "30-38"
    assert payload["profile"]["location"] == {"country": "NE", "admin_area": "NE-1"}
    assert [n["category"] for n in payload["needs"]] == ["shelter", "legal_aid"]
    assert payload["consent"]["scopes"] == ["referral", "data_sharing"]
    assert event.subject == f"case/{case_id}"

    kafka_bytes = record_bytes(records[0])
    assert result["reference"].encode() in kafka_bytes  # the probe does see the payload
    for needle in [*person.needles, "1994-05-06", "Transit centre", "Needs a bed", "Texts only"]:
        assert needle.encode() not in kafka_bytes, "personal data in the Kafka record"
    assert await intake.plaintext_hits(person.needles) == []
    assert "cases.reference" in await intake.plaintext_hits([result["reference"]])
    # The one row holding personal data holds ciphertext and a wrapped key.
    (row,) = [r for r in await intake.raw_rows("cases") if r["case_id"] == case_id]
    assert row["master_key_id"] == intake.settings.master_keys.get_secret_value().split(":")[0]
    assert len(row["wrapped_data_key"]) == 1 + 12 + 32 + 16
    assert b"Testa" not in row["personal_data"]


async def test_every_read_of_personal_data_is_announced_before_the_answer(
    intake: IntakeUnderTest,
) -> None:
    person = FictionalPerson.new()
    case_id = uuid.UUID((await intake.register(case_body(person)))["case_id"])
    caseworker = intake.auth(Role.CASEWORKER, subject="cw-reader")

    response = await intake.client.get(
        f"/v1/cases/{case_id}", headers=caseworker, params={"purpose": "referral_follow_up"}
    )
    assert response.status_code == 200, response.text
    detail = response.json()
    assert detail["person"]["given_name"] == person.given_name
    assert detail["person"]["phone"] == person.phone
    assert [n["note"] for n in detail["needs"]] == [
        "Needs a bed tonight",
        "Residence papers expired",
    ]
    # Committed to the outbox before the answer: the row is there the moment we have it.
    staged = [
        r
        for r in await intake.raw_rows("outbox")
        if r["event_type"] == "org.mpa.access.personal_data_accessed.v1"
        and r["envelope"]["partitionkey"] == str(case_id)
    ]
    assert len(staged) == 1

    (record,) = await intake.records(ACCESS_TOPIC, key=case_id, expected=1)
    access = json.loads(record.value)
    assert access["actor_id"] == "caseworker:cw-reader"
    assert access["actor_role"] == "caseworker"
    assert access["purpose"] == "referral_follow_up"
    assert set(access["fields"]) == set(detail["disclosed_fields"])
    assert {"person.given_name", "person.phone", "person.email", "needs.note"} <= set(
        access["fields"]
    )
    for needle in person.needles:
        assert needle.encode() not in record_bytes(record)

    # An auditor never reads personal data, and a refused read announces nothing.
    refused = await intake.client.get(f"/v1/cases/{case_id}", headers=intake.auth(Role.AUDITOR))
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    await intake.client.get(f"/v1/cases/{case_id}", headers=caseworker)
    records = await intake.records(ACCESS_TOPIC, key=case_id, expected=3, timeout=3)
    assert len(records) == 2  # the two caseworker reads, not the auditor's attempt


async def test_list_shows_no_personal_data_and_is_not_an_access(
    intake: IntakeUnderTest,
) -> None:
    person = FictionalPerson.new()
    case_id = (await intake.register(case_body(person)))["case_id"]
    response = await intake.client.get(
        "/v1/cases", headers=intake.auth(Role.AUDITOR), params={"limit": 100}
    )
    assert response.status_code == 200
    assert case_id in {item["case_id"] for item in response.json()["items"]}
    assert not any(needle in response.text for needle in person.needles)


async def test_consent_withdrawal_is_an_event_after_the_registration(
    intake: IntakeUnderTest,
) -> None:
    case_id = uuid.UUID((await intake.register(case_body(FictionalPerson.new())))["case_id"])
    response = await intake.client.post(
        f"/v1/cases/{case_id}/consent",
        json={"action": "withdraw", "scopes": ["referral"]},
        headers=intake.auth(Role.CASEWORKER),
    )
    assert response.status_code == 200, response.text
    assert response.json()["consent"]["scopes"] == ["data_sharing"]

    records = await intake.records(CASE_TOPIC, key=case_id, expected=2)
    assert [header(r, "ce_type") for r in records] == [
        "org.mpa.case.registered.v1",
        "org.mpa.case.consent_withdrawn.v1",
    ]
    registered, withdrawn = (json.loads(r.value) for r in records)
    assert withdrawn["consent_id"] == registered["consent"]["consent_id"]
    assert withdrawn["withdrawn_scopes"] == ["referral"]
    # One story per case: the withdrawal carries the registration's correlation id.
    assert header(records[1], "ce_correlationid") == header(records[0], "ce_id")

    again = await intake.client.post(
        f"/v1/cases/{case_id}/consent",
        json={"action": "withdraw", "scopes": ["referral"]},
        headers=intake.auth(Role.CASEWORKER),
    )
    assert again.status_code == 409


async def test_registration_without_consent_says_so_in_the_routing_attributes(
    intake: IntakeUnderTest,
) -> None:
    body = case_body(FictionalPerson.new(), consent={"given": False})
    result = await intake.register(body)
    assert result["consent_scopes"] == []
    (record,) = await intake.records(CASE_TOPIC, key=uuid.UUID(result["case_id"]), expected=1)
    assert "consent" not in json.loads(record.value)


async def test_erasure_shreds_the_data_and_reads_answer_410(intake: IntakeUnderTest) -> None:
    person = FictionalPerson.new()
    case_id = uuid.UUID((await intake.register(case_body(person)))["case_id"])

    not_admin = await intake.client.delete(
        f"/v1/cases/{case_id}/personal-data", headers=intake.auth(Role.CASEWORKER)
    )
    assert not_admin.status_code == 403
    erased = await intake.client.delete(
        f"/v1/cases/{case_id}/personal-data", headers=intake.auth(Role.ADMIN, subject="dpo-1")
    )
    assert erased.status_code == 200, erased.text
    assert "person.given_name" in erased.json()["erased_fields"]

    (row,) = [r for r in await intake.raw_rows("cases") if r["case_id"] == case_id]
    assert row["personal_data"] is None
    assert row["wrapped_data_key"] is None
    assert row["master_key_id"] is None
    assert row["erased_at"] is not None
    assert row["reference"]  # the tombstone stays
    assert [r for r in await intake.raw_rows("case_match_keys") if r["case_id"] == case_id] == []
    assert await intake.plaintext_hits(person.needles) == []

    gone = await intake.client.get(f"/v1/cases/{case_id}", headers=intake.auth(Role.OPERATOR))
    assert gone.status_code == 410
    assert gone.headers["content-type"] == "application/problem+json"
    again = await intake.client.delete(
        f"/v1/cases/{case_id}/personal-data", headers=intake.auth(Role.ADMIN)
    )
    assert again.status_code == 410
    records = await intake.records(CASE_TOPIC, key=case_id, expected=2)
    assert header(records[-1], "ce_type") == "org.mpa.case.personal_data_erased.v1"
    assert json.loads(records[-1].value)["actor_id"] == "admin:dpo-1"


async def test_partner_reads_only_while_it_holds_an_accepted_referral(
    intake: IntakeUnderTest,
) -> None:
    person = FictionalPerson.new()
    result = await intake.register(case_body(person))
    case_id = uuid.UUID(result["case_id"])
    shelter_need, legal_need = (uuid.UUID(n) for n in result["need_ids"])
    partner_id, referral_id = uuid.uuid4(), uuid.uuid4()
    partner = intake.auth(Role.PARTNER, subject="shelter-staff", partner_id=partner_id)
    url = f"/v1/cases/{case_id}"

    assert (await intake.client.get(url, headers=partner)).status_code == 403

    # The referral service's events, as it publishes them (routed grants nothing yet).
    routed = example_event(ReferralRoutedV1.event_type).model_copy(
        update={"case_id": case_id, "need_id": shelter_need, "partner_id": partner_id}
    )
    accepted = ReferralAcceptedV1(
        actor_id="partner:shelter-staff",
        actor_role=ActorRole.PARTNER,
        referral_id=referral_id,
        case_id=case_id,
        need_id=shelter_need,
        partner_id=partner_id,
        service_id=uuid.uuid4(),
        start_due_at=datetime.now(UTC) + timedelta(days=1),
    )
    await intake.publish(new_envelope(routed, source="urn:mpa:service:referral"))
    await intake.publish(new_envelope(accepted, source="urn:mpa:service:referral"))

    async def partner_can_read() -> bool:
        return (await intake.client.get(url, headers=partner)).status_code == 200

    await intake.wait_until(partner_can_read, what="the accepted referral to grant access")
    detail = (await intake.client.get(url, headers=partner)).json()
    # Shelter, contact by SMS: names, age, gender identity, place, safe contact, the phone,
    # and the shelter need's note; not the e-mail, not the legal-aid note, not the consent.
    assert detail["person"]["given_name"] == person.given_name
    assert detail["person"]["date_of_birth"] == "1994-05-06"
    assert detail["person"]["phone"] == person.phone
    assert detail["person"]["email"] is None
    assert detail["location"]["place"] == "Transit centre, gate 2"
    assert [n["need_id"] for n in detail["needs"]] == [str(shelter_need)]
    assert detail["needs"][0]["note"] == "Needs a bed tonight"
    assert detail["consent"] is None
    assert "person.email" not in detail["disclosed_fields"]
    assert str(legal_need) not in json.dumps(detail)

    reads = await intake.records(
        ACCESS_TOPIC, key=case_id, expected=1, event_type=PersonalDataAccessedV1.event_type
    )
    access = [json.loads(r.value) for r in reads]
    # The e-mail, not the safe channel, was held back: recorded, without its value.
    # (one per read: the test read the case more than once)
    for withheld in await intake.records(
        ACCESS_TOPIC, key=case_id, expected=1, event_type=ContactWithheldV1.event_type
    ):
        assert json.loads(withheld.value)["withheld_fields"] == ["person.email"]
        assert person.email not in withheld.value.decode()
    assert access[0]["actor_partner_id"] == str(partner_id)
    assert access[0]["referral_id"] == str(referral_id)
    assert access[0]["purpose"] == "service_delivery"
    assert set(access[0]["fields"]) == set(detail["disclosed_fields"])

    # Another partner, and this one after the referral is completed: no access.
    stranger = intake.auth(Role.PARTNER, partner_id=uuid.uuid4())
    assert (await intake.client.get(url, headers=stranger)).status_code == 403
    completed = ReferralCompletedV1(
        actor_id="partner:shelter-staff",
        actor_role=ActorRole.PARTNER,
        referral_id=referral_id,
        case_id=case_id,
        need_id=shelter_need,
        partner_id=partner_id,
        service_id=accepted.service_id,
        outcome=OutcomeCode.SERVICE_PROVIDED,
    )
    await intake.publish(new_envelope(completed, source="urn:mpa:service:referral"))

    async def partner_refused() -> bool:
        return (await intake.client.get(url, headers=partner)).status_code == 403

    await intake.wait_until(partner_refused, what="the completed referral to end access")


async def test_withdrawing_data_sharing_ends_partner_access_at_once(
    intake: IntakeUnderTest,
) -> None:
    result = await intake.register(case_body(FictionalPerson.new()))
    case_id = uuid.UUID(result["case_id"])
    partner_id = uuid.uuid4()
    partner = intake.auth(Role.PARTNER, partner_id=partner_id)
    accepted = ReferralAcceptedV1(
        actor_id="partner:p-1",
        actor_role=ActorRole.PARTNER,
        referral_id=uuid.uuid4(),
        case_id=case_id,
        need_id=uuid.UUID(result["need_ids"][1]),
        partner_id=partner_id,
        service_id=uuid.uuid4(),
        start_due_at=datetime.now(UTC) + timedelta(days=1),
    )
    await intake.publish(new_envelope(accepted, source="urn:mpa:service:referral"))

    async def status() -> int:
        return (await intake.client.get(f"/v1/cases/{case_id}", headers=partner)).status_code

    async def readable() -> bool:
        return await status() == 200

    await intake.wait_until(readable, what="access through the accepted referral")
    withdrawn = await intake.client.post(
        f"/v1/cases/{case_id}/consent",
        json={"action": "withdraw", "scopes": ["data_sharing"]},
        headers=intake.auth(Role.CASEWORKER),
    )
    assert withdrawn.status_code == 200
    assert await status() == 403


async def test_partner_access_is_confirmed_by_the_referral_service_at_read_time(
    intake: IntakeUnderTest,
) -> None:
    """Defence in depth: the grant from the events says yes, but a referral the referral
    service no longer shows as accepted or in progress (its cancellation event lost) means
    no access; a referral service that cannot answer means 503 — never access — and
    nothing is announced for a refused read."""
    result = await intake.register(case_body(FictionalPerson.new()))
    case_id = uuid.UUID(result["case_id"])
    need_id = uuid.UUID(result["need_ids"][0])
    partner_id, referral_id = uuid.uuid4(), uuid.uuid4()
    partner = intake.auth(Role.PARTNER, partner_id=partner_id)
    url = f"/v1/cases/{case_id}"
    accepted = ReferralAcceptedV1(
        actor_id="partner:p-2",
        actor_role=ActorRole.PARTNER,
        referral_id=referral_id,
        case_id=case_id,
        need_id=need_id,
        partner_id=partner_id,
        service_id=uuid.uuid4(),
        start_due_at=datetime.now(UTC) + timedelta(days=1),
    )
    await intake.publish(new_envelope(accepted, source="urn:mpa:service:referral"))

    async def readable() -> bool:
        return (await intake.client.get(url, headers=partner)).status_code == 200

    await intake.wait_until(readable, what="access through the accepted referral")

    intake.referral_api.stop()
    try:
        down = await intake.client.get(url, headers=partner)
        assert down.status_code == 503, down.text
        assert down.headers["content-type"] == "application/problem+json"
        assert int(down.headers["retry-after"]) >= 1
        # Operators do not depend on the referral service.
        assert (await intake.client.get(url, headers=intake.auth(Role.OPERATOR))).status_code == 200
    finally:
        intake.referral_api.start()
    intake.referral_api.status = 500
    try:
        assert (await intake.client.get(url, headers=partner)).status_code == 503
    finally:
        intake.referral_api.status = 200
    assert await readable()

    # The cancellation happened in the referral service, but its event never came.
    intake.referral_api.set(
        referral_id,
        case_id=case_id,
        need_id=need_id,
        partner_id=partner_id,
        state=ReferralState.CANCELLED,
    )
    refused = await intake.client.get(url, headers=partner)
    assert refused.status_code == 403
    assert (await intake.client.get(url, headers=intake.auth(Role.OPERATOR))).status_code == 200
    access = [
        json.loads(r.value)
        for r in await intake.records(
            ACCESS_TOPIC,
            key=case_id,
            expected=5,
            timeout=5,
            event_type=PersonalDataAccessedV1.event_type,
        )
    ]
    # Two partner reads while the referral was live, two operator reads; none refused.
    assert sorted(a["actor_role"] for a in access) == ["operator", "operator", "partner", "partner"]
    grants = [r for r in await intake.raw_rows("partner_access_grants") if r["case_id"] == case_id]
    assert [g["active"] for g in grants] == [True]  # the grant alone would still say yes
