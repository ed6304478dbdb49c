"""In-memory stand-ins of intake's repositories, unit of work and referral service, for
millisecond use-case tests (no database, no broker, no HTTP).

They keep what PostgreSQL keeps, the way the SQL repositories keep it — the repository
contract suite (`services/intake/tests/test_intake_repository_contract.py`) runs the same
tests against both — and a unit of work that leaves its block without committing restores
the state it found, events included. Objects are copied in and out, as rows would be, so a
use case that changes an aggregate and forgets to save it is caught.
"""

from __future__ import annotations

import base64
import copy
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from mpa_common.failures import DependencyUnavailable
from mpa_common.testing import InMemoryUnitOfWork
from mpa_contracts.envelope import Envelope
from mpa_contracts.vocabularies import ReferralState
from mpa_intake.adapters.crypto import (
    MasterKeyring,
    MatchKeyer,
    PersonalDataVault,
    new_master_key,
    parse_master_keys,
)
from mpa_intake.app.context import EVENT_SOURCE, IntakeContext, ScopePolicy
from mpa_intake.app.ports import (
    MAX_REFERENCE_NUMBER,
    CaseFilter,
    Grant,
    KeyedResponse,
    PageCursor,
    ReferenceSpaceExhausted,
    ReferralStatus,
    Registered,
    SealedPersonalData,
    StoredCase,
    StoredComplaint,
    StoredResponse,
)
from mpa_intake.domain.case import Case, CaseStatus, NeedEntry
from mpa_intake.domain.casework import REQUESTED, CaseworkRecord, R
from mpa_intake.domain.consent import ConsentRecord
from mpa_intake.domain.matching import MatchKind
from mpa_intake.domain.ownership import Ownership, within
from mpa_intake.domain.psea import PseaComplaint
from mpa_intake.settings import DEFAULT_READ_SCOPES, DEFAULT_WRITE_SCOPES


@dataclass
class _CaseRow:
    case: Case  # needs and the current consent included
    sealed: SealedPersonalData | None
    match_keys: dict[MatchKind, bytes] = field(default_factory=dict)
    superseded_consents: list[ConsentRecord] = field(default_factory=list)


@dataclass
class _GrantRow:
    grant: Grant
    case_id: UUID
    active: bool
    last_event_type: str
    updated_at: datetime


@dataclass
class _RecordRow:
    kind: str
    case_id: UUID
    created_at: datetime
    record: dict[str, Any]  # as the SQL table's JSON column holds it


@dataclass
class FakeTimer:
    timer_id: UUID
    kind: str
    subject_id: UUID
    due_at: datetime
    fired: bool = False
    outcome: str | None = None


@dataclass
class IntakeMemory:
    """Everything a fake intake database holds, and the events its units of work
    committed (in commit order)."""

    cases: dict[UUID, _CaseRow] = field(default_factory=dict)
    counters: dict[int, int] = field(default_factory=dict)
    responses: dict[tuple[str, str], StoredResponse] = field(default_factory=dict)
    grants: dict[UUID, _GrantRow] = field(default_factory=dict)
    records: dict[UUID, _RecordRow] = field(default_factory=dict)
    timers: list[FakeTimer] = field(default_factory=list)
    complaints: dict[UUID, StoredComplaint] = field(default_factory=dict)
    events: list[Envelope] = field(default_factory=list)
    commits: int = 0

    def snapshot(self) -> IntakeMemory:
        return copy.deepcopy(self)

    def restore(self, snapshot: IntakeMemory) -> None:
        self.__dict__.update(copy.deepcopy(snapshot).__dict__)

    def events_of(self, event_class: type) -> list[Envelope]:
        return [e for e in self.events if isinstance(e.data, event_class)]


class FakeCaseRepository:
    def __init__(self, memory: IntakeMemory, responses: FakeIdempotencyRepository) -> None:
        self._memory = memory
        self._responses = responses

    def _row(self, case_id: UUID) -> _CaseRow:
        return self._memory.cases[case_id]

    async def add(
        self,
        case: Case,
        sealed: SealedPersonalData,
        *,
        match_keys: Mapping[MatchKind, bytes] | None = None,
        first_response: KeyedResponse | None = None,
    ) -> bool:
        if case.case_id in self._memory.cases:
            raise ValueError(f"case {case.case_id} exists")  # a primary key violation
        if first_response is not None and not await self._responses.put(
            first_response.subject,
            first_response.key,
            first_response.request_digest,
            first_response.status,
            first_response.body,
        ):
            return False  # the caller rolls back (the SQL statement wrote the case)
        self._memory.cases[case.case_id] = _CaseRow(copy.deepcopy(case), sealed)
        if match_keys:
            self._row(case.case_id).match_keys = dict(match_keys)
        return True

    async def exists(self, case_id: UUID) -> bool:
        return case_id in self._memory.cases

    async def get(self, case_id: UUID, *, for_update: bool = False) -> StoredCase | None:
        row = self._memory.cases.get(case_id)
        if row is None:
            return None
        return StoredCase(copy.deepcopy(row.case), row.sealed)

    async def update(self, case: Case) -> None:
        """Like the SQL update: the state columns only (not needs, consent, reference)."""
        row = self._row(case.case_id)
        row.case = replace(
            case,
            reference=row.case.reference,
            correlation_id=row.case.correlation_id,
            registered_at=row.case.registered_at,
            registered_by=row.case.registered_by,
            needs=row.case.needs,
            consent=row.case.consent,
            ownership=row.case.ownership,
        )
        row.case = copy.deepcopy(row.case)

    async def set_ownership(self, case_id: UUID, ownership: Ownership) -> None:
        self._row(case_id).case.ownership = ownership

    async def store_personal_data(self, case_id: UUID, sealed: SealedPersonalData) -> None:
        self._row(case_id).sealed = sealed

    async def shred_personal_data(self, case_id: UUID) -> None:
        row = self._row(case_id)
        row.sealed = None
        row.match_keys = {}

    async def add_needs(
        self, case_id: UUID, needs: Sequence[NeedEntry], *, added_by: str, first: int
    ) -> None:
        row = self._row(case_id)
        row.case.needs = [*row.case.needs[:first], *needs]

    async def replace_consent(self, case_id: UUID, consent: ConsentRecord) -> None:
        row = self._row(case_id)
        if row.case.consent is not None:
            row.superseded_consents.append(row.case.consent)
        row.case.consent = consent

    async def update_consent_scopes(self, consent: ConsentRecord) -> None:
        for row in self._memory.cases.values():
            current = row.case.consent
            if current is not None and current.consent_id == consent.consent_id:
                row.case.consent = current.model_copy(
                    update={
                        "scopes": consent.scopes,
                        "withdrawn_scopes": consent.withdrawn_scopes,
                    }
                )

    async def page(
        self, where: CaseFilter, after: PageCursor | None, limit: int
    ) -> list[StoredCase]:
        def matches(case: Case) -> bool:
            return (
                (
                    where.scope is None
                    or within(where.scope.scope, case.ownership, where.scope.viewer)
                )
                and (where.status is None or case.status is where.status)
                and (
                    where.vulnerability is None
                    or where.vulnerability in case.profile.vulnerabilities
                )
                and (where.need is None or any(n.category is where.need for n in case.needs))
                and (where.registered_from is None or case.registered_at >= where.registered_from)
                and (
                    where.registered_before is None or case.registered_at < where.registered_before
                )
                and (
                    after is None
                    or (case.registered_at, case.case_id) < (after.registered_at, after.case_id)
                )
            )

        found = sorted(
            (row.case for row in self._memory.cases.values() if matches(row.case)),
            key=lambda case: (case.registered_at, case.case_id),
            reverse=True,
        )
        return [StoredCase(copy.deepcopy(case), None) for case in found[:limit]]

    async def possible_duplicates(
        self, digests: Mapping[MatchKind, bytes], *, excluding: UUID
    ) -> list[UUID]:
        wanted = set(digests.items())
        found = [
            row.case
            for row in self._memory.cases.values()
            if row.case.case_id != excluding
            and row.case.status is CaseStatus.OPEN
            and not row.case.is_erased
            and wanted & set(row.match_keys.items())
        ]
        found.sort(key=lambda case: (case.registered_at, case.case_id))
        return [case.case_id for case in found[:20]]

    async def replace_match_keys(self, case_id: UUID, digests: Mapping[MatchKind, bytes]) -> None:
        self._row(case_id).match_keys = dict(digests)

    async def lock_cases_wrapped_by(
        self, key_ids: Sequence[str], limit: int
    ) -> list[tuple[UUID, SealedPersonalData]]:
        found = sorted(
            (case_id, row.sealed)
            for case_id, row in self._memory.cases.items()
            if row.sealed is not None and row.sealed.master_key_id in key_ids
        )
        return [(case_id, sealed) for case_id, sealed in found[:limit]]

    async def count_by_master_key(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self._memory.cases.values():
            if row.sealed is not None:
                key = row.sealed.master_key_id
                counts[key] = counts.get(key, 0) + 1
        return counts


class FakeReferenceCounter:
    def __init__(self, memory: IntakeMemory) -> None:
        self._memory = memory

    async def assigned(self, case_id: UUID) -> str:
        reference = self._memory.cases[case_id].case.reference
        if not reference:
            raise LookupError(f"case {case_id} has no committed reference")
        return reference

    def assign_at_commit(self, pending: list[Envelope]) -> list[Envelope]:
        """What the SQL trigger does inside COMMIT: the next number of its year to each
        case added without a reference, and to its registration event among `pending`."""
        given: dict[UUID, str] = {}
        for row in self._memory.cases.values():
            case = row.case
            if case.reference:
                continue
            year = case.registered_at.year
            number = self._memory.counters.get(year, 0) + 1
            if number > MAX_REFERENCE_NUMBER:
                raise ReferenceSpaceExhausted(f"no case reference left for {year}")
            self._memory.counters[year] = number
            case.reference = f"MPA-{year:04d}-{number:06d}"
            given[case.correlation_id] = case.reference
        return [
            envelope.model_copy(
                update={
                    "data": envelope.data.model_copy(update={"case_reference": given[envelope.id]})
                }
            )
            if envelope.id in given and hasattr(envelope.data, "case_reference")
            else envelope
            for envelope in pending
        ]


class FakeIdempotencyRepository:
    def __init__(self, memory: IntakeMemory) -> None:
        self._memory = memory

    async def get(self, subject: str, key: str) -> StoredResponse | None:
        return self._memory.responses.get((subject, key))

    async def put(
        self, subject: str, key: str, request_digest: bytes, status: int, body: dict[str, Any]
    ) -> bool:
        if (subject, key) in self._memory.responses:
            return False
        self._memory.responses[(subject, key)] = StoredResponse(
            request_digest, status, copy.deepcopy(body)
        )
        return True


class FakeGrantRepository:
    def __init__(self, memory: IntakeMemory) -> None:
        self._memory = memory

    async def active_grants(self, case_id: UUID, partner_id: UUID) -> list[Grant]:
        rows = sorted(
            (
                row
                for row in self._memory.grants.values()
                if row.case_id == case_id and row.grant.partner_id == partner_id and row.active
            ),
            key=lambda row: row.updated_at,
        )
        return [row.grant for row in rows]

    async def set_grant(
        self,
        *,
        referral_id: UUID,
        case_id: UUID,
        need_id: UUID,
        partner_id: UUID,
        active: bool,
        event_type: str,
        at: datetime,
    ) -> None:
        self._memory.grants[referral_id] = _GrantRow(
            Grant(referral_id, need_id, partner_id), case_id, active, event_type, at
        )

    async def revoke(self, referral_id: UUID, *, event_type: str, at: datetime) -> None:
        row = self._memory.grants.get(referral_id)
        if row is not None:
            row.active, row.last_event_type, row.updated_at = False, event_type, at


class FakeCaseworkRepository:
    def __init__(self, memory: IntakeMemory) -> None:
        self._memory = memory

    async def add(self, record: CaseworkRecord) -> None:
        if record.record_id in self._memory.records:
            raise ValueError(f"record {record.record_id} exists")  # a primary key violation
        await self.save(record)

    async def get(self, kind: type[R], record_id: UUID, *, for_update: bool = False) -> R | None:
        row = self._memory.records.get(record_id)
        if row is None or row.kind != kind.kind:
            return None
        return kind.model_validate(row.record)

    async def save(self, record: CaseworkRecord) -> None:
        if record.case_id not in self._memory.cases:
            raise ValueError(f"no case {record.case_id}")  # a foreign key violation
        self._memory.records[record.record_id] = _RecordRow(
            record.kind, record.case_id, record.created_at, record.model_dump(mode="json")
        )

    async def get_many(
        self, kind: type[R], record_ids: Sequence[UUID], *, for_update: bool = False
    ) -> dict[UUID, R]:
        found = {record_id: await self.get(kind, record_id) for record_id in record_ids}
        return {record_id: record for record_id, record in found.items() if record is not None}

    async def save_where_held(self, records: Sequence[CaseworkRecord]) -> set[UUID]:
        held = [record for record in records if record.case_id in self._memory.cases]
        for record in held:
            await self.save(record)
        return {record.record_id for record in held}

    async def of_case(self, kind: type[R], case_id: UUID) -> list[R]:
        return await self.of_cases(kind, [case_id])

    async def of_cases(self, kind: type[R], case_ids: Sequence[UUID]) -> list[R]:
        wanted = set(case_ids)
        rows = sorted(
            (
                (row.created_at, record_id, row)
                for record_id, row in self._memory.records.items()
                if row.kind == kind.kind and row.case_id in wanted
            ),
            key=lambda item: (item[0], item[1]),
        )
        return [kind.model_validate(row.record) for _, _, row in rows]

    async def awaiting(self, kind: type[R], limit: int) -> list[tuple[R, Ownership]]:
        found: list[tuple[R, Ownership]] = []
        for _, _, row in sorted(
            (row.created_at, record_id, row)
            for record_id, row in self._memory.records.items()
            if row.kind == kind.kind
        ):
            record = kind.model_validate(row.record)
            if record.state == REQUESTED:
                found.append((record, self._memory.cases[row.case_id].case.ownership))
        return found[:limit]


class FakeTimerRepository:
    def __init__(self, memory: IntakeMemory) -> None:
        self._memory = memory

    async def schedule(self, *, kind: str, subject_id: UUID, due_at: datetime) -> UUID:
        timer = FakeTimer(uuid4(), kind, subject_id, due_at)
        self._memory.timers.append(timer)
        return timer.timer_id

    async def cancel(self, *, kind: str, subject_id: UUID) -> int:
        cancelled = 0
        for timer in self._memory.timers:
            if timer.kind == kind and timer.subject_id == subject_id and not timer.fired:
                timer.fired, timer.outcome = True, "cancelled"
                cancelled += 1
        return cancelled


class FakePseaComplaintRepository:
    def __init__(self, memory: IntakeMemory) -> None:
        self._memory = memory

    async def add(self, complaint: PseaComplaint, sealed: SealedPersonalData) -> None:
        self._memory.complaints[complaint.complaint_id] = StoredComplaint(
            copy.deepcopy(complaint), sealed
        )

    async def get(self, complaint_id: UUID, *, for_update: bool = False) -> StoredComplaint | None:
        stored = self._memory.complaints.get(complaint_id)
        return None if stored is None else copy.deepcopy(stored)

    async def save(self, complaint: PseaComplaint) -> None:
        stored = self._memory.complaints[complaint.complaint_id]
        self._memory.complaints[complaint.complaint_id] = StoredComplaint(
            copy.deepcopy(complaint), stored.sealed
        )

    async def lock_wrapped_by(
        self, key_ids: Sequence[str], limit: int
    ) -> list[tuple[UUID, SealedPersonalData]]:
        found = sorted(
            (complaint_id, stored.sealed)
            for complaint_id, stored in self._memory.complaints.items()
            if stored.sealed.master_key_id in key_ids
        )
        return found[:limit]

    async def store_sealed(self, complaint_id: UUID, sealed: SealedPersonalData) -> None:
        stored = self._memory.complaints[complaint_id]
        self._memory.complaints[complaint_id] = StoredComplaint(stored.complaint, sealed)

    async def count_by_master_key(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for stored in self._memory.complaints.values():
            key = stored.sealed.master_key_id
            counts[key] = counts.get(key, 0) + 1
        return counts

    async def recent(self, limit: int, *, country: str | None = None) -> list[PseaComplaint]:
        newest = sorted(
            (
                s
                for s in self._memory.complaints.values()
                if country is None or s.complaint.country == country
            ),
            key=lambda s: s.complaint.received_at,
            reverse=True,
        )
        return [copy.deepcopy(s.complaint) for s in newest[:limit]]


class FakeIntakeUnitOfWork(InMemoryUnitOfWork):
    """`ports.IntakeUnitOfWorkPort` over an `IntakeMemory` shared by every unit of work of
    one test; a block left without commit restores what it found."""

    def __init__(self, memory: IntakeMemory) -> None:
        super().__init__(source=EVENT_SOURCE)
        self.memory = memory
        self.idempotency = FakeIdempotencyRepository(memory)
        self.cases = FakeCaseRepository(memory, self.idempotency)
        self.references = FakeReferenceCounter(memory)
        self.grants = FakeGrantRepository(memory)
        self.casework = FakeCaseworkRepository(memory)
        self.timers = FakeTimerRepository(memory)
        self.psea = FakePseaComplaintRepository(memory)
        self._snapshot: IntakeMemory | None = None
        self._outside_transaction = False

    def _bind(self) -> None:
        self._snapshot = self.memory.snapshot()
        self._outside_transaction = False

    def _rollback(self) -> None:
        if self._snapshot is not None:
            self.memory.restore(self._snapshot)

    async def without_transaction(self) -> None:
        self._outside_transaction = True

    async def commit_registration(
        self,
        case: Case,
        sealed: SealedPersonalData,
        *,
        match_keys: Mapping[MatchKind, bytes] | None = None,
        first_response: KeyedResponse | None = None,
    ) -> Registered:
        """Like the one SQL statement: the duplicates found first (and written into the
        idempotency record's body); a taken key writes nothing, events included (and the
        empty transaction still commits: pending events cleared, callbacks run)."""
        self._outside_transaction = False
        duplicates = (
            await self.cases.possible_duplicates(match_keys, excluding=case.case_id)
            if match_keys
            else []
        )
        if first_response is not None and match_keys:
            body = {**first_response.body, "possible_duplicates": [str(d) for d in duplicates]}
            first_response = replace(first_response, body=body)
        if not await self.cases.add(
            case, sealed, match_keys=match_keys, first_response=first_response
        ):
            self._pending = []
            await self._run_after_commit()
            return Registered(False, duplicates)
        await self.commit()
        return Registered(True, duplicates)

    async def commit(self) -> None:
        if self._outside_transaction:
            raise RuntimeError("a unit of work outside a transaction commits in one statement")
        self._pending = self.references.assign_at_commit(self._pending)
        self.memory.events.extend(self._pending)
        self.memory.commits += 1
        await super().commit()
        self._snapshot = self.memory.snapshot()  # a later rollback keeps what committed


@dataclass
class FakeReferralDirectory:
    """The referral service's API: referrals by id, and whether it answers at all."""

    referrals: dict[UUID, ReferralStatus] = field(default_factory=dict)
    available: bool = True
    asked: int = 0

    def set(
        self,
        referral_id: UUID,
        *,
        case_id: UUID,
        need_id: UUID,
        partner_id: UUID | None,
        state: ReferralState,
    ) -> None:
        self.referrals[referral_id] = ReferralStatus(
            referral_id, case_id, need_id, partner_id, state
        )

    async def referrals_of_case(self, case_id: UUID, credentials: str) -> list[ReferralStatus]:
        self.asked += 1
        if not self.available:
            raise DependencyUnavailable("referral", "down on purpose")
        # The credentials of these tests are the partner's id (as the real service reads
        # its partner from the token).
        return [
            status
            for status in self.referrals.values()
            if status.case_id == case_id and str(status.partner_id) == credentials
        ]


def vault_for_tests(*key_ids: str, active: str | None = None) -> PersonalDataVault:
    """A vault with fresh random master keys (the real AES-GCM code: microseconds)."""
    key_ids = key_ids or ("test",)
    keys = ",".join(new_master_key(key_id) for key_id in key_ids)
    return PersonalDataVault(MasterKeyring(parse_master_keys(keys), active or key_ids[0]))


def matcher_for_tests() -> MatchKeyer:
    return MatchKeyer(base64.b64decode(base64.b64encode(secrets.token_bytes(32))))


@dataclass
class FakeIntake:
    """One test's intake: memory, referral service, and the context use cases take."""

    memory: IntakeMemory
    referrals: FakeReferralDirectory
    context: IntakeContext


# The service's default scopes (settings), as the unit tests' policy.
DEFAULT_SCOPES = ScopePolicy(read=DEFAULT_READ_SCOPES, write=DEFAULT_WRITE_SCOPES)


def fake_intake(
    *,
    vault: PersonalDataVault | None = None,
    clock: Any = None,
    memory: IntakeMemory | None = None,
    scopes: ScopePolicy = DEFAULT_SCOPES,
) -> FakeIntake:
    memory = memory or IntakeMemory()
    referrals = FakeReferralDirectory()
    extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
    context = IntakeContext(
        unit_of_work=lambda: FakeIntakeUnitOfWork(memory),
        vault=vault or vault_for_tests(),
        matcher=matcher_for_tests(),
        scopes=scopes,
        referrals=referrals,
        **extra,
    )
    return FakeIntake(memory, referrals, context)
