"""Safe contact on the real stack (issue 17, acceptance): a person marked "no contact" is
contacted by no path. The four services run as processes on the real Kafka and PostgreSQL
(`tests/security/conftest.py`), with a local SMTP sink for every e-mail they send.

The paths: a partner's read of the case (it learns no phone, e-mail or safe-contact
details), staff's contact checks (every channel refused), the notification service's
e-mails and deliveries (none to the person, none holding their details); each refusal is an
event the audit log keeps, and no event holds the details.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from mpa_common.auth import Role, mint_dev_token
from mpa_contracts.vocabularies import SafeContactMethod
from tests.security.conftest import Platform

pytestmark = pytest.mark.e2e
COUNTRY = "XC"  # user-assigned ISO code: apart from the access matrix's cases (XB)


def _eventually(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)
    return found


def _ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, f"{response.request.url}: {response.text}"
    return response.json() if response.content else None


def test_a_no_contact_person_is_contacted_by_no_path(platform: Platform) -> None:
    urls = platform.urls
    tag = uuid.uuid4().hex[:8]
    digits = str(uuid.uuid4().int)[:8]
    phone, email, details = f"+000 555 {digits}", f"person-{tag}@example.org", f"SAFE-{tag}"
    desk, referrer = f"desk-{tag}@partner.example", f"cw-{tag}@iom.example.org"
    admin = {"Authorization": f"Bearer {mint_dev_token([Role.ADMIN], subject='sc-admin')}"}
    cw_token = mint_dev_token([Role.CASEWORKER], subject=f"sc-{tag}", country=COUNTRY,
                              team="sc-team")  # fmt: skip
    cw = {"Authorization": f"Bearer {cw_token}"}
    auditor = {"Authorization": f"Bearer {mint_dev_token([Role.AUDITOR], subject='sc-au')}"}

    partner = _ok(httpx.post(f"{urls['referral']}/v1/partners", headers=admin, json={
        "code": f"SC-{tag.upper()}", "name": "Safe contact shelter",
        "partner_type": "civil_society_organisation", "countries": [COUNTRY],
        "contacts": [{"label": "Desk", "email": desk}]}))  # fmt: skip
    _ok(httpx.post(f"{urls['referral']}/v1/partners/{partner['id']}/services", headers=admin,
                   json={"name": "Shelter", "category": "shelter",
                         "coverage": [{"country": COUNTRY}], "languages": ["fr"]}))  # fmt: skip
    pa = {"Authorization": "Bearer " + mint_dev_token(
        [Role.PARTNER], subject=f"sc-pa-{tag}", partner_id=uuid.UUID(partner["id"]))}  # fmt: skip
    # The notification registry: the partner's desk and the caseworker's own address.
    _ok(
        httpx.post(
            f"{urls['notification']}/v1/contacts",
            headers=pa,
            json={"kind": "partner", "partner_id": partner["id"], "email": desk, "language": "en"},
        )
    )
    _ok(httpx.post(f"{urls['notification']}/v1/contacts", headers=cw, json={
        "kind": "referrer", "email": referrer, "language": "en"}))  # fmt: skip
    case = _ok(httpx.post(f"{urls['intake']}/v1/cases", headers=cw, json={
        "person": {"given_name": "Fictional", "family_name": "Hidden", "estimated_age": 28,
                   "sex": "female", "languages": ["fr"], "phone": phone, "email": email},
        "location": {"country": COUNTRY},
        "needs": [{"category": "shelter", "urgency": "high"}],
        "consent": {"given": True, "details": {
            "scopes": ["referral", "data_sharing"], "given_by": "self", "method": "verbal",
            "obtained_at": "2026-03-02T09:15:00Z"}},
        "safety": {"do_not_contact": True, "safe_contact_method": "through_caseworker",
                   "safe_contact_details": details}}))  # fmt: skip
    case_id = case["case_id"]

    def routed() -> list[dict[str, Any]]:
        page = _ok(httpx.get(f"{urls['referral']}/v1/referrals", headers=cw,
                             params={"case_id": case_id}))  # fmt: skip
        return [r for r in page["items"] if r["state"] == "routed"]

    (referral,) = _eventually(routed, "the referral routed")
    assert referral["partner_id"] == partner["id"]
    _ok(httpx.post(f"{urls['referral']}/v1/referrals/{referral['id']}/accept", headers=pa,
                   json={"note": "accepted"}))  # fmt: skip

    # Path 1: the partner's read of the case discloses no way to reach the person.
    def partner_read() -> httpx.Response | None:
        response = httpx.get(f"{urls['intake']}/v1/cases/{case_id}", headers=pa)
        return response if response.status_code == 200 else None

    read = _eventually(partner_read, "the partner's access")
    for secret in (phone, email, details):
        assert secret not in read.text
    assert read.json()["safety"]["do_not_contact"] is True
    # The caseworker still reads them (the person's own record, for the case's staff).
    assert phone in httpx.get(f"{urls['intake']}/v1/cases/{case_id}", headers=cw).text

    # Path 2: staff asking before any contact, on every channel, are refused.
    for channel in SafeContactMethod:
        answer = _ok(httpx.post(f"{urls['intake']}/v1/cases/{case_id}/contact-checks",
                                headers=cw, json={"channel": channel.value}))  # fmt: skip
        assert answer["allowed"] is False, channel
        assert answer["refusal"] == "do_not_contact"

    # Every refusal is in the audit log; no event of the case holds the details.
    def withheld() -> list[dict[str, Any]]:
        timeline = _ok(httpx.get(f"{urls['audit']}/v1/audit/cases/{case_id}/timeline",
                                 headers=auditor))  # fmt: skip
        found = [e for e in timeline["events"] if "contact_withheld" in str(e)]
        return found if len(found) == 1 + len(SafeContactMethod) else []

    _eventually(withheld, "every refusal in the audit log")
    timeline = httpx.get(f"{urls['audit']}/v1/audit/cases/{case_id}/timeline", headers=auditor)
    for secret in (phone, email, details):
        assert secret not in timeline.text

    # Path 3: notifications. The partner's desk was told of the referral and the caseworker
    # of its acceptance; nobody else was written to about the person, and no e-mail or
    # delivery holds their details.
    for address in (desk, referrer):
        _eventually(lambda a=address: any(m["To"] == a for m in platform.mails), address)
    assert not [m for m in platform.mails if email in str(m["To"])]
    for message in platform.mails:
        for secret in (phone, email, details):
            assert secret not in message.as_string()
    deliveries = httpx.get(f"{urls['notification']}/v1/deliveries", headers=pa)
    assert deliveries.status_code == 200
    for secret in (phone, email, details):
        assert secret not in deliveries.text
