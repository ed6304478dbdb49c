"""The console's own rules: the intake form, the inbox order, the dashboard's bars."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from starlette.datastructures import FormData

from mpa_console.domain import intake_form as form_rules
from mpa_console.domain.intake_form import apply_service_errors, read_form, to_request
from mpa_console.domain.kpis import bars, period
from mpa_console.domain.referrals import action_body, inbox_order, partner_actions, seconds_left

TODAY = date(2026, 3, 2)
COMPLETE = {
    "idempotency_key": "k-1",
    "person.given_name": "Fictive",
    "person.family_name": "Personne",
    "person.estimated_age": "30",
    "person.sex": "female",
    "person.languages": "ha, FR",
    "location.country": "ne",
    "location.admin_area": "NE-8",
    "needs.0.category": "shelter",
    "needs.0.urgency": "high",
    "needs.1.category": "medical",
    "needs.1.urgency": "low",
    "consent.given": "yes",
    "consent.scopes": "referral",
    "consent.given_by": "self",
    "consent.method": "verbal",
    "consent.obtained_at": "2026-03-02T09:15",
    "safety.safe_contact_method": "sms",
}


def posted(values: dict[str, str], **changes: str | None) -> FormData:
    merged = {**values, **changes}
    return FormData([(k, v) for k, v in merged.items() if v is not None])


def test_a_complete_form_becomes_intakes_request_body() -> None:
    form = read_form(posted(COMPLETE))
    body = to_request(form, today=TODAY)
    assert form.errors == {}
    assert body is not None
    assert body["person"]["languages"] == ["ha", "fr"]
    assert body["person"]["estimated_age"] == 30
    assert body["location"] == {"country": "NE", "admin_area": "NE-8"}
    assert [n["category"] for n in body["needs"]] == ["shelter", "medical"]
    assert body["consent"] == {
        "given": True,
        "details": {
            "scopes": ["referral"],
            "given_by": "self",
            "method": "verbal",
            "obtained_at": "2026-03-02T09:15:00+00:00",
        },
    }


def test_the_consent_section_cannot_be_skipped() -> None:
    form = read_form(posted(COMPLETE, **{"consent.given": None}))
    assert to_request(form, today=TODAY) is None
    assert form.errors == {"consent.given": form_rules.CHOOSE_CONSENT}
    refused = read_form(posted(COMPLETE, **{"consent.given": "no"}))
    body = to_request(refused, today=TODAY)
    assert body is not None
    assert body["consent"] == {"given": False}


def test_consent_given_needs_its_details_and_a_child_does_not_consent_alone() -> None:
    form = read_form(posted(COMPLETE, **{"consent.scopes": None, "consent.method": None}))
    assert to_request(form, today=TODAY) is None
    assert set(form.errors) == {"consent.scopes", "consent.method"}
    child = read_form(posted(COMPLETE, **{"person.estimated_age": "15"}))
    assert to_request(child, today=TODAY) is None
    assert child.errors == {"consent.given_by": form_rules.CHILD_CONSENT}


def test_inline_errors_name_fields_never_values() -> None:
    form = read_form(
        posted(
            COMPLETE,
            **{"person.estimated_age": None, "location.country": "Niger", "needs.0.urgency": ""},
        )
    )
    assert to_request(form, today=TODAY) is None
    assert form.errors == {
        "person.date_of_birth": form_rules.ONE_AGE,
        "location.country": form_rules.INVALID,
        "location.admin_area": form_rules.INVALID,  # NE-8 is not in "NIGER"
        "needs.0.urgency": form_rules.REQUIRED,
    }
    assert all("Niger" not in message for message in form.errors.values())


def test_intakes_validation_errors_land_on_the_right_inputs() -> None:
    form = read_form(posted(COMPLETE))
    apply_service_errors(
        form,
        [
            ("body.person.given_name", "too long"),
            ("body.consent.details", "consent given by self for a child"),
            ("body.needs.1.note", "too long"),
            ("body.somewhere.else", "?"),
        ],
    )
    assert set(form.errors) == {
        "person.given_name",
        "consent.given_by",
        "needs.1.note",
        "form",
    }


def test_the_inbox_is_ordered_by_urgency_then_by_time_left() -> None:
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)

    def referral(name: str, urgency: str, hours_left: float | None, state: str = "routed"):
        due = (now + timedelta(hours=hours_left)).isoformat() if hours_left is not None else None
        return {"id": name, "urgency": urgency, "state": state, "acceptance_due_at": due}

    inbox = inbox_order(
        [
            referral("low", "low", 1),
            referral("high-later", "high", 20),
            referral("accepted-high", "high", None, state="accepted"),
            referral("high-overdue", "high", -2),
            referral("critical", "critical", 0.5),
        ],
        now,
    )
    assert [r["id"] for r in inbox] == [
        "critical",
        "high-overdue",
        "high-later",
        "accepted-high",
        "low",
    ]
    assert seconds_left(referral("x", "low", -2), now) == -7200
    assert seconds_left(referral("x", "low", 1, state="accepted"), now) is None


def test_partner_actions_follow_the_lifecycle_and_need_their_reasons() -> None:
    assert partner_actions("routed") == ("accept", "decline")
    assert partner_actions("in_progress") == ("hold", "complete", "fail")
    assert partner_actions("completed") == ()
    assert action_body("decline", None, None) is None
    assert action_body("decline", "lack_of_capacity", " ") == {
        "reason": "lack_of_capacity",
        "note": " ",
    }
    assert action_body("complete", "service_provided", None) == {"outcome": "service_provided"}
    assert action_body("accept", None, None) == {}


def test_bars_are_scaled_to_the_largest_and_periods_are_bounded() -> None:
    drawn = bars({"a": 2, "b": 8, "c": 4})
    assert [(b.key, b.fraction) for b in drawn] == [("b", 1.0), ("c", 0.5), ("a", 0.25)]
    assert bars({}) == []
    assert period(7).days == 7
    assert period(12345).days == 30
