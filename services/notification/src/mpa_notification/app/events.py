"""What the service does with each incoming referral and directory event.

These run inside the consumer's unit of work, possibly beside other events of the same
partition: they only add to it (what is learnt of referrals and what must be told is
written together at the commit, `app.fanout`), so a batch of events costs a few statements,
not a few per event.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from mpa_contracts.envelope import Envelope
from mpa_contracts.events.access import BreakGlassAccessV1
from mpa_contracts.events.casework import CaseApprovalRequestedV1, FollowUpOverdueV1
from mpa_contracts.events.directory import (
    PartnerDeactivatedV1,
    PartnerRegisteredV1,
    PartnerUpdatedV1,
)
from mpa_contracts.events.protection import ReflectionPeriodEndingV1
from mpa_contracts.events.psea import PseaAllegationReferredV1
from mpa_contracts.events.referral import REFERRAL_STATE_AFTER, ReferralRequestedV1
from mpa_notification.app.context import NotificationContext
from mpa_notification.app.endpoint_health import disable_partner_endpoints
from mpa_notification.app.fanout import Notification, tell
from mpa_notification.app.ports import NotificationUow
from mpa_notification.domain.content import body_for_event
from mpa_notification.domain.models import DisabledReason, ReferralFacts
from mpa_notification.domain.routing import (
    EMAIL_AUDIENCES,
    WEBHOOK_EVENT_TYPES,
    Audience,
    partner_concerned,
)


async def on_referral_event(
    uow: NotificationUow, context: NotificationContext, envelope: Envelope
) -> None:
    data = envelope.data
    referral_id = getattr(data, "referral_id", None)
    case_id = getattr(data, "case_id", None)
    if not isinstance(referral_id, uuid.UUID) or not isinstance(case_id, uuid.UUID):
        return
    state = REFERRAL_STATE_AFTER.get(type(data))
    if isinstance(data, ReferralRequestedV1):
        facts = ReferralFacts(
            referral_id,
            case_id,
            state=state.value if state else None,
            referrer_actor_id=data.actor_id,
            country=data.assistance_country,
        )
    else:
        partner_id = getattr(data, "partner_id", None)
        facts = ReferralFacts(
            referral_id,
            case_id,
            state=state.value if state else None,
            partner_id=partner_id if isinstance(partner_id, uuid.UUID) else None,
        )
    uow.fan_out.learn(facts)
    audiences = EMAIL_AUDIENCES.get(envelope.type, frozenset())
    if not audiences and envelope.type not in WEBHOOK_EVENT_TYPES:
        return
    tell(
        uow,
        context,
        Notification(
            event_type=envelope.type,
            body=body_for_event(
                envelope, referral_api_base_url=context.settings.referral_api_base_url
            ),
            partner_id=partner_concerned(data),
            referral_id=referral_id,
            trigger_event_id=envelope.id,
            correlation_id=envelope.correlation_id,
        ),
        audiences=audiences,
        webhooks=True,
    )


async def on_directory_event(
    uow: NotificationUow, context: NotificationContext, envelope: Envelope
) -> None:
    """A deactivated partner's endpoints are disabled and stay so until it is active again
    (registered or updated by the directory) and an administrator enables them."""
    data = envelope.data
    if isinstance(data, PartnerDeactivatedV1):
        await uow.partners.set_active(data.partner_id, False)
        await disable_partner_endpoints(
            uow, context, data.partner_id, DisabledReason.PARTNER_DEACTIVATED
        )
    elif isinstance(data, PartnerRegisteredV1 | PartnerUpdatedV1):
        # The directory emits `updated` when a partner is reactivated.
        await uow.partners.set_active(data.partner_id, True)


# Casework events older than this are not e-mailed (a new consumer group starts from the
# topics' beginning: the past is not news to anyone).
CASEWORK_NEWS_WINDOW = timedelta(days=7)


async def on_casework_event(
    uow: NotificationUow, context: NotificationContext, envelope: Envelope
) -> None:
    """A break-glass read or an approval request tells the owning team's supervisors (the
    country office's when the case has no team); an overdue follow-up tells the case's
    owner. Ids and codes only, like every notification."""
    if envelope.time < datetime.now(UTC) - CASEWORK_NEWS_WINDOW:
        return
    data = envelope.data
    owners: dict[Audience, str] = {}
    if isinstance(data, BreakGlassAccessV1 | CaseApprovalRequestedV1):
        team, country = data.owner_team, data.owner_country
    elif isinstance(data, FollowUpOverdueV1):
        owners[Audience.CASE_OWNER] = data.owner_id
        team = country = None
    elif isinstance(data, ReflectionPeriodEndingV1):
        owners[Audience.CASE_OWNER] = data.owner_id
        team, country = data.owner_team, data.owner_country
    elif isinstance(data, PseaAllegationReferredV1):
        # Ids, the allegation's type and deadline only: the account and the survivor stay
        # in the PSEA focal point's restricted record.
        owners[Audience.INVESTIGATORS] = str(data.implicated_partner_id)
        team = country = None
    else:
        return
    if team is not None:
        owners[Audience.TEAM_SUPERVISORS] = team
    elif country is not None:
        owners[Audience.SUPERVISORS] = country
    case_id = getattr(data, "case_id", None)
    tell(
        uow,
        context,
        Notification(
            event_type=envelope.type,
            body=body_for_event(
                envelope, referral_api_base_url=context.settings.referral_api_base_url
            ),
            partner_id=None,
            trigger_event_id=envelope.id,
            correlation_id=envelope.correlation_id,
            owners=owners,
            case_id=case_id if isinstance(case_id, uuid.UUID) else None,
        ),
        audiences=frozenset(owners),
        webhooks=False,
    )
