"""The hotline operator's use cases: register a case, list cases, follow one, act on it.

Reads of a case's personal data go to intake with the operator's token, so intake records
each one as an access event; lists carry no personal data.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mpa_console.adapters.platform import Platform, Service, UpstreamError
from mpa_console.app.context import User
from mpa_console.app.directory import partner_names, service_names
from mpa_console.domain.intake_form import (
    IntakeForm,
    apply_service_errors,
    duplicate_query,
    to_request,
)
from mpa_console.domain.referrals import seconds_left
from mpa_console.messages import N_


@dataclass(frozen=True)
class Registered:
    case_id: str
    reference: str
    possible_duplicates: int


class FormRejected(Exception):
    """The form has errors (`form.errors` says which); nothing was registered."""


class AlreadySubmittedDifferently(Exception):
    """This form's Idempotency-Key was used with other content: start a new form."""


async def register_case(platform: Platform, user: User, form: IntakeForm) -> Registered:
    """Registers the case once per form: the form's Idempotency-Key makes a double submit
    (or a retry after a lost answer) return the case the first one registered."""
    body = to_request(form)
    if body is None:
        raise FormRejected
    try:
        result = await platform.post(
            Service.INTAKE,
            "/v1/cases",
            user.token,
            body,
            headers={"Idempotency-Key": form.idempotency_key},
        )
    except UpstreamError as error:
        if error.status == 422:
            apply_service_errors(form, [(e.field, e.reason) for e in error.errors])
            if not form.errors:
                form.errors["form"] = N_("This value is not valid.")
            raise FormRejected from error
        if error.status == 409:
            raise AlreadySubmittedDifferently from error
        raise
    return Registered(
        result["case_id"], result["reference"], len(result.get("possible_duplicates") or [])
    )


async def duplicate_hints(
    platform: Platform, user: User, form: IntakeForm
) -> list[dict[str, Any]] | None:
    """Open cases that may be about the same person; None when too little is typed yet."""
    query = duplicate_query(form)
    if query is None:
        return None
    try:
        found = await platform.post(Service.INTAKE, "/v1/duplicate-checks", user.token, query)
    except UpstreamError as error:
        if error.status == 422:  # half-typed phone or name: no hint yet
            return None
        raise
    hints: list[dict[str, Any]] = found["possible_duplicates"]
    return hints


async def list_cases(
    platform: Platform,
    user: User,
    *,
    status: str | None,
    need: str | None,
    cursor: str | None,
) -> dict[str, Any]:
    page: dict[str, Any] = await platform.get(
        Service.INTAKE, "/v1/cases", user.token, status=status, need=need, cursor=cursor, limit=25
    )
    return page


async def case_referrals(platform: Platform, user: User, case_id: str) -> list[dict[str, Any]]:
    """The case's referrals, each with its routing explanation and history."""
    page = await platform.get(
        Service.REFERRAL, "/v1/referrals", user.token, case_id=case_id, limit=200
    )
    details = await asyncio.gather(
        *(
            platform.get(Service.REFERRAL, f"/v1/referrals/{r['id']}", user.token)
            for r in page["items"]
        )
    )
    now = datetime.now(UTC)
    return sorted(
        ({**detail, "seconds_left": seconds_left(detail, now)} for detail in details),
        key=lambda r: (r.get("created_at") or "", r["id"]),
    )


async def case_page(platform: Platform, user: User, case_id: str) -> dict[str, Any]:
    """Everything the case page shows. The intake read is an audited personal-data read."""
    case = await platform.get(Service.INTAKE, f"/v1/cases/{case_id}", user.token)
    referrals, partners, services = await asyncio.gather(
        case_referrals(platform, user, case_id),
        partner_names(platform, user),
        service_names(platform, user, case["location"]["country"]),
    )
    # The referrals a partner accepted: those whose service the person can speak of.
    rateable = [r for r in referrals if r.get("accepted_at")]
    return {
        "case": case,
        "referrals": referrals,
        "rateable": rateable,
        "partners": partners,
        "services": services,
    }


async def referrals_panel(platform: Platform, user: User, case_id: str) -> dict[str, Any]:
    """The referrals part of the case page alone (no personal-data read), for refreshing."""
    referrals, partners = await asyncio.gather(
        case_referrals(platform, user, case_id), partner_names(platform, user)
    )
    return {"referrals": referrals, "partners": partners, "services": {}}


async def add_need(
    platform: Platform, user: User, case_id: str, need: dict[str, Any]
) -> dict[str, Any]:
    result: dict[str, Any] = await platform.post(
        Service.INTAKE, f"/v1/cases/{case_id}/needs", user.token, {"needs": [need]}
    )
    return result


async def change_consent(
    platform: Platform, user: User, case_id: str, change: dict[str, Any]
) -> None:
    await platform.post(Service.INTAKE, f"/v1/cases/{case_id}/consent", user.token, change)


async def close_case(platform: Platform, user: User, case_id: str, reason: str) -> None:
    await platform.post(
        Service.INTAKE, f"/v1/cases/{case_id}/close", user.token, {"reason": reason}
    )
