"""Case ownership and scoped access on the real stack (issue 16, first part): an operator of
Niger's office cannot list or read a case of Mali's, a member of the owning team can; a
read outside one's scope works only with a break-glass reason, and the audit log shows it
with that reason; changes outside the write scope are refused."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mpa_common.auth import Role
from tests.integration.audit_support import (
    all_events,
    audit_settings,
    create_audit_schema,
    drop_audit_schema,
    eventually,
    running_audit_app,
)
from tests.integration.intake_support import (
    FictionalPerson,
    IntakeUnderTest,
    case_body,
    intake_under_test,
)

pytestmark = pytest.mark.integration
MALI = {"team": "ml-gao-cm", "agency": "iom-ml", "country": "ML"}


@pytest.fixture(scope="module")
async def intake(bootstrap_servers: str) -> AsyncIterator[IntakeUnderTest]:
    async with intake_under_test(bootstrap_servers) as stack:
        yield stack


async def _mali_case(intake: IntakeUnderTest) -> str:
    body = case_body(FictionalPerson.new())
    body["location"] = {"country": "ML", "admin_area": "ML-7", "place": "Bus station"}
    registered = await intake.register(body, headers=intake.auth(Role.OPERATOR, **MALI))
    return str(registered["case_id"])


async def _listed(intake: IntakeUnderTest, headers: dict[str, str]) -> set[str]:
    response = await intake.client.get("/v1/cases", headers=headers, params={"limit": 100})
    assert response.status_code == 200, response.text
    return {item["case_id"] for item in response.json()["items"]}


async def test_an_office_sees_its_own_cases_and_not_another_countrys(
    intake: IntakeUnderTest,
) -> None:
    ml_case = await _mali_case(intake)
    niger_operator = intake.auth(Role.OPERATOR)  # Niger's office
    gao_caseworker = intake.auth(Role.CASEWORKER, **MALI)  # the owning team

    assert ml_case not in await _listed(intake, niger_operator)
    refused = await intake.client.get(f"/v1/cases/{ml_case}", headers=niger_operator)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "break_glass" in refused.json()["detail"]

    assert ml_case in await _listed(intake, gao_caseworker)
    read = await intake.client.get(f"/v1/cases/{ml_case}", headers=gao_caseworker)
    assert read.status_code == 200, read.text
    assert read.json()["location"]["place"] == "Bus station"

    # Another team of the same country: a caseworker's scope is the team.
    bamako = intake.auth(Role.CASEWORKER, team="ml-bamako-cm", agency="iom-ml", country="ML")
    assert ml_case not in await _listed(intake, bamako)
    assert (await intake.client.get(f"/v1/cases/{ml_case}", headers=bamako)).status_code == 403
    change = {"vulnerabilities": ["returnee"]}
    url = f"/v1/cases/{ml_case}"
    assert (await intake.client.patch(url, json=change, headers=bamako)).status_code == 403
    assert (await intake.client.patch(url, json=change, headers=gao_caseworker)).status_code == 200


async def test_a_break_glass_read_needs_a_reason_and_the_audit_log_shows_it(
    intake: IntakeUnderTest, tmp_path: Path
) -> None:
    schema = await create_audit_schema()
    try:
        settings = audit_settings(schema, intake.prefix, tmp_path / "audit-key.pem")
        async with running_audit_app(settings) as audit:
            ml_case = await _mali_case(intake)
            niger_caseworker = intake.auth(Role.CASEWORKER, subject="cw-ne-glass")
            url = f"/v1/cases/{ml_case}"
            assert (await intake.client.get(url, headers=niger_caseworker)).status_code == 403
            unknown = await intake.client.get(
                url, headers=niger_caseworker, params={"break_glass": "curiosity"}
            )
            assert unknown.status_code == 422
            read = await intake.client.get(
                url, headers=niger_caseworker, params={"break_glass": "owner_unavailable"}
            )
            assert read.status_code == 200, read.text

            async def logged() -> list[dict[str, object]]:
                events = await all_events(audit)
                return [e for e in events if e["event"]["data"].get("case_id") == ml_case]

            async def both_logged() -> bool:
                types = {e["event"]["type"] for e in await logged()}
                return "org.mpa.access.break_glass_used.v1" in types

            await eventually(both_logged, timeout=30)
            by_type = {e["event"]["type"]: e["event"] for e in await logged()}
            glass = by_type["org.mpa.access.break_glass_used.v1"]["data"]
            assert glass["reason"] == "owner_unavailable"
            assert glass["actor_id"] == "caseworker:cw-ne-glass"
            assert glass["actor_country"] == "NE"
            assert glass["owner_country"] == "ML"
            assert glass["owner_team"] == "ml-gao-cm"
            access = by_type["org.mpa.access.personal_data_accessed.v1"]["data"]
            assert access["actor_id"] == "caseworker:cw-ne-glass"
            # Exactly one access announced: the refused and the malformed reads none.
            reads = [
                e
                for e in await logged()
                if e["event"]["type"] == "org.mpa.access.personal_data_accessed.v1"
            ]
            assert len(reads) == 1
    finally:
        await drop_audit_schema(schema)


async def test_tokens_without_a_team_reach_only_their_own_cases(intake: IntakeUnderTest) -> None:
    loner = intake.auth(Role.CASEWORKER, subject=f"cw-{uuid.uuid4().hex[:6]}", team=None)
    body = case_body(FictionalPerson.new())
    own = await intake.register(body, headers=loner)
    colleagues = await intake.register(case_body(FictionalPerson.new()))
    listed = await _listed(intake, loner)
    assert own["case_id"] in listed
    assert colleagues["case_id"] not in listed
