"""The casework screens (issue 16): a case's casework page and its forms, the inbox of
transfers and approvals awaiting the user, the casework report.

Every form posts and redirects back (post/redirect/get); notes travel in the body only.
Intake decides who may do what; a refusal it explains (a referral still open, a request
already waiting) comes back as a message on the page.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from mpa_console.adapters.platform import UpstreamError
from mpa_console.app import casework as use_cases
from mpa_console.app.context import User
from mpa_console.messages import N_
from mpa_console.web.deps import ConsoleDep, see_other, user_with
from mpa_console.web.security import check_csrf, session_of

router = APIRouter(prefix="/casework", dependencies=[Depends(check_csrf)])
Worker = Annotated[User, Depends(user_with("operator", "caseworker", "supervisor"))]
CaseId = Annotated[uuid.UUID, Path()]
RecordId = Annotated[uuid.UUID, Path()]

# What a refusal of intake means on the casework page, by the form that was sent.
_REFUSED = {
    409: N_("This cannot be done in the current state."),
    403: N_("You may not see or do this."),
    422: N_("Some fields are missing or not valid."),
}


def _utc(value: object) -> str | None:
    """A datetime-local or date value (read as UTC, as the forms say) as RFC 3339."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC).isoformat()
    except ValueError:
        return None


def _text(value: object) -> str | None:
    text = str(value or "").strip()
    return text[:2000] or None


def _page(case_id: uuid.UUID, anchor: str = "") -> Response:
    return see_other(f"/casework/cases/{case_id}{'#' + anchor if anchor else ''}")


async def _step(
    request: Request,
    console: ConsoleDep,
    user: User,
    case_id: uuid.UUID,
    path: str,
    body: dict[str, Any],
    *,
    done: str,
    anchor: str,
    refused: dict[int, str] | None = None,
) -> Response:
    session = session_of(request)
    try:
        await use_cases.step(console.platform, user, str(case_id), path, body)
    except UpstreamError as error:
        messages = {**_REFUSED, **(refused or {})}
        if error.status not in messages:
            raise
        session.flash(messages[error.status])
        return _page(case_id, anchor)
    session.flash(done)
    return _page(case_id, anchor)


@router.get("/cases/{case_id}", summary="A case's casework (its notes: an audited read)")
async def casework_page(
    request: Request, console: ConsoleDep, user: Worker, case_id: CaseId
) -> Response:
    data = await use_cases.casework_page(console.platform, user, str(case_id))
    return console.templates.render(
        request,
        "casework/case.html",
        {
            **data,
            "is_supervisor": user.has("supervisor"),
            "actor_id": user.actor_id,
            "may_protect": user.has("caseworker", "supervisor"),
        },
    )


@router.post("/cases/{case_id}/transfers", summary="Hand the case over, or ask for it")
async def request_transfer(
    request: Request, console: ConsoleDep, user: Worker, case_id: CaseId
) -> Response:
    form = await request.form()
    body: dict[str, Any]
    if form.get("initiator") == "receiver":
        body = {"initiator": "receiver"}
    else:
        body = {
            key: value
            for key in ("to_team", "to_owner_id", "to_country")
            if (value := str(form.get(key) or "").strip())
        }
    if note := _text(form.get("note")):
        body["note"] = note
    return await _step(
        request,
        console,
        user,
        case_id,
        "/transfers",
        body,
        done=N_("The transfer was asked for."),
        anchor="transfer",
    )


@router.post(
    "/cases/{case_id}/transfers/{transfer_id}/{step}",
    summary="Accept, reject or revoke a transfer",
)
async def transfer_step(
    request: Request,
    console: ConsoleDep,
    user: Worker,
    case_id: CaseId,
    transfer_id: RecordId,
    step: Annotated[str, Path(pattern=r"^(accept|reject|revoke)$")],
) -> Response:
    form = await request.form()
    body = {"note": note} if (note := _text(form.get("note"))) else {}
    session = session_of(request)
    await use_cases.step(
        console.platform, user, str(case_id), f"/transfers/{transfer_id}/{step}", body
    )
    session.flash(
        {
            "accept": N_("The transfer was accepted: the case is yours now."),
            "reject": N_("The transfer was rejected."),
            "revoke": N_("The transfer was withdrawn."),
        }[step]
    )
    if step == "accept" or form.get("back") == "inbox":
        return see_other("/casework/inbox" if step != "accept" else f"/casework/cases/{case_id}")
    return _page(case_id, "transfer")


@router.post("/cases/{case_id}/assessments", summary="Record an assessment")
async def record_assessment(
    request: Request, console: ConsoleDep, user: Worker, case_id: CaseId
) -> Response:
    form = await request.form()
    body: dict[str, Any] = {
        "assessed_at": _utc(form.get("assessed_at")),
        "risk_level": str(form.get("risk_level") or ""),
        "protection_concerns": [str(c) for c in form.getlist("protection_concerns")],
    }
    if note := _text(form.get("note")):
        body["note"] = note
    return await _step(
        request,
        console,
        user,
        case_id,
        "/assessments",
        body,
        done=N_("The assessment was recorded."),
        anchor="assessments",
    )


@router.post("/cases/{case_id}/interventions", summary="Add an intervention to the plan")
async def plan_intervention(
    request: Request, console: ConsoleDep, user: Worker, case_id: CaseId
) -> Response:
    form = await request.form()
    body: dict[str, Any] = {"target_at": _utc(form.get("target_at"))}
    if need_id := str(form.get("need_id") or ""):
        body["need_id"] = need_id
    if note := _text(form.get("note")):
        body["note"] = note
    return await _step(
        request,
        console,
        user,
        case_id,
        "/interventions",
        body,
        done=N_("The intervention was added to the plan."),
        anchor="plan",
    )


@router.post("/cases/{case_id}/interventions/{intervention_id}", summary="Change an intervention")
async def change_intervention(
    request: Request,
    console: ConsoleDep,
    user: Worker,
    case_id: CaseId,
    intervention_id: RecordId,
) -> Response:
    form = await request.form()
    session = session_of(request)
    try:
        await use_cases.change_intervention(
            console.platform,
            user,
            str(case_id),
            str(intervention_id),
            {"status": str(form.get("status") or "")},
        )
    except UpstreamError as error:
        if error.status not in _REFUSED:
            raise
        session.flash(_REFUSED[error.status])
        return _page(case_id, "plan")
    session.flash(N_("The intervention was changed."))
    return _page(case_id, "plan")


@router.post("/cases/{case_id}/follow-ups", summary="Schedule a follow-up")
async def schedule_follow_up(
    request: Request, console: ConsoleDep, user: Worker, case_id: CaseId
) -> Response:
    form = await request.form()
    body: dict[str, Any] = {
        "follow_up_type": str(form.get("follow_up_type") or ""),
        "due_at": _utc(form.get("due_at")),
    }
    if note := _text(form.get("note")):
        body["note"] = note
    return await _step(
        request,
        console,
        user,
        case_id,
        "/follow-ups",
        body,
        done=N_("The follow-up was scheduled."),
        anchor="follow-ups",
    )


@router.post("/cases/{case_id}/follow-ups/{follow_up_id}/done", summary="A follow-up was done")
async def follow_up_done(
    request: Request,
    console: ConsoleDep,
    user: Worker,
    case_id: CaseId,
    follow_up_id: RecordId,
) -> Response:
    form = await request.form()
    body: dict[str, Any] = {"outcome": str(form.get("outcome") or "")}
    if note := _text(form.get("note")):
        body["note"] = note
    return await _step(
        request,
        console,
        user,
        case_id,
        f"/follow-ups/{follow_up_id}/done",
        body,
        done=N_("The follow-up was recorded as done."),
        anchor="follow-ups",
    )


@router.post("/cases/{case_id}/approvals", summary="Ask a supervisor to approve")
async def request_approval(
    request: Request, console: ConsoleDep, user: Worker, case_id: CaseId
) -> Response:
    form = await request.form()
    subject = str(form.get("subject") or "")
    body: dict[str, Any] = {"subject": subject}
    if subject == "closure":
        body["closure_reason"] = str(form.get("closure_reason") or "")
    if note := _text(form.get("note")):
        body["note"] = note
    return await _step(
        request,
        console,
        user,
        case_id,
        "/approvals",
        body,
        done=N_("A supervisor was asked to approve."),
        anchor="approvals",
    )


@router.post("/cases/{case_id}/approvals/{approval_id}/decision", summary="Approve or reject")
async def decide_approval(
    request: Request,
    console: ConsoleDep,
    user: Worker,
    case_id: CaseId,
    approval_id: RecordId,
) -> Response:
    form = await request.form()
    decision = str(form.get("decision") or "")
    body: dict[str, Any] = {"decision": decision}
    if comment := _text(form.get("comment")):
        body["comment"] = comment
    return await _step(
        request,
        console,
        user,
        case_id,
        f"/approvals/{approval_id}/decision",
        body,
        done=N_("The request was approved.")
        if decision == "approved"
        else N_("The request was rejected."),
        anchor="approvals",
        refused={403: N_("Only a supervisor decides, and never on their own request.")},
    )


@router.post("/cases/{case_id}/close", summary="Close the case (with an approval if needed)")
async def close(request: Request, console: ConsoleDep, user: Worker, case_id: CaseId) -> Response:
    form = await request.form()
    body: dict[str, Any] = {"reason": str(form.get("reason") or "")}
    if approval_id := str(form.get("approval_id") or ""):
        body["approval_id"] = approval_id
    return await _step(
        request,
        console,
        user,
        case_id,
        "/close",
        body,
        done=N_("The case was closed."),
        anchor="close",
        refused={
            409: N_(
                "A referral of this case is not finished: ask a supervisor to approve the "
                "closure, then close it with that approval."
            )
        },
    )


@router.post("/cases/{case_id}/reopen", summary="Reopen the case")
async def reopen(request: Request, console: ConsoleDep, user: Worker, case_id: CaseId) -> Response:
    form = await request.form()
    body: dict[str, Any] = {"reason": str(form.get("reason") or "")}
    if note := _text(form.get("note")):
        body["note"] = note
    return await _step(
        request,
        console,
        user,
        case_id,
        "/reopen",
        body,
        done=N_("The case was reopened."),
        anchor="close",
    )


@router.get("/inbox", summary="Transfers and approvals awaiting you")
async def inbox(request: Request, console: ConsoleDep, user: Worker) -> Response:
    data = await use_cases.inbox(console.platform, user)
    return console.templates.render(request, "casework/inbox.html", data)


@router.get("/report", summary="The casework report of your scope")
async def report(
    request: Request,
    console: ConsoleDep,
    user: Worker,
    since: Annotated[str, Query(max_length=30)] = "",
) -> Response:
    figures = await use_cases.report(console.platform, user, _utc(since))
    return console.templates.render(
        request, "casework/report.html", {"report": figures, "since": since}
    )
