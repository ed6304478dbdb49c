"""What every use case works with: the acting principal, and the service's collaborators.

A use case takes its command (the actor and what they ask), and `IntakeContext`: the
unit-of-work factory — each use case opens its own unit of work and commits it once — and
the tools that are not a transaction (the vault, the matcher, the clock, the referral
service). The composition root (`main.py`) builds it once; tests build it over fakes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from mpa_contracts.vocabularies import ActorRole, CaseScope
from mpa_intake.app.ports import Matcher, ReferralDirectory, UnitOfWorkFactory, Vault
from mpa_intake.domain.identification import ReflectionPolicy
from mpa_intake.domain.ownership import Viewer

# The CloudEvents source of every event intake emits (settings.event_source says the same).
EVENT_SOURCE = "urn:mpa:service:intake"


@dataclass(frozen=True)
class Actor:
    """Who acts, from the verified token (never from a request body).

    `role` is the role the action is authorised by; events name it beside `actor_id`.
    `credentials` is the caller's own bearer token, handed on only to ask the referral
    service what this caller may see there (never stored, logged or put in an event).
    """

    subject: str
    actor_id: str
    role: ActorRole
    partner_id: UUID | None = None
    credentials: str | None = field(default=None, repr=False, compare=False)
    # The user's organisation units, for case scopes (from the token's claims).
    team: str | None = None
    agency: str | None = None
    country: str | None = None

    @property
    def viewer(self) -> Viewer:
        return Viewer(self.actor_id, self.team, self.agency, self.country)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ScopePolicy:
    """Per role, how far reads and writes reach beyond one's own cases (configured)."""

    read: Mapping[ActorRole, CaseScope] = field(default_factory=dict)
    write: Mapping[ActorRole, CaseScope] = field(default_factory=dict)

    def read_scope(self, role: ActorRole) -> CaseScope:
        return self.read.get(role, CaseScope.OWN)

    def write_scope(self, role: ActorRole) -> CaseScope:
        return self.write.get(role, CaseScope.OWN)


UNSCOPED = ScopePolicy(
    read={role: CaseScope.ALL for role in ActorRole},
    write={role: CaseScope.ALL for role in ActorRole},
)


@dataclass(frozen=True)
class CaseworkPolicy:
    """How the casework behaves where the organisation decides (configured)."""

    # Whether a case's previous owner keeps access once a transfer is accepted.
    sender_keeps_access: bool = False
    # At most this many cases feed one report (the newest within the viewer's scope).
    report_case_limit: int = 10_000


@dataclass(frozen=True)
class PseaPolicy:
    """The deadlines of a PSEA complaint's steps (configured)."""

    assistance_due: timedelta = timedelta(hours=24)
    allegation_referral_due: timedelta = timedelta(hours=24)
    investigation_due: timedelta = timedelta(days=90)


@dataclass(frozen=True)
class IntakeContext:
    unit_of_work: UnitOfWorkFactory
    vault: Vault
    matcher: Matcher
    # Which cases each role reaches (configured); UNSCOPED only for tools acting as the
    # service itself (key rotation, benchmarks).
    scopes: ScopePolicy
    # Asked at each partner read (defence in depth beside the grants); None only where no
    # partner ever reads (the key-rotation command, benchmarks): a partner read then fails.
    referrals: ReferralDirectory | None = None
    clock: Callable[[], datetime] = field(default=_utc_now)
    casework: CaseworkPolicy = field(default_factory=CaseworkPolicy)
    # How long recovery and reflection periods last per country, and when owners are
    # reminded of their end (issue 17).
    reflection: ReflectionPolicy = field(default_factory=ReflectionPolicy)
    psea: PseaPolicy = field(default_factory=PseaPolicy)
