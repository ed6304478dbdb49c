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

from mpa_common.uow import UnitOfWork
from mpa_contracts.envelope import Envelope
from mpa_contracts.events.base import ActorEventData
from mpa_contracts.events.case import (
    CaseClosedV1,
    CaseNeedsAddedV1,
    CasePersonalDataErasedV1,
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


class UnknownCase(LookupError):
    """An event about a case this service never saw registered (retried, then dead-lettered)."""


class CaseEventHandler:
    def __init__(self, referrals: Referrals) -> None:
        self._referrals = referrals

    async def __call__(self, uow: UnitOfWork, envelope: Envelope) -> None:
        data = envelope.data
        cause = Cause.of(envelope)
        actor = Actor(data.actor_id, data.actor_role) if isinstance(data, ActorEventData) else None
        session = uow.session
        if isinstance(data, CaseRegisteredV1):
            await case_repo.upsert_case(
                session,
                case_id=data.case_id,
                case_reference=data.case_reference,
                correlation_id=envelope.correlation_id,
                profile=data.profile,
                safety=data.safety,
                consent=data.consent,
            )
            await case_repo.add_needs(session, data.case_id, data.needs)
        elif isinstance(data, CaseUpdatedV1):
            await self._update(
                uow, data.case_id, case_repo.profile_columns(data.profile, data.safety)
            )
        elif isinstance(data, CaseNeedsAddedV1):
            await self._require(uow, data.case_id)
            await case_repo.add_needs(session, data.case_id, data.needs)
        elif isinstance(data, ConsentRecordedV1):
            await self._update(
                uow, data.case_id, {"consent": case_repo.consent_document(data.consent)}
            )
            # Referrals held by partners the person now refuses stop; their needs are
            # referred again below, under the new consent.
            await self._referrals.apply_consent(uow, data.case_id, cause)
        elif isinstance(data, ConsentWithdrawnV1):
            await self._withdraw(uow, data, cause)
            return
        elif isinstance(data, CaseClosedV1):
            await self._update(uow, data.case_id, {"status": CaseStatus.CLOSED.value})
            await self._referrals.cancel_open_referrals(
                uow, data.case_id, CancelReason.CASE_CLOSED, cause, keep_statutory=False
            )
            return
        elif isinstance(data, CasePersonalDataErasedV1):
            return  # this service holds no personal data of the case
        else:
            log.info("event type not handled", extra={"event_type": envelope.type})
            return
        assert actor is not None
        await self._referrals.refer_case_needs(uow, data.case_id, actor, cause)

    async def _require(self, uow: UnitOfWork, case_id: uuid.UUID) -> None:
        if await case_repo.get_case(uow.session, case_id, for_update=True) is None:
            raise UnknownCase("event for a case that was never registered")

    async def _update(self, uow: UnitOfWork, case_id: uuid.UUID, values: dict[str, Any]) -> None:
        if not await case_repo.update_case(uow.session, case_id, values):
            raise UnknownCase("event for a case that was never registered")

    async def _withdraw(self, uow: UnitOfWork, data: ConsentWithdrawnV1, cause: Cause) -> None:
        row = await case_repo.get_case(uow.session, data.case_id, for_update=True)
        if row is None:
            raise UnknownCase("event for a case that was never registered")
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
                uow, data.case_id, CancelReason.CONSENT_WITHDRAWN, cause, keep_statutory=True
            )
