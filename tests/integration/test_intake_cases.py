"""Intake case lifecycle on the real stack: idempotent registration, validation that writes
nothing, possible duplicates, updates, needs, closing, listing."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from mpa_common.auth import Role
from tests.integration.intake_support import (
    CASE_TOPIC,
    FictionalPerson,
    IntakeUnderTest,
    case_body,
    header,
    intake_under_test,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def intake(bootstrap_servers: str) -> AsyncIterator[IntakeUnderTest]:
    async with intake_under_test(bootstrap_servers) as stack:
        yield stack


async def _events_by(intake: IntakeUnderTest, actor_id: str) -> list[dict[str, object]]:
    return [r for r in await intake.raw_rows("outbox") if r["envelope"].get("actorid") == actor_id]


async def test_a_retry_with_the_same_key_returns_the_first_result(intake: IntakeUnderTest) -> None:
    op_retry = f"op-retry-{uuid.uuid4().hex[:8]}"
    operator = {**intake.auth(Role.OPERATOR, subject=op_retry), "Idempotency-Key": "form-7"}
    body = case_body(FictionalPerson.new())
    first = await intake.client.post("/v1/cases", json=body, headers=operator)
    again = await intake.client.post("/v1/cases", json=body, headers=operator)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert re.fullmatch(r"MPA-\d{4}-\d{6}", first.json()["reference"])
    assert len(await _events_by(intake, f"operator:{op_retry}")) == 1

    other = await intake.client.post(
        "/v1/cases", json=case_body(FictionalPerson.new()), headers=operator
    )
    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    assert len(await _events_by(intake, f"operator:{op_retry}")) == 1

    # Keys belong to the caller: another operator's same key is a new registration.
    someone_else = {**intake.auth(Role.OPERATOR), "Idempotency-Key": "form-7"}
    assert (await intake.client.post("/v1/cases", json=body, headers=someone_else)).json()[
        "case_id"
    ] != first.json()["case_id"]


@pytest.mark.parametrize("keyed", [True, False], ids=["keyed", "unkeyed"])
@pytest.mark.parametrize("matchable", [True, False], ids=["match-keys", "no-match-keys"])
async def test_every_shape_of_registration_is_stored_with_its_event(
    intake: IntakeUnderTest, keyed: bool, matchable: bool
) -> None:
    """With or without an Idempotency-Key, with or without what duplicate matching keys on
    (a date of birth, a phone): the one registration statement takes each shape."""
    subject = f"op-shape-{uuid.uuid4().hex[:8]}"
    headers = intake.auth(Role.OPERATOR, subject=subject)
    if keyed:
        headers["Idempotency-Key"] = f"shape-{uuid.uuid4().hex[:8]}"
    body = case_body(FictionalPerson.new())
    if not matchable:
        body["person"].pop("date_of_birth")
        body["person"]["estimated_age"] = 30
        body["person"].pop("phone")
        body["safety"]["safe_contact_method"] = "through_caseworker"
        body["safety"].pop("safe_contact_details")
    response = await intake.client.post("/v1/cases", json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert re.fullmatch(r"MPA-\d{4}-\d{6}", response.json()["reference"])
    assert response.json()["possible_duplicates"] == []
    (event,) = await _events_by(intake, f"operator:{subject}")
    assert event["envelope"]["data"]["case_reference"] == response.json()["reference"]


async def test_concurrent_retries_register_once(intake: IntakeUnderTest) -> None:
    op_race = f"op-race-{uuid.uuid4().hex[:8]}"
    operator = {**intake.auth(Role.OPERATOR, subject=op_race), "Idempotency-Key": "race-1"}
    body = case_body(FictionalPerson.new())
    responses = await asyncio.gather(
        *(intake.client.post("/v1/cases", json=body, headers=operator) for _ in range(4))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["case_id"] for r in responses}) == 1
    assert len(await _events_by(intake, f"operator:{op_race}")) == 1


async def test_invalid_requests_name_each_field_and_write_nothing(
    intake: IntakeUnderTest,
) -> None:
    person = FictionalPerson.new()
    op_invalid = f"op-invalid-{uuid.uuid4().hex[:8]}"
    operator = {**intake.auth(Role.OPERATOR, subject=op_invalid), "Idempotency-Key": "bad-1"}
    body = case_body(person)
    body["person"]["date_of_birth"] = "not a date"
    body["person"]["phone"] = "call me " + person.phone
    body["location"]["admin_area"] = "NG-1"  # not in NE
    body["needs"] = []
    response = await intake.client.post("/v1/cases", json=body, headers=operator)
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {
        "body.person.date_of_birth",
        "body.person.phone",
        "body.location",
        "body.needs",
    }
    assert person.phone not in response.text  # reasons, never values

    # Domain rules: a child does not consent alone; child-only vulnerabilities need a child.
    child = case_body(person, vulnerabilities=["unaccompanied_child"])
    child["person"]["date_of_birth"] = "2015-01-01"
    child["vulnerabilities"] = ["unaccompanied_child"]
    response = await intake.client.post("/v1/cases", json=child, headers=operator)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.consent.details.given_by"]
    adult = case_body(person, vulnerabilities=["separated_child"])
    response = await intake.client.post("/v1/cases", json=adult, headers=operator)
    assert [e["field"] for e in response.json()["errors"]] == ["body.vulnerabilities"]

    assert await _events_by(intake, f"operator:{op_invalid}") == []
    assert not [r for r in await intake.raw_rows("idempotency_keys") if r["subject"] == op_invalid]
    assert await intake.plaintext_hits([person.given_name]) == []


async def test_possible_duplicates_are_reported_without_blocking(intake: IntakeUnderTest) -> None:
    person = FictionalPerson.new()
    first = await intake.register(case_body(person))
    # Same person, typed differently: accents, case, names swapped, another phone format.
    respelled = FictionalPerson(
        given_name=person.family_name.upper(),
        family_name=f"{person.given_name[0]}é{person.given_name[2:]}",  # Testa... -> Tésta...
        phone="0000000000",
        email=person.email,
    )
    second = await intake.register(case_body(respelled))
    assert second["possible_duplicates"] == [first["case_id"]]

    same_phone = FictionalPerson.new()
    by_phone = case_body(same_phone)
    by_phone["person"]["phone"] = "00" + person.phone.replace(" ", "").removeprefix("+")
    by_phone["person"]["date_of_birth"] = "1980-01-01"
    third = await intake.register(by_phone)
    assert third["possible_duplicates"] == [first["case_id"]]

    stranger = await intake.register(case_body(FictionalPerson.new()))
    assert stranger["possible_duplicates"] == []
    digests = [r["digest"] for r in await intake.raw_rows("case_match_keys")]
    assert all(len(d) == 32 for d in digests)  # HMAC-SHA256, never the material


async def test_update_needs_and_close_emit_events_in_order(intake: IntakeUnderTest) -> None:
    person = FictionalPerson.new()
    result = await intake.register(case_body(person))
    case_id = result["case_id"]
    caseworker = intake.auth(Role.CASEWORKER, subject="cw-life")
    url = f"/v1/cases/{case_id}"

    patched = await intake.client.patch(
        url,
        json={
            "person": {"estimated_age": 17, "phone": None},
            "location": {"country": "NE", "admin_area": "NE-8"},
            "safety": {"do_not_contact": True, "safe_contact_method": "through_caseworker"},
        },
        headers=caseworker,
    )
    assert patched.status_code == 200, patched.text
    summary = patched.json()
    assert summary["age_band"] == "9-17"
    assert summary["admin_area"] == "NE-8"
    detail = (await intake.client.get(url, headers=caseworker)).json()
    assert detail["person"]["phone"] is None
    assert detail["person"]["date_of_birth"] is None
    assert detail["person"]["estimated_age"] == 17
    assert detail["location"]["place"] is None  # a new location replaces the old one

    added = await intake.client.post(
        f"{url}/needs",
        json={"needs": [{"category": "mhpss", "urgency": "high", "note": "Nightmares"}]},
        headers=caseworker,
    )
    assert added.status_code == 201
    (need_id,) = added.json()["need_ids"]
    detail = (await intake.client.get(url, headers=caseworker)).json()
    assert detail["needs"][-1] == {**detail["needs"][-1], "need_id": need_id, "note": "Nightmares"}

    closed = await intake.client.post(
        f"{url}/close", json={"reason": "needs_met"}, headers=caseworker
    )
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    assert (
        await intake.client.post(f"{url}/close", json={"reason": "other"}, headers=caseworker)
    ).status_code == 409
    late = await intake.client.patch(url, json={"vulnerabilities": []}, headers=caseworker)
    assert late.status_code == 409

    records = await intake.records(CASE_TOPIC, key=uuid.UUID(case_id), expected=4)
    assert [header(r, "ce_type") for r in records] == [
        "org.mpa.case.registered.v1",
        "org.mpa.case.updated.v1",
        "org.mpa.case.needs_added.v1",
        "org.mpa.case.closed.v1",
    ]
    updated = json.loads(records[1].value)
    assert updated["profile"]["age_band"] == "9-17"
    assert updated["safety"] == {
        "do_not_contact": True,
        "safe_contact_method": "through_caseworker",
    }
    assert json.loads(records[2].value)["needs"][0]["category"] == "mhpss"
    assert "Nightmares" not in records[2].value.decode()


async def test_unknown_case_and_missing_token(intake: IntakeUnderTest) -> None:
    unknown = await intake.client.get(
        f"/v1/cases/{uuid.uuid4()}", headers=intake.auth(Role.OPERATOR)
    )
    assert unknown.status_code == 404
    assert (await intake.client.get("/v1/cases")).status_code == 401
    partner_list = await intake.client.get("/v1/cases", headers=intake.auth(Role.PARTNER))
    assert partner_list.status_code == 403


async def test_list_filters_and_pages_newest_first(intake: IntakeUnderTest) -> None:
    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    ids = []
    for _ in range(3):
        body = case_body(FictionalPerson.new(), vulnerabilities=["returnee"])
        body["needs"] = [{"category": "reintegration", "urgency": "low"}]
        ids.append((await intake.register(body))["case_id"])
    seen: list[str] = []
    cursor = None
    auditor = intake.auth(Role.AUDITOR)
    while True:
        params: dict[str, str | int] = {
            "registered_from": since,
            "need": "reintegration",
            "vulnerability": "returnee",
            "status": "open",
            "limit": 2,
        }
        if cursor:
            params["cursor"] = cursor
        page = await intake.client.get("/v1/cases", headers=auditor, params=params)
        assert page.status_code == 200, page.text
        seen += [item["case_id"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    bad = await intake.client.get("/v1/cases", headers=auditor, params={"cursor": "nonsense"})
    assert bad.status_code == 422


async def test_recorded_consent_replaces_the_current_one(intake: IntakeUnderTest) -> None:
    body = case_body(FictionalPerson.new(), consent={"given": False})
    case_id = (await intake.register(body))["case_id"]
    caseworker = intake.auth(Role.CASEWORKER, subject="cw-consent")
    consent = {
        "scopes": ["referral"],
        "given_by": "self",
        "method": "written",
        "obtained_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "refused_partner_types": ["government_agency"],
    }
    url = f"/v1/cases/{case_id}/consent"
    first = await intake.client.post(
        url, json={"action": "record", "consent": consent}, headers=caseworker
    )
    assert first.status_code == 200, first.text
    second = await intake.client.post(
        url,
        json={"action": "record", "consent": {**consent, "scopes": ["referral", "data_sharing"]}},
        headers=caseworker,
    )
    assert second.json()["consent"]["scopes"] == ["referral", "data_sharing"]
    assert second.json()["consent"]["obtained_by"] == "caseworker:cw-consent"
    consents = [r for r in await intake.raw_rows("case_consents") if str(r["case_id"]) == case_id]
    assert sorted(r["superseded_at"] is None for r in consents) == [False, True]

    future = {**consent, "obtained_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}
    refused = await intake.client.post(
        url, json={"action": "record", "consent": future}, headers=caseworker
    )
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["body.consent.obtained_at"]

    records = await intake.records(CASE_TOPIC, key=uuid.UUID(case_id), expected=3)
    assert [header(r, "ce_type") for r in records] == [
        "org.mpa.case.registered.v1",
        "org.mpa.case.consent_recorded.v1",
        "org.mpa.case.consent_recorded.v1",
    ]
    assert json.loads(records[1].value)["consent"]["refused_partner_types"] == ["government_agency"]
