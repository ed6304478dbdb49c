"""The PSEA focal point's screens (issue 17): the complaints with their deadlines, a form
to record one, and a complaint's restricted record with its steps.

For the `psea` role alone: every other role is refused here before intake is asked (and
intake would refuse them too). Every form posts and redirects back (post/redirect/get); the
account and the survivor's details travel in the body only. Intake's refusal of a step (no
consent, a step taken already) comes back as a message on the page.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.datastructures import FormData
from fastapi.responses import Response

from mpa_console.adapters.platform import UpstreamError
from mpa_console.app import psea as use_cases
from mpa_console.app.context import User
from mpa_console.messages import N_
from mpa_console.web.casework_routes import _REFUSED
from mpa_console.web.deps import ConsoleDep, see_other, user_with
from mpa_console.web.security import check_csrf, session_of

router = APIRouter(prefix="/psea", dependencies=[Depends(check_csrf)])
FocalPoint = Annotated[User, Depends(user_with("psea"))]
ComplaintId = Annotated[uuid.UUID, Path()]

# The complaint form's fields, kept to show the form again when intake refuses it.
_FIELDS = (
    "allegation_type",
    "account",
    "implicated_partner_id",
    "incident_date",
    "country",
    "survivor_given_name",
    "survivor_family_name",
    "survivor_phone",
    "survivor_email",
    "survivor_case_id",
    "assistance_consent",
    "identity_consent",
)


def _value(form: FormData, name: str, limit: int = 200) -> str:
    return str(form.get(name) or "").strip()[:limit]


def _complaint(form: FormData) -> dict[str, Any]:
    """The complaint as intake expects it; what was left blank is left out."""
    body: dict[str, Any] = {
        "allegation_type": _value(form, "allegation_type"),
        "account": _value(form, "account", 8000),
        "assistance_consent": form.get("assistance_consent") == "yes",
        "identity_consent": form.get("identity_consent") == "yes",
    }
    for name in ("implicated_partner_id", "incident_date", "survivor_case_id"):
        if value := _value(form, name):
            body[name] = value
    if country := _value(form, "country", 2).upper():
        body["country"] = country  # asked only of a focal point whose sign-in names none
    survivor = {
        key: value
        for key in ("given_name", "family_name", "phone", "email")
        if (value := _value(form, f"survivor_{key}"))
    }
    if survivor:
        body["survivor"] = survivor
    return body


def _assistance(form: FormData) -> dict[str, Any]:
    decision = _value(form, "decision")
    body: dict[str, Any] = {"decision": decision}
    if decision == "referred":
        body["urgency"] = _value(form, "urgency") or "high"
        if case_id := _value(form, "survivor_case_id"):
            body["survivor_case_id"] = case_id
    return body


def _allegation_referral(form: FormData) -> dict[str, Any]:
    partner_id = _value(form, "implicated_partner_id")
    return {"implicated_partner_id": partner_id} if partner_id else {}


def _outcome(form: FormData) -> dict[str, Any]:
    return {
        "outcome": _value(form, "outcome"),
        "suspend_partner": form.get("suspend_partner") == "yes",
    }


# The steps the record posts: intake's path, the body, what is said once it is done, what a
# refusal of its state means, and where on the page to come back to.
STEPS: dict[str, tuple[str, Callable[[FormData], dict[str, Any]], str, str, str]] = {
    "assistance": (
        "/assistance",
        _assistance,
        N_("The assistance decision was recorded."),
        N_(
            "Not recorded: a referral needs the survivor's consent and their case, and the "
            "assistance is decided once."
        ),
        "assistance",
    ),
    "allegation-referral": (
        "/allegation-referral",
        _allegation_referral,
        N_("The allegation was referred to the organisation's investigation focal point."),
        N_("Not referred: name the implicated organisation; an allegation is referred once."),
        "allegation",
    ),
    "outcome": (
        "/outcome",
        _outcome,
        N_("The investigation's outcome was recorded."),
        N_(
            "Not recorded: the allegation must be referred first, the outcome is recorded "
            "once, and only a substantiated allegation suspends the organisation."
        ),
        "outcome",
    ),
}
_STEP = r"^(" + "|".join(STEPS) + r")$"


async def _form_page(
    request: Request,
    console: ConsoleDep,
    user: User,
    values: dict[str, str],
    *,
    status_code: int = 200,
) -> Response:
    partners = await use_cases.partners(console.platform, user)
    return console.templates.render(
        request,
        "psea/new.html",
        {"values": values, "partners": partners, "asks_country": user.country is None},
        status_code=status_code,
    )


@router.get("/complaints", summary="The complaints with their deadlines (PSEA focal point)")
async def complaints(request: Request, console: ConsoleDep, user: FocalPoint) -> Response:
    data = await use_cases.complaints(console.platform, user)
    return console.templates.render(request, "psea/complaints.html", data)


@router.get("/complaints/new", summary="The form to record a complaint")
async def new_complaint(request: Request, console: ConsoleDep, user: FocalPoint) -> Response:
    return await _form_page(request, console, user, {})


@router.post("/complaints/new", summary="Record a complaint")
async def file_complaint(request: Request, console: ConsoleDep, user: FocalPoint) -> Response:
    form = await request.form()
    session = session_of(request)
    try:
        complaint_id = await use_cases.file_complaint(console.platform, user, _complaint(form))
    except UpstreamError as error:
        if error.status not in _REFUSED:
            raise
        # Shown again as typed (never in a URL): the account is not lost to a typo.
        session.flash(_REFUSED[error.status])
        values = {name: _value(form, name, 8000) for name in _FIELDS}
        return await _form_page(request, console, user, values, status_code=error.status)
    session.flash(N_("The complaint was recorded: its deadlines run from now."))
    return see_other(f"/psea/complaints/{complaint_id}")


@router.get("/complaints/{complaint_id}", summary="A complaint's record (an announced read)")
async def complaint_page(
    request: Request, console: ConsoleDep, user: FocalPoint, complaint_id: ComplaintId
) -> Response:
    data = await use_cases.complaint_page(console.platform, user, str(complaint_id))
    return console.templates.render(request, "psea/complaint.html", data)


@router.post("/complaints/{complaint_id}/{step}", summary="One step on a complaint")
async def complaint_step(
    request: Request,
    console: ConsoleDep,
    user: FocalPoint,
    complaint_id: ComplaintId,
    step: Annotated[str, Path(pattern=_STEP)],
) -> Response:
    path, body_of, done, conflict, anchor = STEPS[step]
    form = await request.form()
    session = session_of(request)
    back = see_other(f"/psea/complaints/{complaint_id}#{anchor}")
    try:
        await use_cases.step(console.platform, user, str(complaint_id), path, body_of(form))
    except UpstreamError as error:
        refused = {
            **_REFUSED,
            409: conflict,
            404: N_("Not found: check the survivor's case or the organisation."),
        }
        if error.status not in refused:
            raise
        session.flash(refused[error.status])
        return back
    session.flash(done)
    return back
