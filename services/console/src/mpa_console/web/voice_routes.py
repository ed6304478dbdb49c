"""The person's voice and safety on the console (issue 17): recording their feedback on a
referral's service, the partners' feedback figures, and the contact check before a call,
a message or a visit.

The feedback and contact-check forms sit on the case page, post here and redirect back
(post/redirect/get); a contact check's answer comes back as messages on the page. Intake
and the referral service decide who may do what; a refusal is a message, never an error.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.datastructures import FormData
from fastapi.responses import Response

from mpa_console.adapters.platform import UpstreamError
from mpa_console.app import voice as use_cases
from mpa_console.app.context import User
from mpa_console.domain.kpis import PERIODS_DAYS, period, scale
from mpa_console.messages import N_
from mpa_console.web.casework_routes import _REFUSED
from mpa_console.web.deps import ConsoleDep, see_other, user_with
from mpa_console.web.labels import VOCABULARIES, label
from mpa_console.web.security import check_csrf, session_of
from mpa_console.web.voice_labels import VOICE_LABELS
from mpa_contracts.vocabularies import ContactRefusal

router = APIRouter(dependencies=[Depends(check_csrf)])
# Those who work the case page (where both forms are) and whom intake lets record them.
CaseStaff = Annotated[User, Depends(user_with("operator", "caseworker"))]
# Those the referral service shows partners' feedback figures to.
FigureViewer = Annotated[
    User,
    Depends(user_with("operator", "caseworker", "supervisor", "admin", "auditor", "partner")),
]
CaseId = Annotated[uuid.UUID, Path()]
PartnerId = Annotated[uuid.UUID, Path()]
# A feedback link's token (the only credential of the person's own form).
LinkToken = Annotated[str, Path(max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]

# Why the profile refused a contact, as the message shown (translated where it is shown).
_REFUSAL: dict[str, str] = VOICE_LABELS[ContactRefusal]


def _case_page(case_id: uuid.UUID, anchor: str) -> Response:
    return see_other(f"/operator/cases/{case_id}#{anchor}")


def _feedback(form: FormData) -> dict[str, Any]:
    """The feedback as intake expects it: what the person did not say is left out."""
    body: dict[str, Any] = {
        "referral_id": str(form.get("referral_id") or ""),
        "received": str(form.get("received") or ""),
        # Anonymous unless the person chose to be known to the provider.
        "anonymous_to_provider": form.get("named_to_provider") != "yes",
    }
    for name in ("quality", "waiting_time"):
        if value := str(form.get(name) or ""):
            body[name] = value
    felt_safe = form.get("felt_safe")
    if felt_safe in ("yes", "no"):
        body["felt_safe"] = felt_safe == "yes"
    return body


def _contact(form: FormData) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": str(form.get("channel") or ""),
        "leave_message": form.get("leave_message") == "yes",
    }
    if local_time := str(form.get("local_time") or "").strip():
        body["local_time"] = local_time
    return body


@router.post("/voice/cases/{case_id}/feedback", summary="Record the person's feedback")
async def record_feedback(
    request: Request, console: ConsoleDep, user: CaseStaff, case_id: CaseId
) -> Response:
    form = await request.form()
    session = session_of(request)
    try:
        await use_cases.record_feedback(console.platform, user, str(case_id), _feedback(form))
    except UpstreamError as error:
        refused = {
            **_REFUSED,
            409: N_("No partner accepted this referral: there is no service to rate yet."),
            422: N_(
                "Some fields are missing or not valid: say whether the service was received, "
                "and rate only a service that was."
            ),
        }
        if error.status not in refused:
            raise
        session.flash(refused[error.status])
        return _case_page(case_id, "feedback")
    session.flash(N_("The person's feedback was recorded."))
    return _case_page(case_id, "feedback")


@router.post("/voice/cases/{case_id}/feedback-invitations", summary="A feedback link")
async def invite_feedback(
    request: Request, console: ConsoleDep, user: CaseStaff, case_id: CaseId
) -> Response:
    """Shows the link once, on a page of its own (never flashed into the session)."""
    form = await request.form()
    session = session_of(request)
    body = {"referral_id": str(form.get("referral_id") or ""),
            "channel": str(form.get("channel") or "")}  # fmt: skip
    try:
        created = await use_cases.invite_feedback(console.platform, user, str(case_id), body)
    except UpstreamError as error:
        refused = {
            **_REFUSED,
            409: N_(
                "No link: the person's safety profile refuses this channel (or they are not "
                "to be contacted, or a child), or no partner accepted this referral yet."
            ),
            422: N_("Choose the referral and the channel you will pass the link on through."),
        }
        if error.status not in refused:
            raise
        session.flash(refused[error.status])
        return _case_page(case_id, "feedback")
    link = f"{str(request.base_url).rstrip('/')}/feedback/{created['token']}"
    return console.templates.render(
        request,
        "feedback/invitation.html",
        {"case_id": case_id, "link": link, "expires_at": created["expires_at"]},
    )


@router.get("/feedback/{token}", summary="The person's own feedback form (no sign-in)")
async def feedback_form(request: Request, console: ConsoleDep, token: LinkToken) -> Response:
    try:
        question = await use_cases.feedback_question(console.platform, token)
    except UpstreamError as error:
        if error.status not in (404, 422):
            raise
        return _link_gone(request, console)
    return console.templates.render(
        request, "feedback/answer.html", {"question": question, "action": f"/feedback/{token}"}
    )


@router.post("/feedback/{token}", summary="The person's own feedback (no sign-in)")
async def answer_feedback(request: Request, console: ConsoleDep, token: LinkToken) -> Response:
    form = await request.form()
    body = _feedback(form)
    body.pop("referral_id")  # the link's own
    try:
        await use_cases.answer_feedback(console.platform, token, body)
    except UpstreamError as error:
        if error.status == 422:
            session_of(request).flash(N_("Say whether you got the service, and rate only a "
                                         "service you got."))  # fmt: skip
            return see_other(f"/feedback/{token}")
        if error.status != 404:
            raise
        return _link_gone(request, console)
    return console.templates.render(request, "feedback/thanks.html", {})


def _link_gone(request: Request, console: Any) -> Response:
    """Unknown, used and expired links alike."""
    page: Response = console.templates.render(request, "feedback/gone.html", {}, status_code=404)
    return page


@router.post("/voice/cases/{case_id}/contact-checks", summary="Check a contact first")
async def check_contact(
    request: Request, console: ConsoleDep, user: CaseStaff, case_id: CaseId
) -> Response:
    form = await request.form()
    session = session_of(request)
    try:
        result = await use_cases.check_contact(console.platform, user, str(case_id), _contact(form))
    except UpstreamError as error:
        if error.status not in _REFUSED:
            raise
        session.flash(_REFUSED[error.status])
        return _case_page(case_id, "safe-contact")
    if result["allowed"]:
        session.flash(N_("Contact allowed: it matches the person's safety profile."))
        if not result["voicemail_allowed"]:
            session.flash(N_("Leave no voicemail or message if they do not answer."))
    else:
        session.flash(N_("Contact refused: do not make it."))
        session.flash(_REFUSAL.get(str(result["refusal"]), N_("The request was not accepted.")))
    return _case_page(case_id, "safe-contact")


@router.get("/feedback", summary="Partners whose feedback figures you may see")
async def feedback_partners(request: Request, console: ConsoleDep, user: FigureViewer) -> Response:
    if user.has("partner") and not user.has("operator", "caseworker", "supervisor", "admin"):
        # A partner's staff see their own organisation's figures only.
        return see_other(f"/feedback/partners/{user.partner_id}")
    found = await use_cases.partners(console.platform, user)
    return console.templates.render(request, "feedback/partners.html", {"partners": found})


@router.get("/feedback/partners/{partner_id}", summary="A partner's feedback figures")
async def partner_feedback(
    request: Request,
    console: ConsoleDep,
    user: FigureViewer,
    partner_id: PartnerId,
    days: Annotated[int | None, Query()] = None,
) -> Response:
    chosen = period(days)
    data = await use_cases.partner_feedback(console.platform, user, str(partner_id), chosen)
    figures = data["feedback"]["figures"]

    def chart(field: str, vocabulary: str) -> list[dict[str, Any]]:
        codes = [member.value for member in VOCABULARIES[vocabulary]]
        return [
            {"label": label(vocabulary, b.key), "value": b.value, "fraction": b.fraction}
            for b in scale(figures[field], codes)
        ]

    charts = {
        "received": chart("received", "service_received"),
        "quality": chart("quality", "service_quality"),
        "waiting_time": chart("waiting_time", "waiting_time"),
    }
    return console.templates.render(
        request,
        "feedback/partner.html",
        {**data, "figures": figures, "charts": charts, "period": chosen, "periods": PERIODS_DAYS},
    )
