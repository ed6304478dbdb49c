"""A separated child's story through the four real service processes (issue 17): intake
registers her with a return need, the referral service holds the return referral (and
refuses one by hand) until intake records a best-interests panel's determination — an
assessment, a supervisor's approval, the determination — whose event the referral service
learns, and routes the waiting referral to the demo directory's return service."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from mpa_common.auth import Role, mint_dev_token
from tests.e2e.test_platform_story import RunningPlatform
from tests.e2e.test_platform_story import platform as platform  # the module's own platform

pytestmark = pytest.mark.e2e
NIAMEY = {"team": "ne-niamey-cm", "agency": "iom-ne", "country": "NE"}


def _auth(role: Role, subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_dev_token([role], subject=subject, **NIAMEY)}"}


def _until(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}")


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_a_separated_childs_return_waits_for_the_best_interests_determination(
    platform: RunningPlatform,
) -> None:
    intake, referral = platform.urls["intake"], platform.urls["referral"]
    caseworker = _auth(Role.CASEWORKER, f"cw-{uuid.uuid4().hex[:6]}")
    supervisor = _auth(Role.SUPERVISOR, f"sv-{uuid.uuid4().hex[:6]}")
    client = httpx.Client(timeout=15)
    registered = _ok(
        client.post(
            f"{intake}/v1/cases",
            headers=caseworker,
            json={
                "person": {
                    "given_name": "Fictive",
                    "family_name": "Enfant",
                    "estimated_age": 14,
                    "sex": "female",
                    "nationality": "NG",
                    "languages": ["ha"],
                },
                "location": {"country": "NE", "admin_area": "NE-8"},
                "vulnerabilities": ["separated_child"],
                "needs": [{"category": "return_assistance", "urgency": "high"}],
                "consent": {
                    "given": True,
                    "details": {
                        "scopes": ["referral", "data_sharing"],
                        "given_by": "legal_guardian",
                        "method": "verbal",
                        "obtained_at": "2026-01-05T10:00:00Z",
                    },
                },
                "safety": {"do_not_contact": False, "safe_contact_method": "through_caseworker"},
            },
        ),
        201,
    )
    case_id, (need_id,) = registered["case_id"], registered["need_ids"]

    def return_referral() -> dict[str, Any] | None:
        page = client.get(
            f"{referral}/v1/referrals", params={"case_id": case_id}, headers=caseworker
        ).json()
        found = [r for r in page["items"] if r["need_id"] == need_id and r["state"] != "requested"]
        return found[0] if found else None

    waiting = _until(return_referral, "the return referral to be decided")
    assert waiting["state"] == "unroutable"
    assert waiting["status_reason"] == "best_interests_determination_required"
    refused = client.post(
        f"{referral}/v1/referrals",
        headers=caseworker,
        json={"case_id": case_id, "need_id": need_id},
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["reason"] == "best_interests_determination_required"

    url = f"{intake}/v1/cases/{case_id}"
    _ok(
        client.post(
            f"{url}/child/assent",
            headers=caseworker,
            json={"consent_given_by": "legal_guardian", "assent": "given", "views": "Home"},
        ),
        201,
    )
    assessment = _ok(
        client.post(
            f"{url}/child/best-interests/assessments",
            headers=caseworker,
            json={
                "assessed_at": "2026-01-06T10:00:00Z",
                "risks": ["family_separation"],
                "recommendation": "return_to_country_of_origin",
            },
        ),
        201,
    )
    approval = _ok(
        client.post(
            f"{url}/approvals",
            headers=caseworker,
            json={"subject": "best_interests_determination", "note": "Panel of three agreed"},
        ),
        201,
    )
    determination = {
        "determined_at": "2026-01-07T10:00:00Z",
        "panel_size": 3,
        "decision": "return_to_country_of_origin",
        "assessment_id": assessment["assessment_id"],
        "approval_id": approval["approval_id"],
    }
    # Not approved yet: refused.
    early = client.post(
        f"{url}/child/best-interests/determination", headers=caseworker, json=determination
    )
    assert early.status_code == 409, early.text
    _ok(
        client.post(
            f"{url}/approvals/{approval['approval_id']}/decision",
            headers=supervisor,
            json={"decision": "approved"},
        )
    )
    _ok(
        client.post(
            f"{url}/child/best-interests/determination", headers=caseworker, json=determination
        ),
        201,
    )

    def routed() -> dict[str, Any] | None:
        found = return_referral()
        return found if found and found["state"] == "routed" else None

    routed_referral = _until(routed, "the return referral routed after the determination")
    assert routed_referral["id"] == waiting["id"]
