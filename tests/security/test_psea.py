"""The PSEA channel on the real stack (issue 17, acceptance): a complaint of sexual
exploitation or abuse is invisible to every role but the PSEA focal point. The four
services run as processes on the real Kafka and PostgreSQL (`tests/security/conftest.py`).

Then its two flows, end to end: the survivor, with consent, referred through the GBV
pathway (a `gbv_response` need on their case, routed to the GBV service); the allegation
e-mailed to the implicated organisation's investigation focal point, without the account;
the substantiated outcome suspending that organisation, which its staff cannot lift. The
audit log holds each step, and no event, e-mail or case story holds the account or ties the
survivor's case to the complaint.

A focal point reaches their own country office's complaints only: one of another office
does not see it listed and is answered 404 on its record and every step, exactly as for a
complaint that does not exist (its existence is not disclosed).
"""

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
COUNTRY = "XD"  # user-assigned ISO code: apart from the other security tests' cases


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


def test_a_psea_complaint_is_seen_by_the_focal_point_alone_and_both_flows_run(
    platform: Platform,
) -> None:
    urls = platform.urls
    tag = uuid.uuid4().hex[:8]
    account = f"PSEA-ACCOUNT-{tag} what the survivor said"
    investigators = f"ifp-{tag}@implicated.example"
    admin = _bearer([Role.ADMIN], subject="psea-admin")
    cw = _bearer([Role.CASEWORKER], subject=f"psea-cw-{tag}", country=COUNTRY, team="psea-team")

    def partner(name: str, category: str, gbv: bool) -> tuple[str, dict[str, str]]:
        made = _ok(
            httpx.post(
                f"{urls['referral']}/v1/partners",
                headers=admin,
                json={
                    "code": f"P{name}-{tag.upper()}",
                    "name": f"PSEA test {name}",
                    "partner_type": "civil_society_organisation",
                    "countries": [COUNTRY],
                },
            )
        )
        _ok(
            httpx.post(
                f"{urls['referral']}/v1/partners/{made['id']}/services",
                headers=admin,
                json={
                    "name": category,
                    "category": category,
                    "gbv_sensitive": gbv,
                    "coverage": [{"country": COUNTRY}],
                    "languages": ["fr"],
                },
            )
        )
        staff = _bearer([Role.PARTNER], subject=f"psea-{name}-{tag}",
                        partner_id=uuid.UUID(made["id"]))  # fmt: skip
        return made["id"], staff

    gbv_partner, _ = partner("GBV", "gbv_response", True)
    implicated, implicated_staff = partner("IMP", "shelter", False)
    # The implicated organisation's investigation focal point, in the notification registry.
    _ok(httpx.post(f"{urls['notification']}/v1/contacts", headers=implicated_staff, json={
        "kind": "investigators", "partner_id": implicated, "email": investigators,
        "language": "en"}))  # fmt: skip
    survivor_case = _ok(
        httpx.post(
            f"{urls['intake']}/v1/cases",
            headers=cw,
            json={
                "person": {
                    "given_name": "Fictional",
                    "family_name": "Survivor",
                    "estimated_age": 26,
                    "sex": "female",
                    "languages": ["fr"],
                },
                "location": {"country": COUNTRY},
                "needs": [{"category": "food", "urgency": "low"}],
                "consent": {
                    "given": True,
                    "details": {
                        "scopes": ["referral", "data_sharing"],
                        "given_by": "self",
                        "method": "verbal",
                        "obtained_at": "2026-03-02T09:15:00Z",
                    },
                },
                "safety": {"do_not_contact": False, "safe_contact_method": "through_caseworker"},
            },
        )
    )
    case_id = survivor_case["case_id"]  # fmt: skip

    callers = {
        "op": _bearer([Role.OPERATOR], subject="psea-op", country=COUNTRY, team="psea-team"),
        "cw": cw,
        "sv": _bearer([Role.SUPERVISOR], subject="psea-sv", country=COUNTRY, team="psea-team"),
        "pa": implicated_staff,
        "au": _bearer([Role.AUDITOR], subject="psea-au"),
        "ad": admin,
    }
    focal = _bearer([Role.PSEA_FOCAL_POINT], subject=f"psea-fp-{tag}", country=COUNTRY)
    # A focal point of another country office.
    elsewhere = _bearer([Role.PSEA_FOCAL_POINT], subject=f"psea-fp9-{tag}", country="XE")

    # Filed by whoever received it; the filer gets its id back and nothing more.
    filed = httpx.post(f"{urls['intake']}/v1/psea/complaints", headers=cw, json={
        "allegation_type": "sexual_exploitation", "account": account,
        "implicated_partner_id": implicated, "survivor_case_id": case_id,
        "survivor": {"given_name": f"Named-{tag}"},
        "assistance_consent": True, "identity_consent": False})  # fmt: skip
    assert filed.status_code == 201, filed.text
    assert set(filed.json()) == {"complaint_id", "received_at"}
    complaint_id = filed.json()["complaint_id"]

    # Invisible to every role but the focal point, administrators and auditors included.
    for name, headers in callers.items():
        listed = httpx.get(f"{urls['intake']}/v1/psea/complaints", headers=headers)
        read = httpx.get(f"{urls['intake']}/v1/psea/complaints/{complaint_id}", headers=headers)
        assert (name, listed.status_code, read.status_code) == (name, 403, 403)
        assert account not in listed.text + read.text
    listed = _ok(httpx.get(f"{urls['intake']}/v1/psea/complaints", headers=focal))
    assert complaint_id in {c["complaint_id"] for c in listed["items"]}
    assert account not in str(listed)
    detail = _ok(httpx.get(f"{urls['intake']}/v1/psea/complaints/{complaint_id}", headers=focal))
    assert detail["account"] == account
    assert detail["survivor"]["given_name"] == f"Named-{tag}"
    assert detail["country"] == COUNTRY  # the filer's office

    # Another country office's focal point: not listed, and 404 on the record and every
    # step, the same answer as for a complaint that does not exist.
    other = _ok(httpx.get(f"{urls['intake']}/v1/psea/complaints", headers=elsewhere))
    assert complaint_id not in {c["complaint_id"] for c in other["items"]}
    base = f"{urls['intake']}/v1/psea/complaints"
    for target in (complaint_id, str(uuid.uuid4())):
        answers = [
            httpx.get(f"{base}/{target}", headers=elsewhere),
            httpx.post(f"{base}/{target}/assistance", headers=elsewhere,
                       json={"decision": "declined"}),
            httpx.post(f"{base}/{target}/allegation-referral", headers=elsewhere, json={}),
            httpx.post(f"{base}/{target}/outcome", headers=elsewhere,
                       json={"outcome": "unsubstantiated"}),
        ]  # fmt: skip
        for answer in answers:
            assert answer.status_code == 404, answer.text
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert account not in answer.text
        if target == complaint_id:
            hidden = [(a.json()["type"], a.json()["title"]) for a in answers]
        else:
            assert [(a.json()["type"], a.json()["title"]) for a in answers] == hidden
    # The steps refused elsewhere were not taken: the flows below still run.

    # Flow 1: assistance through the GBV pathway, with consent: routed to the GBV service.
    _ok(httpx.post(f"{urls['intake']}/v1/psea/complaints/{complaint_id}/assistance",
                   headers=focal, json={"decision": "referred"}))  # fmt: skip

    def gbv_referral() -> list[dict[str, Any]]:
        page = _ok(httpx.get(f"{urls['referral']}/v1/referrals", headers=cw,
                             params={"case_id": case_id}))  # fmt: skip
        return [r for r in page["items"] if r["partner_id"] == gbv_partner]

    _eventually(gbv_referral, "the GBV-pathway referral")

    # Flow 2: the allegation to the implicated organisation's investigation focal point.
    _ok(httpx.post(f"{urls['intake']}/v1/psea/complaints/{complaint_id}/allegation-referral",
                   headers=focal, json={}))  # fmt: skip
    mail = _eventually(
        lambda: next((m for m in platform.mails if m["To"] == investigators), None),
        "the investigators' e-mail",
    )
    assert complaint_id in mail.as_string()
    assert account not in mail.as_string()
    assert f"Named-{tag}" not in mail.as_string()

    # Substantiated: the organisation is suspended, and its staff cannot lift it.
    _ok(httpx.post(f"{urls['intake']}/v1/psea/complaints/{complaint_id}/outcome", headers=focal,
                   json={"outcome": "substantiated", "suspend_partner": True}))  # fmt: skip

    def suspended() -> dict[str, Any] | None:
        row = _ok(httpx.get(f"{urls['referral']}/v1/partners/{implicated}", headers=admin))
        return row if row["active"] is False else None

    assert _eventually(suspended, "the suspension")["deactivation_reason"] == "suspended"
    lift = httpx.patch(f"{urls['referral']}/v1/partners/{implicated}", headers=implicated_staff,
                       json={"active": True})  # fmt: skip
    assert lift.status_code == 403

    # The audit log holds every step; no event holds the account or the survivor's name,
    # and the survivor's case story does not name the complaint.
    auditor = callers["au"]
    steps = ("complaint_received", "complaint_read", "assistance_decided",
             "allegation_referred", "investigation_concluded")  # fmt: skip

    def logged() -> list[dict[str, Any]] | None:
        found = []
        for step in steps:
            page = _ok(
                httpx.get(
                    f"{urls['audit']}/v1/audit/events",
                    headers=auditor,
                    params={"type": f"org.mpa.psea.{step}.v1", "limit": 1000},
                )
            )
            found += [e for e in page["items"] if complaint_id in str(e)]  # fmt: skip
        return found if len(found) >= len(steps) else None

    for event in _eventually(logged, "the complaint's steps in the audit log"):
        assert account not in str(event)
        assert f"Named-{tag}" not in str(event)
        assert case_id not in str(event)
    timeline = httpx.get(f"{urls['audit']}/v1/audit/cases/{case_id}/timeline", headers=auditor)
    assert timeline.status_code == 200
    assert complaint_id not in timeline.text
    assert "org.mpa.psea." not in timeline.text
    assert '"psea:' not in timeline.text  # no step of the focal point's on the case
