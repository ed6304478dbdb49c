"""One referral's whole story on the real stack, against the fictional demo directory:
intake's case event -> automatic and mandatory routing -> the partner's inbox -> accept,
start, complete; a referral by hand to a chosen service; a supervisor's consent override;
an unroutable need routed once the directory changes; the report (issue 7)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from mpa_common.auth import Role
from mpa_contracts.vocabularies import AgeBand, NeedCategory, Urgency, Vulnerability
from mpa_referral.demo import DEMO_PARTNERS
from tests.integration.referral_support import (
    ADMIN,
    OPERATOR,
    SUPERVISOR,
    ReferralService,
    ReferralStack,
    envelope,
    eventually,
    open_referral_stack,
    referrals_of,
    registered,
    token,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def stack(bootstrap_servers: str) -> AsyncIterator[ReferralStack]:
    async for opened in open_referral_stack(bootstrap_servers):
        yield opened


@pytest.fixture(scope="module")
async def service(stack: ReferralStack) -> ReferralService:
    return await stack.start_instance(demo_directory=True)


async def partner_id_of(service: ReferralService, code: str) -> uuid.UUID:
    partners = (
        await service.client.get("/v1/partners", params={"country": code[5:7]}, headers=ADMIN)
    ).json()
    return uuid.UUID(next(p["id"] for p in partners if p["code"] == code))


async def test_the_demo_directory_is_seeded_once_and_marked(
    stack: ReferralStack, service: ReferralService
) -> None:
    partners = (await service.client.get("/v1/partners", headers=ADMIN)).json()
    assert len(partners) == len(DEMO_PARTNERS)
    assert all(p["is_demo"] for p in partners)
    again = await stack.start_instance(demo_directory=True, workers=True, relay=False)
    assert len((await again.client.get("/v1/partners", headers=ADMIN)).json()) == len(DEMO_PARTNERS)
    # Every need category has a service in each country; the GBV safe house is hidden from
    # partners and auditors but shown to caseworkers.
    for country in ("NE", "ML"):
        services = (
            await service.client.get("/v1/services", params={"country": country}, headers=OPERATOR)
        ).json()
        assert {s["category"] for s in services} == {c.value for c in NeedCategory}
    auditor = (
        await service.client.get(
            "/v1/services", params={"country": "NE"}, headers=token(Role.AUDITOR)
        )
    ).json()
    assert not any(s["gbv_sensitive"] for s in auditor)
    assert any(s["gbv_sensitive"] for s in services)


async def test_a_referral_from_registration_to_completion(
    stack: ReferralStack, service: ReferralService
) -> None:
    client = service.client
    case = registered(
        "NE",
        [(NeedCategory.SHELTER, Urgency.CRITICAL), (NeedCategory.MHPSS, Urgency.MEDIUM)],
        vulnerabilities=(Vulnerability.SEPARATED_CHILD,),
        age_band=AgeBand.AGE_9_17,
    )
    await stack.publish(envelope(case))
    found = await referrals_of(client, case.case_id, 3)
    by_category = {r["category"]: r for r in found}
    assert set(by_category) == {"shelter", "mhpss", "child_protection"}
    authority = await partner_id_of(service, "DEMO-NE-CPA")
    assert by_category["child_protection"]["partner_id"] == str(authority)

    shelter = by_category["shelter"]
    holder = token(Role.PARTNER, uuid.UUID(shelter["partner_id"]))
    inbox = (await client.get("/v1/referrals", params={"state": "routed"}, headers=holder)).json()
    assert shelter["id"] in {r["id"] for r in inbox["items"]}
    assert all(r["partner_id"] == shelter["partner_id"] for r in inbox["items"])
    path = f"/v1/referrals/{shelter['id']}"
    for action, body in (
        ("accept", None),
        ("start", None),
        ("complete", {"outcome": "service_provided"}),
    ):
        answer = await client.post(f"{path}/{action}", json=body, headers=holder)
        assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "completed"
    fhir = (await client.get(f"{path}/fhir", headers=holder)).json()
    assert fhir["status"] == "completed"
    assert fhir["priority"] == "stat"

    now = datetime.now(UTC)
    report = await client.get(
        "/v1/reports/referrals",
        params={
            "from": (now - timedelta(hours=1)).isoformat(),
            "to": (now + timedelta(hours=1)).isoformat(),
            "country": "NE",
        },
        headers=SUPERVISOR,
    )
    assert report.status_code == 200, report.text
    figures = report.json()
    assert figures["by_state"]["completed"] >= 1
    assert figures["acceptance_rate"] is not None


async def test_referral_by_hand_candidates_override_and_retry_on_directory_change(
    stack: ReferralStack, service: ReferralService
) -> None:
    client = service.client
    # No consent: nothing is routed automatically.
    case = registered("ML", [(NeedCategory.DOCUMENTATION, Urgency.HIGH)], consent=False)
    await stack.publish(envelope(case))
    (documents,) = case.needs

    async def known() -> bool:
        answer = await client.get(
            f"/v1/cases/{case.case_id}/candidates",
            params={"need": str(documents.need_id)},
            headers=OPERATOR,
        )
        return answer.status_code == 200

    await eventually(known, what="the case in the read model")
    candidates = (
        await client.get(
            f"/v1/cases/{case.case_id}/candidates",
            params={"need": str(documents.need_id)},
            headers=OPERATOR,
        )
    ).json()
    ranked = [c for c in candidates if c["passed"]]
    assert [c["rank"] for c in ranked] == list(range(1, len(ranked) + 1))
    # Without consent an operator cannot refer; a supervisor may, with a reason code.
    body = {
        "case_id": str(case.case_id),
        "need_id": str(documents.need_id),
        "service_id": ranked[0]["service_id"],
    }
    assert (await client.post("/v1/referrals", json=body, headers=OPERATOR)).status_code == 409
    assert (
        await client.post(
            "/v1/referrals",
            json={**body, "consent_override_reason": "risk_to_life"},
            headers=OPERATOR,
        )
    ).status_code == 403
    made = await client.post(
        "/v1/referrals",
        json={**body, "consent_override_reason": "risk_to_life"},
        headers=SUPERVISOR,
    )
    assert made.status_code == 201, made.text
    referral = made.json()
    assert referral["state"] == "routed"
    assert referral["service_id"] == ranked[0]["service_id"]
    assert [h["event_type"].split(".")[3] for h in referral["history"]] == [
        "requested",
        "consent_override_used",
        "routed",
    ]

    # A need nobody can serve (the demo's cash is for adults only; this person is 9-17)...
    child = registered("ML", [(NeedCategory.CASH, Urgency.LOW)], age_band=AgeBand.AGE_9_17)
    await stack.publish(envelope(child))
    (unroutable,) = await referrals_of(client, child.case_id, 1)
    assert unroutable["state"] == "unroutable"
    # ... is routed as soon as the directory changes to serve it.
    cash = (
        await client.get(
            "/v1/services", params={"country": "ML", "category": "cash"}, headers=ADMIN
        )
    ).json()[0]
    patched = await client.patch(
        f"/v1/partners/{cash['partner_id']}/services/{cash['id']}",
        json={"min_age": 0},
        headers=ADMIN,
    )
    assert patched.status_code == 200, patched.text

    async def routed() -> bool:
        body = (await client.get(f"/v1/referrals/{unroutable['id']}", headers=OPERATOR)).json()
        return bool(body["state"] == "routed")

    await eventually(routed, timeout=15, what="the unroutable referral to be retried")
