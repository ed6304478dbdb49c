"""What the referral service does with each case event (consumer group `mpa-referral.cases`),
the person's feedback on services and PSEA outcomes included (issue 17).

One handler per event type, each calling its use case (app/case_events.py) inside the
consumer's unit of work, which also records the event id: each event's effects happen
once, and several events of a partition may share one transaction. An event about a case
this service never saw registered can never be processed: it is rejected (dead-lettered).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from mpa_common.failures import EventRejected
from mpa_common.messaging.subscriptions import Delivery, Subscription, handles
from mpa_common.uow import Cause
from mpa_contracts.events.case import (
    CaseClosedV1,
    CaseNeedsAddedV1,
    CasePersonalDataErasedV1,
    CaseRegisteredV1,
    CaseUpdatedV1,
    ConsentRecordedV1,
    ConsentWithdrawnV1,
)
from mpa_contracts.events.cross_border import (
    TransferConsentRecordedV1,
    TransferConsentWithdrawnV1,
)
from mpa_contracts.events.feedback import ServiceFeedbackRecordedV1
from mpa_contracts.events.protection import BestInterestsDeterminedV1
from mpa_contracts.events.psea import PseaInvestigationConcludedV1
from mpa_referral.adapters.uow import ReferralUnitOfWork
from mpa_referral.app import case_events, feedback, psea
from mpa_referral.app.common import ReferralContext
from mpa_referral.domain.errors import NotFound, UnknownCase

CASE_CONSUMER_GROUP = "mpa-referral.cases"


@contextlib.contextmanager
def _rejecting_unknown_cases() -> Iterator[None]:
    try:
        yield
    except UnknownCase as unknown:
        raise EventRejected("unknown_case", str(unknown)) from None


class CaseEventHandlers:
    def __init__(self, context: ReferralContext) -> None:
        self._policy = context.policy
        self._clock = context.clock

    def subscription(self) -> Subscription[ReferralUnitOfWork]:
        # A case is routed within 50 ms of its event (the goal from POST to routed is
        # 0.5 s at p99): under load one fetch carries 50 ms of cases, not one each. One
        # lane: those cases, of every partition, are routed in one transaction (on two
        # cores, partitions' transactions side by side only queue for the CPU). The price:
        # a record whose handler fails unexpectedly holds up every partition while it is
        # retried (seconds), not only its own; a rejected one is dead-lettered at once.
        return Subscription(
            CASE_CONSUMER_GROUP,
            handles(CaseRegisteredV1, self.on_case_registered),
            handles(CaseUpdatedV1, self.on_case_updated),
            handles(CaseNeedsAddedV1, self.on_case_needs_added),
            handles(ConsentRecordedV1, self.on_consent_recorded),
            handles(ConsentWithdrawnV1, self.on_consent_withdrawn),
            handles(CaseClosedV1, self.on_case_closed),
            handles(CasePersonalDataErasedV1, self.on_personal_data_erased),
            handles(BestInterestsDeterminedV1, self.on_best_interests_determined),
            # Cross-border work (issue 17): transnational referrals wait for these.
            handles(TransferConsentRecordedV1, self.on_transfer_consent_recorded),
            handles(TransferConsentWithdrawnV1, self.on_transfer_consent_withdrawn),
            # Issue 17, in this group rather than groups of their own (each group is one
            # more rebalance for every replica): the person's feedback, PSEA outcomes.
            handles(ServiceFeedbackRecordedV1, self.on_feedback_recorded),
            handles(PseaInvestigationConcludedV1, self.on_investigation_concluded),
            gather_ms=50,
            single_lane=True,
        )

    async def on_case_registered(
        self, uow: ReferralUnitOfWork, data: CaseRegisteredV1, delivery: Delivery
    ) -> None:
        cause = Cause.of(delivery.envelope)
        await case_events.case_registered(uow, self._policy, data, cause, self._clock())

    async def on_case_updated(
        self, uow: ReferralUnitOfWork, data: CaseUpdatedV1, delivery: Delivery
    ) -> None:
        with _rejecting_unknown_cases():
            cause = Cause.of(delivery.envelope)
            await case_events.case_updated(uow, self._policy, data, cause, self._clock())

    async def on_case_needs_added(
        self, uow: ReferralUnitOfWork, data: CaseNeedsAddedV1, delivery: Delivery
    ) -> None:
        with _rejecting_unknown_cases():
            cause = Cause.of(delivery.envelope)
            await case_events.case_needs_added(uow, self._policy, data, cause, self._clock())

    async def on_consent_recorded(
        self, uow: ReferralUnitOfWork, data: ConsentRecordedV1, delivery: Delivery
    ) -> None:
        with _rejecting_unknown_cases():
            cause = Cause.of(delivery.envelope)
            await case_events.consent_recorded(uow, self._policy, data, cause, self._clock())

    async def on_consent_withdrawn(
        self, uow: ReferralUnitOfWork, data: ConsentWithdrawnV1, delivery: Delivery
    ) -> None:
        with _rejecting_unknown_cases():
            cause = Cause.of(delivery.envelope)
            await case_events.consent_withdrawn(uow, data, cause, self._clock())

    async def on_case_closed(
        self, uow: ReferralUnitOfWork, data: CaseClosedV1, delivery: Delivery
    ) -> None:
        with _rejecting_unknown_cases():
            await case_events.case_closed(uow, data, Cause.of(delivery.envelope), self._clock())

    async def on_best_interests_determined(
        self, uow: ReferralUnitOfWork, data: BestInterestsDeterminedV1, delivery: Delivery
    ) -> None:
        with _rejecting_unknown_cases():
            cause = Cause.of(delivery.envelope)
            await case_events.best_interests_determined(
                uow, self._policy, data, cause, self._clock()
            )

    async def on_transfer_consent_recorded(
        self, uow: ReferralUnitOfWork, data: TransferConsentRecordedV1, delivery: Delivery
    ) -> None:
        with _rejecting_unknown_cases():
            cause = Cause.of(delivery.envelope)
            await case_events.transfer_consent_recorded(
                uow, self._policy, data, cause, self._clock()
            )

    async def on_transfer_consent_withdrawn(
        self, uow: ReferralUnitOfWork, data: TransferConsentWithdrawnV1, delivery: Delivery
    ) -> None:
        with _rejecting_unknown_cases():
            cause = Cause.of(delivery.envelope)
            await case_events.transfer_consent_withdrawn(uow, data, cause, self._clock())

    async def on_personal_data_erased(
        self, uow: ReferralUnitOfWork, data: CasePersonalDataErasedV1, delivery: Delivery
    ) -> None:
        await case_events.personal_data_erased(uow, data)

    async def on_feedback_recorded(
        self, uow: ReferralUnitOfWork, data: ServiceFeedbackRecordedV1, delivery: Delivery
    ) -> None:
        """The person's feedback on a referral's service, kept for its partner's figures."""
        try:
            await feedback.feedback_recorded(uow, data, delivery.envelope.time)
        except feedback.UnknownReferral as unknown:
            raise EventRejected("unknown_referral", str(unknown)) from None

    async def on_investigation_concluded(
        self, uow: ReferralUnitOfWork, data: PseaInvestigationConcludedV1, delivery: Delivery
    ) -> None:
        """A substantiated PSEA allegation that asks for it suspends the partner."""
        try:
            await psea.investigation_concluded(uow, self._policy, data, self._clock())
        except NotFound as missing:
            raise EventRejected("unknown_partner", str(missing)) from None
