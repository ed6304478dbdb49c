"""The cross-border screens (issue 17): a case's transfer consents and hand-offs, and the
hand-offs awaiting the user's country office.

Every form posts and redirects back (post/redirect/get). Intake decides who may do what
(only the receiving country office accepts, declines and records arrival; departure only
after acceptance); its refusal comes back as a message on the page.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.datastructures import FormData
from fastapi.responses import Response

from mpa_console.adapters.platform import UpstreamError
from mpa_console.app import cross_border as use_cases
from mpa_console.app.context import User
from mpa_console.messages import N_
from mpa_console.web.casework_routes import _REFUSED, _utc
from mpa_console.web.deps import ConsoleDep, see_other, user_with
from mpa_console.web.security import check_csrf, session_of

router = APIRouter(prefix="/cross-border", dependencies=[Depends(check_csrf)])
Worker = Annotated[User, Depends(user_with("operator", "caseworker", "supervisor"))]
CaseId = Annotated[uuid.UUID, Path()]


def _id(form: FormData, name: str) -> str:
    """A record id from the form, as a UUID or nothing (never a path of the user's own)."""
    try:
        return str(uuid.UUID(str(form.get(name) or "")))
    except ValueError:
        return str(uuid.UUID(int=0))


def _countries(form: FormData) -> list[str]:
    text = str(form.get("destination_countries") or "")
    return [c.strip().upper() for c in text.replace(";", ",").split(",") if c.strip()]


def _consent(form: FormData) -> tuple[str, dict[str, Any] | None]:
    body: dict[str, Any] = {
        "destination_countries": _countries(form),
        "given_by": str(form.get("given_by") or ""),
        "method": str(form.get("method") or ""),
        "obtained_at": _utc(form.get("obtained_at")),
    }
    if expires := _utc(form.get("expires_at")):
        body["expires_at"] = expires
    return "/transfer-consents", body


def _withdraw(form: FormData) -> tuple[str, dict[str, Any] | None]:
    return f"/transfer-consents/{_id(form, 'transfer_consent_id')}/withdraw", {}


def _handoff(form: FormData) -> tuple[str, dict[str, Any] | None]:
    return "/handoffs", {
        "to_country": str(form.get("to_country") or "").strip().upper(),
        "planned_travel_at": _utc(form.get("planned_travel_at")),
    }


def _on_handoff(
    action: str, body_of: Callable[[FormData], dict[str, Any] | None]
) -> Callable[[FormData], tuple[str, dict[str, Any] | None]]:
    def step(form: FormData) -> tuple[str, dict[str, Any] | None]:
        return f"/handoffs/{_id(form, 'handoff_id')}/{action}", body_of(form)

    return step


# The steps the page posts: how the form becomes intake's path and body, what is said once
# it is done.
STEPS: dict[str, tuple[Callable[[FormData], tuple[str, dict[str, Any] | None]], str]] = {
    "transfer-consent": (_consent, N_("The consent to the transfer abroad was recorded.")),
    "withdraw-consent": (_withdraw, N_("The consent to the transfer abroad was withdrawn.")),
    "handoff": (_handoff, N_("The receiving office was asked to take responsibility.")),
    "accept": (_on_handoff("accept", lambda form: None), N_("You accepted responsibility.")),
    "decline": (
        _on_handoff("decline", lambda form: {"reason": str(form.get("reason") or "")}),
        N_("The hand-off was declined."),
    ),
    "cancel": (
        _on_handoff("cancel", lambda form: {"reason": str(form.get("reason") or "")}),
        N_("The hand-off was cancelled."),
    ),
    "departure": (
        _on_handoff("departure", lambda form: {"departed_at": _utc(form.get("departed_at"))}),
        N_("The departure was recorded."),
    ),
    "arrival": (
        _on_handoff("arrival", lambda form: {"arrived_at": _utc(form.get("arrived_at"))}),
        N_("The arrival was recorded: the case is now the receiving office's."),
    ),
}
_STEP = r"^(" + "|".join(STEPS) + r")$"


@router.get("/cases/{case_id}", summary="A case's transfer consents and hand-offs")
async def cross_border_page(
    request: Request, console: ConsoleDep, user: Worker, case_id: CaseId
) -> Response:
    data = await use_cases.cross_border_page(console.platform, user, str(case_id))
    return console.templates.render(request, "cross_border/case.html", data)


@router.get("/handoffs", summary="Hand-offs awaiting your country office")
async def handoff_inbox(request: Request, console: ConsoleDep, user: Worker) -> Response:
    data = await use_cases.inbox(console.platform, user)
    return console.templates.render(request, "cross_border/inbox.html", data)


@router.post("/cases/{case_id}/{step}", summary="One cross-border step")
async def cross_border_step(
    request: Request,
    console: ConsoleDep,
    user: Worker,
    case_id: CaseId,
    step: Annotated[str, Path(pattern=_STEP)],
) -> Response:
    path_and_body, done = STEPS[step]
    form = await request.form()
    path, body = path_and_body(form)
    session = session_of(request)
    back = see_other(
        "/cross-border/handoffs"
        if form.get("back") == "inbox"
        else f"/cross-border/cases/{case_id}"
    )
    try:
        await use_cases.step(console.platform, user, str(case_id), path, body)
    except UpstreamError as error:
        if error.status not in _REFUSED:
            raise
        session.flash(_REFUSED[error.status])
        return back
    session.flash(done)
    return back
