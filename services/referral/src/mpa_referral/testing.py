"""In-memory repositories and unit of work, for use-case tests that need no server.

They keep the contract of app/ports.py (tests/integration/test_referral_repositories.py
holds them and the PostgreSQL ones to the same suite): rows are copied in and out, so an
uncommitted block changes nothing once it is left, as a rolled-back transaction would.
Locks are not modelled (one task at a time). Notes are kept as they come: encryption at
rest is the PostgreSQL adapter's.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import statistics
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mpa_common.messaging.subscriptions import Delivery, RecordOrigin
from mpa_common.testing import InMemoryUnitOfWork
from mpa_contracts.envelope import Envelope, new_envelope
from mpa_contracts.events.base import EventData
from mpa_contracts.events.case import (
    CaseRegisteredV1,
    Consent,
    Location,
    Need,
    RoutingProfile,
    SafetyFlags,
)
from mpa_contracts.vocabularies import (
    ActorRole,
    AgeBand,
    ConsentGivenBy,
    ConsentMethod,
    ConsentScope,
    NeedCategory,
    PartnerType,
    ReferralState,
    SafeContactMethod,
    ServiceStatus,
    Sex,
    Urgency,
    Vulnerability,
)
from mpa_referral.app.common import ReferralContext, ReferralPolicy
from mpa_referral.app.directory import (
    AreaModel,
    ContactPoint,
    DesignationModel,
    PartnerDraft,
    RegisterPartner,
    RegisterService,
    ServiceDraft,
    register_partner,
    register_service,
)
from mpa_referral.app.ports import (
    PartnerRow,
    ReferralFigures,
    ReferralFilter,
    ServiceFilter,
    ServiceRow,
    Timer,
)
from mpa_referral.domain.actors import Actor
from mpa_referral.domain.cases import CaseNeed, CaseProfile
from mpa_referral.domain.directory import (
    DesignationRole,
    PartnerListing,
    ServiceListing,
    listing_of,
)
from mpa_referral.domain.feedback import Feedback
from mpa_referral.domain.lifecycle import DECIDED_RESPONSES, TURNED_DOWN, AttemptResponse
from mpa_referral.domain.referral import HistoryEntry, Referral, RoutingAttempt
from mpa_referral.domain.routing import PartnerRecord
from mpa_referral.domain.sla import DEFAULT_ACCEPTANCE_SLA, DEFAULT_START_SLA

SOURCE = "urn:mpa:service:referral"
SLA_BREACHED_EVENT = "org.mpa.referral.sla_breached.v1"


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class MemoryStore:
    """Everything the referral service stores, in memory; shared by the units of work."""

    clock: Callable[[], datetime] = _utc_now
    # Hears the due time of each timer a committed unit of work scheduled (as the
    # composition root's TimerAlarm does).
    timer_scheduled: Callable[[datetime], None] | None = None
    cases: dict[uuid.UUID, tuple[CaseProfile, str]] = field(default_factory=dict)
    needs: dict[uuid.UUID, CaseNeed] = field(default_factory=dict)
    referrals: dict[uuid.UUID, Referral] = field(default_factory=dict)
    attempts: dict[uuid.UUID, list[RoutingAttempt]] = field(default_factory=dict)
    history: dict[uuid.UUID, list[HistoryEntry]] = field(default_factory=dict)
    partners: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    services: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    timers: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    feedback: dict[uuid.UUID, Feedback] = field(default_factory=dict)
    events: list[Envelope] = field(default_factory=list)  # every committed event, in order
    _tick: int = 0

    def units_of_work(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self)

    def context(
        self,
        policy: ReferralPolicy | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> ReferralContext:
        # The store's clock as it is when asked: a test moves it on to pass a deadline.
        return ReferralContext(
            self.units_of_work, policy or default_policy(), clock or (lambda: self.clock())
        )

    def events_of(self, *event_classes: type[EventData]) -> list[EventData]:
        """The payloads of the committed events of those classes (all when none named)."""
        return [
            e.data for e in self.events if not event_classes or isinstance(e.data, event_classes)
        ]

    def fired_timers(self, kind: str | None = None) -> list[tuple[Timer, str]]:
        """Every fired timer (of `kind`) with its outcome."""
        return [
            (row["timer"], row["outcome"])
            for row in self.timers.values()
            if row["fired_at"] is not None and (kind is None or row["timer"].kind == kind)
        ]

    def stamp(self) -> datetime:
        """A time strictly after the last one handed out (orders rows made in one test)."""
        self._tick += 1
        return self.clock() + timedelta(microseconds=self._tick)

    def saved(self) -> dict[str, Any]:
        """What a rollback restores: immutable values are shared, mutable rows copied."""
        return {
            "cases": dict(self.cases),
            "needs": dict(self.needs),
            "referrals": dict(self.referrals),
            "attempts": {k: list(v) for k, v in self.attempts.items()},
            "history": {k: list(v) for k, v in self.history.items()},
            "partners": copy.deepcopy(self.partners),
            "services": copy.deepcopy(self.services),
            "timers": {k: dict(v) for k, v in self.timers.items()},
            "feedback": dict(self.feedback),
        }

    def restore(self, saved: dict[str, Any]) -> None:
        for name, value in saved.items():
            setattr(self, name, value)


def default_policy() -> ReferralPolicy:
    return ReferralPolicy(
        acceptance_sla=DEFAULT_ACCEPTANCE_SLA, start_sla=DEFAULT_START_SLA, max_reroutes=3
    )


def _copy(referral: Referral) -> Referral:
    return dataclasses.replace(referral, changes=[])


class MemoryCaseRepository:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def add(self, case: CaseProfile, reference: str) -> bool:
        known = self._store.cases.get(case.case_id)
        if known is not None:  # a replayed registration: the profile, not the story
            stored, reference = known
            case = dataclasses.replace(
                case,
                correlation_id=stored.correlation_id,
                personal_data_erased=stored.personal_data_erased,
                best_interests_determined_at=stored.best_interests_determined_at,
            )
        self._store.cases[case.case_id] = (case, reference)
        return known is None

    async def get(self, case_id: uuid.UUID, *, for_update: bool = False) -> CaseProfile | None:
        found = self._store.cases.get(case_id)
        return found[0] if found else None

    async def save(self, case: CaseProfile) -> None:
        _, reference = self._store.cases[case.case_id]
        self._store.cases[case.case_id] = (case, reference)

    async def needs_of(self, case_id: uuid.UUID) -> list[CaseNeed]:
        return [n for n in self._store.needs.values() if n.case_id == case_id]

    async def add_needs(self, needs: Sequence[CaseNeed]) -> None:
        for need in needs:
            self._store.needs.setdefault(need.need_id, need)


class MemoryReferralRepository:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def add(self, referral: Referral) -> None:
        if (
            any(r.need_id == referral.need_id and r.is_open for r in self._store.referrals.values())
            and referral.is_open
        ):
            raise ValueError("a need has one open referral at most")
        referral.created_at = referral.updated_at = self._store.stamp()
        self._store.referrals[referral.id] = _copy(referral)

    async def update(self, referral: Referral) -> None:
        referral.updated_at = self._store.stamp()
        self._store.referrals[referral.id] = _copy(referral)

    async def get(
        self, referral_id: uuid.UUID, *, for_update: bool = False, skip_locked: bool = False
    ) -> Referral | None:
        found = self._store.referrals.get(referral_id)
        return _copy(found) if found else None

    async def of_case(
        self,
        case_id: uuid.UUID,
        *,
        states: Collection[ReferralState] | None = None,
        for_update: bool = False,
    ) -> list[Referral]:
        found = [
            _copy(r)
            for r in self._store.referrals.values()
            if r.case_id == case_id and (states is None or r.state in states)
        ]
        return sorted(found, key=lambda r: r.id)

    async def held(
        self,
        *,
        states: Collection[ReferralState],
        partner_id: uuid.UUID | None = None,
        service_id: uuid.UUID | None = None,
    ) -> list[Referral]:
        found = [
            _copy(r)
            for r in self._store.referrals.values()
            if r.state in states
            and (partner_id is None or r.partner_id == partner_id)
            and (service_id is None or r.service_id == service_id)
        ]
        return sorted(found, key=lambda r: (r.created_at, r.id))

    async def retryable_unroutable(
        self, category: NeedCategory, countries: Collection[str], reasons: Collection[str]
    ) -> list[uuid.UUID]:
        found = [
            r
            for r in self._store.referrals.values()
            if r.state is ReferralState.UNROUTABLE
            and r.category is category
            and r.country in countries
            and r.status_reason is not None
            and r.status_reason.value in reasons
        ]
        return [r.id for r in sorted(found, key=lambda r: (r.created_at, r.id))]

    async def page(
        self, where: ReferralFilter, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Referral]:
        def matches(r: Referral) -> bool:
            assert r.created_at is not None
            return (
                (where.partner_id is None or r.partner_id == where.partner_id)
                and (where.case_id is None or r.case_id == where.case_id)
                and (where.state is None or r.state is where.state)
                and (where.urgency is None or r.urgency is where.urgency)
                and (where.category is None or r.category is where.category)
                and (where.created_from is None or r.created_at >= where.created_from)
                and (where.created_to is None or r.created_at < where.created_to)
                and (after is None or (r.created_at, r.id) < after)
            )

        found = sorted(
            (r for r in self._store.referrals.values() if matches(r)),
            key=lambda r: (r.created_at, r.id),
            reverse=True,
        )
        return [_copy(r) for r in found[:limit]]

    async def outcomes_by_need(
        self, case_id: uuid.UUID
    ) -> dict[uuid.UUID, list[tuple[ReferralState, str | None]]]:
        found: dict[uuid.UUID, list[tuple[ReferralState, str | None]]] = {}
        for r in self._store.referrals.values():
            if r.case_id == case_id:
                reason = r.status_reason.value if r.status_reason else None
                found.setdefault(r.need_id, []).append((r.state, reason))
        return found

    async def add_attempt(self, referral_id: uuid.UUID, attempt: RoutingAttempt) -> None:
        attempts = self._store.attempts.setdefault(referral_id, [])
        if any(a.attempt == attempt.attempt for a in attempts):
            raise ValueError("one row per attempt")
        attempts.append(attempt)

    async def record_response(
        self,
        referral_id: uuid.UUID,
        attempt: int,
        response: AttemptResponse,
        partner_id: uuid.UUID | None,
    ) -> None:
        attempts = self._store.attempts.get(referral_id, [])
        for index, stored in enumerate(attempts):
            if stored.attempt == attempt and stored.response is None:
                attempts[index] = dataclasses.replace(
                    stored, response=response, responded_at=self._store.stamp()
                )

    async def attempts_of(self, referral_id: uuid.UUID) -> list[RoutingAttempt]:
        return sorted(self._store.attempts.get(referral_id, []), key=lambda a: a.attempt)

    async def tried_service_ids(self, referral_id: uuid.UUID) -> frozenset[uuid.UUID]:
        return frozenset(
            a.service_id
            for a in self._store.attempts.get(referral_id, [])
            if a.service_id is not None and a.response in TURNED_DOWN
        )

    async def add_history(self, referral_id: uuid.UUID, entries: Sequence[HistoryEntry]) -> None:
        self._store.history.setdefault(referral_id, []).extend(entries)

    async def history_of(self, referral_id: uuid.UUID) -> list[HistoryEntry]:
        return list(self._store.history.get(referral_id, []))

    async def erase_notes(self, case_id: uuid.UUID) -> int:
        erased = 0
        for referral in self._store.referrals.values():
            if referral.case_id != case_id:
                continue
            entries = self._store.history.get(referral.id, [])
            for index, entry in enumerate(entries):
                if entry.note is not None:
                    entries[index] = dataclasses.replace(entry, note=None, note_erased=True)
                    erased += 1
        return erased


def _partner_record(attempts: Sequence[RoutingAttempt]) -> PartnerRecord:
    decided = [a for a in attempts if a.response in DECIDED_RESPONSES]
    accepted = [a for a in attempts if a.response is AttemptResponse.ACCEPTED]
    answered = [
        (a.responded_at - a.decided_at).total_seconds()
        for a in attempts
        if a.response in (AttemptResponse.ACCEPTED, AttemptResponse.DECLINED)
        and a.responded_at is not None
    ]
    return PartnerRecord(
        acceptance_rate=len(accepted) / len(decided) if decided else None,
        median_response_seconds=statistics.median(answered) if answered else None,
    )


class MemoryDirectoryRepository:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def add_partner(self, values: Mapping[str, Any]) -> None:
        now = self._store.stamp()
        row = {
            "designations": [],
            "contacts": [],
            "active": True,
            "deactivation_reason": None,
            "is_demo": False,
            "created_at": now,
            "updated_at": now,
            **copy.deepcopy(dict(values)),
        }
        if any(p["code"] == row["code"] for p in self._store.partners.values()):
            raise ValueError("partner codes are unique")
        self._store.partners[row["id"]] = row

    async def update_partner(self, partner_id: uuid.UUID, values: Mapping[str, Any]) -> None:
        row = self._store.partners.get(partner_id)
        if row is not None:
            row.update(copy.deepcopy(dict(values)), updated_at=self._store.stamp())

    async def get_partner(
        self, partner_id: uuid.UUID, *, for_update: bool = False
    ) -> PartnerRow | None:
        row = self._store.partners.get(partner_id)
        return copy.deepcopy(row) if row else None

    async def partner_code_taken(self, code: str) -> bool:
        return any(p["code"] == code for p in self._store.partners.values())

    async def list_partners(
        self,
        *,
        country: str | None = None,
        partner_type: PartnerType | None = None,
        limit: int = 200,
    ) -> list[PartnerRow]:
        found = [
            p
            for p in self._store.partners.values()
            if (country is None or country in p["countries"])
            and (partner_type is None or p["partner_type"] == partner_type.value)
        ]
        return [copy.deepcopy(p) for p in sorted(found, key=lambda p: p["code"])[:limit]]

    async def add_service(self, values: Mapping[str, Any]) -> None:
        now = self._store.stamp()
        row = {
            "description": "",
            "min_age": None,
            "max_age": None,
            "capacity_total": None,
            "capacity_available": None,
            "capacity_updated_at": None,
            "opening_hours": [],
            "sla_hours": {},
            "free_of_charge": True,
            "fees_description": None,
            "contacts": [],
            "assured_date": None,
            "gbv_sensitive": False,
            "deactivation_reason": None,
            "deactivated_by": None,
            "is_demo": False,
            "created_at": now,
            "updated_at": now,
            **copy.deepcopy(dict(values)),
        }
        self._store.services[row["id"]] = row

    async def update_service(self, service_id: uuid.UUID, values: Mapping[str, Any]) -> None:
        row = self._store.services.get(service_id)
        if row is not None:
            row.update(copy.deepcopy(dict(values)), updated_at=self._store.stamp())

    async def get_service(
        self, service_id: uuid.UUID, *, for_update: bool = False
    ) -> ServiceRow | None:
        row = self._store.services.get(service_id)
        return copy.deepcopy(row) if row else None

    async def list_services(self, where: ServiceFilter, *, limit: int = 200) -> list[ServiceRow]:
        def covers(service: Mapping[str, Any], admin_area: str) -> bool:
            return any(
                (a["country"] == admin_area[:2] and not a["admin_areas"])
                or admin_area in a["admin_areas"]
                for a in service["coverage"]
            )

        found: list[ServiceRow] = []
        for service in self._store.services.values():
            partner_type = self._store.partners[service["partner_id"]]["partner_type"]
            if (
                (where.partner_id is None or service["partner_id"] == where.partner_id)
                and (where.category is None or service["category"] == where.category.value)
                and (where.country is None or where.country in service["coverage_countries"])
                and (where.admin_area is None or covers(service, where.admin_area))
                and (where.language is None or where.language in service["languages"])
                and (where.partner_type is None or partner_type == where.partner_type.value)
                and (where.status is None or service["status"] == where.status.value)
                and (
                    where.include_gbv_sensitive
                    or not service["gbv_sensitive"]
                    or service["partner_id"] == where.visible_partner_id
                )
            ):
                found.append({**copy.deepcopy(service), "partner_type": partner_type})
        return sorted(found, key=lambda s: (s["name"], s["id"]))[:limit]

    async def all_partners(self) -> list[PartnerRow]:
        return copy.deepcopy(sorted(self._store.partners.values(), key=lambda p: p["id"]))

    async def all_services(self) -> list[ServiceRow]:
        return copy.deepcopy(sorted(self._store.services.values(), key=lambda s: s["id"]))

    async def partners_by_ids(
        self, partner_ids: Collection[uuid.UUID], *, for_update: bool = False
    ) -> list[PartnerRow]:
        return [
            copy.deepcopy(self._store.partners[p]) for p in partner_ids if p in self._store.partners
        ]

    async def partner_ids_by_code(self, codes: Collection[str]) -> dict[str, uuid.UUID]:
        return {p["code"]: p["id"] for p in self._store.partners.values() if p["code"] in codes}

    async def services_by_ids(
        self, service_ids: Collection[uuid.UUID], *, for_update: bool = False
    ) -> list[ServiceRow]:
        return [
            copy.deepcopy(self._store.services[s]) for s in service_ids if s in self._store.services
        ]

    async def gbv_only_partner_ids(self) -> frozenset[uuid.UUID]:
        flags: dict[uuid.UUID, bool] = {}
        for service in self._store.services.values():
            partner_id = service["partner_id"]
            flags[partner_id] = flags.get(partner_id, True) and bool(service["gbv_sensitive"])
        return frozenset(p for p, only in flags.items() if only)

    async def lock_for_import(self) -> None:
        return None

    async def is_empty(self) -> bool:
        return not self._store.partners

    # ---- routing's reads: computed from the rows each time ---------------------------

    def _listing(self, service: Mapping[str, Any]) -> ServiceListing:
        return listing_of(service, PartnerListing.of(self._store.partners[service["partner_id"]]))

    async def listings_for(self, category: NeedCategory, country: str) -> list[ServiceListing]:
        return [
            self._listing(s)
            for s in self._store.services.values()
            if s["category"] == category.value and country in s["coverage_countries"]
        ]

    async def partner_records(
        self, partner_ids: Collection[uuid.UUID]
    ) -> Mapping[uuid.UUID, PartnerRecord]:
        by_partner: dict[uuid.UUID, list[RoutingAttempt]] = {}
        for attempts in self._store.attempts.values():
            for attempt in attempts:
                if attempt.partner_id is not None and attempt.partner_id in partner_ids:
                    by_partner.setdefault(attempt.partner_id, []).append(attempt)
        return {p: _partner_record(a) for p, a in by_partner.items()}

    async def sla_hours(self, service_id: uuid.UUID) -> Mapping[Urgency, int]:
        service = self._store.services.get(service_id)
        return {Urgency(k): int(v) for k, v in (service["sla_hours"] if service else {}).items()}

    async def partner_type(self, partner_id: uuid.UUID) -> PartnerType | None:
        partner = self._store.partners.get(partner_id)
        return PartnerType(partner["partner_type"]) if partner else None

    async def any_designated(
        self, role: DesignationRole, country: str, admin_area: str | None
    ) -> bool:
        return any(
            PartnerListing.of(p).designated(role, country, admin_area)
            for p in self._store.partners.values()
        )

    async def reserve_place(self, service_id: uuid.UUID) -> bool | None:
        service = self._store.services.get(service_id)
        if service is None or service["status"] != ServiceStatus.ACTIVE.value:
            return None
        partner = self._store.partners.get(service["partner_id"])
        if partner is None or not partner.get("active", True):
            return None  # never a place at a partner that has left (or is suspended)
        available = service["capacity_available"]
        if available is None:
            return False
        if available <= 0:
            return None
        service["capacity_available"] = available - 1
        service["capacity_updated_at"] = self._store.stamp()
        return True

    async def release_place(self, service_id: uuid.UUID) -> None:
        service = self._store.services.get(service_id)
        if service is None or service["capacity_available"] is None:
            return
        total = service["capacity_total"]
        service["capacity_available"] = min(
            service["capacity_available"] + 1,
            total if total is not None else service["capacity_available"] + 1,
        )
        service["capacity_updated_at"] = self._store.stamp()


class MemoryTimerRepository:
    def __init__(
        self, store: MemoryStore, on_scheduled: Callable[[datetime], None] | None = None
    ) -> None:
        self._store = store
        self._on_scheduled = on_scheduled

    async def schedule(
        self,
        *,
        kind: str,
        subject_id: uuid.UUID,
        due_at: datetime,
        payload: Mapping[str, Any] | None = None,
    ) -> uuid.UUID:
        timer_id = uuid.uuid4()
        self._store.timers[timer_id] = {
            "timer": Timer(timer_id, kind, subject_id, due_at, dict(payload or {})),
            "fired_at": None,
            "outcome": None,
        }
        if self._on_scheduled is not None:
            self._on_scheduled(due_at)
        return timer_id

    async def claim_due(self, *, skip: Collection[uuid.UUID] = ()) -> Timer | None:
        now = self._store.clock()
        due = [
            row["timer"]
            for row in self._store.timers.values()
            if row["fired_at"] is None
            and row["timer"].due_at <= now
            and row["timer"].id not in skip
        ]
        return min(due, key=lambda t: t.due_at) if due else None

    async def next_due_in(self) -> float | None:
        waiting: list[datetime] = [
            row["timer"].due_at for row in self._store.timers.values() if row["fired_at"] is None
        ]
        if not waiting:
            return None
        return (min(waiting) - self._store.clock()).total_seconds()

    async def mark_fired(self, timer_id: uuid.UUID, outcome: str) -> None:
        row = self._store.timers[timer_id]
        row["fired_at"], row["outcome"] = self._store.clock(), outcome

    async def postpone(self, timer_id: uuid.UUID, *, until: datetime) -> None:
        row = self._store.timers[timer_id]
        timer: Timer = row["timer"]
        row["timer"] = dataclasses.replace(timer, due_at=until, attempts=timer.attempts + 1)


def _percentile_cont(values: Sequence[float], q: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class MemoryReportRepository:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def referral_figures(
        self, start: datetime, end: datetime, country: str | None
    ) -> ReferralFigures:
        scope = [
            r
            for r in self._store.referrals.values()
            if r.created_at is not None
            and start <= r.created_at < end
            and (country is None or r.country == country)
        ]

        def grouped(key: Callable[[Referral], object]) -> dict[str, int]:
            counts: dict[str, int] = {}
            for r in scope:
                value = key(r)
                if value is not None:
                    counts[str(value)] = counts.get(str(value), 0) + 1
            return counts

        attempts = [a for r in scope for a in self._store.attempts.get(r.id, [])]
        accepted = [a for a in attempts if a.response is AttemptResponse.ACCEPTED]
        answered = [a for a in attempts if a.response in DECIDED_RESPONSES]
        seconds = [
            (a.responded_at - a.decided_at).total_seconds()
            for a in accepted
            if a.responded_at is not None
        ]
        start_breaches = sum(
            1
            for r in scope
            for h in self._store.history.get(r.id, [])
            if h.event_type == SLA_BREACHED_EVENT and h.reason == "service_start"
        )
        return ReferralFigures(
            total=len(scope),
            by_state=grouped(lambda r: r.state.value),
            by_need=grouped(lambda r: r.category.value),
            by_partner=grouped(lambda r: r.partner_id),
            acceptance_rate=len(accepted) / len(answered) if answered else None,
            median_seconds_to_accept=_percentile_cont(seconds, 0.5),
            p90_seconds_to_accept=_percentile_cont(seconds, 0.9),
            sla_breaches=sum(1 for a in attempts if a.response is AttemptResponse.SLA_BREACHED),
            start_sla_breaches=start_breaches,
            reroutes=sum(r.reroute_count for r in scope),
            sla_breaches_by_partner=_per_partner(attempts, {AttemptResponse.SLA_BREACHED}),
            reroutes_by_partner=_per_partner(attempts, TURNED_DOWN),
        )


def _per_partner(
    attempts: Sequence[RoutingAttempt], responses: Collection[AttemptResponse]
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for attempt in attempts:
        if attempt.partner_id is not None and attempt.response in responses:
            key = str(attempt.partner_id)
            counts[key] = counts.get(key, 0) + 1
    return counts


class MemoryFeedbackRepository:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def add(self, feedback: Feedback) -> None:
        self._store.feedback.setdefault(feedback.feedback_id, feedback)

    async def of_partner(
        self, partner_id: uuid.UUID, since: datetime | None, until: datetime | None, limit: int
    ) -> list[Feedback]:
        found = [
            f
            for f in self._store.feedback.values()
            if f.partner_id == partner_id
            and (since is None or f.recorded_at >= since)
            and (until is None or f.recorded_at < until)
        ]
        return sorted(found, key=lambda f: f.recorded_at, reverse=True)[:limit]


class MemoryUnitOfWork(InMemoryUnitOfWork):
    cases: MemoryCaseRepository
    referrals: MemoryReferralRepository
    directory: MemoryDirectoryRepository
    timers: MemoryTimerRepository
    reports: MemoryReportRepository
    feedback: MemoryFeedbackRepository

    def __init__(self, store: MemoryStore) -> None:
        super().__init__(source=SOURCE)
        self.store = store
        self._saved: dict[str, Any] = {}

    def _bind(self) -> None:
        self._saved = self.store.saved()
        self.cases = MemoryCaseRepository(self.store)
        self.referrals = MemoryReferralRepository(self.store)
        self.directory = MemoryDirectoryRepository(self.store)
        self.timers = MemoryTimerRepository(self.store, self._timer_scheduled)
        self.reports = MemoryReportRepository(self.store)
        self.feedback = MemoryFeedbackRepository(self.store)

    def _timer_scheduled(self, due_at: datetime) -> None:
        callback = self.store.timer_scheduled
        if callback is not None:
            self.after_commit(functools.partial(callback, due_at))

    def _rollback(self) -> None:
        self.store.restore(self._saved)

    async def commit(self) -> None:
        self.store.events.extend(self.pending_events)
        await super().commit()
        self._saved = self.store.saved()  # a later block without commit undoes only itself


# ---- building a directory and case events for tests -------------------------------------

ADMIN = Actor("admin:test-admin", ActorRole.ADMIN)
CASEWORKER = Actor("caseworker:test-cw", ActorRole.CASEWORKER)
SUPERVISOR = Actor("supervisor:test-sv", ActorRole.SUPERVISOR)
INTAKE = "urn:mpa:service:intake"


def partner_staff(partner_id: uuid.UUID) -> Actor:
    return Actor(f"partner:staff-{str(partner_id)[:8]}", ActorRole.PARTNER, partner_id)


async def add_partner(
    context: ReferralContext,
    country: str,
    *categories: NeedCategory,
    partner_type: PartnerType = PartnerType.CIVIL_SOCIETY_ORGANISATION,
    designations: Sequence[DesignationRole] = (),
    **service_fields: Any,
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A partner working in `country` with one service per category (through the use
    cases, events and all)."""
    partner = await register_partner(
        context,
        RegisterPartner(
            PartnerDraft(
                code=f"T-{uuid.uuid4().hex[:10].upper()}",
                name="Test partner",
                partner_type=partner_type,
                countries=[country],
                designations=[DesignationModel(role=r, country=country) for r in designations],
                contacts=[ContactPoint(label="Desk", email="desk@partner.example")],
            ),
            ADMIN,
        ),
    )
    service_ids = []
    for category in categories:
        fields = {"languages": ["fr"], **service_fields}
        service = await register_service(
            context,
            RegisterService(
                partner["id"],
                ServiceDraft(
                    name=f"Test {category.value}",
                    category=category,
                    coverage=[AreaModel(country=country)],
                    **fields,
                ),
                ADMIN,
            ),
        )
        service_ids.append(service["id"])
    return partner["id"], service_ids


def registered(
    country: str,
    needs: Sequence[tuple[NeedCategory, Urgency]],
    *,
    vulnerabilities: Sequence[Vulnerability] = (),
    age_band: AgeBand = AgeBand.AGE_24_26,
    consent: bool = True,
    refused_partner_ids: Sequence[uuid.UUID] = (),
    refused_partner_types: Sequence[PartnerType] = (),
) -> CaseRegisteredV1:
    """A fictional case as intake announces it (no personal data: codes and bands)."""
    return CaseRegisteredV1(
        case_id=uuid.uuid4(),
        case_reference=f"MPA-2026-{uuid.uuid4().int % 1_000_000:06d}",
        profile=RoutingProfile(
            age_band=age_band,
            sex=Sex.FEMALE,
            nationality="NG",
            languages=("fr",),
            location=Location(country=country, admin_area=f"{country}-1"),
            vulnerabilities=tuple(vulnerabilities),
        ),
        needs=tuple(Need(need_id=uuid.uuid4(), category=c, urgency=u) for c, u in needs),
        consent=Consent(
            consent_id=uuid.uuid4(),
            scopes=(ConsentScope.REFERRAL, ConsentScope.DATA_SHARING),
            given_by=ConsentGivenBy.SELF,
            method=ConsentMethod.WRITTEN,
            refused_partner_ids=tuple(refused_partner_ids),
            refused_partner_types=tuple(refused_partner_types),
        )
        if consent
        else None,
        safety=SafetyFlags(do_not_contact=False, safe_contact_method=SafeContactMethod.PHONE_CALL),
        actor_id=CASEWORKER.actor_id,
        actor_role=CASEWORKER.role,
    )


def delivery_of(data: EventData, *, correlation_id: uuid.UUID | None = None) -> Delivery:
    envelope = new_envelope(data, source=INTAKE, correlation_id=correlation_id)
    return Delivery(envelope, RecordOrigin("mpa.case.v1", 0, 0, 0))
