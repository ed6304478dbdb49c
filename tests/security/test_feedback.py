"""The person's voice on the real stack (issue 17): a caseworker records the person's
feedback on a service; it reaches the partner's figures in the referral service; the
partner's own view lists the answer given openly and withholds the anonymous one, another
partner sees nothing, and oversight sees both in the figures. The four services run as
processes on the real Kafka and PostgreSQL (`tests/security/conftest.py`)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from mpa_common.auth import Role, mint_dev_token
from tests.security.conftest import Platform

pytestmark = pytest.mark.e2e
COUNTRY = "XE"  # user-assigned ISO code: apart from the other security tests' cases


def _eventually(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)
    return found


def _ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, f"{response.request.url}: {response.text}"
    return response.json() if response.content else None


def _bearer(roles: list[Role], **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_dev_token(roles, **claims)}"}


def test_the_persons_feedback_feeds_the_partners_figures_and_anonymity_holds(
    platform: Platform,
) -> None:
    urls = platform.urls
    tag = uuid.uuid4().hex[:8]
    admin = _bearer([Role.ADMIN], subject="fb-admin")
    cw = _bearer([Role.CASEWORKER], subject=f"fb-cw-{tag}", country=COUNTRY, team="fb-team")
    supervisor = _bearer([Role.SUPERVISOR], subject="fb-sv", country=COUNTRY, team="fb-team")
    partner = _ok(
        httpx.post(
            f"{urls['referral']}/v1/partners",
            headers=admin,
            json={
                "code": f"FB-{tag.upper()}",
                "name": "Feedback shelter",
                "partner_type": "civil_society_organisation",
                "countries": [COUNTRY],
            },
        )
    )
    _ok(
        httpx.post(
            f"{urls['referral']}/v1/partners/{partner['id']}/services",
            headers=admin,
            json={
                "name": "Shelter",
                "category": "shelter",
                "coverage": [{"country": COUNTRY}],
                "languages": ["fr"],
            },
        )
    )
    staff = _bearer([Role.PARTNER], subject=f"fb-pa-{tag}", partner_id=uuid.UUID(partner["id"]))
    stranger = _bearer([Role.PARTNER], subject=f"fb-pb-{tag}", partner_id=uuid.uuid4())
    case_id = _ok(httpx.post(f"{urls['intake']}/v1/cases", headers=cw, json={
        "person": {"given_name": "Fictional", "family_name": "Voice", "estimated_age": 33,
                   "sex": "male", "languages": ["fr"]},
        "location": {"country": COUNTRY},
        "needs": [{"category": "shelter", "urgency": "high"}],
        "consent": {"given": True, "details": {
            "scopes": ["referral", "data_sharing"], "given_by": "self", "method": "verbal",
            "obtained_at": "2026-03-02T09:15:00Z"}},
        "safety": {"do_not_contact": False, "safe_contact_method": "through_caseworker"}}))[
        "case_id"]  # fmt: skip

    def routed() -> list[dict[str, Any]]:
        page = _ok(httpx.get(f"{urls['referral']}/v1/referrals", headers=cw,
                             params={"case_id": case_id}))  # fmt: skip
        return [r for r in page["items"] if r["state"] == "routed"]

    (referral,) = _eventually(routed, "the referral routed")
    feedback_url = f"{urls['intake']}/v1/cases/{case_id}/feedback"
    said = {"referral_id": referral["id"], "received": "received", "quality": "very_good",
            "waiting_time": "same_day", "felt_safe": True}  # fmt: skip
    # Nothing to rate before a partner accepted (once intake knows the referral: it learns
    # it from the referral topic, and answers 422 for a referral it does not know yet).
    early = _eventually(
        lambda: (r := httpx.post(feedback_url, headers=cw, json=said)).status_code != 422 and r,
        "intake to learn the referral",
    )
    assert early.status_code == 409
    _ok(httpx.post(f"{urls['referral']}/v1/referrals/{referral['id']}/accept", headers=staff,
                   json={"note": "ok"}))  # fmt: skip

    def accepted_known() -> bool:
        return httpx.post(feedback_url, headers=cw, json={
            **said, "anonymous_to_provider": False}).status_code == 201  # fmt: skip

    _eventually(accepted_known, "intake to learn the acceptance (open feedback recorded)")
    anonymous = {**said, "quality": "poor", "felt_safe": False, "anonymous_to_provider": True}
    assert httpx.post(feedback_url, headers=cw, json=anonymous).status_code == 201

    figures_url = f"{urls['referral']}/v1/partners/{partner['id']}/feedback"

    def both_counted() -> dict[str, Any] | None:
        found = _ok(httpx.get(figures_url, headers=supervisor))
        return found if found["figures"]["responses"] == 2 else None

    oversight = _eventually(both_counted, "both answers in the partner's figures")
    assert oversight["answers"] is None
    assert oversight["figures"]["quality_mean"] == pytest.approx((5 + 2) / 2)
    assert oversight["figures"]["felt_safe_rate"] == pytest.approx(0.5)
    own = _ok(httpx.get(figures_url, headers=staff))
    assert own["figures"]["responses"] == 1
    assert own["figures"]["anonymous_withheld"] == 1
    assert [a["quality"] for a in own["answers"]] == ["very_good"]
    assert httpx.get(figures_url, headers=stranger).status_code == 404


def test_the_persons_own_link_is_refused_without_contact_and_answers_once(
    platform: Platform,
) -> None:
    """A feedback invitation: refused (409, `contact_withheld`) for a case not to be
    contacted; cleared for the safe channel; the person's answer, without sign-in, reaches
    the partner's figures; the link then answers 404 like an unknown one."""
    urls = platform.urls
    tag = uuid.uuid4().hex[:8]
    admin = _bearer([Role.ADMIN], subject="fl-admin")
    cw = _bearer([Role.CASEWORKER], subject=f"fl-cw-{tag}", country=COUNTRY, team="fl-team")
    supervisor = _bearer([Role.SUPERVISOR], subject="fl-sv", country=COUNTRY, team="fl-team")
    auditor = _bearer([Role.AUDITOR], subject="fl-auditor")
    partner = _ok(httpx.post(f"{urls['referral']}/v1/partners", headers=admin, json={
        "code": f"FL-{tag.upper()}", "name": "Link shelter",
        "partner_type": "civil_society_organisation", "countries": [COUNTRY]}))  # fmt: skip
    _ok(httpx.post(f"{urls['referral']}/v1/partners/{partner['id']}/services", headers=admin,
                   json={"name": "Shelter", "category": "legal_aid",
                         "coverage": [{"country": COUNTRY}], "languages": ["fr"]}))  # fmt: skip
    staff = _bearer([Role.PARTNER], subject=f"fl-pa-{tag}", partner_id=uuid.UUID(partner["id"]))

    def accepted_case(safety: dict[str, Any]) -> tuple[str, str]:
        case_id = _ok(httpx.post(f"{urls['intake']}/v1/cases", headers=cw, json={
            "person": {"given_name": "Fictional", "family_name": "Link", "estimated_age": 40,
                       "sex": "female", "languages": ["fr"], "phone": "+22790000001"},
            "location": {"country": COUNTRY},
            "needs": [{"category": "legal_aid", "urgency": "high"}],
            "consent": {"given": True, "details": {
                "scopes": ["referral", "data_sharing"], "given_by": "self", "method": "verbal",
                "obtained_at": "2026-03-02T09:15:00Z"}},
            "safety": safety}))["case_id"]  # fmt: skip

        def routed() -> list[dict[str, Any]]:
            page = _ok(httpx.get(f"{urls['referral']}/v1/referrals", headers=cw,
                                 params={"case_id": case_id}))  # fmt: skip
            return [r for r in page["items"] if r["state"] == "routed"]

        (referral,) = _eventually(routed, "the referral routed")
        _ok(httpx.post(f"{urls['referral']}/v1/referrals/{referral['id']}/accept",
                       headers=staff, json={"note": "ok"}))  # fmt: skip
        return case_id, referral["id"]

    def invite(case_id: str, referral_id: str) -> httpx.Response:
        url = f"{urls['intake']}/v1/cases/{case_id}/feedback-invitations"
        return httpx.post(url, headers=cw, json={"referral_id": referral_id, "channel": "sms"})

    hidden_case, hidden_referral = accepted_case(
        {"do_not_contact": True, "safe_contact_method": "none"})  # fmt: skip

    def once_learned(response: httpx.Response) -> httpx.Response | None:
        """The answer once intake knows of the acceptance (it learns it from the referral
        topic): before, a 422 (a referral it does not know yet) or a 409 without a reason
        (not accepted yet)."""
        if response.status_code == 422:
            return None
        if response.status_code == 409 and "reason" not in response.json():
            return None
        return response

    refused = _eventually(
        lambda: once_learned(invite(hidden_case, hidden_referral)),
        "intake to learn the acceptance (then refuse the contact)",
    )
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["reason"] == "do_not_contact"

    def withheld() -> list[dict[str, Any]]:
        timeline = _ok(httpx.get(f"{urls['audit']}/v1/audit/cases/{hidden_case}/timeline",
                                 headers=auditor))  # fmt: skip
        return [e for e in timeline["events"] if "contact_withheld" in str(e)]

    _eventually(withheld, "the refusal in the audit log")

    case_id, referral_id = accepted_case({"do_not_contact": False, "safe_contact_method": "sms"})
    created = _ok(_eventually(
        lambda: (r := invite(case_id, referral_id)).status_code == 201 and r,
        "intake to learn the acceptance (then invite)"))  # fmt: skip
    token = created["token"]
    link = f"{urls['intake']}/v1/feedback-invitations/{token}"
    assert _ok(httpx.get(link)) == {"service_category": "legal_aid",
                                    "expires_at": created["expires_at"]}  # fmt: skip
    answer = {"received": "received", "quality": "good", "felt_safe": True}
    assert httpx.post(link, json=answer).status_code == 201
    again = httpx.post(link, json=answer)
    unknown = httpx.post(f"{urls['intake']}/v1/feedback-invitations/x{token}", json=answer)
    assert again.status_code == unknown.status_code == 404
    assert token not in again.text
    assert {k: v for k, v in again.json().items() if k != "instance"} == {
        k: v for k, v in unknown.json().items() if k != "instance"}  # fmt: skip
    assert httpx.get(link).status_code == 404

    figures_url = f"{urls['referral']}/v1/partners/{partner['id']}/feedback"

    def counted() -> dict[str, Any] | None:
        found = _ok(httpx.get(figures_url, headers=supervisor))
        return found if found["figures"]["responses"] == 1 else None

    figures = _eventually(counted, "the person's answer in the partner's figures")["figures"]
    assert figures["felt_safe_rate"] == pytest.approx(1.0)
