"""The recipient registry: `/v1/contacts`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from mpa_common.auth import CurrentPrincipal
from mpa_common.problems import Problem
from mpa_common.request_types import Text
from mpa_contracts.types import ORG_UNIT_CODE_PATTERN
from mpa_notification.api.deps import Uow
from mpa_notification.api.models import ContactCreate, ContactUpdate, ContactView
from mpa_notification.app import commands
from mpa_notification.app import contacts as use_cases
from mpa_notification.domain.routing import REGISTRY_KINDS, Audience

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])

REGISTRY_NOTES = """
E-mail recipients. Events carry only pseudonymous ids; these entries map them to addresses:
`partner` (a partner id: routed referrals, undeliverable webhooks, disabled endpoints),
`referrer` (an actor id as found in events, e.g. `caseworker:u-123`: accepted, declined,
completed, failed, SLA breached, unroutable, undeliverable; and, as a case's owner, its
overdue follow-ups), `supervisors` (a country: SLA breached, unroutable, undeliverable;
break-glass reads and approval requests of cases without a team) and `team_supervisors`
(a team code: break-glass reads of the team's cases and its approval requests) and
`investigators` (a partner id: its investigation focal point, told of PSEA allegations
against the organisation — ids, the allegation's type and deadline, never the account).
Administrators manage all; a partner its own; a supervisor its country's and its team's; a
referring user their own.
"""


def _owner(body: ContactCreate, principal_actor_id: str) -> str:
    named = {
        Audience.PARTNER: str(body.partner_id) if body.partner_id else None,
        Audience.REFERRER: body.actor_id or principal_actor_id,
        Audience.SUPERVISORS: body.country,
        Audience.TEAM_SUPERVISORS: body.team,
        Audience.INVESTIGATORS: str(body.partner_id) if body.partner_id else None,
    }.get(body.kind)
    if body.kind not in REGISTRY_KINDS:
        raise Problem(
            422,
            "Invalid request",
            f"kind={body.kind.value} is reached through the referrer entries",
            extra={"errors": [{"field": "body.kind", "reason": "not a registry kind"}]},
        )
    field = {
        Audience.PARTNER: "partner_id",
        Audience.SUPERVISORS: "country",
        Audience.TEAM_SUPERVISORS: "team",
        Audience.INVESTIGATORS: "partner_id",
    }.get(body.kind)
    if named is None:
        raise Problem(
            422,
            "Invalid request",
            f"{field} is required for kind={body.kind.value}",
            extra={"errors": [{"field": f"body.{field}", "reason": "required"}]},
        )
    return named


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ContactView,
    summary="Add an e-mail recipient",
    description=REGISTRY_NOTES,
)
async def add_contact(body: ContactCreate, uow: Uow, principal: CurrentPrincipal) -> ContactView:
    contact = await use_cases.add_contact(
        commands.AddContact(
            principal,
            kind=body.kind,
            owner=_owner(body, principal.actor_id),
            email=body.email,
            language=body.language,
        ),
        uow,
    )
    return ContactView.of(contact)


@router.get(
    "",
    response_model=list[ContactView],
    summary="Recipients you may manage",
    description=REGISTRY_NOTES,
)
async def list_contacts(
    uow: Uow,
    principal: CurrentPrincipal,
    kind: Audience | None = None,
    partner_id: uuid.UUID | None = None,
    actor_id: Annotated[Text | None, Query(max_length=200)] = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    team: Annotated[str | None, Query(pattern=ORG_UNIT_CODE_PATTERN)] = None,
) -> list[ContactView]:
    owner = str(partner_id) if partner_id else actor_id or country or team
    found = await use_cases.list_contacts(
        commands.ListContacts(principal, kind=kind, owner=owner), uow
    )
    return [ContactView.of(c) for c in found]


@router.patch(
    "/{contact_id}",
    response_model=ContactView,
    summary="Change an address or language",
)
async def update_contact(
    contact_id: uuid.UUID, body: ContactUpdate, uow: Uow, principal: CurrentPrincipal
) -> ContactView:
    contact = await use_cases.update_contact(
        commands.UpdateContact(principal, contact_id, email=body.email, language=body.language),
        uow,
    )
    return ContactView.of(contact)


@router.delete(
    "/{contact_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a recipient",
)
async def delete_contact(contact_id: uuid.UUID, uow: Uow, principal: CurrentPrincipal) -> Response:
    await use_cases.delete_contact(commands.DeleteContact(principal, contact_id), uow)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
