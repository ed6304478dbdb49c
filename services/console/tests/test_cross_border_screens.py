"""The cross-border screens (issue 17) against a stand-in for intake: the page shows a case's
transfer consents and hand-offs, in French and Arabic too, and offers each office only its
own steps (the receiving office accepts and records arrival, the sending office records
departure once accepted); each form posts the step intake expects; a refusal is explained."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from mpa_console.adapters.platform import Service, UpstreamError, UpstreamUnavailable

CASE = str(uuid.uuid4())
HANDOFF = str(uuid.uuid4())
CONSENT = str(uuid.uuid4())


def _handoff(state: str) -> dict[str, Any]:
    return {
        "handoff_id": HANDOFF,
        "case_id": CASE,
        "state": state,
        "requested_by": "caseworker:cw-1",
        "requested_at": "2026-03-02T09:00:00Z",
        "from_country": "NE",
        "from_owner_id": "caseworker:cw-1",
        "to_country": "ML",
        "planned_travel_at": "2026-03-12T08:00:00Z",
        "accepted_by": "operator:op-7" if state != "requested" else None,
        "receiving_team": None,
        "receiving_agency": None,
        "decided_by": None,
        "decided_at": None,
        "decline_reason": None,
        "cancel_reason": None,
        "departed_at": None,
        "arrived_at": None,
        "transfer_id": None,
    }


def _view(state: str) -> dict[str, Any]:
    return {
        "case_id": CASE,
        "country": "NE",
        "owner_country": "NE",
        "transfer_consents": [
            {
                "transfer_consent_id": CONSENT,
                "case_id": CASE,
                "state": "in_force",
                "destination_countries": ["ML"],
                "withdrawn_countries": [],
                "given_by": "self",
                "method": "written",
                "obtained_by": "caseworker:cw-1",
                "obtained_at": "2026-03-01T09:00:00Z",
                "expires_at": None,
                "recorded_at": "2026-03-01T09:00:00Z",
            }
        ],
        "handoffs": [_handoff(state)],
        "awaiting_transfer_consent": ["SN"],
    }


@pytest.fixture
def intake(client: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Intake's answers (`state`: the hand-off's); every call the console makes is kept."""
    fake: dict[str, Any] = {"state": "requested", "calls": []}
    platform = client.app.state.console.platform

    async def call(
        service: Service, method: str, path: str, token: str | None, **kwargs: Any
    ) -> Any:
        if service is not Service.INTAKE:
            raise UpstreamUnavailable(service)
        fake["calls"].append((method, path, kwargs.get("json")))
        if method == "GET" and path.endswith("/cross-border"):
            return _view(fake["state"])
        if method == "GET" and path == "/v1/handoffs":
            return {"items": [_handoff("requested")]}
        if path.endswith("/departure"):
            raise UpstreamError(Service.INTAKE, 409, "Conflict", "not accepted yet")
        return {}

    monkeypatch.setattr(platform, "call", call)
    return fake


def sign_in(client: Any, csrf_of: Any, role: str, country: str) -> str:
    token = csrf_of(client.get("/sign-in").text)
    answer = client.post(
        "/sign-in/dev",
        data={"role": role, "country": country, "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    csrf: str = csrf_of(client.get("/sign-in").text)
    return csrf


def test_the_sending_office_sees_consents_and_may_only_wait_or_cancel_before_acceptance(
    client: Any, csrf_of: Any, intake: dict[str, Any]
) -> None:
    sign_in(client, csrf_of, "caseworker", "NE")
    page = client.get(f"/cross-border/cases/{CASE}")
    assert page.status_code == 200, page.text
    html = page.text
    assert "Awaiting the receiving office" in html
    assert 'id="awaiting-transfer-consent"' in html  # Senegal's referral waits
    assert f'value="{CONSENT}"' in html  # the consent may be withdrawn
    assert 'id="handoff-waiting"' in html
    assert "/departure" not in html  # travel only after acceptance
    assert "/accept" not in html  # the receiving office's step
    assert f"/cross-border/cases/{CASE}/cancel" in html
    intake["state"] = "accepted"
    accepted = client.get(f"/cross-border/cases/{CASE}").text
    assert f"/cross-border/cases/{CASE}/departure" in accepted
    assert "/arrival" not in accepted
    french = client.get(f"/cross-border/cases/{CASE}", headers={"accept-language": "fr"})
    assert "Acceptée par le bureau d&#39;accueil" in french.text
    arabic = client.get(f"/cross-border/cases/{CASE}", headers={"accept-language": "ar"})
    assert 'dir="rtl"' in arabic.text
    assert "قبلها المكتب المستقبِل" in arabic.text


def test_the_receiving_office_accepts_and_then_records_arrival(
    client: Any, csrf_of: Any, intake: dict[str, Any]
) -> None:
    csrf = sign_in(client, csrf_of, "operator", "ML")
    html = client.get(f"/cross-border/cases/{CASE}").text
    assert 'id="handoff-accept"' in html
    assert "/departure" not in html
    inbox = client.get("/cross-border/handoffs").text
    assert HANDOFF in inbox
    done = client.post(
        f"/cross-border/cases/{CASE}/accept",
        data={"csrf_token": csrf, "handoff_id": HANDOFF, "back": "inbox"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/cross-border/handoffs"
    assert intake["calls"][-1] == ("POST", f"/v1/cases/{CASE}/handoffs/{HANDOFF}/accept", None)
    intake["state"] = "departed"
    assert 'id="handoff-arrival"' in client.get(f"/cross-border/cases/{CASE}").text
    client.post(
        f"/cross-border/cases/{CASE}/arrival",
        data={"csrf_token": csrf, "handoff_id": HANDOFF, "arrived_at": "2026-03-13T17:30"},
        follow_redirects=False,
    )
    assert intake["calls"][-1] == (
        "POST",
        f"/v1/cases/{CASE}/handoffs/{HANDOFF}/arrival",
        {"arrived_at": "2026-03-13T17:30:00+00:00"},
    )


def test_forms_post_intakes_steps_and_a_refusal_is_explained(
    client: Any, csrf_of: Any, intake: dict[str, Any]
) -> None:
    csrf = sign_in(client, csrf_of, "caseworker", "NE")
    client.post(
        f"/cross-border/cases/{CASE}/transfer-consent",
        data={
            "csrf_token": csrf,
            "destination_countries": "ml, sn",
            "given_by": "self",
            "method": "written",
            "obtained_at": "2026-03-01T09:00",
        },
        follow_redirects=False,
    )
    assert intake["calls"][-1] == (
        "POST",
        f"/v1/cases/{CASE}/transfer-consents",
        {
            "destination_countries": ["ML", "SN"],
            "given_by": "self",
            "method": "written",
            "obtained_at": "2026-03-01T09:00:00+00:00",
        },
    )
    # A record id that is not one never becomes part of intake's path.
    client.post(
        f"/cross-border/cases/{CASE}/withdraw-consent",
        data={"csrf_token": csrf, "transfer_consent_id": "../../personal-data"},
        follow_redirects=False,
    )
    zero = str(uuid.UUID(int=0))
    assert intake["calls"][-1][1] == f"/v1/cases/{CASE}/transfer-consents/{zero}/withdraw"
    refused = client.post(
        f"/cross-border/cases/{CASE}/departure",
        data={"csrf_token": csrf, "handoff_id": HANDOFF, "departed_at": "2026-03-12T08:00"},
    )
    assert refused.status_code == 200
    assert "This cannot be done in the current state." in refused.text
    # Without the form's CSRF token nothing is posted.
    calls = len(intake["calls"])
    forged = client.post(
        f"/cross-border/cases/{CASE}/accept", data={"handoff_id": HANDOFF}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert len(intake["calls"]) == calls
