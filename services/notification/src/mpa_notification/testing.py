"""In-memory stand-ins for the notification service's storage, and a ready-made world of
them for fast use-case tests.

`InMemoryNotificationStore` holds what the tables would; `store.unit_of_work` is a unit-of-
work factory over it, with the same repositories and delivery queue as
`adapters.uow.NotificationUnitOfWork` (one contract suite runs against both:
`tests/integration/test_notification_repositories.py`). A block left without commit
leaves the store as it was. `make_world` wires a store, a context (fixed secrets key, a
scripted DNS) and a dispatcher-wake counter; `Story` makes one referral's events from the
contracts' examples.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import json
import socket
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from mpa_common.auth import Principal, Role
from mpa_common.testing import InMemoryUnitOfWork
from mpa_contracts import examples
from mpa_contracts.envelope import Envelope, new_envelope
from mpa_contracts.events.base import EventData
from mpa_contracts.vocabularies import NotificationChannel
from mpa_notification.adapters.secrets import SecretBox
from mpa_notification.adapters.webhooks import resolve_checked
from mpa_notification.app.context import NotificationContext
from mpa_notification.app.fanout import FanOut
from mpa_notification.app.scope import Scope
from mpa_notification.domain.errors import DuplicateAddress
from mpa_notification.domain.models import (
    Attempt,
    Claim,
    Claimed,
    Contact,
    Delivery,
    DeliveryFilter,
    DeliveryState,
    Endpoint,
    KnownReferral,
    NewDelivery,
    ReferralFacts,
)
from mpa_notification.domain.routing import Audience
from mpa_notification.domain.url_policy import IPAddress, UrlPolicy
from mpa_notification.settings import NotificationSettings

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Lease:
    claimed_at: datetime
    leased_until: datetime | None


@dataclass
class InMemoryNotificationStore:
    """The service's tables, in memory."""

    clock: Clock = _utc_now
    endpoints: dict[uuid.UUID, Endpoint] = field(default_factory=dict)
    deleted_endpoints: set[uuid.UUID] = field(default_factory=set)
    contacts: dict[uuid.UUID, Contact] = field(default_factory=dict)
    referrals: dict[uuid.UUID, KnownReferral] = field(default_factory=dict)
    partners: dict[uuid.UUID, bool] = field(default_factory=dict)
    deliveries: dict[uuid.UUID, Delivery] = field(default_factory=dict)
    leases: dict[uuid.UUID, _Lease] = field(default_factory=dict)
    attempts: list[tuple[uuid.UUID, Attempt]] = field(default_factory=list)
    # Every committed event, in commit order (the outbox).
    events: list[Envelope] = field(default_factory=list)
    commits: int = 0

    def unit_of_work(self) -> InMemoryNotificationUnitOfWork:
        return InMemoryNotificationUnitOfWork(self)

    def events_of(self, event_class: type) -> list[Envelope]:
        return [e for e in self.events if isinstance(e.data, event_class)]

    def _snapshot(self) -> dict[str, object]:
        names = (
            "endpoints",
            "deleted_endpoints",
            "contacts",
            "referrals",
            "partners",
            "deliveries",
            "leases",
            "attempts",
        )
        return {name: copy.copy(getattr(self, name)) for name in names}

    def _restore(self, snapshot: dict[str, object]) -> None:
        for name, value in snapshot.items():
            setattr(self, name, value)

    def _live(self, endpoint_id: uuid.UUID) -> Endpoint | None:
        if endpoint_id in self.deleted_endpoints:
            return None
        return self.endpoints.get(endpoint_id)


class InMemoryNotificationUnitOfWork(InMemoryUnitOfWork):
    def __init__(self, store: InMemoryNotificationStore) -> None:
        super().__init__(source="urn:mpa:service:notification")
        self.store = store
        self.committed_events = store.events  # one outbox for every unit of work
        self._snapshot: dict[str, object] = {}
        self.endpoints = MemoryEndpoints(store)
        self.contacts = MemoryContacts(store)
        self.referrals = MemoryReferrals(store)
        self.partners = MemoryPartners(store)
        self.deliveries = MemoryDeliveryLog(store)
        self.queue = MemoryDeliveryQueue(store)
        self.fan_out = FanOut()

    def _bind(self) -> None:
        self._snapshot = copy.deepcopy(self.store._snapshot())
        self.fan_out = FanOut()

    def _rollback(self) -> None:
        self.store._restore(self._snapshot)

    async def commit(self) -> None:
        await self.fan_out.write(self)
        self.store.commits += 1
        await super().commit()


class MemoryEndpoints:
    def __init__(self, store: InMemoryNotificationStore) -> None:
        self._store = store

    async def add(self, endpoint: Endpoint) -> Endpoint:
        self._store.endpoints[endpoint.id] = endpoint
        return endpoint

    async def get(
        self, endpoint_id: uuid.UUID, *, partner_id: uuid.UUID | None, lock: bool = False
    ) -> Endpoint | None:
        endpoint = self._store._live(endpoint_id)
        if endpoint is None or (partner_id is not None and endpoint.partner_id != partner_id):
            return None
        return endpoint

    async def get_many(
        self, endpoint_ids: Collection[uuid.UUID], *, lock: bool = False
    ) -> dict[uuid.UUID, Endpoint]:
        found = {i: self._store._live(i) for i in endpoint_ids}
        return {i: e for i, e in found.items() if e is not None}

    def _ordered(self) -> list[Endpoint]:
        deleted = self._store.deleted_endpoints
        live = [e for i, e in self._store.endpoints.items() if i not in deleted]
        return sorted(live, key=lambda e: (e.created_at, e.id))

    async def visible(self, *, partner_id: uuid.UUID | None) -> list[Endpoint]:
        return [e for e in self._ordered() if partner_id is None or e.partner_id == partner_id]

    async def enabled_of(
        self, partner_ids: Collection[uuid.UUID], *, lock: bool = False
    ) -> list[Endpoint]:
        return [e for e in self._ordered() if e.enabled and e.partner_id in partner_ids]

    async def save(self, endpoint: Endpoint) -> Endpoint:
        saved = replace(endpoint, updated_at=self._store.clock())
        self._store.endpoints[endpoint.id] = saved
        return saved

    async def save_many(self, endpoints: Sequence[Endpoint]) -> None:
        for endpoint in endpoints:
            await self.save(endpoint)

    async def delete(self, endpoint_id: uuid.UUID) -> None:
        endpoint = self._store.endpoints.get(endpoint_id)
        if endpoint is not None:
            self._store.endpoints[endpoint_id] = replace(endpoint, enabled=False)
            self._store.deleted_endpoints.add(endpoint_id)


class MemoryContacts:
    def __init__(self, store: InMemoryNotificationStore) -> None:
        self._store = store

    def _taken(self, contact: Contact) -> bool:
        return any(
            (c.kind, c.owner, c.email) == (contact.kind, contact.owner, contact.email)
            and c.id != contact.id
            for c in self._store.contacts.values()
        )

    async def add(self, contact: Contact) -> Contact | None:
        if self._taken(contact) or contact.id in self._store.contacts:
            return None
        self._store.contacts[contact.id] = contact
        return contact

    async def get(self, contact_id: uuid.UUID, *, lock: bool = False) -> Contact | None:
        return self._store.contacts.get(contact_id)

    def _ordered(self) -> list[Contact]:
        return sorted(self._store.contacts.values(), key=lambda c: (c.created_at, c.id))

    async def find(
        self, *, kind: Audience | None = None, owner: str | None = None
    ) -> list[Contact]:
        return [
            c
            for c in self._ordered()
            if (kind is None or c.kind is kind) and (owner is None or c.owner == owner)
        ]

    async def of_owners(self, owners: Collection[tuple[Audience, str]]) -> list[Contact]:
        wanted = set(owners)
        return [c for c in self._ordered() if (c.kind, c.owner) in wanted]

    async def recipients(
        self, partner_ids: Collection[uuid.UUID], owners: Collection[tuple[Audience, str]]
    ) -> tuple[list[Endpoint], list[Contact]]:
        # Through the classes: one read, as the tests that count repository calls see it.
        endpoints = await MemoryEndpoints.enabled_of(MemoryEndpoints(self._store), partner_ids)
        return endpoints, await MemoryContacts.of_owners(self, owners)

    async def save(self, contact: Contact) -> Contact | None:
        if contact.id not in self._store.contacts:
            return None
        if self._taken(contact):
            raise DuplicateAddress()
        saved = replace(contact, updated_at=self._store.clock())
        self._store.contacts[contact.id] = saved
        return saved

    async def delete(self, contact_id: uuid.UUID) -> None:
        self._store.contacts.pop(contact_id, None)


class MemoryReferrals:
    def __init__(self, store: InMemoryNotificationStore) -> None:
        self._store = store

    async def record(self, facts: Sequence[ReferralFacts]) -> None:
        for fact in facts:
            known = self._store.referrals.get(fact.referral_id)
            if known is None:
                merged = fact
            else:
                merged = ReferralFacts(
                    known.referral_id,
                    known.case_id,
                    None,
                    known.referrer_actor_id,
                    known.country,
                    known.partner_id,
                ).then(fact)
            self._store.referrals[fact.referral_id] = KnownReferral(
                merged.referral_id,
                merged.case_id,
                merged.referrer_actor_id,
                merged.country,
                merged.partner_id,
            )

    async def get_many(self, referral_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, KnownReferral]:
        return {i: r for i in referral_ids if (r := self._store.referrals.get(i)) is not None}


class MemoryPartners:
    def __init__(self, store: InMemoryNotificationStore) -> None:
        self._store = store

    async def set_active(self, partner_id: uuid.UUID, active: bool) -> None:
        self._store.partners[partner_id] = active

    async def is_active(self, partner_id: uuid.UUID) -> bool:
        return self._store.partners.get(partner_id, True)


class MemoryDeliveryLog:
    def __init__(self, store: InMemoryNotificationStore) -> None:
        self._store = store

    async def add_many(self, deliveries: Sequence[NewDelivery]) -> None:
        now = self._store.clock()
        for new in deliveries:
            self._store.deliveries[new.id] = Delivery(
                id=new.id,
                channel=new.channel,
                audience=new.audience,
                endpoint_id=new.endpoint_id,
                email=new.email,
                contact_id=new.contact_id,
                language=new.language,
                partner_id=new.partner_id,
                event_type=new.event_type,
                trigger_event_id=new.trigger_event_id,
                correlation_id=new.correlation_id,
                referral_id=new.referral_id,
                case_id=new.case_id,
                body=new.body,
                state=DeliveryState.PENDING,
                attempts=0,
                schedule_position=0,
                next_attempt_at=new.next_attempt_at,
                last_failure=None,
                last_status_code=None,
                created_at=now,
                updated_at=now,
                delivered_at=None,
            )

    async def get(
        self, delivery_id: uuid.UUID, *, partner_id: uuid.UUID | None, lock: bool = False
    ) -> Delivery | None:
        delivery = self._store.deliveries.get(delivery_id)
        if delivery is None or not _of_partner(delivery, partner_id):
            return None
        return delivery

    async def attempts_of(self, delivery_id: uuid.UUID) -> list[Attempt]:
        return sorted(
            (a for i, a in self._store.attempts if i == delivery_id), key=lambda a: a.attempt
        )

    async def page(
        self, where: DeliveryFilter, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Delivery]:
        def matches(d: Delivery) -> bool:
            return (
                _of_partner(d, where.partner_id)
                and (where.endpoint_id is None or d.endpoint_id == where.endpoint_id)
                and (where.state is None or d.state is where.state)
                and (where.event_type is None or d.event_type == where.event_type)
                and (where.channel is None or d.channel is where.channel)
                and (where.referral_id is None or d.referral_id == where.referral_id)
                and (where.since is None or d.created_at >= where.since)
                and (where.until is None or d.created_at < where.until)
                and (after is None or (d.created_at, d.id) < after)
            )

        found = sorted(
            (d for d in self._store.deliveries.values() if matches(d)),
            key=lambda d: (d.created_at, d.id),
            reverse=True,
        )
        return found[:limit]


def _of_partner(delivery: Delivery, partner_id: uuid.UUID | None) -> bool:
    return partner_id is None or (
        delivery.partner_id == partner_id and delivery.audience is Audience.PARTNER
    )


class MemoryDeliveryQueue:
    def __init__(self, store: InMemoryNotificationStore) -> None:
        self._store = store

    async def claim(
        self,
        *,
        limit: int,
        endpoint_cap: int,
        email_cap: int,
        lease_seconds: float,
        ended: Collection[tuple[uuid.UUID, datetime]] = (),
    ) -> Claim:
        claimed = self._take(limit, endpoint_cap, email_cap, lease_seconds, ended)
        return Claim(claimed, await self.next_due_in())

    def _take(
        self,
        limit: int,
        endpoint_cap: int,
        email_cap: int,
        lease_seconds: float,
        ended: Collection[tuple[uuid.UUID, datetime]],
    ) -> list[Claimed]:
        store = self._store
        now = store.clock()
        for delivery_id, until in ended:
            lease = store.leases.get(delivery_id)
            if lease is not None and lease.leased_until == until:
                store.leases[delivery_id] = _Lease(lease.claimed_at, None)
        in_flight: dict[uuid.UUID | None, int] = {}
        recent: dict[uuid.UUID | None, int] = {}
        for delivery_id, lease in store.leases.items():
            lane = store.deliveries[delivery_id].endpoint_id
            if lease.leased_until is not None and lease.leased_until > now:
                in_flight[lane] = in_flight.get(lane, 0) + 1
            if lease.claimed_at > now - timedelta(seconds=1):
                recent[lane] = recent.get(lane, 0) + 1

        def room(lane: uuid.UUID | None) -> int:
            if lane is None:
                return email_cap - in_flight.get(lane, 0)
            endpoint = store.endpoints[lane]
            free = (endpoint.max_in_flight or endpoint_cap) - in_flight.get(lane, 0)
            if endpoint.rate_limit_per_second is not None:
                free = min(free, endpoint.rate_limit_per_second - recent.get(lane, 0))
            return free

        due = sorted(
            (
                d
                for d in store.deliveries.values()
                if d.state is DeliveryState.PENDING
                and d.next_attempt_at is not None
                and d.next_attempt_at <= now
                and (
                    d.channel is NotificationChannel.EMAIL
                    or (
                        d.endpoint_id is not None
                        and (e := store._live(d.endpoint_id)) is not None
                        and e.enabled
                    )
                )
            ),
            key=lambda d: d.next_attempt_at or now,
        )
        taken: list[Delivery] = []
        for delivery in due:
            if len(taken) == limit:
                break
            lane = delivery.endpoint_id
            if room(lane) <= 0:
                continue
            in_flight[lane] = in_flight.get(lane, 0) + 1
            recent[lane] = recent.get(lane, 0) + 1
            until = now + timedelta(seconds=lease_seconds)
            store.leases[delivery.id] = _Lease(now, until)
            leased = replace(delivery, next_attempt_at=until, updated_at=now)
            store.deliveries[delivery.id] = leased
            taken.append(leased)
        taken.sort(key=lambda d: d.created_at)
        return [
            Claimed(d, store.endpoints[d.endpoint_id] if d.endpoint_id else None) for d in taken
        ]

    async def next_due_in(self) -> float | None:
        store = self._store
        due = [
            d.next_attempt_at
            for d in store.deliveries.values()
            if d.state is DeliveryState.PENDING
            and d.next_attempt_at is not None
            and (
                d.channel is NotificationChannel.EMAIL
                or (
                    d.endpoint_id is not None
                    and (e := store._live(d.endpoint_id)) is not None
                    and e.enabled
                )
            )
        ]
        return (min(due) - store.clock()).total_seconds() if due else None

    async def lock(self, delivery_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Delivery]:
        found = {i: self._store.deliveries.get(i) for i in delivery_ids}
        return {i: d for i, d in found.items() if d is not None}

    async def lock_with_endpoints(
        self, delivery_ids: Collection[uuid.UUID]
    ) -> tuple[dict[uuid.UUID, Delivery], dict[uuid.UUID, Endpoint]]:
        locked = await self.lock(delivery_ids)
        endpoints = {
            e.id: e
            for d in locked.values()
            if d.endpoint_id is not None and (e := self._store._live(d.endpoint_id)) is not None
        }
        return locked, endpoints

    async def record(
        self, attempts: Sequence[tuple[uuid.UUID, Attempt]], outcomes: Sequence[Delivery]
    ) -> None:
        now = self._store.clock()
        self._store.attempts.extend(attempts)
        for delivery in outcomes:
            self._store.deliveries[delivery.id] = replace(delivery, updated_at=now)
            lease = self._store.leases.get(delivery.id)
            if lease is not None:
                self._store.leases[delivery.id] = _Lease(lease.claimed_at, None)

    async def reschedule(self, delivery_id: uuid.UUID, at: datetime) -> Delivery | None:
        delivery = self._store.deliveries.get(delivery_id)
        if delivery is None:
            return None
        rescheduled = replace(
            delivery,
            state=DeliveryState.PENDING,
            schedule_position=0,
            next_attempt_at=at,
            updated_at=self._store.clock(),
        )
        self._store.deliveries[delivery_id] = rescheduled
        return rescheduled

    def _change(self, picked: Callable[[Delivery], bool], **changes: object) -> int:
        now = self._store.clock()
        chosen = [d for d in self._store.deliveries.values() if picked(d)]
        for delivery in chosen:
            self._store.deliveries[delivery.id] = replace(
                delivery,
                updated_at=now,
                **changes,  # type: ignore[arg-type]
            )
        return len(chosen)

    async def fail_pending_of(self, endpoint_id: uuid.UUID, failure: str) -> int:
        return self._change(
            lambda d: d.endpoint_id == endpoint_id and d.state is DeliveryState.PENDING,
            state=DeliveryState.FAILED,
            last_failure=failure,
            next_attempt_at=None,
        )

    async def requeue_failed_of(self, endpoint_id: uuid.UUID, since: datetime) -> int:
        return self._change(
            lambda d: (
                d.endpoint_id == endpoint_id
                and d.state is DeliveryState.FAILED
                and d.created_at >= since
            ),
            state=DeliveryState.PENDING,
            schedule_position=0,
            next_attempt_at=self._store.clock(),
        )


# --- a world for use-case tests ------------------------------------------------------------

ROUTED = "org.mpa.referral.routed.v1"
REQUESTED = "org.mpa.referral.requested.v1"
ACCEPTED = "org.mpa.referral.accepted.v1"
UNROUTABLE = "org.mpa.referral.unroutable.v1"
ADMIN = Scope(None)
SECRETS_KEY = base64.b64encode(b"k" * 32).decode()


class Wakes:
    """Counts the dispatcher's wake-ups, and whether each came after a commit."""

    def __init__(self, store: InMemoryNotificationStore) -> None:
        self._store = store
        self.after_commits: list[int] = []

    def __call__(self) -> None:
        self.after_commits.append(self._store.commits)

    @property
    def count(self) -> int:
        return len(self.after_commits)


class Dns:
    def __init__(self) -> None:
        self.answers: dict[str, list[IPAddress]] = {}

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "unknown name")
        return list(self.answers[host])


def world_settings(**overrides: Any) -> NotificationSettings:
    values: dict[str, Any] = {
        "secrets_key": SECRETS_KEY,
        "retry_schedule_seconds": (0, 5, 300),
        "retry_jitter_ratio": 0.0,
        "webhook_allowed_networks": ("127.0.0.1/32",),
        **overrides,
    }
    return NotificationSettings(**values)


@dataclass
class World:
    """One service's worth of state: its store, context and unit-of-work factory."""

    store: InMemoryNotificationStore
    context: NotificationContext
    wakes: Wakes
    dns: Dns

    @property
    def uow(self) -> Callable[[], Any]:
        return self.store.unit_of_work

    def endpoint(self, **fields: Any) -> Endpoint:
        """A stored endpoint (subscribed to routed referrals, enabled) with `fields` set;
        its secret sealed with the world's key, as the dispatcher opens it."""
        made = an_endpoint(**fields)
        if "secret" not in fields:
            made = replace(made, secret=self.context.secrets.seal(made.id, TEST_SECRET))
        self.store.endpoints[made.id] = made
        return made

    def contact(self, kind: Audience, owner: str, email: str, language: str = "en") -> Contact:
        now = self.store.clock()
        entry = Contact(uuid.uuid4(), kind, owner, email, language, now, now)
        self.store.contacts[entry.id] = entry
        return entry

    async def queue(
        self,
        count: int = 1,
        *,
        to: Endpoint | None = None,
        audience: Audience = Audience.PARTNER,
        partner_id: uuid.UUID | None = None,
        referral: KnownReferral | None = None,
    ) -> list[uuid.UUID]:
        """`count` due deliveries in one commit: webhooks to `to`, else e-mails."""
        ids = [uuid.uuid4() for _ in range(count)]
        async with self.uow() as uow:
            await uow.deliveries.add_many(
                [
                    NewDelivery(
                        id=i,
                        channel=NotificationChannel.WEBHOOK if to else NotificationChannel.EMAIL,
                        audience=audience,
                        partner_id=partner_id or (to.partner_id if to else uuid.uuid4()),
                        event_type=ROUTED,
                        body={"type": ROUTED, "data": {}},
                        next_attempt_at=self.store.clock() - timedelta(seconds=1),
                        endpoint_id=to.id if to else None,
                        email=None if to else "desk@ngo.example.org",
                        language=None if to else "en",
                        referral_id=referral.referral_id if referral else None,
                        case_id=referral.case_id if referral else None,
                    )
                    for i in ids
                ]
            )
            await uow.commit()
        return ids


TEST_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 (a test's, not a secret)


def an_endpoint(**fields: Any) -> Endpoint:
    """An endpoint record (not stored): enabled, subscribed to routed referrals, healthy."""
    made = Endpoint.register(
        id=uuid.uuid4(),
        partner_id=uuid.uuid4(),
        url="http://127.0.0.1:9/hook",
        event_types=(ROUTED,),
        secret=b"sealed",
        at=datetime.now(UTC).replace(microsecond=0),
    )
    return replace(made, **fields)


def make_world(**overrides: Any) -> World:
    store = InMemoryNotificationStore()
    configured = world_settings(**overrides)
    policy = UrlPolicy.build(allow_http=True, allowed_networks=configured.webhook_allowed_networks)
    dns = Dns()
    wakes = Wakes(store)
    context = NotificationContext(
        settings=configured,
        secrets=SecretBox.from_settings(configured),
        check_url=partial(resolve_checked, policy=policy, resolver=dns),
        schedule=NotificationContext.schedule_of(configured),
        wake_dispatcher=wakes,
    )
    return World(store, context, wakes, dns)


@dataclass
class Story:
    """Unique ids for one referral, and its events (contract examples with those ids)."""

    country: str = "NE"
    referral_id: uuid.UUID = field(default_factory=uuid.uuid4)
    case_id: uuid.UUID = field(default_factory=uuid.uuid4)
    partner_id: uuid.UUID = field(default_factory=uuid.uuid4)
    referrer: str = field(default_factory=lambda: f"caseworker:cw-{uuid.uuid4().hex[:8]}")

    def data(self, event_type: str) -> EventData:
        text = examples.example_event(event_type).model_dump_json()
        for old, new in (
            (examples.REFERRAL_ID, self.referral_id),
            (examples.CASE_ID, self.case_id),
            (examples.PARTNER_ID, self.partner_id),
        ):
            text = text.replace(str(old), str(new))
        data: dict[str, Any] = json.loads(text)
        if event_type == REQUESTED:
            data.update(actor_id=self.referrer, assistance_country=self.country)
        return type(examples.example_event(event_type)).model_validate(data)

    def event(self, event_type: str) -> Envelope:
        return new_envelope(self.data(event_type), source="urn:mpa:service:referral")

    @property
    def scope(self) -> Scope:
        return Scope(self.partner_id)


def principal(*roles: Role, **claims: Any) -> Principal:
    values: dict[str, Any] = {
        "subject": claims.pop("subject", f"u-{uuid.uuid4().hex[:6]}"),
        "roles": frozenset(roles),
        **claims,
    }
    return Principal(**values)


def loopback(dns: Dns, name: str) -> str:
    dns.answers[name] = [ipaddress.ip_address("127.0.0.1")]
    return f"http://{name}:8080/hook"
