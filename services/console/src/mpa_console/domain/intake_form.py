"""The operator's intake form: from the posted fields to intake's `POST /v1/cases` body.

Pure: no I/O. Field names mirror the API body (`person.given_name`, `needs.0.urgency`), so
the field names in intake's validation errors (`body.person.given_name`) point straight at
the inputs. The console checks what it can before sending — above all that the consent
section was answered, so it can never be skipped — and intake stays the authority on every
rule (it answers 422 naming each field, which the form shows inline).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from mpa_console.messages import N_
from mpa_contracts.vocabularies import (
    ConsentGivenBy,
    ConsentMethod,
    ConsentScope,
    NeedCategory,
    SafeContactMethod,
    SafeContactTime,
    Sex,
    Urgency,
    Vulnerability,
)

MIN_NEED_ROWS = 2
MAX_NEED_ROWS = 20
ADULT_AGE = 18
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_ADMIN_AREA = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")


class FormValues(Protocol):
    """What a posted form offers (Starlette's FormData fits)."""

    def get(self, key: str, /) -> Any: ...

    def getlist(self, key: str, /) -> list[Any]: ...


# Message ids, translated by the page (never values: an error must not echo what was typed).
REQUIRED = N_("This field is required.")
INVALID = N_("This value is not valid.")
CHOOSE_CONSENT = N_("Say whether the person consented: this section cannot be skipped.")
CONSENT_DETAILS = N_("Give the scope, who consented and how.")
CHILD_CONSENT = N_("For a child, consent is given by a parent, guardian or caregiver.")
ONE_AGE = N_("Give either the date of birth or an estimated age.")
ONE_NEED = N_("Record at least one need, with its urgency.")
NO_CONTACT_METHOD = N_("With no direct contact, choose no contact or through the caseworker.")
NO_CONTACT_TIMES = N_("With no direct contact, give no safe times and allow no voicemail.")


@dataclass
class IntakeForm:
    """The posted form, kept as text so it can be shown again exactly as typed."""

    values: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    need_rows: int = MIN_NEED_ROWS
    errors: dict[str, str] = field(default_factory=dict)

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def chosen(self, name: str) -> list[str]:
        return self.lists.get(name, [])

    @property
    def idempotency_key(self) -> str:
        return self.value("idempotency_key")


_TEXT_FIELDS = (
    "idempotency_key",
    "person.given_name",
    "person.family_name",
    "person.age_known",
    "person.date_of_birth",
    "person.estimated_age",
    "person.sex",
    "person.gender_identity",
    "person.nationality",
    "person.languages",
    "person.phone",
    "person.email",
    "location.country",
    "location.admin_area",
    "location.place",
    "consent.given",
    "consent.given_by",
    "consent.method",
    "consent.obtained_at",
    "safety.do_not_contact",
    "safety.safe_contact_method",
    "safety.safe_contact_details",
    "safety.voicemail_allowed",
)
_LIST_FIELDS = ("vulnerabilities", "consent.scopes", "safety.safe_times")
_NEED_FIELDS = ("category", "urgency", "note")


def read_form(posted: FormValues) -> IntakeForm:
    form = IntakeForm()
    for name in _TEXT_FIELDS:
        raw = posted.get(name)
        form.values[name] = raw.strip() if isinstance(raw, str) else ""
    for name in _LIST_FIELDS:
        form.lists[name] = [v for v in posted.getlist(name) if isinstance(v, str)]
    try:
        rows = int(posted.get("need_rows") or MIN_NEED_ROWS)
    except ValueError:
        rows = MIN_NEED_ROWS
    form.need_rows = min(max(rows, MIN_NEED_ROWS), MAX_NEED_ROWS)
    for index in range(form.need_rows):
        for part in _NEED_FIELDS:
            name = f"needs.{index}.{part}"
            raw = posted.get(name)
            form.values[name] = raw.strip() if isinstance(raw, str) else ""
    return form


def _code(form: IntakeForm, name: str, vocabulary: type[Any], *, required: bool = True) -> str:
    value = form.value(name)
    if not value:
        if required:
            form.errors[name] = REQUIRED
        return ""
    if value not in {member.value for member in vocabulary}:
        form.errors[name] = INVALID
        return ""
    return value


def _optional(value: str) -> str | None:
    return value or None


def age_in_years(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def to_request(form: IntakeForm, *, today: date | None = None) -> dict[str, Any] | None:
    """The request body, or None with `form.errors` filled in (field name -> message id)."""
    today = today or datetime.now(UTC).date()
    errors = form.errors
    person: dict[str, Any] = {}
    for name in ("given_name", "family_name"):
        value = form.value(f"person.{name}")
        if not value:
            errors[f"person.{name}"] = REQUIRED
        person[name] = value
    age: int | None = None
    born, estimated = form.value("person.date_of_birth"), form.value("person.estimated_age")
    if bool(born) == bool(estimated):
        errors["person.date_of_birth"] = ONE_AGE
    elif born:
        try:
            birth = date.fromisoformat(born)
            person["date_of_birth"] = born
            age = age_in_years(birth, today)
            if birth > today:
                errors["person.date_of_birth"] = INVALID
        except ValueError:
            errors["person.date_of_birth"] = INVALID
    else:
        try:
            age = int(estimated)
            if not 0 <= age <= 120:
                raise ValueError
            person["estimated_age"] = age
        except ValueError:
            errors["person.estimated_age"] = INVALID
    person["sex"] = _code(form, "person.sex", Sex)
    if gender := form.value("person.gender_identity"):
        person["gender_identity"] = gender
    nationality = form.value("person.nationality").upper()
    if nationality:
        if _COUNTRY.match(nationality):
            person["nationality"] = nationality
        else:
            errors["person.nationality"] = INVALID
    languages = [
        part.lower() for part in re.split(r"[\s,;]+", form.value("person.languages")) if part
    ]
    if not languages:
        errors["person.languages"] = REQUIRED
    elif not all(_LANGUAGE.match(code) for code in languages) or len(set(languages)) != len(
        languages
    ):
        errors["person.languages"] = INVALID
    person["languages"] = languages
    for name in ("phone", "email"):
        if value := form.value(f"person.{name}"):
            person[name] = value

    country = form.value("location.country").upper()
    if not _COUNTRY.match(country):
        errors["location.country"] = REQUIRED if not country else INVALID
    location: dict[str, Any] = {"country": country}
    area = form.value("location.admin_area").upper()
    if area:
        if _ADMIN_AREA.match(area) and area.startswith(country + "-"):
            location["admin_area"] = area
        else:
            errors["location.admin_area"] = INVALID
    if place := form.value("location.place"):
        location["place"] = place

    vulnerabilities = form.chosen("vulnerabilities")
    known = {v.value for v in Vulnerability}
    if any(v not in known for v in vulnerabilities):
        errors["vulnerabilities"] = INVALID

    needs = []
    for index in range(form.need_rows):
        category = form.value(f"needs.{index}.category")
        urgency = form.value(f"needs.{index}.urgency")
        note = form.value(f"needs.{index}.note")
        if not (category or urgency or note):
            continue
        need: dict[str, Any] = {
            "category": _code(form, f"needs.{index}.category", NeedCategory),
            "urgency": _code(form, f"needs.{index}.urgency", Urgency),
        }
        if note:
            need["note"] = note
        needs.append(need)
    if not needs:
        errors["needs.0.category"] = ONE_NEED

    consent = _consent(form, age)
    safety: dict[str, Any] = {
        "do_not_contact": form.value("safety.do_not_contact") == "yes",
        "safe_contact_method": _code(form, "safety.safe_contact_method", SafeContactMethod),
    }
    if safety["do_not_contact"] and safety["safe_contact_method"] not in (
        "",
        SafeContactMethod.NONE,
        SafeContactMethod.THROUGH_CASEWORKER,
    ):
        errors["safety.safe_contact_method"] = NO_CONTACT_METHOD
    if details := form.value("safety.safe_contact_details"):
        safety["safe_contact_details"] = details
    safe_times = form.chosen("safety.safe_times")
    if any(t not in {member.value for member in SafeContactTime} for t in safe_times):
        errors["safety.safe_times"] = INVALID
    voicemail = form.value("safety.voicemail_allowed") == "yes"
    if safety["do_not_contact"] and (safe_times or voicemail):
        # The contract's rule: "no contact" leaves nothing to time or to leave a message on.
        errors["safety.safe_times"] = NO_CONTACT_TIMES
    if safe_times:
        safety["safe_times"] = safe_times
    if voicemail:
        safety["voicemail_allowed"] = True
    if not form.idempotency_key:
        errors["idempotency_key"] = REQUIRED
    if errors:
        return None
    return {
        "person": person,
        "location": location,
        "vulnerabilities": vulnerabilities,
        "needs": needs,
        "consent": consent,
        "safety": safety,
    }


def _consent(form: IntakeForm, age: int | None) -> dict[str, Any]:
    answer = form.value("consent.given")
    if answer not in ("yes", "no"):
        form.errors["consent.given"] = CHOOSE_CONSENT
        return {}
    if answer == "no":
        return {"given": False}
    scopes = form.chosen("consent.scopes")
    if not scopes:
        form.errors["consent.scopes"] = CONSENT_DETAILS
    elif any(s not in {c.value for c in ConsentScope} for s in scopes):
        form.errors["consent.scopes"] = INVALID
    given_by = _code(form, "consent.given_by", ConsentGivenBy)
    if given_by == ConsentGivenBy.SELF and age is not None and age < ADULT_AGE:
        form.errors["consent.given_by"] = CHILD_CONSENT
    method = _code(form, "consent.method", ConsentMethod)
    obtained = form.value("consent.obtained_at")
    try:
        # <input type="datetime-local"> has no zone: the form labels it as UTC.
        obtained_at = datetime.fromisoformat(obtained).replace(tzinfo=UTC) if obtained else None
    except ValueError:
        obtained_at = None
    if obtained_at is None:
        form.errors["consent.obtained_at"] = REQUIRED if not obtained else INVALID
    return {
        "given": True,
        "details": {
            "scopes": scopes,
            "given_by": given_by,
            "method": method,
            "obtained_at": obtained_at.isoformat() if obtained_at else "",
        },
    }


def apply_service_errors(form: IntakeForm, errors: list[tuple[str, str]]) -> None:
    """Shows intake's 422 errors next to their inputs: `body.person.x` -> `person.x`.

    Intake's reasons are English sentences naming a rule (never a value); the form shows
    its own translated message for the field and keeps the service's reason as a hint."""
    for service_field, _reason in errors:
        name = service_field.removeprefix("body.")
        if name == "consent.details" or name.startswith("consent.details."):
            rest = name.removeprefix("consent.details").lstrip(".")
            name = f"consent.{rest}" if rest else "consent.given_by"
        target = name if _known_field(name, form) else _nearest_field(name, form)
        form.errors.setdefault(target, INVALID)


def _known_field(name: str, form: IntakeForm) -> bool:
    return name in form.values or name in form.lists


def _nearest_field(name: str, form: IntakeForm) -> str:
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        matches = [f for f in (*form.values, *form.lists) if f.startswith(candidate)]
        if matches:
            return matches[0]
        parts.pop()
    return "form"


def duplicate_query(form: IntakeForm) -> dict[str, str] | None:
    """What the duplicate check compares: names with the date of birth, or the phone."""
    query = {
        "given_name": form.value("person.given_name"),
        "family_name": form.value("person.family_name"),
    }
    if born := form.value("person.date_of_birth"):
        try:
            date.fromisoformat(born)
            query["date_of_birth"] = born
        except ValueError:
            pass
    if phone := form.value("person.phone"):
        query["phone"] = phone
    names = query["given_name"] and query["family_name"]
    if not ((names and "date_of_birth" in query) or "phone" in query):
        return None
    return {k: v for k, v in query.items() if v}
