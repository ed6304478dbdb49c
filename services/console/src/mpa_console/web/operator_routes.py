"""The hotline operator's screens: the intake form, the case list, the case page.

Every form posts (personal data never goes into a URL) and answers with a redirect to a
page (post/redirect/get); the intake form is re-shown with inline errors when it does not
validate. htmx, when present, adds duplicate hints while typing and refreshes the referrals.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import Response

from mpa_console.adapters.platform import UpstreamError
from mpa_console.app import operator as use_cases
from mpa_console.app.context import User
from mpa_console.domain.intake_form import (
    MAX_NEED_ROWS,
    IntakeForm,
    read_form,
    to_request,
)
from mpa_console.messages import N_
from mpa_console.web.deps import ConsoleDep, see_other, user_with
from mpa_console.web.security import check_csrf, session_of

router = APIRouter(prefix="/operator", dependencies=[Depends(check_csrf)])
Operator = Annotated[User, Depends(user_with("operator", "caseworker"))]
CaseId = Annotated[uuid.UUID, Path()]


def _blank_form() -> IntakeForm:
    form = IntakeForm()
    form.values["idempotency_key"] = str(uuid.uuid4())
    form.values["consent.obtained_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M")
    return form


def _form_page(
    request: Request,
    console: ConsoleDep,
    form: IntakeForm,
    *,
    hints: list[dict[str, Any]] | None = None,
    status_code: int = 200,
) -> Response:
    return console.templates.render(
        request,
        "operator/new_case.html",
        {"form": form, "hints": hints, "max_need_rows": MAX_NEED_ROWS},
        status_code=status_code,
    )


@router.get("/cases/new", summary="The intake form")
async def new_case(request: Request, console: ConsoleDep, _: Operator) -> Response:
    return _form_page(request, console, _blank_form())


@router.post("/cases/new", summary="Register the case (or check it, or add a need row)")
async def submit_case(request: Request, console: ConsoleDep, user: Operator) -> Response:
    form = read_form(await request.form())
    action = (await request.form()).get("action", "register")
    if action == "add_need":
        form.need_rows = min(form.need_rows + 1, MAX_NEED_ROWS)
        return _form_page(request, console, form)
    if action == "check":
        to_request(form)  # fills in the inline errors
        hints = await use_cases.duplicate_hints(console.platform, user, form)
        return _form_page(request, console, form, hints=hints or [])
    try:
        registered = await use_cases.register_case(console.platform, user, form)
    except use_cases.FormRejected:
        return _form_page(request, console, form, status_code=422)
    except use_cases.AlreadySubmittedDifferently:
        form.errors["form"] = N_("This form was already sent with other content. Start a new one.")
        form.values["idempotency_key"] = str(uuid.uuid4())
        return _form_page(request, console, form, status_code=409)
    session = session_of(request)
    session.flash(N_("The case was registered."))
    if registered.possible_duplicates:
        session.flash(N_("Possible duplicates exist: check the case list before referring."))
    return see_other(f"/operator/cases/{registered.case_id}")


@router.post("/cases/new/hints", summary="Duplicate hints for the form so far (htmx)")
async def hints(request: Request, console: ConsoleDep, user: Operator) -> Response:
    form = read_form(await request.form())
    found = await use_cases.duplicate_hints(console.platform, user, form)
    return console.templates.render(request, "operator/_hints.html", {"hints": found})


@router.get("/cases", summary="Cases (no personal data)")
async def cases(
    request: Request,
    console: ConsoleDep,
    user: Operator,
    status: Annotated[str | None, Query(pattern=r"^(open|closed)?$")] = None,
    need: Annotated[str | None, Query(max_length=40)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    page = await use_cases.list_cases(
        console.platform, user, status=status or None, need=need or None, cursor=cursor
    )
    return console.templates.render(
        request,
        "operator/cases.html",
        {"page": page, "status": status or "", "need": need or ""},
    )


@router.get("/cases/{case_id}", summary="A case: personal data (an audited read), referrals")
async def case_page(
    request: Request, console: ConsoleDep, user: Operator, case_id: CaseId
) -> Response:
    data = await use_cases.case_page(console.platform, user, str(case_id))
    return console.templates.render(request, "operator/case.html", data)


@router.get("/cases/{case_id}/referrals", summary="The case's referrals alone (htmx refresh)")
async def case_referrals(
    request: Request, console: ConsoleDep, user: Operator, case_id: CaseId
) -> Response:
    data = await use_cases.referrals_panel(console.platform, user, str(case_id))
    return console.templates.render(request, "operator/_referrals.html", data)


@router.post("/cases/{case_id}/needs", summary="Add a need")
async def add_need(
    request: Request,
    console: ConsoleDep,
    user: Operator,
    case_id: CaseId,
    category: Annotated[str, Form(max_length=40)] = "",
    urgency: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    session = session_of(request)
    if not category or not urgency:
        session.flash(N_("Record at least one need, with its urgency."))
        return see_other(f"/operator/cases/{case_id}#add-need")
    need: dict[str, Any] = {"category": category, "urgency": urgency}
    if note.strip():
        need["note"] = note.strip()
    await use_cases.add_need(console.platform, user, str(case_id), need)
    session.flash(N_("The need was added."))
    return see_other(f"/operator/cases/{case_id}")


@router.post("/cases/{case_id}/consent", summary="Record or withdraw consent")
async def consent(
    request: Request,
    console: ConsoleDep,
    user: Operator,
    case_id: CaseId,
    action: Annotated[str, Form(pattern=r"^(record|withdraw)$")],
) -> Response:
    posted = await request.form()
    scopes = [s for s in posted.getlist("scopes") if isinstance(s, str)]
    session = session_of(request)
    change: dict[str, Any]
    if action == "withdraw":
        change = {"action": "withdraw", "scopes": scopes}
    else:
        obtained = str(posted.get("obtained_at") or "")
        try:
            obtained_at = datetime.fromisoformat(obtained).replace(tzinfo=UTC).isoformat()
        except ValueError:
            obtained_at = ""
        change = {
            "action": "record",
            "consent": {
                "scopes": scopes,
                "given_by": str(posted.get("given_by") or ""),
                "method": str(posted.get("method") or ""),
                "obtained_at": obtained_at,
            },
        }
    try:
        await use_cases.change_consent(console.platform, user, str(case_id), change)
    except UpstreamError as error:
        if error.status != 422:
            raise
        session.flash(N_("Give the scope, who consented and how."))
        return see_other(f"/operator/cases/{case_id}#consent")
    session.flash(
        N_("Consent was withdrawn.") if action == "withdraw" else N_("Consent was recorded.")
    )
    return see_other(f"/operator/cases/{case_id}")


@router.post("/cases/{case_id}/close", summary="Close the case")
async def close(
    request: Request,
    console: ConsoleDep,
    user: Operator,
    case_id: CaseId,
    reason: Annotated[str, Form(max_length=40)],
) -> Response:
    try:
        await use_cases.close_case(console.platform, user, str(case_id), reason)
    except UpstreamError as error:
        if error.status != 409:
            raise
        session_of(request).flash(
            N_(
                "A referral of this case is not finished: ask a supervisor to approve the "
                "closure, then close it with that approval."
            )
        )
        return see_other(f"/casework/cases/{case_id}#approvals")
    session_of(request).flash(N_("The case was closed."))
    return see_other(f"/operator/cases/{case_id}")
