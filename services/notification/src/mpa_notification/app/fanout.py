"""Turning notifications into deliveries — one per subscribed endpoint and per address —
for a whole unit of work at once.

Handlers and use cases do not query per notification: they add what they learn of
referrals and what they want told to the unit of work's `FanOut`, which the unit of work
writes when it commits, in a fixed number of statements however many events the
transaction holds (the consumer hands a partition's events to one transaction): one upsert
of the referrals (which returns them), one read of the endpoints and contacts together, one
insert of the deliveries. The dispatcher is woken after the commit.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from mpa_contracts.envelope import Envelope
from mpa_contracts.vocabularies import NotificationChannel
from mpa_notification.app.context import NotificationContext
from mpa_notification.app.ports import NotificationUow
from mpa_notification.domain.content import NotificationBody, body_for_outcome
from mpa_notification.domain.models import (
    Contact,
    Endpoint,
    KnownReferral,
    NewDelivery,
    ReferralFacts,
)
from mpa_notification.domain.routing import (
    CONTACT_KIND,
    EMAIL_AUDIENCES,
    WEBHOOK_EVENT_TYPES,
    Audience,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notification:
    """One thing to tell: its body, and the ids that tie it to a referral and an event."""

    event_type: str
    body: NotificationBody
    # The partner it concerns: its endpoints and contacts are told (when subscribed or in
    # the audience), and every delivery's outcome event is keyed by it.
    partner_id: uuid.UUID | None
    referral_id: uuid.UUID | None = None
    trigger_event_id: uuid.UUID | None = None
    correlation_id: uuid.UUID | None = None
    # Whose addresses each audience means, when the event names them itself (a case's
    # owner, its owning team) rather than through a referral this service knows.
    owners: Mapping[Audience, str] = field(default_factory=dict)
    case_id: uuid.UUID | None = None


@dataclass(frozen=True)
class _Told:
    notification: Notification
    audiences: frozenset[Audience]
    webhooks: bool
    first_attempt_at: datetime


class FanOut:
    """What one unit of work learnt of referrals and wants told, written at its commit."""

    def __init__(self) -> None:
        self._facts: dict[uuid.UUID, ReferralFacts] = {}
        self._told: list[_Told] = []
        self._wake: Callable[[], None] | None = None

    def learn(self, facts: ReferralFacts) -> None:
        """Facts of a referral from an event, folded onto earlier ones in event order."""
        known = self._facts.get(facts.referral_id)
        self._facts[facts.referral_id] = known.then(facts) if known else facts

    def tell(
        self,
        notification: Notification,
        *,
        audiences: Iterable[Audience],
        webhooks: bool,
        first_attempt_at: datetime,
        wake: Callable[[], None],
    ) -> None:
        self._told.append(_Told(notification, frozenset(audiences), webhooks, first_attempt_at))
        self._wake = wake

    @property
    def empty(self) -> bool:
        return not self._facts and not self._told

    async def write(self, uow: NotificationUow) -> int:
        """Writes the referrals' facts and the deliveries; returns how many deliveries."""
        facts, told = list(self._facts.values()), self._told
        self._facts, self._told = {}, []
        if facts:
            await uow.referrals.record(facts)
        if not told:
            return 0
        referrals = await uow.referrals.get_many(
            {t.notification.referral_id for t in told if t.notification.referral_id}
        )
        endpoints, contacts = await _recipients(uow, told, referrals)
        created: list[NewDelivery] = []
        for item in told:
            created.extend(_deliveries(item, referrals, endpoints, contacts))
        await uow.deliveries.add_many(created)
        if created and self._wake is not None:
            # After the commit: woken earlier, the dispatcher would find nothing yet.
            uow.after_commit(self._wake)
        return len(created)


def tell(
    uow: NotificationUow,
    context: NotificationContext,
    notification: Notification,
    *,
    audiences: Iterable[Audience],
    webhooks: bool,
) -> None:
    """Queues a notification's deliveries in the unit of work (written at its commit)."""
    uow.fan_out.tell(
        notification,
        audiences=audiences,
        webhooks=webhooks,
        first_attempt_at=datetime.now(UTC) + timedelta(seconds=context.schedule.first_delay()),
        wake=context.wake_dispatcher,
    )


def tell_about(
    uow: NotificationUow,
    context: NotificationContext,
    event: Envelope,
    partner_id: uuid.UUID,
    data: dict[str, Any],
    *,
    referral_id: uuid.UUID | None = None,
) -> None:
    """E-mails the audiences of one of this service's own events (a webhook exhausted, an
    endpoint disabled): `data` is what the message says of it (ids, codes, links)."""
    tell(
        uow,
        context,
        Notification(
            event.type,
            body_for_outcome(event.type, event.time, {**data, "event_id": str(event.id)}),
            partner_id,
            referral_id=referral_id,
            trigger_event_id=event.id,
            correlation_id=event.correlation_id,
        ),
        audiences=EMAIL_AUDIENCES[event.type],
        webhooks=False,
    )


def _partners(told: list[_Told]) -> set[uuid.UUID]:
    """The partners whose endpoints may hear of these notifications."""
    return {
        t.notification.partner_id
        for t in told
        if t.webhooks
        and t.notification.partner_id is not None
        and t.notification.event_type in WEBHOOK_EVENT_TYPES
    }


def _owner(
    audience: Audience, notification: Notification, referral: KnownReferral | None
) -> str | None:
    """Whose addresses an audience means for this notification, if it can be known."""
    if audience in notification.owners:
        return notification.owners[audience]
    if audience is Audience.PARTNER and notification.partner_id is not None:
        return str(notification.partner_id)
    if audience is Audience.REFERRER and referral is not None:
        return referral.referrer_actor_id
    if audience is Audience.SUPERVISORS and referral is not None:
        return referral.country
    return None


async def _recipients(
    uow: NotificationUow, told: list[_Told], referrals: dict[uuid.UUID, KnownReferral]
) -> tuple[dict[uuid.UUID, list[Endpoint]], dict[tuple[Audience, str], list[Contact]]]:
    """The subscribed endpoints by partner and the contacts by (kind, owner), in one read."""
    owners: set[tuple[Audience, str]] = set()
    for item in told:
        referral = _referral_of(item.notification, referrals)
        for audience in item.audiences:
            owner = _owner(audience, item.notification, referral)
            if owner is not None:
                owners.add((CONTACT_KIND.get(audience, audience), owner))
    partners = _partners(told)
    by_partner: dict[uuid.UUID, list[Endpoint]] = {}
    found: dict[tuple[Audience, str], list[Contact]] = {}
    if not partners and not owners:
        return by_partner, found
    endpoints, contacts = await uow.contacts.recipients(partners, owners)
    for endpoint in endpoints:
        by_partner.setdefault(endpoint.partner_id, []).append(endpoint)
    for contact in contacts:
        found.setdefault((contact.kind, contact.owner), []).append(contact)
    return by_partner, found


def _referral_of(
    notification: Notification, referrals: dict[uuid.UUID, KnownReferral]
) -> KnownReferral | None:
    if notification.referral_id is None:
        return None
    return referrals.get(notification.referral_id)


def _deliveries(
    item: _Told,
    referrals: dict[uuid.UUID, KnownReferral],
    endpoints: dict[uuid.UUID, list[Endpoint]],
    contacts: dict[tuple[Audience, str], list[Contact]],
) -> list[NewDelivery]:
    notification = item.notification
    referral = _referral_of(notification, referrals)
    if referral is not None and referral.referrer_actor_id is None and item.audiences:
        # The requested event was not seen (e.g. it predates this service's topics): the
        # referrer cannot be told. Ids only in the log.
        log.warning(
            "referrer unknown; no referrer e-mail",
            extra={"referral_id": str(referral.referral_id), "event_type": notification.event_type},
        )

    def delivery(channel: NotificationChannel, audience: Audience) -> NewDelivery:
        return NewDelivery(
            id=uuid.uuid4(),
            channel=channel,
            audience=audience,
            partner_id=notification.partner_id,
            event_type=notification.event_type,
            body=notification.body,
            next_attempt_at=item.first_attempt_at,
            trigger_event_id=notification.trigger_event_id,
            correlation_id=notification.correlation_id,
            referral_id=referral.referral_id if referral else None,
            case_id=referral.case_id if referral else notification.case_id,
        )

    created: list[NewDelivery] = []
    partner_id = notification.partner_id
    if item.webhooks and partner_id is not None and notification.event_type in WEBHOOK_EVENT_TYPES:
        for endpoint in endpoints.get(partner_id, ()):
            if notification.event_type in endpoint.event_types:
                created.append(
                    replace(
                        delivery(NotificationChannel.WEBHOOK, Audience.PARTNER),
                        endpoint_id=endpoint.id,
                    )
                )
    seen: set[str] = set()
    for audience in sorted(item.audiences):
        owner = _owner(audience, notification, referral)
        kind = CONTACT_KIND.get(audience, audience)
        for contact in contacts.get((kind, owner), ()) if owner is not None else ():
            if contact.email.lower() in seen:
                continue  # one mail per address, even when someone is in two audiences
            seen.add(contact.email.lower())
            created.append(
                replace(
                    delivery(NotificationChannel.EMAIL, audience),
                    email=contact.email,
                    contact_id=contact.id,
                    language=contact.language,
                )
            )
    return created
