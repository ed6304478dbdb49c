"""A substantiated PSEA allegation suspends the implicated organisation (issue 17).

The intake service's PSEA focal point records the investigation's outcome; when it asks for
a suspension (`org.mpa.psea.investigation_concluded.v1`, `suspend_partner`), this service
deactivates the partner as `suspended` — the directory's administrative suspension: its
services leave routing, the referrals it holds that have not started are re-routed, and
only an administrator reactivates it (a partner's staff never change their partner). It is
this service's rule acting (`system:referral`); the event is the cause the audit log shows.
"""

from __future__ import annotations

from datetime import datetime

from mpa_contracts.events.psea import PseaInvestigationConcludedV1
from mpa_contracts.vocabularies import DeactivationReason
from mpa_referral.app.common import ReferralPolicy
from mpa_referral.app.directory import DirectoryChanges, PartnerPatch
from mpa_referral.app.ports import UnitOfWorkPort
from mpa_referral.domain.actors import SYSTEM
from mpa_referral.domain.errors import NotFound


async def investigation_concluded(
    uow: UnitOfWorkPort, policy: ReferralPolicy, data: PseaInvestigationConcludedV1, now: datetime
) -> bool:
    """Suspends the partner when asked; whether it did (an inactive one stays as it is)."""
    if not data.suspend_partner:
        return False
    partner = await uow.directory.get_partner(data.implicated_partner_id, for_update=True)
    if partner is None:
        raise NotFound("No such partner")
    if not partner["active"]:
        return False
    patch = PartnerPatch(active=False, deactivation_reason=DeactivationReason.SUSPENDED)
    await DirectoryChanges(uow, policy, SYSTEM, now).update_partner(
        data.implicated_partner_id, patch
    )
    return True
