"""What the intake use cases need from the outside world, as interfaces (no I/O here).

The use cases work through one unit of work per transaction (`IntakeUnitOfWorkPort`): its
repositories load and save, `emit` queues events for the outbox, `commit` makes both durable
at once. `adapters` implement these on PostgreSQL (`adapters.unit_of_work.IntakeUnitOfWork`)
and `mpa_intake.testing` in memory, and one contract suite holds both to the same behaviour.
Personal data crosses these interfaces only sealed (`SealedPersonalData`), except through
the vault, which alone holds keys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, NamedTuple, Protocol, Self
from uuid import UUID

from mpa_common.uow import AfterCommit, Cause
from mpa_contracts.envelope import Envelope
from mpa_contracts.events.base import EventData
from mpa_contracts.vocabularies import CaseScope, NeedCategory, ReferralState, Vulnerability
from mpa_intake.domain.case import Case, CaseStatus, NeedEntry
from mpa_intake.domain.casework import CaseworkRecord, R
from mpa_intake.domain.consent import ConsentRecord
from mpa_intake.domain.matching import MatchKind
from mpa_intake.domain.ownership import Ownership, Viewer
from mpa_intake.domain.personal_data import PersonalData
from mpa_intake.domain.psea import PseaComplaint

MAX_REFERENCE_NUMBER = 999_999
# What a registration event carries until its case's reference is taken at commit (see
# ReferenceCounter): a well-formed reference that is never assigned (no year 0).
REFERENCE_AT_COMMIT = "MPA-0000-000000"


class ReferenceSpaceExhausted(RuntimeError):
    """More than 999,999 cases in one year: the reference format has no room left."""


class UndecryptableData(RuntimeError):
    """Stored personal data does not decrypt (wrong key or tampered ciphertext)."""


@dataclass(frozen=True)
class SealedPersonalData:
    """What the database holds for a case's personal data."""

    master_key_id: str
    wrapped_data_key: bytes
    ciphertext: bytes


@dataclass(frozen=True)
class StoredCase:
    case: Case
    sealed: SealedPersonalData | None  # None once erased, and in lists


@dataclass(frozen=True)
class ScopeFilter:
    """Only cases within `viewer`'s `scope` (see domain.ownership.within)."""

    scope: CaseScope
    viewer: Viewer


@dataclass(frozen=True)
class CaseFilter:
    scope: ScopeFilter | None = None
    status: CaseStatus | None = None
    need: NeedCategory | None = None
    vulnerability: Vulnerability | None = None
    registered_from: datetime | None = None
    registered_before: datetime | None = None


@dataclass(frozen=True)
class PageCursor:
    """Keyset position: the last case of the previous page (newest first)."""

    registered_at: datetime
    case_id: UUID


@dataclass(frozen=True)
class Grant:
    referral_id: UUID
    need_id: UUID
    partner_id: UUID


@dataclass(frozen=True)
class StoredResponse:
    request_digest: bytes
    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class KeyedResponse:
    """The first response to a POST request with an Idempotency-Key, to record with what
    it created (`CaseRepository.add`)."""

    subject: str
    key: str
    request_digest: bytes
    status: int
    body: dict[str, Any]


# --- repositories ------------------------------------------------------------------------------


class CaseRepository(Protocol):
    """Cases with their needs, consent and match keys. Loading personal data returns it
    sealed; only the vault opens it."""

    async def add(
        self,
        case: Case,
        sealed: SealedPersonalData,
        *,
        match_keys: Mapping[MatchKind, bytes] | None = None,
        first_response: KeyedResponse | None = None,
    ) -> bool:
        """A new case with its needs, consent and match keys. Its reference may be empty,
        to be given by `ReferenceCounter.assign` before commit.

        With `first_response`, the request's idempotency record is stored with it (as
        `IdempotencyRepository.put` does); False when that key is taken already (an
        earlier request with it, or a twin that committed first): the caller rolls back.
        True otherwise."""
        ...

    async def get(self, case_id: UUID, *, for_update: bool = False) -> StoredCase | None:
        """`for_update` locks the case until commit: changes to one case queue up."""
        ...

    async def exists(self, case_id: UUID) -> bool:
        """Whether intake holds the case (one indexed lookup; nothing is loaded)."""
        ...

    async def update(self, case: Case) -> None:
        """The state columns (status, profile, closure, erasure, risk level); not the
        needs, consent, reference or ownership."""
        ...

    async def set_ownership(self, case_id: UUID, ownership: Ownership) -> None:
        """Moves the case to a new owner (a transfer), with who else keeps access."""
        ...

    async def store_personal_data(self, case_id: UUID, sealed: SealedPersonalData) -> None: ...

    async def shred_personal_data(self, case_id: UUID) -> None:
        """Crypto-shredding: data key, ciphertext and match keys go; the row stays."""
        ...

    async def add_needs(
        self, case_id: UUID, needs: Sequence[NeedEntry], *, added_by: str, first: int
    ) -> None: ...

    async def replace_consent(self, case_id: UUID, consent: ConsentRecord) -> None:
        """Supersedes the current consent (kept as history) with a new one."""
        ...

    async def update_consent_scopes(self, consent: ConsentRecord) -> None: ...

    async def page(
        self, where: CaseFilter, after: PageCursor | None, limit: int
    ) -> list[StoredCase]:
        """Newest first (registered_at, then case_id, descending); no personal data."""
        ...

    async def possible_duplicates(
        self, digests: Mapping[MatchKind, bytes], *, excluding: UUID
    ) -> list[UUID]:
        """Open, not erased cases sharing any match digest; oldest first, at most 20."""
        ...

    async def replace_match_keys(
        self, case_id: UUID, digests: Mapping[MatchKind, bytes]
    ) -> None: ...

    async def lock_cases_wrapped_by(
        self, key_ids: Sequence[str], limit: int
    ) -> list[tuple[UUID, SealedPersonalData]]:
        """Up to `limit` cases whose data key is wrapped by one of `key_ids`, locked;
        rows another transaction holds are skipped (a later batch takes them)."""
        ...

    async def count_by_master_key(self) -> dict[str, int]: ...


class ReferenceCounter(Protocol):
    """Human case references, `MPA-<year>-<6 digits>`, numbering from 1 each year.

    A case added with an empty reference is given the next number of its registration
    year AS ITS UNIT OF WORK COMMITS, and the registration event staged with it (the event
    whose id is the case's correlation id) is given the same reference, replacing
    `REFERENCE_AT_COMMIT`. Gap-free: a unit of work that rolls back, or whose commit
    fails, takes no number. Taking it at commit keeps the year's counter, which queues
    every registration, locked for the commit alone. Commit raises
    `ReferenceSpaceExhausted` when the year has no number left."""

    async def assigned(self, case_id: UUID) -> str:
        """The reference a committed case was given (after `commit`, in the same unit of
        work)."""
        ...


class IdempotencyRepository(Protocol):
    """First responses to POST requests, by (principal subject, Idempotency-Key)."""

    async def get(self, subject: str, key: str) -> StoredResponse | None: ...

    async def put(
        self, subject: str, key: str, request_digest: bytes, status: int, body: dict[str, Any]
    ) -> bool:
        """Stores the response; False when a concurrent request with this key won."""
        ...


class GrantRepository(Protocol):
    """Which partner holds which accepted referral of a case (from referral events)."""

    async def active_grants(self, case_id: UUID, partner_id: UUID) -> list[Grant]:
        """Oldest first."""
        ...

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
    ) -> None: ...

    async def revoke(self, referral_id: UUID, *, event_type: str, at: datetime) -> None: ...


class CaseworkRepository(Protocol):
    """The casework records of cases (see domain.casework), by kind."""

    async def add(self, record: CaseworkRecord) -> None: ...

    async def get(self, kind: type[R], record_id: UUID, *, for_update: bool = False) -> R | None:
        """`for_update` locks the record until commit."""
        ...

    async def save(self, record: CaseworkRecord) -> None:
        """Writes the record, adding it when it is new (an upsert)."""
        ...

    async def get_many(
        self, kind: type[R], record_ids: Sequence[UUID], *, for_update: bool = False
    ) -> dict[UUID, R]:
        """Those of the records that exist, by id (one read); `for_update` locks them
        until commit."""
        ...

    async def save_where_held(self, records: Sequence[CaseworkRecord]) -> set[UUID]:
        """Writes the records whose case intake holds (upserts, one write); the ids of
        those written. A record of a case intake does not hold is left out."""
        ...

    async def of_case(self, kind: type[R], case_id: UUID) -> list[R]:
        """The case's records of that kind, oldest first."""
        ...

    async def of_cases(self, kind: type[R], case_ids: Sequence[UUID]) -> list[R]:
        """The records of that kind of all these cases, oldest first."""
        ...

    async def awaiting(self, kind: type[R], limit: int) -> list[tuple[R, Ownership]]:
        """Records of that kind still `requested` (transfers, approvals), with their case's
        current ownership, oldest first."""
        ...


class TimerRepository(Protocol):
    """Durable timers (mpa_common.timers), scheduled in the use case's transaction."""

    async def schedule(self, *, kind: str, subject_id: UUID, due_at: datetime) -> UUID: ...

    async def cancel(self, *, kind: str, subject_id: UUID) -> int:
        """Unfired timers of the subject of that kind fire no more; returns how many."""
        ...


@dataclass(frozen=True)
class StoredComplaint:
    complaint: PseaComplaint
    sealed: SealedPersonalData  # the account and the survivor, encrypted


class PseaComplaintRepository(Protocol):
    """PSEA complaints: restricted records of their own, outside any case."""

    async def add(self, complaint: PseaComplaint, sealed: SealedPersonalData) -> None: ...

    async def get(
        self, complaint_id: UUID, *, for_update: bool = False
    ) -> StoredComplaint | None: ...

    async def save(self, complaint: PseaComplaint) -> None: ...

    async def recent(self, limit: int, *, country: str | None = None) -> list[PseaComplaint]:
        """The newest complaints first; those a country office received, when given."""
        ...

    async def lock_wrapped_by(
        self, key_ids: Sequence[str], limit: int
    ) -> list[tuple[UUID, SealedPersonalData]]:
        """Up to `limit` complaints whose data key one of `key_ids` wraps, locked (rows
        another transaction holds are skipped), for master key rotation."""
        ...

    async def store_sealed(self, complaint_id: UUID, sealed: SealedPersonalData) -> None: ...

    async def count_by_master_key(self) -> dict[str, int]: ...


class Registered(NamedTuple):
    """What `IntakeUnitOfWorkPort.commit_registration` answers."""

    recorded: bool  # False: the Idempotency-Key was taken, nothing was written
    possible_duplicates: list[UUID]


class IntakeUnitOfWorkPort(Protocol):
    """One transaction: the repositories, the events it will publish, and its commit.

    Leaving `async with` without `commit()` rolls everything back, events included."""

    @property
    def cases(self) -> CaseRepository: ...

    @property
    def references(self) -> ReferenceCounter: ...

    @property
    def idempotency(self) -> IdempotencyRepository: ...

    @property
    def grants(self) -> GrantRepository: ...

    @property
    def casework(self) -> CaseworkRepository: ...

    @property
    def timers(self) -> TimerRepository: ...

    @property
    def psea(self) -> PseaComplaintRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def emit(
        self,
        data: EventData,
        *,
        cause: Cause | None = None,
        subject: str | None = None,
        key: UUID | None = None,
    ) -> Envelope: ...

    def emit_envelope(self, *envelopes: Envelope) -> None: ...

    def after_commit(self, callback: AfterCommit) -> None: ...

    async def commit(self) -> None: ...

    async def without_transaction(self) -> None:
        """Makes this a unit of work that ends in `commit_registration`: called before
        anything else, its reads are each their own implicit transaction (no BEGIN), and
        nothing is written but by that final statement (`commit` refuses)."""
        ...

    async def commit_registration(
        self,
        case: Case,
        sealed: SealedPersonalData,
        *,
        match_keys: Mapping[MatchKind, bytes] | None = None,
        first_response: KeyedResponse | None = None,
    ) -> Registered:
        """Commits a new case as `CaseRepository.add` stores it, together with the pending
        events, in ONE statement that is its own transaction (after `without_transaction`),
        which also finds its possible duplicates (`CaseRepository.possible_duplicates`)
        and writes them into `first_response`'s body (under "possible_duplicates").
        Not `recorded` when `first_response`'s key is taken: then nothing at all is
        written, events included. Either way the pending events are cleared and the
        after-commit callbacks run, as after `commit`. Raises ReferenceSpaceExhausted when
        the commit finds no reference left."""
        ...


UnitOfWorkFactory = Callable[[], IntakeUnitOfWorkPort]


# --- keys, and the referral service ------------------------------------------------------------


class Vault(Protocol):
    """Envelope encryption of a case's personal data (see adapters.crypto)."""

    @property
    def active_key_id(self) -> str: ...

    @property
    def key_ids(self) -> frozenset[str]: ...

    def seal_new(self, case_id: UUID, person: PersonalData) -> SealedPersonalData: ...

    def reseal(
        self, case_id: UUID, sealed: SealedPersonalData, person: PersonalData
    ) -> SealedPersonalData: ...

    def open(self, case_id: UUID, sealed: SealedPersonalData) -> PersonalData:
        """Raises UndecryptableData when the key is gone or the data was tampered with."""
        ...

    def rewrap(self, case_id: UUID, sealed: SealedPersonalData) -> SealedPersonalData: ...


class Matcher(Protocol):
    """Keyed hashes for duplicate matching and request digests."""

    def match_digest(self, kind: MatchKind, material: str) -> bytes: ...

    def request_digest(self, canonical_body: bytes) -> bytes: ...


@dataclass(frozen=True)
class ReferralStatus:
    """A referral as the referral service reports it to its partner."""

    referral_id: UUID
    case_id: UUID
    need_id: UUID
    partner_id: UUID | None
    state: ReferralState


class ReferralDirectory(Protocol):
    """The referral service's own view of a partner's referrals (its HTTP API).

    Asked at read time, independently of the grants that referral events feed, so that one
    lost or delayed event cannot leave a partner's access open. Raises
    `mpa_common.failures.DependencyUnavailable` when the service cannot answer: no answer
    never means access."""

    async def referrals_of_case(self, case_id: UUID, credentials: str) -> list[ReferralStatus]:
        """The referrals of `case_id` that the caller holding `credentials` (the
        partner's own bearer token) may see: its own."""
        ...
