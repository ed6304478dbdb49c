"""Issue 17's remaining screens against stand-ins for intake and the referral service: the
PSEA focal point's complaints (and nobody else's access to them), the person's feedback and
a partner's figures, the safe-contact profile and check; in French and Arabic too; each
form posts what the API expects and the API's refusal comes back as a message."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.datastructures import FormData

from mpa_console.adapters.platform import Service, UpstreamError
from mpa_console.domain.intake_form import read_form, to_request
from mpa_console.domain.psea import timeliness

CASE = str(uuid.uuid4())
COMPLAINT = str(uuid.uuid4())
PARTNER = str(uuid.uuid4())
REFERRAL = str(uuid.uuid4())
NOW = datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _complaint(**changes: Any) -> dict[str, Any]:
    complaint = {
        "complaint_id": COMPLAINT,
        "received_at": _iso(NOW - timedelta(hours=30)),
        "received_by": "psea:fp-1",
        "allegation_type": "sexual_exploitation",
        "implicated_partner_id": PARTNER,
        "incident_date": None,
        "assistance_consent": False,
        "identity_consent": False,
        "assistance": None,
        "assistance_due_at": _iso(NOW - timedelta(hours=6)),
        "allegation_referred_at": None,
        "allegation_referral_due_at": _iso(NOW + timedelta(hours=2)),
        "investigation_due_at": None,
        "outcome": None,
        "partner_suspended": False,
        "overdue_steps": ["assistance"],
        "missed_steps": ["assistance"],
        "account": "The account as told",
        "survivor": {"given_name": None, "family_name": None, "phone": None, "email": None},
        "survivor_case_id": None,
    }
    return {**complaint, **changes}


def _case(**safety: Any) -> dict[str, Any]:
    return {
        "case_id": CASE,
        "reference": "MPA-2026-000042",
        "status": "open",
        "age_band": "18-59",
        "person": {
            "given_name": "Awa",
            "family_name": "Exemple",
            "date_of_birth": None,
            "estimated_age": 30,
            "sex": "female",
            "languages": ["fr"],
            "phone": None,
        },
        "location": {"country": "NE", "admin_area": None, "place": None},
        "vulnerabilities": [],
        "needs": [],
        "consent": None,
        "safety": {
            "do_not_contact": True,
            "safe_contact_method": "through_caseworker",
            "safe_contact_details": None,
            "safe_times": ["evening"],
            "voicemail_allowed": False,
            **safety,
        },
    }


def _referral() -> dict[str, Any]:
    return {
        "id": REFERRAL,
        "case_id": CASE,
        "category": "shelter",
        "urgency": "high",
        "state": "accepted",
        "partner_id": PARTNER,
        "accepted_at": _iso(NOW),
        "created_at": _iso(NOW),
        "outcome": None,
        "status_reason": None,
        "mandatory_rule": None,
        "reroute_count": 0,
        "explanation": [],
        "history": [],
    }


def _figures() -> dict[str, Any]:
    return {
        "partner_id": PARTNER,
        "figures": {
            "responses": 3,
            "received": {"received": 2, "partly": 1},
            "received_rate": 2 / 3,
            "quality": {"good": 2, "very_good": 1},
            "quality_mean": 4.333,
            "waiting_time": {"same_day": 3},
            "felt_safe_rate": 1.0,
            "anonymous_withheld": 2,
        },
        "answers": None,
    }


@pytest.fixture
def platform(client: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The services' answers (`answers[(method, path)]`, an exception to refuse); every
    call the console makes is recorded in `calls`."""
    state: dict[str, Any] = {"calls": [], "answers": {}}
    partners = [
        {
            "id": PARTNER,
            "name": "Demo Hope Shelter",
            "code": "DEMO-HOPE",
            "countries": ["NE"],
            "partner_type": "civil_society_organisation",
            "active": True,
            "is_demo": True,
        }
    ]
    defaults = {
        ("GET", "/v1/psea/complaints"): {"items": [_complaint()]},
        ("GET", f"/v1/psea/complaints/{COMPLAINT}"): _complaint(),
        ("POST", "/v1/psea/complaints"): {"complaint_id": COMPLAINT, "received_at": _iso(NOW)},
        ("GET", "/v1/partners"): partners,
        ("GET", f"/v1/partners/{PARTNER}"): partners[0],
        ("GET", f"/v1/partners/{PARTNER}/feedback"): _figures(),
        ("GET", f"/v1/cases/{CASE}"): _case(),
        ("GET", "/v1/referrals"): {"items": [{"id": REFERRAL}]},
        ("GET", f"/v1/referrals/{REFERRAL}"): _referral(),
        ("GET", "/v1/services"): [],
    }

    async def call(
        service: Service, method: str, path: str, token: str | None, **kwargs: Any
    ) -> Any:
        state["calls"].append((service, method, path, kwargs.get("json")))
        answer = state["answers"].get((method, path), defaults.get((method, path), {}))
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(client.app.state.console.platform, "call", call)
    return state


def _posted(platform: dict[str, Any]) -> tuple[Any, ...]:
    return next(c for c in reversed(platform["calls"]) if c[1] == "POST")


# --- PSEA -------------------------------------------------------------------------------------


def test_the_focal_point_sees_the_complaints_with_their_deadlines(
    client: Any, signed_in: Any, platform: dict[str, Any]
) -> None:
    signed_in(client, "psea")
    home = client.get("/", follow_redirects=False)
    assert home.headers["location"] == "/psea/complaints"
    page = client.get("/psea/complaints")
    assert page.status_code == 200, page.text
    assert 'href="/psea/complaints"' in page.text  # in the navigation
    assert "Sexual exploitation" in page.text
    assert "Demo Hope Shelter" in page.text
    assert "overdue by" in page.text  # the assistance step
    assert "left" in page.text  # the allegation's referral
    assert "The account as told" not in page.text  # the list has no account
    french = client.get("/psea/complaints", headers={"accept-language": "fr"})
    assert "Plaintes PSEA" in french.text
    arabic = client.get("/psea/complaints", headers={"accept-language": "ar"})
    assert 'dir="rtl"' in arabic.text
    assert "شكاوى الاستغلال والانتهاك الجنسيين" in arabic.text


@pytest.mark.parametrize("role", ["caseworker", "operator", "supervisor", "admin", "auditor"])
def test_no_other_role_sees_or_reaches_the_psea_area(
    client: Any, signed_in: Any, platform: dict[str, Any], role: str
) -> None:
    csrf = signed_in(client, role)
    assert "/psea/" not in client.get("/feedback").text  # not in the navigation
    for path in ("/psea/complaints", "/psea/complaints/new", f"/psea/complaints/{COMPLAINT}"):
        assert client.get(path).status_code == 403, path
    refused = client.post(
        f"/psea/complaints/{COMPLAINT}/outcome",
        data={"csrf_token": csrf, "outcome": "substantiated"},
    )
    assert refused.status_code == 403
    assert not [c for c in platform["calls"] if "/psea/" in c[2]]  # intake was not asked


def test_recording_a_complaint_posts_it_and_opens_its_record(
    client: Any, signed_in: Any, csrf_of: Any, platform: dict[str, Any]
) -> None:
    csrf = signed_in(client, "psea")
    answer = client.post(
        "/psea/complaints/new",
        data={
            "csrf_token": csrf,
            "allegation_type": "sexual_abuse",
            "account": "  What she said  ",
            "implicated_partner_id": PARTNER,
            "incident_date": "2026-11-20",
            "survivor_given_name": "Awa",
            "survivor_phone": "",
            "assistance_consent": "yes",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/psea/complaints/{COMPLAINT}"
    _, method, path, body = _posted(platform)
    assert (method, path) == ("POST", "/v1/psea/complaints")
    assert body == {
        "allegation_type": "sexual_abuse",
        "account": "What she said",
        "implicated_partner_id": PARTNER,
        "incident_date": "2026-11-20",
        "survivor": {"given_name": "Awa"},
        "assistance_consent": True,
        "identity_consent": False,
    }
    record = client.get(answer.headers["location"])
    assert "The complaint was recorded" in record.text
    assert "The account as told" in record.text
    assert "recorded in the audit log" in record.text
    # No consent to assistance: the referral choice is offered disabled, the refusal not.
    assert 'id="assistance-referred" name="decision" value="referred" required disabled' in (
        record.text
    )
    assert f"/psea/complaints/{COMPLAINT}/allegation-referral" in record.text
    assert f"/psea/complaints/{COMPLAINT}/outcome" not in record.text  # not referred yet


def test_a_focal_point_whose_sign_in_names_no_country_office_is_asked_for_it(
    client: Any, signed_in: Any, csrf_of: Any, platform: dict[str, Any]
) -> None:
    # A complaint belongs to the office that received it; intake refuses one without.
    csrf = signed_in(client, "psea")
    assert 'name="country" required' in client.get("/psea/complaints/new").text
    client.post(
        "/psea/complaints/new",
        data={
            "csrf_token": csrf,
            "allegation_type": "sexual_abuse",
            "account": "What she said",
            "country": "ne",
        },
        follow_redirects=False,
    )
    assert _posted(platform)[3]["country"] == "NE"


def test_a_focal_point_of_a_country_office_is_not_asked_for_one(client: Any, csrf_of: Any) -> None:
    token = csrf_of(client.get("/sign-in").text)
    client.post(
        "/sign-in/dev",
        data={"role": "psea", "country": "NE", "csrf_token": token},
        follow_redirects=False,
    )
    assert 'name="country"' not in client.get("/psea/complaints/new").text


def test_a_refused_complaint_is_shown_again_as_typed_with_a_message(
    client: Any, signed_in: Any, platform: dict[str, Any]
) -> None:
    csrf = signed_in(client, "psea")
    platform["answers"][("POST", "/v1/psea/complaints")] = UpstreamError(
        Service.INTAKE, 422, "Invalid"
    )
    answer = client.post(
        "/psea/complaints/new",
        data={"csrf_token": csrf, "allegation_type": "", "account": "Kept as typed"},
    )
    assert answer.status_code == 422
    assert "Some fields are missing or not valid." in answer.text
    assert "Kept as typed" in answer.text


@pytest.mark.parametrize(
    ("step", "form", "path", "body"),
    [
        (
            "assistance",
            {"decision": "referred", "survivor_case_id": CASE, "urgency": "critical"},
            "/assistance",
            {"decision": "referred", "urgency": "critical", "survivor_case_id": CASE},
        ),
        ("assistance", {"decision": "declined"}, "/assistance", {"decision": "declined"}),
        (
            "allegation-referral",
            {"implicated_partner_id": PARTNER},
            "/allegation-referral",
            {"implicated_partner_id": PARTNER},
        ),
        (
            "outcome",
            {"outcome": "substantiated", "suspend_partner": "yes"},
            "/outcome",
            {"outcome": "substantiated", "suspend_partner": True},
        ),
    ],
)
def test_each_step_posts_what_intake_expects(
    client: Any,
    signed_in: Any,
    platform: dict[str, Any],
    step: str,
    form: dict[str, str],
    path: str,
    body: dict[str, Any],
) -> None:
    csrf = signed_in(client, "psea")
    answer = client.post(
        f"/psea/complaints/{COMPLAINT}/{step}",
        data={"csrf_token": csrf, **form},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(f"/psea/complaints/{COMPLAINT}#")
    _, method, posted_path, posted = _posted(platform)
    assert (method, posted_path) == ("POST", f"/v1/psea/complaints/{COMPLAINT}{path}")
    assert posted == body


def test_a_refused_step_is_a_message_not_an_error(
    client: Any, signed_in: Any, platform: dict[str, Any]
) -> None:
    csrf = signed_in(client, "psea")
    platform["answers"][("POST", f"/v1/psea/complaints/{COMPLAINT}/assistance")] = UpstreamError(
        Service.INTAKE, 409, "Conflict"
    )
    page = client.post(
        f"/psea/complaints/{COMPLAINT}/assistance",
        data={"csrf_token": csrf, "decision": "referred"},
    )
    assert page.status_code == 200
    assert "a referral needs the survivor's consent" in page.text
    missing = client.get(f"/psea/complaints/{COMPLAINT}/nothing")
    assert missing.status_code in (404, 405)


def test_a_concluded_complaint_shows_its_outcome_and_the_suspension(
    client: Any, signed_in: Any, platform: dict[str, Any]
) -> None:
    signed_in(client, "psea")
    platform["answers"][("GET", f"/v1/psea/complaints/{COMPLAINT}")] = _complaint(
        assistance="declined",
        allegation_referred_at=_iso(NOW - timedelta(hours=1)),
        investigation_due_at=_iso(NOW + timedelta(days=80)),
        outcome="substantiated",
        partner_suspended=True,
        overdue_steps=[],
    )
    page = client.get(f"/psea/complaints/{COMPLAINT}")
    assert "Substantiated" in page.text
    assert "suspended from the directory" in page.text
    assert "done late" in page.text  # the assistance missed its deadline
    assert "done on time" in page.text
    assert '<form method="post" action="/psea' not in page.text  # nothing left to do


def test_timeliness_of_each_step() -> None:
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    steps = timeliness(
        {
            "assistance": None,
            "assistance_due_at": "2026-03-02T10:00:00Z",
            "allegation_referred_at": "2026-03-02T11:00:00Z",
            "allegation_referral_due_at": "2026-03-02T10:30:00Z",
            "outcome": None,
            "investigation_due_at": None,
            "overdue_steps": [],
            "missed_steps": [],
        },
        now,
    )
    assert [(s.step, s.state) for s in steps] == [
        ("assistance", "overdue"),
        ("allegation_referral", "late"),
        ("investigation", "not_started"),
    ]
    assert steps[0].seconds_left == -7200


# --- The person's feedback --------------------------------------------------------------------


def test_the_case_page_offers_feedback_on_an_accepted_referral(
    client: Any, signed_in: Any, platform: dict[str, Any]
) -> None:
    csrf = signed_in(client, "caseworker")
    page = client.get(f"/operator/cases/{CASE}")
    assert page.status_code == 200, page.text
    assert f"/voice/cases/{CASE}/feedback" in page.text
    assert f'<option value="{REFERRAL}">' in page.text
    answer = client.post(
        f"/voice/cases/{CASE}/feedback",
        data={
            "csrf_token": csrf,
            "referral_id": REFERRAL,
            "received": "partly",
            "quality": "fair",
            "waiting_time": "",
            "felt_safe": "no",
        },
        follow_redirects=False,
    )
    assert answer.headers["location"] == f"/operator/cases/{CASE}#feedback"
    _, _, path, body = _posted(platform)
    assert path == f"/v1/cases/{CASE}/feedback"
    assert body == {
        "referral_id": REFERRAL,
        "received": "partly",
        "quality": "fair",
        "felt_safe": False,
        "anonymous_to_provider": True,
    }
    client.post(
        f"/voice/cases/{CASE}/feedback",
        data={
            "csrf_token": csrf,
            "referral_id": REFERRAL,
            "received": "received",
            "named_to_provider": "yes",
        },
    )
    assert _posted(platform)[3]["anonymous_to_provider"] is False


def test_feedback_refused_by_intake_is_a_message(
    client: Any, signed_in: Any, platform: dict[str, Any]
) -> None:
    csrf = signed_in(client, "operator")
    platform["answers"][("POST", f"/v1/cases/{CASE}/feedback")] = UpstreamError(
        Service.INTAKE, 409, "Conflict"
    )
    page = client.post(
        f"/voice/cases/{CASE}/feedback",
        data={"csrf_token": csrf, "referral_id": REFERRAL, "received": "received"},
    )
    assert page.status_code == 200
    assert "there is no service to rate yet" in page.text


def test_a_partners_feedback_figures(client: Any, signed_in: Any, platform: dict[str, Any]) -> None:
    signed_in(client, "supervisor")
    listed = client.get("/feedback")
    assert f"/feedback/partners/{PARTNER}" in listed.text
    assert f"/feedback/partners/{PARTNER}" in client.get("/directory").text
    page = client.get(f"/feedback/partners/{PARTNER}?days=7")
    assert page.status_code == 200, page.text
    assert 'id="kpi-responses">3<' in page.text
    assert "4.3 / 5" in page.text
    assert "67%" in page.text
    assert "2 anonymous answers are left out" in page.text
    asked = next(c for c in platform["calls"] if c[2].endswith("/feedback"))
    assert asked[0] is Service.REFERRAL
    french = client.get(f"/feedback/partners/{PARTNER}", headers={"accept-language": "fr"})
    assert "Avis sur les services" in french.text
    assert "Très bon" in french.text


def test_a_partners_staff_go_to_their_own_figures(
    client: Any, signed_in: Any, csrf_of: Any, platform: dict[str, Any]
) -> None:
    token = csrf_of(client.get("/sign-in").text)
    client.post(
        "/sign-in/dev",
        data={"role": "partner", "partner_id": PARTNER, "csrf_token": token},
        follow_redirects=False,
    )
    answer = client.get("/feedback", follow_redirects=False)
    assert answer.headers["location"] == f"/feedback/partners/{PARTNER}"
    platform["answers"][("GET", f"/v1/partners/{PARTNER}/feedback")] = UpstreamError(
        Service.REFERRAL, 404, "Not found"
    )
    assert client.get(f"/feedback/partners/{PARTNER}").status_code == 404


# --- Safe contact -----------------------------------------------------------------------------


def test_the_case_page_shows_the_safety_profile(
    client: Any, signed_in: Any, platform: dict[str, Any]
) -> None:
    signed_in(client, "operator")
    page = client.get(f"/operator/cases/{CASE}")
    assert "No direct contact" in page.text
    assert "Evening (18:00 to 22:00)" in page.text
    assert "Never leave one" in page.text
    assert f"/voice/cases/{CASE}/contact-checks" in page.text
    arabic = client.get(f"/operator/cases/{CASE}", headers={"accept-language": "ar"})
    assert "المساء (من 18:00 إلى 22:00)" in arabic.text


def test_a_contact_check_shows_its_answer(
    client: Any, signed_in: Any, platform: dict[str, Any]
) -> None:
    csrf = signed_in(client, "caseworker")
    checks = ("POST", f"/v1/cases/{CASE}/contact-checks")
    platform["answers"][checks] = {
        "allowed": False,
        "refusal": "do_not_contact",
        "do_not_contact": True,
        "safe_contact_method": "through_caseworker",
        "safe_times": [],
        "voicemail_allowed": False,
    }
    refused = client.post(
        f"/voice/cases/{CASE}/contact-checks",
        data={"csrf_token": csrf, "channel": "phone_call", "local_time": "19:30"},
    )
    assert "Contact refused: do not make it." in refused.text
    assert "The person is not to be contacted at all." in refused.text
    assert _posted(platform)[3] == {
        "channel": "phone_call",
        "leave_message": False,
        "local_time": "19:30",
    }
    platform["answers"][checks] = {**platform["answers"][checks], "allowed": True, "refusal": None}
    allowed = client.post(
        f"/voice/cases/{CASE}/contact-checks",
        data={"csrf_token": csrf, "channel": "through_caseworker"},
    )
    assert "Contact allowed" in allowed.text
    assert "Leave no voicemail" in allowed.text
    assert "local_time" not in _posted(platform)[3]
    platform["answers"][checks] = UpstreamError(Service.INTAKE, 422, "Invalid")
    invalid = client.post(
        f"/voice/cases/{CASE}/contact-checks", data={"csrf_token": csrf, "channel": ""}
    )
    assert invalid.status_code == 200
    assert "Some fields are missing or not valid." in invalid.text


# --- The intake form's safety profile ---------------------------------------------------------


def _intake_form(**safety: str | list[str]) -> Any:
    values: list[tuple[str, str]] = [
        ("idempotency_key", "k-1"),
        ("person.given_name", "Fictive"),
        ("person.family_name", "Personne"),
        ("person.estimated_age", "30"),
        ("person.sex", "female"),
        ("person.languages", "ha"),
        ("location.country", "NE"),
        ("needs.0.category", "shelter"),
        ("needs.0.urgency", "high"),
        ("consent.given", "no"),
    ]
    for name, value in safety.items():
        for one in [value] if isinstance(value, str) else value:
            values.append((f"safety.{name}", one))
    form = read_form(FormData(values))
    return form, to_request(form, today=NOW.date())


def test_the_intake_form_takes_safe_times_and_the_voicemail_choice() -> None:
    form, body = _intake_form(
        safe_contact_method="sms", safe_times=["evening", "morning"], voicemail_allowed="yes"
    )
    assert form.errors == {}
    assert body["safety"] == {
        "do_not_contact": False,
        "safe_contact_method": "sms",
        "safe_times": ["evening", "morning"],
        "voicemail_allowed": True,
    }
    _, plain = _intake_form(safe_contact_method="sms")
    assert plain["safety"] == {"do_not_contact": False, "safe_contact_method": "sms"}


def test_no_contact_takes_no_safe_times_nor_voicemail() -> None:
    form, body = _intake_form(
        do_not_contact="yes", safe_contact_method="through_caseworker", safe_times="evening"
    )
    assert body is None
    assert form.errors["safety.safe_times"].startswith("With no direct contact")
    form, body = _intake_form(safe_contact_method="sms", safe_times="teatime")
    assert body is None
    assert form.errors["safety.safe_times"] == "This value is not valid."


# --- The person's own feedback link --------------------------------------------------------

TOKEN = "q3Jx0c8b2n5T-yW1aLk9vZp4Rm7sUe6hDgFiCoBtN0E"


def test_staff_create_a_feedback_link_shown_once_or_read_the_refusal(
    client: Any, signed_in: Any, platform: dict[str, Any]
) -> None:
    csrf = signed_in(client, "caseworker")
    page = client.get(f"/operator/cases/{CASE}")
    assert f"/voice/cases/{CASE}/feedback-invitations" in page.text
    platform["answers"][("POST", f"/v1/cases/{CASE}/feedback-invitations")] = {
        "invitation_id": str(uuid.uuid4()), "token": TOKEN, "path": f"/feedback/{TOKEN}",
        "expires_at": _iso(NOW + timedelta(days=14)),
    }  # fmt: skip
    shown = client.post(
        f"/voice/cases/{CASE}/feedback-invitations",
        data={"csrf_token": csrf, "referral_id": REFERRAL, "channel": "sms"},
    )
    assert shown.status_code == 200, shown.text
    assert f"/feedback/{TOKEN}" in shown.text
    assert _posted(platform)[3] == {"referral_id": REFERRAL, "channel": "sms"}
    assert TOKEN not in client.get(f"/operator/cases/{CASE}").text  # once only
    platform["answers"][("POST", f"/v1/cases/{CASE}/feedback-invitations")] = UpstreamError(
        Service.INTAKE, 409, "Contact refused by the safety profile"
    )
    refused = client.post(
        f"/voice/cases/{CASE}/feedback-invitations",
        data={"csrf_token": csrf, "referral_id": REFERRAL, "channel": "sms"},
    )
    assert "safety profile refuses this channel" in refused.text


def test_the_person_answers_the_link_without_signing_in_in_their_language(
    client: Any, csrf_of: Any, platform: dict[str, Any]
) -> None:
    platform["answers"][("GET", f"/v1/feedback-invitations/{TOKEN}")] = {
        "service_category": "shelter", "expires_at": _iso(NOW + timedelta(days=3)),
    }  # fmt: skip
    form = client.get(f"/feedback/{TOKEN}")
    assert form.status_code == 200, form.text
    assert 'id="feedback-answer"' in form.text
    assert "Awa" not in form.text
    thanks = client.post(
        f"/feedback/{TOKEN}",
        data={"csrf_token": csrf_of(form.text), "received": "received", "quality": "good",
              "felt_safe": "yes"},
    )  # fmt: skip
    assert thanks.status_code == 200, thanks.text
    _, _, path, body = _posted(platform)
    assert path == f"/v1/feedback-invitations/{TOKEN}"
    assert body == {"received": "received", "quality": "good", "felt_safe": True,
                    "anonymous_to_provider": True}  # fmt: skip
    for lang in ("fr", "ar"):
        page = client.get(f"/feedback/{TOKEN}", headers={"accept-language": lang})
        assert page.status_code == 200
        assert "Your feedback" not in page.text, lang
    platform["answers"][("GET", f"/v1/feedback-invitations/{TOKEN}")] = UpstreamError(
        Service.INTAKE, 404, "Not found"
    )
    gone = client.get(f"/feedback/{TOKEN}")
    assert gone.status_code == 404
    assert "This link does not work" in gone.text


def test_a_refused_post_to_a_link_logs_no_token(
    client: Any, platform: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING"):
        answer = client.post(f"/feedback/{TOKEN}", data={"received": "received"})
    assert answer.status_code == 403  # no CSRF token
    assert [r.__dict__.get("path") for r in caplog.records if r.msg == "csrf rejected"] == [
        "/feedback/{redacted}"
    ]
    assert TOKEN not in caplog.text
