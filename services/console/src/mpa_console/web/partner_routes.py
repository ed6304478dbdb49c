"""The partner's screens: inbox, referral, the case details it allows, webhooks, deliveries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import Response

from mpa_console.adapters.platform import UpstreamError
from mpa_console.app import partner as use_cases
from mpa_console.app.context import User
from mpa_console.domain.referrals import (
    ACTION_REASONS,
    PARTNER_ACTIONS,
    action_body,
    partner_actions,
    seconds_left,
)
from mpa_console.messages import N_
from mpa_console.web.deps import ConsoleDep, see_other, user_with
from mpa_console.web.security import check_csrf, session_of

router = APIRouter(prefix="/partner", dependencies=[Depends(check_csrf)])
Partner = Annotated[User, Depends(user_with("partner"))]
ReferralId = Annotated[uuid.UUID, Path()]
ALL_ACTIONS = sorted({a for actions in PARTNER_ACTIONS.values() for a in actions})
DONE = {
    "accept": N_("The referral was accepted."),
    "decline": N_("The referral was declined; it goes to another partner."),
    "start": N_("The service has started."),
    "hold": N_("The referral is on hold."),
    "resume": N_("Work has resumed."),
    "complete": N_("The referral was completed."),
    "fail": N_("The referral was closed as not delivered."),
}


@router.get("/inbox", summary="Referrals routed to this partner, most urgent first")
async def inbox(
    request: Request,
    console: ConsoleDep,
    user: Partner,
    show: Annotated[str, Query(pattern=r"^(open|all)$")] = "open",
) -> Response:
    items = await use_cases.inbox(console.platform, user, show_all=show == "all")
    now = datetime.now(UTC)
    rows = [{**r, "seconds_left": seconds_left(r, now)} for r in items]
    return console.templates.render(
        request, "partner/inbox.html", {"referrals": rows, "show": show}
    )


@router.get("/referrals/{referral_id}", summary="One referral and what can be done with it")
async def referral(
    request: Request, console: ConsoleDep, user: Partner, referral_id: ReferralId
) -> Response:
    found = await use_cases.referral(console.platform, user, str(referral_id))
    return console.templates.render(
        request,
        "partner/referral.html",
        {
            "referral": found,
            "actions": partner_actions(found["state"]),
            "reasons": ACTION_REASONS,
            "seconds_left": seconds_left(found, datetime.now(UTC)),
        },
    )


@router.post("/referrals/{referral_id}/{action}", summary="Accept, decline, start, ...")
async def act(
    request: Request,
    console: ConsoleDep,
    user: Partner,
    referral_id: ReferralId,
    action: Annotated[str, Path(pattern="^(" + "|".join(ALL_ACTIONS) + ")$")],
    reason: Annotated[str, Form(max_length=60)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    session = session_of(request)
    body = action_body(action, reason or None, note.strip() or None)
    if body is None:
        session.flash(N_("Choose a reason."))
        return see_other(f"/partner/referrals/{referral_id}")
    try:
        await use_cases.act(console.platform, user, str(referral_id), action, body)
    except UpstreamError as error:
        if error.status != 409:
            raise
        session.flash(N_("This cannot be done in the current state."))
        return see_other(f"/partner/referrals/{referral_id}")
    session.flash(DONE[action])
    # A declined referral is no longer this partner's: back to the inbox.
    return see_other(
        "/partner/inbox" if action == "decline" else f"/partner/referrals/{referral_id}"
    )


@router.get(
    "/referrals/{referral_id}/case", summary="The case details this referral allows (audited)"
)
async def case_details(
    request: Request, console: ConsoleDep, user: Partner, referral_id: ReferralId
) -> Response:
    try:
        data = await use_cases.case_details(console.platform, user, str(referral_id))
    except UpstreamError as error:
        if error.status != 403:
            raise
        return console.templates.render(
            request,
            "partner/case_withheld.html",
            {"referral_id": str(referral_id)},
            status_code=403,
        )
    return console.templates.render(request, "partner/case.html", data)


@router.get("/endpoints", summary="Webhook endpoints")
async def endpoints(request: Request, console: ConsoleDep, user: Partner) -> Response:
    data = await use_cases.endpoints(console.platform, user)
    return console.templates.render(request, "partner/endpoints.html", data)


@router.post("/endpoints", summary="Register a webhook endpoint (its secret is shown once)")
async def create_endpoint(
    request: Request,
    console: ConsoleDep,
    user: Partner,
    url: Annotated[str, Form(max_length=2000)],
    description: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    posted = await request.form()
    event_types = [t for t in posted.getlist("event_types") if isinstance(t, str)]
    try:
        created = await use_cases.create_endpoint(
            console.platform, user, url.strip(), description.strip(), event_types
        )
    except UpstreamError as error:
        if error.status != 422:
            raise
        session_of(request).flash(
            N_("The endpoint was not accepted: check its address and events.")
        )
        return see_other("/partner/endpoints")
    # Rendered, not redirected: the secret must not travel in a URL or be shown twice.
    return console.templates.render(
        request, "partner/secret.html", {"endpoint_id": created["id"], "secret": created["secret"]}
    )


@router.post(
    "/endpoints/{endpoint_id}/{action}", summary="Delete an endpoint, rotate its secret, test it"
)
async def endpoint_action(
    request: Request,
    console: ConsoleDep,
    user: Partner,
    endpoint_id: uuid.UUID,
    action: Annotated[str, Path(pattern=r"^(delete|rotate-secret|test)$")],
) -> Response:
    result = await use_cases.endpoint_action(console.platform, user, str(endpoint_id), action)
    if action == "rotate-secret" and result is not None:
        return console.templates.render(
            request,
            "partner/secret.html",
            {"endpoint_id": str(endpoint_id), "secret": result["secret"]},
        )
    session_of(request).flash(
        "The endpoint was deleted." if action == "delete" else "A test message was queued."
    )
    return see_other("/partner/endpoints")


@router.get("/deliveries", summary="The delivery log")
async def deliveries(
    request: Request,
    console: ConsoleDep,
    user: Partner,
    state: Annotated[str | None, Query(max_length=20)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    page = await use_cases.deliveries(console.platform, user, state=state or None, cursor=cursor)
    return console.templates.render(
        request, "partner/deliveries.html", {"page": page, "state": state or ""}
    )


@router.get("/deliveries/{delivery_id}", summary="One delivery with every attempt")
async def delivery(
    request: Request, console: ConsoleDep, user: Partner, delivery_id: uuid.UUID
) -> Response:
    found = await use_cases.delivery(console.platform, user, str(delivery_id))
    return console.templates.render(request, "partner/delivery.html", {"delivery": found})
