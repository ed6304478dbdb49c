"""What the referral service does with each case event (group `mpa-referral.cases`).

It keeps the pseudonymous read model current and reacts: a case with consent to referral
gets its needs routed, mandatory rules add their referrals, consent withdrawal and case
closure cancel open referrals, a new consent refusing a partner cancels (and re-refers) what
that partner holds. Called by EventConsumer inside the unit of work that also
records the event id, so each event's effects happen once.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from mpa_common.failures import EventRejected
from mpa_common.messaging.subscriptions import Delivery, Subscription, handles
from mpa_common.uow import UnitOfWork
from mpa_contracts.events.base import ActorEventData
from mpa_contracts.events.case import (
    CaseClosedV1,
    CaseNeedsAddedV1,
    CaseRegisteredV1,
    CaseUpdatedV1,
    ConsentRecordedV1,
    ConsentWithdrawnV1,
)
from mpa_contracts.vocabularies import CancelReason, ConsentScope
from mpa_referral.adapters import case_repository as case_repo
from mpa_referral.app.common import Actor, Cause
from mpa_referral.app.referrals import Referrals
from mpa_referral.domain.cases import CaseStatus

log = logging.getLogger(__name__)

CASE_CONSUMER_GROUP = "mpa-referral.cases"


class UnknownCase(EventRejected):
    """An event about a case this service never saw registered: per-key order means its
    `case.registered` came first, so this one can never succeed (dead-lettered at once)."""

    def __init__(self) -> None:
        super().__init__("unknown_case", "event for a case that was never registered")


def _actor(data: ActorEventData) -> Actor:
    return Actor(data.actor_id, data.actor_role)


class CaseEventHandler:
    """One method per case event type; `subscription()` is the handler table."""

    def __init__(self, referrals: Referrals) -> None:
        self._referrals = referrals

    def subscription(self) -> Subscription[UnitOfWork]:
        return Subscription(
            CASE_CONSUMER_GROUP,
            handles(CaseRegisteredV1, self.on_registered),
            handles(CaseUpdatedV1, self.on_updated),
            handles(CaseNeedsAddedV1, self.on_needs_added),
            handles(ConsentRecordedV1, self.on_consent_recorded),
            handles(ConsentWithdrawnV1, self.on_consent_withdrawn),
            handles(CaseClosedV1, self.on_closed),
            # case.personal_data_erased: this service holds no personal data of the case.
        )

    async def on_registered(
        self, uow: UnitOfWork, data: CaseRegisteredV1, delivery: Delivery
    ) -> None:
        session = uow.session
        await case_repo.upsert_case(
            session,
            case_id=data.case_id,
            case_reference=data.case_reference,
            correlation_id=delivery.envelope.correlation_id,
            profile=data.profile,
            safety=data.safety,
            consent=data.consent,
        )
        await case_repo.add_needs(session, data.case_id, data.needs)
        await self._referrals.refer_case_needs(
            uow, data.case_id, _actor(data), Cause.of(delivery.envelope)
        )

    async def on_updated(self, uow: UnitOfWork, data: CaseUpdatedV1, delivery: Delivery) -> None:
        await self._update(uow, data.case_id, case_repo.profile_columns(data.profile, data.safety))
        await self._referrals.refer_case_needs(
            uow, data.case_id, _actor(data), Cause.of(delivery.envelope)
        )

    async def on_needs_added(
        self, uow: UnitOfWork, data: CaseNeedsAddedV1, delivery: Delivery
    ) -> None:
        await self._require(uow, data.case_id)
        await case_repo.add_needs(uow.session, data.case_id, data.needs)
        await self._referrals.refer_case_needs(
            uow, data.case_id, _actor(data), Cause.of(delivery.envelope)
        )

    async def on_consent_recorded(
        self, uow: UnitOfWork, data: ConsentRecordedV1, delivery: Delivery
    ) -> None:
        cause = Cause.of(delivery.envelope)
        await self._update(uow, data.case_id, {"consent": case_repo.consent_document(data.consent)})
        # Referrals held by partners the person now refuses stop; their needs are referred
        # again below, under the new consent.
        await self._referrals.apply_consent(uow, data.case_id, cause)
        await self._referrals.refer_case_needs(uow, data.case_id, _actor(data), cause)

    async def on_closed(self, uow: UnitOfWork, data: CaseClosedV1, delivery: Delivery) -> None:
        await self._update(uow, data.case_id, {"status": CaseStatus.CLOSED.value})
        await self._referrals.cancel_open_referrals(
            uow,
            data.case_id,
            CancelReason.CASE_CLOSED,
            Cause.of(delivery.envelope),
            keep_statutory=False,
        )

    async def _require(self, uow: UnitOfWork, case_id: uuid.UUID) -> None:
        if await case_repo.get_case(uow.session, case_id, for_update=True) is None:
            raise UnknownCase

    async def _update(self, uow: UnitOfWork, case_id: uuid.UUID, values: dict[str, Any]) -> None:
        if not await case_repo.update_case(uow.session, case_id, values):
            raise UnknownCase

    async def on_consent_withdrawn(
        self, uow: UnitOfWork, data: ConsentWithdrawnV1, delivery: Delivery
    ) -> None:
        row = await case_repo.get_case(uow.session, data.case_id, for_update=True)
        if row is None:
            raise UnknownCase
        consent = row["consent"]
        if consent is not None:
            withdrawn = {scope.value for scope in data.withdrawn_scopes}
            remaining = [s for s in consent["scopes"] if s not in withdrawn]
            await case_repo.update_case(
                uow.session,
                data.case_id,
                {"consent": {**consent, "scopes": remaining} if remaining else None},
            )
        if ConsentScope.REFERRAL in data.withdrawn_scopes:
            await self._referrals.cancel_open_referrals(
                uow,
                data.case_id,
                CancelReason.CONSENT_WITHDRAWN,
                Cause.of(delivery.envelope),
                keep_statutory=True,
            )
