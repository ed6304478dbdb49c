"""What routes get from the running service, and who the principal is in the domain's
terms: the acting `Actor`, the referral `Viewer`, the `DirectoryReader`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from mpa_common.auth import Principal, Role
from mpa_referral.app.common import ReferralContext
from mpa_referral.app.directory import DirectoryReader
from mpa_referral.domain.actors import Actor
from mpa_referral.domain.disclosure import Viewer
from mpa_referral.domain.errors import Forbidden

# Roles that refer people (and administer): they see every referral in full.
REFERRERS = (Role.OPERATOR, Role.CASEWORKER, Role.SUPERVISOR, Role.ADMIN)
# Roles whose work needs services for survivors of gender-based violence in view.
GBV_VISIBLE_ROLES = (Role.ADMIN, Role.SUPERVISOR, Role.CASEWORKER, Role.OPERATOR)
# Roles that reach partners on a person's behalf, or run the directory, see contact points.
CONTACT_VISIBLE_ROLES = (Role.ADMIN, Role.SUPERVISOR, Role.CASEWORKER, Role.OPERATOR)


async def referral_context(request: Request) -> ReferralContext:
    context: ReferralContext = request.app.state.referral
    return context


Context = Annotated[ReferralContext, Depends(referral_context)]


def actor_of(principal: Principal) -> Actor:
    """Who acts: an admin for no particular partner, a partner's staff for theirs."""
    if principal.has(Role.ADMIN):
        return Actor(principal.actor_id, principal.primary_role)
    if principal.has(Role.PARTNER) and principal.partner_id is None:
        raise Forbidden("A partner token must name its partner (partner_id)")
    return Actor(principal.actor_id, principal.primary_role, principal.partner_id)


def viewer_of(principal: Principal) -> Viewer:
    if principal.has(*REFERRERS):
        return Viewer.referrer()
    if principal.has(Role.AUDITOR):
        return Viewer.auditor()
    if principal.partner_id is None:
        raise Forbidden("A partner token must name its partner (partner_id)")
    return Viewer.partner(principal.partner_id)


def reader_of(principal: Principal) -> DirectoryReader:
    return DirectoryReader(
        sees_gbv_services=principal.has(*GBV_VISIBLE_ROLES),
        sees_contacts=principal.has(*CONTACT_VISIBLE_ROLES),
        partner_id=principal.partner_id if principal.has(Role.PARTNER) else None,
    )
