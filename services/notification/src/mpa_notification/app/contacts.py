"""Use cases of the recipient registry: who receives e-mail for a partner, a referrer, or a
country's supervisors, and in which language.

Administrators manage every entry; a partner its own organisation's addresses; a supervisor
its own country's supervisors' addresses; anyone who refers (operators, caseworkers,
supervisors) the address they are reached at as a referrer, keyed by their own actor id.
"""

from __future__ import annotations

import uuid

from mpa_common.auth import Principal, Role
from mpa_common.problems import Problem
from mpa_notification.adapters.repositories import ContactRepository, DuplicateAddress
from mpa_notification.app.context import NotificationContext
from mpa_notification.app.scope import not_found
from mpa_notification.domain.messages import Language
from mpa_notification.domain.models import Contact
from mpa_notification.domain.routing import Audience

_REFERRER_ROLES = (Role.OPERATOR, Role.CASEWORKER, Role.SUPERVISOR)


def may_manage(principal: Principal, kind: Audience, owner: str) -> bool:
    if principal.has(Role.ADMIN):
        return True
    if kind is Audience.PARTNER:
        return principal.has(Role.PARTNER) and str(principal.partner_id) == owner
    if kind is Audience.SUPERVISORS:
        return principal.has(Role.SUPERVISOR) and principal.country == owner
    return principal.has(*_REFERRER_ROLES) and principal.actor_id == owner


def _forbidden() -> Problem:
    return Problem(403, "Forbidden", "You may not manage this recipient's addresses")


async def add_contact(
    context: NotificationContext,
    principal: Principal,
    *,
    kind: Audience,
    owner: str,
    email: str,
    language: Language,
) -> Contact:
    if not may_manage(principal, kind, owner):
        raise _forbidden()
    async with context.uow() as uow:
        contact = await ContactRepository(uow.session).add(
            {
                "id": uuid.uuid4(),
                "kind": kind.value,
                "owner": owner,
                "email": email,
                "language": language.value,
            }
        )
        if contact is None:
            raise Problem(409, "Conflict", "This recipient already has this address")
        await uow.commit()
    return contact


async def list_contacts(
    context: NotificationContext,
    principal: Principal,
    *,
    kind: Audience | None,
    owner: str | None,
) -> list[Contact]:
    async with context.uow() as uow:
        found = await ContactRepository(uow.session).find(kind=kind, owner=owner)
    return [c for c in found if may_manage(principal, c.kind, c.owner)]


async def update_contact(
    context: NotificationContext,
    principal: Principal,
    contact_id: uuid.UUID,
    *,
    email: str | None,
    language: Language | None,
) -> Contact:
    async with context.uow() as uow:
        repository = ContactRepository(uow.session)
        contact = await repository.get(contact_id, lock=True)
        if contact is None or not may_manage(principal, contact.kind, contact.owner):
            raise not_found("contact")
        values: dict[str, str] = {}
        if email is not None:
            values["email"] = email
        if language is not None:
            values["language"] = language.value
        if values:
            try:
                updated = await repository.update(contact.id, values)
            except DuplicateAddress as duplicate:
                raise Problem(
                    409, "Conflict", "This recipient already has this address"
                ) from duplicate
            if updated is None:
                raise not_found("contact")
            contact = updated
        await uow.commit()
    return contact


async def delete_contact(
    context: NotificationContext, principal: Principal, contact_id: uuid.UUID
) -> None:
    async with context.uow() as uow:
        repository = ContactRepository(uow.session)
        contact = await repository.get(contact_id, lock=True)
        if contact is None or not may_manage(principal, contact.kind, contact.owner):
            raise not_found("contact")
        await repository.delete(contact.id)
        await uow.commit()
