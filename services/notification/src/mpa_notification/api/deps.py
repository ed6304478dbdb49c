"""Request dependencies: the service's context, its unit of work, and the caller's scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from mpa_common.auth import Principal, Role, require_roles
from mpa_common.problems import Problem
from mpa_notification.app.context import NotificationContext
from mpa_notification.app.ports import UowFactory
from mpa_notification.app.scope import Scope


async def notification_context(request: Request) -> NotificationContext:
    context: NotificationContext = request.app.state.notification
    return context


async def unit_of_work(request: Request) -> UowFactory:
    factory: UowFactory = request.app.state.unit_of_work
    return factory


Context = Annotated[NotificationContext, Depends(notification_context)]
Uow = Annotated[UowFactory, Depends(unit_of_work)]


async def partner_scope(
    principal: Annotated[Principal, Depends(require_roles(Role.PARTNER, Role.ADMIN))],
) -> Scope:
    """Administrators see every partner's endpoints and deliveries; a partner its own."""
    if principal.has(Role.ADMIN):
        return Scope(partner_id=None)
    if principal.partner_id is None:
        raise Problem(403, "Forbidden", "A partner token must carry a partner_id claim")
    return Scope(partner_id=principal.partner_id)


PartnerScope = Annotated[Scope, Depends(partner_scope)]
