"""What every use case works with: the acting principal and the service's collaborators."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpa_common.uow import UnitOfWork
from mpa_contracts.vocabularies import ActorRole
from mpa_intake.adapters.crypto import MatchKeyer, PersonalDataVault
from mpa_intake.adapters.tables import outbox

EVENT_SOURCE = "urn:mpa:service:intake"


@dataclass(frozen=True)
class Actor:
    """Who acts, from the verified token (never from a request body).

    `role` is the role the action is authorised by; events name it beside `actor_id`.
    """

    subject: str
    actor_id: str
    role: ActorRole
    partner_id: UUID | None = None


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class IntakeContext:
    sessions: async_sessionmaker[AsyncSession]
    vault: PersonalDataVault
    matcher: MatchKeyer
    topic_prefix: str = ""
    clock: Callable[[], datetime] = field(default=_utc_now)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(
            self.sessions, outbox, source=EVENT_SOURCE, topic_prefix=self.topic_prefix
        )
