"""The auditor's and the supervisor's screens, and the directory."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import Response

from mpa_console.adapters.platform import UpstreamError
from mpa_console.app import auditor, supervisor
from mpa_console.app import directory as directory_use_cases
from mpa_console.app.context import User
from mpa_console.domain.kpis import PERIODS_DAYS, bars, period
from mpa_console.messages import N_
from mpa_console.web.deps import ConsoleDep, see_other, user_with
from mpa_console.web.labels import label
from mpa_console.web.security import check_csrf, session_of

router = APIRouter(dependencies=[Depends(check_csrf)])
Auditor = Annotated[User, Depends(user_with("auditor", "admin"))]
Supervisor = Annotated[User, Depends(user_with("supervisor", "admin"))]
Anyone = Annotated[User, Depends(user_with())]
CaseId = Annotated[uuid.UUID, Path()]
_ACTOR = re.compile(r"^[a-z]+:[A-Za-z0-9._-]{1,100}$")
_EVENT_TYPE = re.compile(r"^[a-z0-9._]{1,200}$")
COUNTRIES = ("NE", "ML")


def _utc(value: str | None) -> str | None:
    """A datetime-local value (UTC, as the form says) as RFC 3339; None if absent or bad."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC).isoformat()
    except ValueError:
        return None


@router.get("/auditor/events", summary="Search the audit log")
async def events(
    request: Request,
    console: ConsoleDep,
    user: Auditor,
    type: Annotated[str, Query(max_length=200)] = "",
    case_id: Annotated[str, Query(max_length=40)] = "",
    actor_id: Annotated[str, Query(max_length=120)] = "",
    since: Annotated[str, Query(max_length=30)] = "",
    until: Annotated[str, Query(max_length=30)] = "",
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    errors: dict[str, str] = {}
    filters: dict[str, str | None] = {}
    if type and not _EVENT_TYPE.match(type):
        errors["type"] = N_("This value is not valid.")
    if case_id:
        try:
            filters["case_id"] = str(uuid.UUID(case_id))
        except ValueError:
            errors["case_id"] = N_("This value is not valid.")
    if actor_id and not _ACTOR.match(actor_id):
        errors["actor_id"] = N_("This value is not valid.")
    for name, value in (("since", since), ("until", until)):
        if value and _utc(value) is None:
            errors[name] = N_("This value is not valid.")
    filters.update(
        type=type or None, actor_id=actor_id or None, since=_utc(since), until=_utc(until)
    )
    page = None
    if not errors:
        page = await auditor.search_events(console.platform, user, filters, cursor)
    query = {
        "type": type,
        "case_id": case_id,
        "actor_id": actor_id,
        "since": since,
        "until": until,
    }
    return console.templates.render(
        request,
        "auditor/events.html",
        {"page": page, "query": query, "errors": errors},
        status_code=422 if errors else 200,
    )


@router.get("/auditor/cases/{case_id}", summary="A case's timeline, with in-browser verification")
async def timeline(
    request: Request, console: ConsoleDep, user: Auditor, case_id: CaseId
) -> Response:
    found = await auditor.timeline(console.platform, user, str(case_id))
    return console.templates.render(
        request, "auditor/timeline.html", {"timeline": found, "case_id": str(case_id)}
    )


@router.get("/auditor/cases/{case_id}/proofs", summary="Inclusion proofs for the browser to check")
async def proofs(request: Request, console: ConsoleDep, user: Auditor, case_id: CaseId) -> Response:
    bundle = await auditor.proof_bundle(console.platform, user, str(case_id))
    # Serialised by Python's json module: the numbers keep the spelling the log's canonical
    # leaves use, so the browser can rebuild each leaf byte for byte.
    return Response(json.dumps(bundle), media_type="application/json")


@router.get("/auditor/tree-head", summary="The current signed tree head")
async def tree_head(request: Request, console: ConsoleDep, user: Auditor) -> Response:
    data = await auditor.tree_head(console.platform, user)
    return console.templates.render(request, "auditor/tree_head.html", data)


@router.get("/supervisor/dashboard", summary="Referral figures as charts")
async def dashboard(
    request: Request,
    console: ConsoleDep,
    user: Supervisor,
    days: Annotated[int | None, Query()] = None,
    country: Annotated[str, Query(pattern=r"^([A-Z]{2})?$")] = "",
) -> Response:
    chosen = period(days)
    data = await supervisor.dashboard(console.platform, user, chosen, country or None)
    report = data["report"]
    names = data["partners"]

    def chart(values: dict[str, int], name: Callable[[str], str]) -> list[dict[str, Any]]:
        return [
            {"label": name(b.key), "value": b.value, "fraction": b.fraction} for b in bars(values)
        ]

    def partner(key: str) -> str:
        return str(names.get(key, key))

    charts = {
        "by_state": chart(report["by_state"], lambda k: label("state", k)),
        "by_need": chart(report["by_need"], lambda k: label("need", k)),
        "by_partner": chart(report["by_partner"], partner),
        "breaches_by_partner": chart(report.get("sla_breaches_by_partner", {}), partner),
        "reroutes_by_partner": chart(report.get("reroutes_by_partner", {}), partner),
    }
    return console.templates.render(
        request,
        "supervisor/dashboard.html",
        {
            "report": report,
            "charts": charts,
            "period": chosen,
            "periods": PERIODS_DAYS,
            "country": country,
            "countries": COUNTRIES,
        },
    )


@router.get("/supervisor/unroutable", summary="Unroutable referrals that need a decision")
async def unroutable(request: Request, console: ConsoleDep, user: Supervisor) -> Response:
    data = await supervisor.unroutable(console.platform, user)
    return console.templates.render(request, "supervisor/unroutable.html", data)


@router.get("/supervisor/referrals/{referral_id}", summary="Decide on an unroutable referral")
async def decision(
    request: Request, console: ConsoleDep, user: Supervisor, referral_id: uuid.UUID
) -> Response:
    data = await supervisor.decision_page(console.platform, user, str(referral_id))
    return console.templates.render(request, "supervisor/decision.html", data)


@router.post("/supervisor/referrals/{referral_id}/refer", summary="Refer by hand to a service")
async def refer(
    request: Request,
    console: ConsoleDep,
    user: Supervisor,
    referral_id: uuid.UUID,
    service_id: Annotated[uuid.UUID, Form()],
    override_reason: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    session = session_of(request)
    try:
        await supervisor.refer_by_hand(
            console.platform, user, str(referral_id), str(service_id), override_reason or None
        )
    except UpstreamError as error:
        if error.status not in (409, 422):
            raise
        session.flash(N_("That service cannot take this referral."))
        return see_other(f"/supervisor/referrals/{referral_id}")
    session.flash(N_("The need was referred to the chosen service."))
    return see_other("/supervisor/unroutable")


@router.post("/supervisor/referrals/{referral_id}/cancel", summary="Cancel the referral")
async def cancel(
    request: Request,
    console: ConsoleDep,
    user: Supervisor,
    referral_id: uuid.UUID,
    reason: Annotated[str, Form(max_length=40)],
) -> Response:
    await supervisor.cancel(console.platform, user, str(referral_id), reason)
    session_of(request).flash(N_("The referral was cancelled."))
    return see_other("/supervisor/unroutable")


@router.get("/directory", summary="Partners, their services and capacity")
async def directory(
    request: Request,
    console: ConsoleDep,
    user: Anyone,
    country: Annotated[str, Query(pattern=r"^([A-Z]{2})?$")] = "",
) -> Response:
    data = await directory_use_cases.directory(console.platform, user, country or None)
    return console.templates.render(
        request, "directory.html", {**data, "country": country, "countries": COUNTRIES}
    )
