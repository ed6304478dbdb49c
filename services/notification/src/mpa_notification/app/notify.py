"""What the service does with each incoming referral and directory event."""

from __future__ import annotations

import logging

from mpa_common.uow import UnitOfWork
from mpa_contracts.envelope import Envelope
from mpa_contracts.events.directory import PartnerDeactivatedV1
from mpa_contracts.events.referral import REFERRAL_STATE_AFTER, ReferralRequestedV1
from mpa_notification.adapters.repositories import ReferralRepository
from mpa_notification.app.context import NotificationContext
from mpa_notification.app.endpoint_health import disable_partner_endpoints
from mpa_notification.app.fanout import Notification, fan_out
from mpa_notification.domain.content import body_for_event
from mpa_notification.domain.models import DisabledReason
from mpa_notification.domain.routing import EMAIL_AUDIENCES, WEBHOOK_EVENT_TYPES, partner_concerned

log = logging.getLogger(__name__)


async def on_referral_event(
    uow: UnitOfWork, context: NotificationContext, envelope: Envelope
) -> None:
    data = envelope.data
    referral_id = getattr(data, "referral_id", None)
    case_id = getattr(data, "case_id", None)
    if referral_id is None or case_id is None:
        return
    referrals = ReferralRepository(uow.session)
    state = REFERRAL_STATE_AFTER.get(type(data))
    partner_id = partner_concerned(data)
    if isinstance(data, ReferralRequestedV1):
        await referrals.record(
            referral_id,
            case_id,
            state=state.value if state else None,
            referrer_actor_id=data.actor_id,
            country=data.assistance_country,
        )
    else:
        await referrals.record(
            referral_id,
            case_id,
            state=state.value if state else None,
            partner_id=getattr(data, "partner_id", None),
        )
    audiences = EMAIL_AUDIENCES.get(envelope.type, frozenset())
    if not audiences and envelope.type not in WEBHOOK_EVENT_TYPES:
        return
    referral = await referrals.get(referral_id)
    if referral is not None and referral.referrer_actor_id is None and audiences:
        # The requested event was not seen (e.g. it predates this service's topics):
        # the referrer cannot be told. Ids only in the log.
        log.warning(
            "referrer unknown; no referrer e-mail",
            extra={"referral_id": str(referral_id), "event_type": envelope.type},
        )
    created = await fan_out(
        uow,
        context,
        Notification(
            event_type=envelope.type,
            body=body_for_event(
                envelope, referral_api_base_url=context.settings.referral_api_base_url
            ),
            partner_id=partner_id,
            referral=referral,
            trigger_event_id=envelope.id,
            correlation_id=envelope.correlation_id,
        ),
        audiences=audiences,
        webhooks=True,
    )
    if created:
        # After the commit: woken earlier, the dispatcher would find nothing yet.
        uow.after_commit(context.wake_dispatcher)


async def on_directory_event(
    uow: UnitOfWork, context: NotificationContext, envelope: Envelope
) -> None:
    if isinstance(envelope.data, PartnerDeactivatedV1):
        await disable_partner_endpoints(
            uow, context, envelope.data.partner_id, DisabledReason.PARTNER_DEACTIVATED
        )
