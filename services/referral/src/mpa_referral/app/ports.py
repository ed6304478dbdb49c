"""What the use cases need of storage: the repositories, and the unit of work that holds them.

`adapters/uow.py` implements them on PostgreSQL (`ReferralUnitOfWork`, with routing's reads
served from an in-memory directory snapshot), `mpa_referral.testing` in memory; one
contract suite (tests/integration/test_referral_repositories.py) holds both to the same
behaviour. The directory's own rows stay column mappings (`PartnerRow`, `ServiceRow`):
they are records the API and the HSDS mapping show, not behaviour.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from mpa_common.uow import Cause
from mpa_contracts.envelope import Envelope
from mpa_contracts.events.base import EventData
from mpa_contracts.vocabularies import (
    NeedCategory,
    PartnerType,
    ReferralState,
    ServiceStatus,
    Urgency,
)
from mpa_referral.domain.cases import CaseNeed, CaseProfile
from mpa_referral.domain.directory import DesignationRole, ServiceListing
from mpa_referral.domain.feedback import Feedback
from mpa_referral.domain.lifecycle import AttemptResponse
from mpa_referral.domain.referral import HistoryEntry, Referral, RoutingAttempt
from mpa_referral.domain.routing import PartnerRecord

PartnerRow = Mapping[Any, Any]  # a partner as the directory stores it (column -> value)
ServiceRow = Mapping[Any, Any]  # a service, with its partner's type where a listing joins it


@dataclass(frozen=True, slots=True)
class Timer:
    """A durable timer: fires once, at or after `due_at`, for `subject_id`."""

    id: uuid.UUID
    kind: str
    subject_id: uuid.UUID
    due_at: datetime
    payload: Mapping[str, Any]
    attempts: int = 0  # failed firings so far


@dataclass(frozen=True, slots=True)
class ReferralFilter:
    partner_id: uuid.UUID | None = None  # a partner sees only the referrals it holds
    case_id: uuid.UUID | None = None
    state: ReferralState | None = None
    urgency: Urgency | None = None
    category: NeedCategory | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class ServiceFilter:
    partner_id: uuid.UUID | None = None
    category: NeedCategory | None = None
    country: str | None = None
    admin_area: str | None = None  # nationwide in its country, or naming it
    language: str | None = None
    partner_type: PartnerType | None = None
    status: ServiceStatus | None = None
    include_gbv_sensitive: bool = True
    visible_partner_id: uuid.UUID | None = None  # its own GBV services stay visible


@dataclass(frozen=True, slots=True)
class ReferralFigures:
    """Counts and durations over the referrals created in a period (no case-level data)."""

    total: int
    by_state: dict[str, int] = field(default_factory=dict)
    by_need: dict[str, int] = field(default_factory=dict)
    by_partner: dict[str, int] = field(default_factory=dict)
    acceptance_rate: float | None = None
    median_seconds_to_accept: float | None = None
    p90_seconds_to_accept: float | None = None
    sla_breaches: int = 0
    start_sla_breaches: int = 0
    reroutes: int = 0
    # Per partner: routings it let pass the acceptance deadline, and referrals that left it
    # for another partner (declined, or the deadline missed).
    sla_breaches_by_partner: dict[str, int] = field(default_factory=dict)
    reroutes_by_partner: dict[str, int] = field(default_factory=dict)


class CaseRepository(Protocol):
    async def add(self, case: CaseProfile, reference: str) -> bool:
        """Stores a registered case; a replayed registration replaces the profile (its story
        and erasure stay). True when the case is new."""

    async def get(self, case_id: uuid.UUID, *, for_update: bool = False) -> CaseProfile | None:
        """The case (locked until the transaction ends when `for_update`)."""

    async def save(self, case: CaseProfile) -> None:
        """Stores a changed profile, consent, status or erasure flag."""

    async def needs_of(self, case_id: uuid.UUID) -> list[CaseNeed]:
        """The case's needs, in the order they were added."""

    async def add_needs(self, needs: Sequence[CaseNeed]) -> None:
        """Adds needs; one already known (a replay) is left as it is."""


class ReferralRepository(Protocol):
    async def add(self, referral: Referral) -> None:
        """Stores a new referral (sets its `created_at` and `updated_at`)."""

    async def update(self, referral: Referral) -> None:
        """Stores a changed referral (sets its `updated_at`)."""

    async def get(
        self, referral_id: uuid.UUID, *, for_update: bool = False, skip_locked: bool = False
    ) -> Referral | None: ...

    async def of_case(
        self,
        case_id: uuid.UUID,
        *,
        states: Collection[ReferralState] | None = None,
        for_update: bool = False,
    ) -> list[Referral]:
        """The case's referrals (in `states`), by id."""

    async def held(
        self,
        *,
        states: Collection[ReferralState],
        partner_id: uuid.UUID | None = None,
        service_id: uuid.UUID | None = None,
    ) -> list[Referral]:
        """The referrals in `states` a partner (or one of its services) holds, locked,
        oldest first."""

    async def retryable_unroutable(
        self, category: NeedCategory, countries: Collection[str], reasons: Collection[str]
    ) -> list[uuid.UUID]:
        """Unroutable referrals of a category wanted in one of `countries`, oldest first."""

    async def page(
        self, where: ReferralFilter, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Referral]:
        """Newest first; `after` is the (created_at, id) of the last one of the page before."""

    async def outcomes_by_need(
        self, case_id: uuid.UUID
    ) -> dict[uuid.UUID, list[tuple[ReferralState, str | None]]]:
        """Each need of the case that has referrals, with their states and status reasons."""

    async def add_attempt(self, referral_id: uuid.UUID, attempt: RoutingAttempt) -> None: ...

    async def record_response(
        self,
        referral_id: uuid.UUID,
        attempt: int,
        response: AttemptResponse,
        partner_id: uuid.UUID | None,
    ) -> None:
        """The answer to one routing (kept only if it has none yet); `partner_id`, the
        partner whose track record it changes."""

    async def attempts_of(self, referral_id: uuid.UUID) -> list[RoutingAttempt]: ...

    async def tried_service_ids(self, referral_id: uuid.UUID) -> frozenset[uuid.UUID]:
        """Services that turned this referral down (declined it or let its SLA pass). One
        that only lost it by leaving the directory may take it again once it is back."""

    async def add_history(self, referral_id: uuid.UUID, entries: Sequence[HistoryEntry]) -> None:
        """Appends entries, in order; notes are kept encrypted at rest."""

    async def history_of(self, referral_id: uuid.UUID) -> list[HistoryEntry]:
        """The entries in the order they happened, notes readable."""

    async def erase_notes(self, case_id: uuid.UUID) -> int:
        """Destroys the notes of every referral of the case (the entries stay); how many."""


class DirectoryRepository(Protocol):
    # ---- the directory's rows (what the API, the HSDS exchange and the use cases change)

    async def add_partner(self, values: Mapping[str, Any]) -> None: ...

    async def update_partner(self, partner_id: uuid.UUID, values: Mapping[str, Any]) -> None: ...

    async def get_partner(
        self, partner_id: uuid.UUID, *, for_update: bool = False
    ) -> PartnerRow | None: ...

    async def partner_code_taken(self, code: str) -> bool: ...

    async def list_partners(
        self,
        *,
        country: str | None = None,
        partner_type: PartnerType | None = None,
        limit: int = 200,
    ) -> list[PartnerRow]:
        """By code."""

    async def add_service(self, values: Mapping[str, Any]) -> None: ...

    async def update_service(self, service_id: uuid.UUID, values: Mapping[str, Any]) -> None: ...

    async def get_service(
        self, service_id: uuid.UUID, *, for_update: bool = False
    ) -> ServiceRow | None: ...

    async def list_services(self, where: ServiceFilter, *, limit: int = 200) -> list[ServiceRow]:
        """By name then id, each with its partner's `partner_type`."""

    async def all_partners(self) -> list[PartnerRow]:
        """By id."""

    async def all_services(self) -> list[ServiceRow]:
        """By id."""

    async def partners_by_ids(
        self, partner_ids: Collection[uuid.UUID], *, for_update: bool = False
    ) -> list[PartnerRow]: ...

    async def partner_ids_by_code(self, codes: Collection[str]) -> dict[str, uuid.UUID]: ...

    async def services_by_ids(
        self, service_ids: Collection[uuid.UUID], *, for_update: bool = False
    ) -> list[ServiceRow]: ...

    async def gbv_only_partner_ids(self) -> frozenset[uuid.UUID]:
        """Partners whose every service is for survivors of gender-based violence."""

    async def lock_for_import(self) -> None:
        """Imports run one at a time, until the transaction ends."""

    async def is_empty(self) -> bool: ...

    # ---- what routing reads (the in-memory snapshot serves it on PostgreSQL) -------------

    async def listings_for(self, category: NeedCategory, country: str) -> list[ServiceListing]:
        """The services routing considers for a need: its category, covering its country."""

    async def partner_records(
        self, partner_ids: Collection[uuid.UUID]
    ) -> Mapping[uuid.UUID, PartnerRecord]:
        """Each partner's track record (acceptance rate, median response time)."""

    async def sla_hours(self, service_id: uuid.UUID) -> Mapping[Urgency, int]:
        """The service's own response promise per urgency."""

    async def partner_type(self, partner_id: uuid.UUID) -> PartnerType | None: ...

    async def any_designated(
        self, role: DesignationRole, country: str, admin_area: str | None
    ) -> bool:
        """Whether an active partner holds `role` for that place."""

    async def reserve_place(self, service_id: uuid.UUID) -> bool | None:
        """Takes one free place of an active service: True when a tracked place was taken,
        False when capacity is not tracked, None when none is left or it is not active.
        Concurrent callers never take more places than there are."""

    async def release_place(self, service_id: uuid.UUID) -> None:
        """Gives a place back (never beyond the service's total)."""


class TimerRepository(Protocol):
    async def schedule(
        self,
        *,
        kind: str,
        subject_id: uuid.UUID,
        due_at: datetime,
        payload: Mapping[str, Any] | None = None,
    ) -> uuid.UUID: ...

    async def claim_due(self, *, skip: Collection[uuid.UUID] = ()) -> Timer | None:
        """Locks the earliest due timer nobody else holds; None when there is none."""

    async def next_due_in(self) -> float | None:
        """Seconds from now (the transaction's now, as `claim_due` saw it) until the
        earliest unfired timer falls due: 0 or less when one is due already (held by
        another worker); None when no timer waits."""

    async def mark_fired(self, timer_id: uuid.UUID, outcome: str) -> None: ...

    async def postpone(self, timer_id: uuid.UUID, *, until: datetime) -> None:
        """After a failed firing: counted, and due again at `until`."""


class ReportRepository(Protocol):
    async def referral_figures(
        self, start: datetime, end: datetime, country: str | None
    ) -> ReferralFigures: ...


class FeedbackRepository(Protocol):
    """The person's feedback on services, per partner."""

    async def add(self, feedback: Feedback) -> None:
        """Keeps it once (the same feedback id again changes nothing)."""
        ...

    async def of_partner(
        self, partner_id: uuid.UUID, since: datetime | None, until: datetime | None, limit: int
    ) -> list[Feedback]: ...


class UnitOfWorkPort(Protocol):
    """One transaction over the referral service's repositories and outbox."""

    @property
    def cases(self) -> CaseRepository: ...

    @property
    def referrals(self) -> ReferralRepository: ...

    @property
    def directory(self) -> DirectoryRepository: ...

    @property
    def timers(self) -> TimerRepository: ...

    @property
    def reports(self) -> ReportRepository: ...

    @property
    def feedback(self) -> FeedbackRepository: ...

    def emit(
        self,
        data: EventData,
        *,
        cause: Cause | None = None,
        subject: str | None = None,
        key: uuid.UUID | None = None,
    ) -> Envelope: ...

    def after_commit(self, callback: Callable[[], Awaitable[None] | None]) -> None: ...

    async def commit(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWorkPort]
