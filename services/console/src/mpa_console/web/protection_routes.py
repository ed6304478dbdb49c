"""The protection screens (issue 17): a case's trafficking identification and recovery and
reflection period, and a child's assent, guardian and best-interests steps.

Every form posts and redirects back (post/redirect/get); free text travels in the body only.
Intake decides who may do what and refuses what the rules forbid (a period under 30 days, a
determination without an approval); its refusal comes back as a message on the page.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.datastructures import FormData
from fastapi.responses import Response

from mpa_console.adapters.platform import UpstreamError
from mpa_console.app import protection as use_cases
from mpa_console.app.context import User
from mpa_console.messages import N_
from mpa_console.web.casework_routes import _REFUSED, _text, _utc
from mpa_console.web.deps import ConsoleDep, see_other, user_with
from mpa_console.web.security import check_csrf, session_of

router = APIRouter(prefix="/protection", dependencies=[Depends(check_csrf)])
Worker = Annotated[User, Depends(user_with("caseworker", "supervisor"))]
CaseId = Annotated[uuid.UUID, Path()]


def _with_note(body: dict[str, Any], form: FormData, field: str = "note") -> dict[str, Any]:
    if text := _text(form.get(field)):
        body[field] = text
    return body


def _codes(form: FormData, name: str) -> list[str]:
    return [str(code) for code in form.getlist(name)]


def _indicators(form: FormData) -> dict[str, Any]:
    return _with_note(
        {
            "exploitation_types": _codes(form, "exploitation_types"),
            "means_of_control": _codes(form, "means_of_control"),
        },
        form,
    )


def _reasonable_grounds(form: FormData) -> dict[str, Any]:
    body = {
        **_indicators(form),
        "decided_at": _utc(form.get("decided_at")),
        "deciding_organisation_type": str(form.get("deciding_organisation_type") or ""),
        "basis": str(form.get("basis") or ""),
        "non_removal": form.get("non_removal") == "yes",
    }
    if days := str(form.get("reflection_days") or "").strip():
        body["reflection_days"] = int(days) if days.isdigit() else days
    return body


def _conclusive_grounds(form: FormData) -> dict[str, Any]:
    return _with_note(
        {
            "outcome": str(form.get("outcome") or ""),
            "decided_at": _utc(form.get("decided_at")),
            "deciding_organisation_type": str(form.get("deciding_organisation_type") or ""),
        },
        form,
    )


def _appeal(form: FormData) -> dict[str, Any]:
    return _with_note({"lodged_at": _utc(form.get("lodged_at"))}, form)


def _appeal_decision(form: FormData) -> dict[str, Any]:
    return {"outcome": str(form.get("outcome") or ""), "decided_at": _utc(form.get("decided_at"))}


def _extension(form: FormData) -> dict[str, Any]:
    days = str(form.get("extension_days") or "").strip()
    return _with_note(
        {
            "extension_days": int(days) if days.isdigit() else days,
            "reason": str(form.get("reason") or ""),
        },
        form,
    )


def _assent(form: FormData) -> dict[str, Any]:
    return _with_note(
        {
            "consent_given_by": str(form.get("consent_given_by") or ""),
            "assent": str(form.get("assent") or ""),
        },
        form,
        "views",
    )


def _guardian(form: FormData) -> dict[str, Any]:
    return _with_note(
        {
            "appointed_at": _utc(form.get("appointed_at")),
            "appointing_authority": str(form.get("appointing_authority") or ""),
        },
        form,
    )


def _assessment(form: FormData) -> dict[str, Any]:
    return _with_note(
        {
            "assessed_at": _utc(form.get("assessed_at")),
            "risks": _codes(form, "risks"),
            "recommendation": str(form.get("recommendation") or ""),
        },
        form,
    )


def _determination(form: FormData) -> dict[str, Any]:
    size = str(form.get("panel_size") or "").strip()
    return _with_note(
        {
            "determined_at": _utc(form.get("determined_at")),
            "panel_size": int(size) if size.isdigit() else size,
            "decision": str(form.get("decision") or ""),
            "assessment_id": str(form.get("assessment_id") or ""),
            "approval_id": str(form.get("approval_id") or ""),
        },
        form,
    )


# The steps the page posts: intake's path, how the form becomes its body, what is said
# once it is done, and where on the page to come back to.
STEPS: dict[str, tuple[str, Callable[[FormData], dict[str, Any]], str, str]] = {
    "indicators": (
        "/identification/indicators",
        _indicators,
        N_("The indicators were noted: the person is a potential victim."),
        "identification",
    ),
    "reasonable-grounds": (
        "/identification/reasonable-grounds",
        _reasonable_grounds,
        N_("The reasonable-grounds decision was recorded; the reflection period runs."),
        "identification",
    ),
    "conclusive-grounds": (
        "/identification/conclusive-grounds",
        _conclusive_grounds,
        N_("The conclusive decision was recorded."),
        "identification",
    ),
    "appeal": (
        "/identification/appeal",
        _appeal,
        N_("The appeal was recorded."),
        "identification",
    ),
    "appeal-decision": (
        "/identification/appeal/decision",
        _appeal_decision,
        N_("The appeal's outcome was recorded."),
        "identification",
    ),
    "extension": (
        "/reflection-period/extension",
        _extension,
        N_("The reflection period was extended."),
        "reflection",
    ),
    "assent": ("/child/assent", _assent, N_("The child's assent was recorded."), "child"),
    "guardian": (
        "/child/guardian",
        _guardian,
        N_("The guardian's appointment was recorded."),
        "child",
    ),
    "assessment": (
        "/child/best-interests/assessments",
        _assessment,
        N_("The best-interests assessment was recorded."),
        "best-interests",
    ),
    "determination": (
        "/child/best-interests/determination",
        _determination,
        N_("The best-interests determination was recorded."),
        "best-interests",
    ),
}
_STEP = r"^(" + "|".join(STEPS) + r")$"


def _page(case_id: uuid.UUID, anchor: str) -> Response:
    return see_other(f"/protection/cases/{case_id}#{anchor}")


@router.get("/cases/{case_id}", summary="A case's protection steps (its notes: an audited read)")
async def protection_page(
    request: Request, console: ConsoleDep, user: Worker, case_id: CaseId
) -> Response:
    data = await use_cases.protection_page(console.platform, user, str(case_id))
    return console.templates.render(request, "protection/case.html", data)


@router.post("/cases/{case_id}/{step}", summary="One protection step")
async def protection_step(
    request: Request,
    console: ConsoleDep,
    user: Worker,
    case_id: CaseId,
    step: Annotated[str, Path(pattern=_STEP)],
) -> Response:
    path, body_of, done, anchor = STEPS[step]
    form = await request.form()
    session = session_of(request)
    try:
        await use_cases.step(console.platform, user, str(case_id), path, body_of(form))
    except UpstreamError as error:
        if error.status not in _REFUSED:
            raise
        session.flash(_REFUSED[error.status])
        return _page(case_id, anchor)
    session.flash(done)
    return _page(case_id, anchor)
