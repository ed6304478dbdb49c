"""What changes elsewhere do to open referrals: consent withdrawn or narrowed, a case
closed, a partner or service leaving the directory, a person's data erased. Each runs in
the caller's unit of work (an event handler's, or a directory change's)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime

from mpa_common.uow import Cause
from mpa_contracts.vocabularies import CancelReason, RerouteCause
from mpa_referral.app.common import ReferralPolicy, save
from mpa_referral.app.ports import UnitOfWorkPort
from mpa_referral.app.routing import reroute_referral
from mpa_referral.domain.actors import SYSTEM
from mpa_referral.domain.cases import CaseProfile
from mpa_referral.domain.lifecycle import HELD, NOT_STARTED, OPEN_OR_WAITING


async def cancel_open_referrals(
    uow: UnitOfWorkPort,
    case_id: uuid.UUID,
    reason: CancelReason,
    cause: Cause,
    now: datetime,
    *,
    keep_statutory: bool,
) -> int:
    """Cancels every open (or unroutable) referral of a case; statutory ones are kept when
    `keep_statutory` (consent withdrawal cannot waive a statutory duty)."""
    cancelled = 0
    for referral in await uow.referrals.of_case(case_id, states=OPEN_OR_WAITING, for_update=True):
        if keep_statutory and referral.statutory:
            continue
        referral.cancel(SYSTEM, reason, now=now)
        await save(uow, referral, cause, now)
        cancelled += 1
    return cancelled


async def apply_consent(uow: UnitOfWorkPort, case: CaseProfile, cause: Cause, now: datetime) -> int:
    """Brings open referrals in line with the case's newly recorded consent.

    Each open referral held by a partner the person now refuses (by id or by type) is
    cancelled with reason `consent_withdrawn`: that partner must stop and loses access at
    once, in progress or not. If the consent no longer covers referral at all, every open
    referral is cancelled the same way. The statutory child-protection referral is kept
    either way. The caller then refers the case's needs again: a need whose referrals were
    only ever cancelled for consent is referred afresh, so it reaches a partner the person
    accepts.
    """
    if not case.allows_referral(now):
        return await cancel_open_referrals(
            uow, case.case_id, CancelReason.CONSENT_WITHDRAWN, cause, now, keep_statutory=True
        )
    consent = case.consent
    assert consent is not None
    if not (consent.refused_partner_ids or consent.refused_partner_types):
        return 0
    cancelled = 0
    for referral in await uow.referrals.of_case(case.case_id, states=HELD, for_update=True):
        partner_id = referral.partner_id
        if referral.statutory or partner_id is None:
            continue
        partner_type = (
            await uow.directory.partner_type(partner_id) if consent.refused_partner_types else None
        )
        if consent.refuses(partner_id, partner_type):
            referral.cancel(SYSTEM, CancelReason.CONSENT_WITHDRAWN, now=now)
            await save(uow, referral, cause, now)
            cancelled += 1
    return cancelled


async def reroute_held(
    uow: UnitOfWorkPort,
    policy: ReferralPolicy,
    cause: RerouteCause,
    now: datetime,
    *,
    partner_id: uuid.UUID | None = None,
    service_id: uuid.UUID | None = None,
) -> int:
    """A partner or service left the directory: each referral it holds that has not started
    goes back to routing (its place released); work in progress stays."""
    assert (partner_id is None) != (service_id is None)
    moved = 0
    for referral in await uow.referrals.held(
        states=NOT_STARTED, partner_id=partner_id, service_id=service_id
    ):
        case = await uow.cases.get(referral.case_id)
        if case is None:
            continue
        story = Cause.story(case.correlation_id)
        await reroute_referral(uow, policy, referral, case, cause, story, now)
        await save(uow, referral, story, now)
        moved += 1
    return moved


async def erase_notes(uow: UnitOfWorkPort, case_id: uuid.UUID) -> int:
    """The person's data was erased at intake: the free text about them goes here too (the
    history's entries stay, their notes are destroyed) and no new note is kept."""
    case = await uow.cases.get(case_id, for_update=True)
    if case is not None and not case.personal_data_erased:
        await uow.cases.save(dataclasses.replace(case, personal_data_erased=True))
    return await uow.referrals.erase_notes(case_id)
