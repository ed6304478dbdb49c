"""Use cases of the recipient registry: who receives e-mail for a partner, a referrer, a
country's supervisors or a team's supervisors, and in which language.

Administrators manage every entry; a partner its own organisation's addresses; a supervisor
its own country's and its own team's supervisors' addresses; anyone who refers (operators,
caseworkers, supervisors) the address they are reached at as a referrer, keyed by their own
actor id — which is also where they hear about the cases they own (`case_owner`).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

from mpa_common.auth import Principal, Role
from mpa_notification.app.commands import AddContact, DeleteContact, ListContacts, UpdateContact
from mpa_notification.app.ports import NotificationUow, UowFactory
from mpa_notification.domain.errors import DuplicateAddress, Forbidden, NotFound
from mpa_notification.domain.models import Contact
from mpa_notification.domain.routing import Audience

_REFERRER_ROLES = (Role.OPERATOR, Role.CASEWORKER, Role.SUPERVISOR)


def may_manage(principal: Principal, kind: Audience, owner: str) -> bool:
    if principal.has(Role.ADMIN):
        return True
    if kind in (Audience.PARTNER, Audience.INVESTIGATORS):
        return principal.has(Role.PARTNER) and str(principal.partner_id) == owner
    if kind is Audience.SUPERVISORS:
        return principal.has(Role.SUPERVISOR) and principal.country == owner
    if kind is Audience.TEAM_SUPERVISORS:
        return principal.has(Role.SUPERVISOR) and principal.team == owner
    if kind is not Audience.REFERRER:
        return False  # reached through another kind's entries (CONTACT_KIND)
    return principal.has(*_REFERRER_ROLES) and principal.actor_id == owner


async def _managed(work: NotificationUow, principal: Principal, contact_id: uuid.UUID) -> Contact:
    """The contact, locked, if the caller may manage it (else: not found, no probing)."""
    contact = await work.contacts.get(contact_id, lock=True)
    if contact is None or not may_manage(principal, contact.kind, contact.owner):
        raise NotFound("contact")
    return contact


async def add_contact(command: AddContact, uow: UowFactory) -> Contact:
    if not may_manage(command.principal, command.kind, command.owner):
        raise Forbidden("You may not manage this recipient's addresses")
    now = datetime.now(UTC)
    async with uow() as work:
        contact = await work.contacts.add(
            Contact(
                id=uuid.uuid4(),
                kind=command.kind,
                owner=command.owner,
                email=command.email,
                language=command.language.value,
                created_at=now,
                updated_at=now,
            )
        )
        if contact is None:
            raise DuplicateAddress()
        await work.commit()
    return contact


async def list_contacts(command: ListContacts, uow: UowFactory) -> list[Contact]:
    async with uow() as work:
        found = await work.contacts.find(kind=command.kind, owner=command.owner)
    return [c for c in found if may_manage(command.principal, c.kind, c.owner)]


async def update_contact(command: UpdateContact, uow: UowFactory) -> Contact:
    async with uow() as work:
        contact = await _managed(work, command.principal, command.contact_id)
        if command.email is not None or command.language is not None:
            saved = await work.contacts.save(
                replace(
                    contact,
                    email=command.email if command.email is not None else contact.email,
                    language=(
                        command.language.value if command.language is not None else contact.language
                    ),
                )
            )
            if saved is None:
                raise NotFound("contact")
            contact = saved
        await work.commit()
    return contact


async def delete_contact(command: DeleteContact, uow: UowFactory) -> None:
    async with uow() as work:
        contact = await _managed(work, command.principal, command.contact_id)
        await work.contacts.delete(contact.id)
        await work.commit()
