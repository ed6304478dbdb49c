"""Use cases of the person's voice and safety (issue 17): their feedback on a referral's
service, the partners' feedback figures, and the safe-contact check staff make before they
call, write or visit.

Feedback and contact checks go to intake with the user's token (intake applies the case's
scopes and announces a refused contact); the figures come from the referral service, which
shows a partner's staff only their own organisation's, anonymous answers only in numbers.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mpa_console.adapters.platform import Platform, Service
from mpa_console.app.context import User
from mpa_console.domain.kpis import Period


async def record_feedback(
    platform: Platform, user: User, case_id: str, body: dict[str, Any]
) -> None:
    await platform.post(Service.INTAKE, f"/v1/cases/{case_id}/feedback", user.token, body)


async def invite_feedback(
    platform: Platform, user: User, case_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """A one-time link for the person's own answer (its token, shown once)."""
    result: dict[str, Any] = await platform.post(
        Service.INTAKE, f"/v1/cases/{case_id}/feedback-invitations", user.token, body
    )
    return result


async def feedback_question(platform: Platform, token: str) -> dict[str, Any]:
    """What a feedback link asks about (no sign-in: the token is the credential)."""
    result: dict[str, Any] = await platform.get(
        Service.INTAKE, f"/v1/feedback-invitations/{token}", None
    )
    return result


async def answer_feedback(platform: Platform, token: str, body: dict[str, Any]) -> None:
    await platform.post(Service.INTAKE, f"/v1/feedback-invitations/{token}", None, body)


async def check_contact(
    platform: Platform, user: User, case_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """The safety profile's answer: allowed, or refused with the reason."""
    result: dict[str, Any] = await platform.post(
        Service.INTAKE, f"/v1/cases/{case_id}/contact-checks", user.token, body
    )
    return result


async def partners(platform: Platform, user: User) -> list[dict[str, Any]]:
    """The directory's partners, to choose whose figures to see."""
    found: list[dict[str, Any]] = await platform.get(Service.REFERRAL, "/v1/partners", user.token)
    return sorted(found, key=lambda p: (p["name"], p["id"]))


async def partner_feedback(
    platform: Platform, user: User, partner_id: str, period: Period
) -> dict[str, Any]:
    """A partner's feedback figures over the period (its own staff: the open answers too)."""
    figures, partner = await asyncio.gather(
        platform.get(
            Service.REFERRAL,
            f"/v1/partners/{partner_id}/feedback",
            user.token,
            since=period.start.isoformat(),
            until=period.end.isoformat(),
        ),
        platform.get(Service.REFERRAL, f"/v1/partners/{partner_id}", user.token),
    )
    return {"feedback": figures, "partner": partner}
