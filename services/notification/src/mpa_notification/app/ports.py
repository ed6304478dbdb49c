"""What the use cases need from the outside, as interfaces: the unit of work and the
repositories it exposes, the delivery queue, webhook secrets and the URL check.

`mpa_notification.adapters` implements them over PostgreSQL (`adapters.uow`), and
`mpa_notification.testing` in memory; `tests/integration/test_notification_repositories.py`
runs one contract suite against both.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

from mpa_common.uow import AfterCommit, Cause
from mpa_contracts.envelope import Envelope
from mpa_contracts.events.base import EventData
from mpa_notification.domain.models import (
    Attempt,
    Claim,
    Contact,
    Delivery,
    DeliveryFilter,
    Endpoint,
    KnownReferral,
    NewDelivery,
    ReferralFacts,
)
from mpa_notification.domain.routing import Audience

if TYPE_CHECKING:
    from mpa_notification.app.fanout import FanOut


class EndpointRepository(Protocol):
    async def add(self, endpoint: Endpoint) -> Endpoint: ...

    async def get(
        self, endpoint_id: uuid.UUID, *, partner_id: uuid.UUID | None, lock: bool = False
    ) -> Endpoint | None:
        """A live (not deleted) endpoint; `partner_id` limits it to that partner's."""
        ...

    async def get_many(
        self, endpoint_ids: Collection[uuid.UUID], *, lock: bool = False
    ) -> dict[uuid.UUID, Endpoint]:
        """Live endpoints by id (locked in id order when `lock`)."""
        ...

    async def visible(self, *, partner_id: uuid.UUID | None) -> list[Endpoint]:
        """Live endpoints, oldest first; one partner's, or every partner's (None)."""
        ...

    async def enabled_of(
        self, partner_ids: Collection[uuid.UUID], *, lock: bool = False
    ) -> list[Endpoint]:
        """The enabled live endpoints of these partners, oldest first."""
        ...

    async def save(self, endpoint: Endpoint) -> Endpoint:
        """Writes what may change of an endpoint; returns it as stored (new updated_at)."""
        ...

    async def save_many(self, endpoints: Sequence[Endpoint]) -> None: ...

    async def delete(self, endpoint_id: uuid.UUID) -> None:
        """Soft delete: disabled and hidden; the delivery log keeps naming it."""
        ...


class ContactRepository(Protocol):
    async def add(self, contact: Contact) -> Contact | None:
        """The new contact, or None when that kind/owner already has that address."""
        ...

    async def get(self, contact_id: uuid.UUID, *, lock: bool = False) -> Contact | None: ...

    async def find(
        self, *, kind: Audience | None = None, owner: str | None = None
    ) -> list[Contact]:
        """Oldest first."""
        ...

    async def of_owners(self, owners: Collection[tuple[Audience, str]]) -> list[Contact]:
        """The contacts of any of these (kind, owner) pairs, oldest first."""
        ...

    async def recipients(
        self, partner_ids: Collection[uuid.UUID], owners: Collection[tuple[Audience, str]]
    ) -> tuple[list[Endpoint], list[Contact]]:
        """Everyone a fan-out tells, in one read: the enabled live endpoints of these
        partners (`EndpointRepository.enabled_of`) and the contacts of these owners
        (`of_owners`), each oldest first."""
        ...

    async def save(self, contact: Contact) -> Contact | None:
        """The changed contact (None if it is gone); raises DuplicateAddress when its owner
        has that address already."""
        ...

    async def delete(self, contact_id: uuid.UUID) -> None: ...


class ReferralRepository(Protocol):
    async def record(self, facts: Sequence[ReferralFacts]) -> None:
        """Creates or completes what is known of referrals (later facts first-wins per
        field: a known fact is never erased by an event that does not say it)."""
        ...

    async def get_many(
        self, referral_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, KnownReferral]: ...


class PartnerRepository(Protocol):
    async def set_active(self, partner_id: uuid.UUID, active: bool) -> None: ...

    async def is_active(self, partner_id: uuid.UUID) -> bool:
        """False only for a partner the directory deactivated (unknown partners are active:
        the directory's events may predate this service)."""
        ...


class DeliveryLog(Protocol):
    """Deliveries as a log: what was queued for whom, and every attempt."""

    async def add_many(self, deliveries: Sequence[NewDelivery]) -> None: ...

    async def get(
        self, delivery_id: uuid.UUID, *, partner_id: uuid.UUID | None, lock: bool = False
    ) -> Delivery | None:
        """`partner_id`: only that partner's own deliveries (audience partner)."""
        ...

    async def page(
        self, where: DeliveryFilter, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Delivery]:
        """Newest first; `after` is the (created_at, id) of the previous page's last row."""
        ...

    async def attempts_of(self, delivery_id: uuid.UUID) -> list[Attempt]:
        """Oldest first."""
        ...


class DeliveryQueue(Protocol):
    """Deliveries as work: due ones claimed under every lane's limits, leased, and their
    attempts' results recorded; re-queued and failed in bulk."""

    async def claim(
        self,
        *,
        limit: int,
        endpoint_cap: int,
        email_cap: int,
        lease_seconds: float,
        ended: Collection[tuple[uuid.UUID, datetime]] = (),
    ) -> Claim:
        """Up to `limit` due pending deliveries, no more per lane (an endpoint, or SMTP)
        than its max in flight and rate limit allow across every replica; each leased for
        `lease_seconds` (due again when the lease ends unrecorded). And when the next
        delivery is due after it (as `next_due_in` would answer once the claim is
        committed), in the same statement.

        `ended` names attempts this dispatcher finished but has not recorded yet, by
        delivery and the lease it took: they no longer count as in flight (their deliveries
        stay due only after the lease, should their results never be recorded)."""
        ...

    async def next_due_in(self) -> float | None:
        """Seconds until the earliest pending delivery a claim could take is due (<= 0:
        due now, its lane full), or None when nothing is pending."""
        ...

    async def lock(self, delivery_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Delivery]: ...

    async def lock_with_endpoints(
        self, delivery_ids: Collection[uuid.UUID]
    ) -> tuple[dict[uuid.UUID, Delivery], dict[uuid.UUID, Endpoint]]:
        """`lock`, and the live endpoints of those deliveries as they are now (not locked),
        read in the same statement."""
        ...

    async def record(
        self, attempts: Sequence[tuple[uuid.UUID, Attempt]], outcomes: Sequence[Delivery]
    ) -> None:
        """Appends attempts to the log and writes each delivery's new state; their leases
        end."""
        ...

    async def reschedule(self, delivery_id: uuid.UUID, at: datetime) -> Delivery | None:
        """A fresh run of the schedule, its first attempt at `at`."""
        ...

    async def fail_pending_of(self, endpoint_id: uuid.UUID, failure: str) -> int: ...

    async def requeue_failed_of(self, endpoint_id: uuid.UUID, since: datetime) -> int:
        """Failed deliveries of the endpoint created since `since` start a new run now."""
        ...


class NotificationUow(Protocol):
    """One transaction over the service's repositories, its outbox and its fan-out."""

    @property
    def endpoints(self) -> EndpointRepository: ...

    @property
    def contacts(self) -> ContactRepository: ...

    @property
    def referrals(self) -> ReferralRepository: ...

    @property
    def partners(self) -> PartnerRepository: ...

    @property
    def deliveries(self) -> DeliveryLog: ...

    @property
    def queue(self) -> DeliveryQueue: ...

    @property
    def fan_out(self) -> FanOut: ...

    def emit(
        self,
        data: EventData,
        *,
        cause: Cause | None = None,
        subject: str | None = None,
        key: uuid.UUID | None = None,
    ) -> Envelope: ...

    def after_commit(self, callback: AfterCommit) -> None: ...

    async def commit(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


UowFactory = Callable[[], NotificationUow]


class WebhookSecrets(Protocol):
    """Signing secrets: made, sealed at rest per endpoint, opened to sign."""

    def new(self) -> str: ...

    def seal(self, endpoint_id: uuid.UUID, secret: str) -> bytes: ...

    def open(self, endpoint_id: uuid.UUID, sealed: bytes) -> str: ...


UrlCheck = Callable[[str], Awaitable[object]]
"""Checks a webhook URL and the addresses its host resolves to now; raises UrlRefused."""
