"""The protection screens (issue 17) against a stand-in for intake: the page shows a case's
identification, reflection period and a child's best-interests steps, in French and Arabic
too; each form posts the step intake expects; intake's refusal comes back as a message."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from mpa_console.adapters.platform import Service, UpstreamError, UpstreamUnavailable

CASE = str(uuid.uuid4())
APPROVAL = str(uuid.uuid4())
ASSESSMENT = str(uuid.uuid4())


def _protection() -> dict[str, Any]:
    return {
        "case_id": CASE,
        "is_child": True,
        "identification": {
            "identification_id": str(uuid.uuid4()),
            "case_id": CASE,
            "status": "presumed",
            "exploitation_types": ["forced_labour"],
            "means_of_control": ["debt_bondage"],
            "reasonable_grounds_at": "2026-03-02T09:30:00Z",
            "reasonable_grounds_by": "competent_authority",
            "basis": "indicators_assessment",
            "conclusive_at": None,
            "conclusive_by": None,
            "appeal_lodged_at": None,
            "appeal_decided_at": None,
            "appeal_outcome": None,
            "note": None,
        },
        "reflection_periods": [
            {
                "reflection_period_id": str(uuid.uuid4()),
                "case_id": CASE,
                "identification_id": str(uuid.uuid4()),
                "state": "running",
                "starts_at": "2026-03-02T09:30:00Z",
                "ends_at": "2026-04-01T09:30:00Z",
                "days": 30,
                "non_removal": True,
                "remind_at": "2026-03-25T09:30:00Z",
                "reminded_at": None,
                "ended_at": None,
                "extensions": [],
            }
        ],
        "assents": [],
        "guardians": [],
        "best_interests_assessments": [
            {
                "assessment_id": ASSESSMENT,
                "case_id": CASE,
                "assessed_at": "2026-03-03T09:00:00Z",
                "assessor_id": "caseworker:cw-1",
                "risks": ["family_separation"],
                "recommendation": "family_reunification",
                "note": None,
            }
        ],
        "best_interests_determinations": [],
    }


def _casework() -> dict[str, Any]:
    return {
        "case_id": CASE,
        "reference": "MPA-2026-000042",
        "approvals": [
            {
                "approval_id": APPROVAL,
                "subject": "best_interests_determination",
                "state": "approved",
                "used_at": None,
                "decided_by": "supervisor:sv-1",
            }
        ],
    }


@pytest.fixture
def intake(client: Any, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any]]:
    """Intake's answers; every call the console makes is recorded."""
    calls: list[tuple[str, str, Any]] = []
    platform = client.app.state.console.platform

    async def call(
        service: Service, method: str, path: str, token: str | None, **kwargs: Any
    ) -> Any:
        if service is not Service.INTAKE:  # as unreachable as the fixture's services
            raise UpstreamUnavailable(service)
        calls.append((method, path, kwargs.get("json")))
        if method == "GET" and path.endswith("/protection"):
            return _protection()
        if method == "GET" and path.endswith("/casework"):
            return _casework()
        if path.endswith("/reasonable-grounds"):
            raise UpstreamError(Service.INTAKE, 409, "Conflict", "presumed already")
        return {}

    monkeypatch.setattr(platform, "call", call)
    return calls


def test_the_page_shows_the_steps_and_offers_the_next_ones(
    client: Any, signed_in: Any, intake: list[tuple[str, str, Any]]
) -> None:
    signed_in(client, "caseworker")
    page = client.get(f"/protection/cases/{CASE}")
    assert page.status_code == 200, page.text
    html = page.text
    assert "Presumed victim" in html
    assert "Debt bondage" in html
    assert f"/protection/cases/{CASE}/conclusive-grounds" in html  # the next step
    assert f"/protection/cases/{CASE}/reasonable-grounds" not in html  # done already
    assert f'value="{APPROVAL}"' in html  # the approved determination request
    assert "Best interests" in html
    with_french = client.get(f"/protection/cases/{CASE}", headers={"accept-language": "fr"})
    assert "Victime présumée" in with_french.text
    assert "Délai de rétablissement et de réflexion" in with_french.text
    arabic = client.get(f"/protection/cases/{CASE}", headers={"accept-language": "ar"})
    assert 'dir="rtl"' in arabic.text
    assert "ضحية مفترضة" in arabic.text


def test_a_form_posts_the_step_and_a_refusal_is_explained(
    client: Any, signed_in: Any, csrf_of: Any, intake: list[tuple[str, str, Any]]
) -> None:
    csrf = signed_in(client, "caseworker")
    done = client.post(
        f"/protection/cases/{CASE}/determination",
        data={
            "csrf_token": csrf,
            "determined_at": "2026-03-10T14:00",
            "panel_size": "3",
            "decision": "family_reunification",
            "assessment_id": ASSESSMENT,
            "approval_id": APPROVAL,
            "note": "The panel's reasons",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/protection/cases/{CASE}#best-interests"
    method, path, body = intake[-1]
    assert (method, path) == ("POST", f"/v1/cases/{CASE}/child/best-interests/determination")
    assert body == {
        "determined_at": "2026-03-10T14:00:00+00:00",
        "panel_size": 3,
        "decision": "family_reunification",
        "assessment_id": ASSESSMENT,
        "approval_id": APPROVAL,
        "note": "The panel's reasons",
    }
    refused = client.post(
        f"/protection/cases/{CASE}/reasonable-grounds",
        data={"csrf_token": csrf, "decided_at": "2026-03-02T09:30", "non_removal": "yes"},
    )
    assert refused.status_code == 200
    assert "This cannot be done in the current state." in refused.text


def test_operators_do_not_reach_the_protection_screens(client: Any, signed_in: Any) -> None:
    signed_in(client, "operator")
    assert client.get(f"/protection/cases/{CASE}").status_code == 403


def test_an_appeals_outcome_is_posted_as_intake_expects(
    client: Any, signed_in: Any, intake: list[tuple[str, str, Any]]
) -> None:
    csrf = signed_in(client, "caseworker")
    client.post(
        f"/protection/cases/{CASE}/appeal-decision",
        data={"csrf_token": csrf, "outcome": "overturned", "decided_at": "2026-05-20T10:00"},
    )
    method, path, body = [call for call in intake if call[0] == "POST"][-1]
    assert (method, path) == ("POST", f"/v1/cases/{CASE}/identification/appeal/decision")
    assert body == {"outcome": "overturned", "decided_at": "2026-05-20T10:00:00+00:00"}
