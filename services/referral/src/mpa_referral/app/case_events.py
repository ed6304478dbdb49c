"""What intake's case events do here: keep the pseudonymous read model current and react.

A case with consent to referral gets its needs routed and mandatory rules add theirs;
consent withdrawal and case closure cancel open referrals; a new consent refusing a
partner cancels (and re-refers) what that partner holds; an erasure destroys the notes.
Each runs in the caller's unit of work (the consumer's, possibly holding other events of
the same partition) and keeps every effect inside it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from mpa_common.uow import Cause
from mpa_contracts.events.case import (
    CaseClosedV1,
    CaseNeedsAddedV1,
    CasePersonalDataErasedV1,
    CaseRegisteredV1,
    CaseUpdatedV1,
    Consent,
    ConsentRecordedV1,
    ConsentWithdrawnV1,
    Need,
    RoutingProfile,
    SafetyFlags,
)
from mpa_contracts.events.cross_border import (
    TransferConsentRecordedV1,
    TransferConsentWithdrawnV1,
)
from mpa_contracts.events.protection import BestInterestsDeterminedV1
from mpa_contracts.vocabularies import CancelReason, ConsentScope, ReferralState, UnroutableReason
from mpa_referral.app.cascades import apply_consent, cancel_open_referrals, erase_notes
from mpa_referral.app.common import ReferralPolicy, save
from mpa_referral.app.ports import UnitOfWorkPort
from mpa_referral.app.request import refer_case_needs, refer_new_case
from mpa_referral.app.routing import route_referral
from mpa_referral.domain.actors import SYSTEM, Actor
from mpa_referral.domain.cases import (
    CaseNeed,
    CaseProfile,
    CaseStatus,
    ConsentTerms,
    TransferConsentTerms,
)
from mpa_referral.domain.errors import UnknownCase
from mpa_referral.domain.lifecycle import OPEN_OR_WAITING


def consent_terms(consent: Consent | None) -> ConsentTerms | None:
    if consent is None:
        return None
    return ConsentTerms(
        consent_id=consent.consent_id,
        scopes=frozenset(consent.scopes),
        expires_at=consent.expires_at,
        refused_partner_ids=frozenset(consent.refused_partner_ids),
        refused_partner_types=frozenset(consent.refused_partner_types),
    )


def _routing_fields(profile: RoutingProfile, safety: SafetyFlags) -> dict[str, Any]:
    """What a registration or an update says of the person, as the read model keeps it."""
    return {
        "age_band": profile.age_band,
        "sex": profile.sex,
        "nationality": profile.nationality,
        "languages": tuple(profile.languages),
        "country": profile.location.country,
        "admin_area": profile.location.admin_area,
        "vulnerabilities": frozenset(profile.vulnerabilities),
        "do_not_contact": safety.do_not_contact,
        "safe_contact_method": safety.safe_contact_method,
    }


def _needs(case_id: UUID, needs: Sequence[Need]) -> list[CaseNeed]:
    return [
        CaseNeed(n.need_id, case_id, n.category, n.urgency, n.assistance_country) for n in needs
    ]


async def _known(uow: UnitOfWorkPort, case_id: UUID) -> CaseProfile:
    case = await uow.cases.get(case_id, for_update=True)
    if case is None:
        raise UnknownCase()
    return case


# Unroutable referrals that wait for a step rather than for the directory. A referral may
# wait for both (a child's transnational return): whichever step comes second routes it, so
# each step tries both kinds and the other gate holds what it still must.
WAITING_FOR_A_STEP = frozenset(
    {
        UnroutableReason.BEST_INTERESTS_DETERMINATION_REQUIRED,
        UnroutableReason.AWAITING_TRANSFER_CONSENT,
    }
)


def _actor(
    data: CaseRegisteredV1
    | CaseUpdatedV1
    | CaseNeedsAddedV1
    | ConsentRecordedV1
    | TransferConsentRecordedV1,
) -> Actor:
    return Actor(data.actor_id, data.actor_role)


async def case_registered(
    uow: UnitOfWorkPort,
    policy: ReferralPolicy,
    data: CaseRegisteredV1,
    cause: Cause,
    now: datetime,
) -> None:
    case = CaseProfile(
        case_id=data.case_id,
        **_routing_fields(data.profile, data.safety),
        consent=consent_terms(data.consent),
        status=CaseStatus.OPEN,
        correlation_id=cause.correlation_id,
    )
    new = await uow.cases.add(case, data.case_reference)
    needs = _needs(data.case_id, data.needs)
    await uow.cases.add_needs(needs)
    if new:
        await refer_new_case(uow, policy, case, needs, _actor(data), cause, now)
    else:  # a replay: what it did before is there to read
        await refer_case_needs(uow, policy, data.case_id, _actor(data), cause, now)


async def case_updated(
    uow: UnitOfWorkPort, policy: ReferralPolicy, data: CaseUpdatedV1, cause: Cause, now: datetime
) -> None:
    case = dataclasses.replace(
        await _known(uow, data.case_id), **_routing_fields(data.profile, data.safety)
    )
    await uow.cases.save(case)
    if case.status is CaseStatus.OPEN:
        # The person may have moved (a cross-border hand-off's arrival): a referral that
        # waited for a transfer consent may be at home now.
        await _route_waiting(uow, policy, case, cause, now)
    await refer_case_needs(uow, policy, data.case_id, _actor(data), cause, now)


async def case_needs_added(
    uow: UnitOfWorkPort,
    policy: ReferralPolicy,
    data: CaseNeedsAddedV1,
    cause: Cause,
    now: datetime,
) -> None:
    await _known(uow, data.case_id)
    await uow.cases.add_needs(_needs(data.case_id, data.needs))
    await refer_case_needs(uow, policy, data.case_id, _actor(data), cause, now)


async def consent_recorded(
    uow: UnitOfWorkPort,
    policy: ReferralPolicy,
    data: ConsentRecordedV1,
    cause: Cause,
    now: datetime,
) -> None:
    case = dataclasses.replace(await _known(uow, data.case_id), consent=consent_terms(data.consent))
    await uow.cases.save(case)
    # Referrals held by partners the person now refuses stop; their needs are referred
    # again below, under the new consent.
    await apply_consent(uow, case, cause, now)
    await refer_case_needs(uow, policy, data.case_id, _actor(data), cause, now)


async def consent_withdrawn(
    uow: UnitOfWorkPort, data: ConsentWithdrawnV1, cause: Cause, now: datetime
) -> None:
    case = await _known(uow, data.case_id)
    if case.consent is not None:
        await uow.cases.save(
            dataclasses.replace(case, consent=case.consent.without(data.withdrawn_scopes))
        )
    if ConsentScope.REFERRAL in data.withdrawn_scopes:
        await cancel_open_referrals(
            uow, data.case_id, CancelReason.CONSENT_WITHDRAWN, cause, now, keep_statutory=True
        )


async def case_closed(uow: UnitOfWorkPort, data: CaseClosedV1, cause: Cause, now: datetime) -> None:
    case = await _known(uow, data.case_id)
    await uow.cases.save(dataclasses.replace(case, status=CaseStatus.CLOSED))
    await cancel_open_referrals(
        uow, data.case_id, CancelReason.CASE_CLOSED, cause, now, keep_statutory=False
    )


async def best_interests_determined(
    uow: UnitOfWorkPort,
    policy: ReferralPolicy,
    data: BestInterestsDeterminedV1,
    cause: Cause,
    now: datetime,
) -> None:
    """A best-interests panel's determination was recorded for the child: the return and
    family-reunification referrals that waited for it are routed now."""
    case = await _known(uow, data.case_id)
    if case.best_interests_determined_at is None:
        case = dataclasses.replace(case, best_interests_determined_at=data.determined_at)
        await uow.cases.save(case)
    await _route_waiting(uow, policy, case, cause, now)


async def _route_waiting(
    uow: UnitOfWorkPort,
    policy: ReferralPolicy,
    case: CaseProfile,
    cause: Cause,
    now: datetime,
    *,
    countries: frozenset[str] | None = None,
) -> None:
    """Routes the case's referrals that waited for a step (in `countries`, when given)."""
    waiting = [
        referral
        for referral in await uow.referrals.of_case(
            case.case_id, states=(ReferralState.UNROUTABLE,), for_update=True
        )
        if referral.status_reason in WAITING_FOR_A_STEP
        and (countries is None or referral.country in countries)
    ]
    for referral in waiting:
        # As a retry: if no service takes it now, it stays unroutable (and is retried
        # when the directory changes, like any unroutable referral).
        await route_referral(uow, policy, referral, case, now, retry=True)
        if referral.is_open:
            await save(uow, referral, cause, now)


async def transfer_consent_recorded(
    uow: UnitOfWorkPort,
    policy: ReferralPolicy,
    data: TransferConsentRecordedV1,
    cause: Cause,
    now: datetime,
) -> None:
    """The person consented to their data going to the named countries: the transnational
    referrals there that waited for it are routed, and needs whose referrals ended when an
    earlier transfer consent was withdrawn are referred afresh."""
    terms = TransferConsentTerms(
        transfer_consent_id=data.transfer_consent_id,
        countries=frozenset(data.destination_countries),
        expires_at=data.expires_at,
    )
    case = (await _known(uow, data.case_id)).with_transfer_consent(terms)
    await uow.cases.save(case)
    if case.status is CaseStatus.CLOSED:
        return
    await _route_waiting(uow, policy, case, cause, now, countries=terms.countries)
    await refer_case_needs(uow, policy, data.case_id, _actor(data), cause, now)


async def transfer_consent_withdrawn(
    uow: UnitOfWorkPort, data: TransferConsentWithdrawnV1, cause: Cause, now: datetime
) -> None:
    """No further disclosure to the withdrawn countries: every open or waiting referral
    there that no other transfer consent still covers is cancelled (its partner loses
    access at once), statutory or not — a national duty does not reach abroad."""
    case = (await _known(uow, data.case_id)).without_transfer_countries(
        data.transfer_consent_id, data.withdrawn_countries
    )
    await uow.cases.save(case)
    for referral in await uow.referrals.of_case(
        data.case_id, states=OPEN_OR_WAITING, for_update=True
    ):
        if referral.country not in data.withdrawn_countries:
            continue
        if case.allows_transfer_to(referral.country, now):
            continue  # another transfer consent still covers it
        if referral.consent_override_reason is not None:
            continue  # referred without any consent, where a life was at risk
        referral.cancel(SYSTEM, CancelReason.TRANSFER_CONSENT_WITHDRAWN, now=now)
        await save(uow, referral, cause, now)


async def personal_data_erased(uow: UnitOfWorkPort, data: CasePersonalDataErasedV1) -> None:
    # Erasure of a case never seen here erases nothing: there is nothing to refuse.
    await erase_notes(uow, data.case_id)
