"""The referral write buffer on PostgreSQL: a flush is one statement whatever it holds
(parents and children together, foreign keys checked at its end), rows keep the order they
were added in, rows naming other columns go too, and a replayed need is skipped; a commit's
outbox rows go in its statement unless they hold directory events."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from mpa_contracts.events.directory import PartnerDeactivatedV1
from mpa_contracts.vocabularies import DeactivationReason, NeedCategory, Urgency
from mpa_referral.adapters.directory_snapshot import DirectorySnapshot
from mpa_referral.adapters.notes import NoteCipher
from mpa_referral.adapters.tables import (
    case_needs,
    cases,
    outbox,
    referral_history,
    referrals,
    routing_attempts,
    timers,
)
from mpa_referral.adapters.uow import ReferralUnitOfWork
from mpa_referral.adapters.write_buffer import WriteBuffer
from mpa_referral.domain.cases import CaseNeed
from mpa_referral.testing import ADMIN, registered
from tests.conftest import service_database_url
from tests.integration.referral_support import private_schema

pytestmark = pytest.mark.integration


@pytest.fixture
async def sessions() -> AsyncIterator[tuple[async_sessionmaker[AsyncSession], list[str]]]:
    async with private_schema() as schema:
        engine = create_async_engine(
            service_database_url("referral"),
            connect_args={"server_settings": {"search_path": schema}},
        )
        statements: list[str] = []

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(statement)

        try:
            yield async_sessionmaker(engine, expire_on_commit=False), statements
        finally:
            await engine.dispose()


def need_row(case_id: uuid.UUID) -> dict[str, Any]:
    return {"need_id": uuid.uuid4(), "case_id": case_id, "category": "food", "urgency": "low"}


async def test_a_flush_is_one_statement_in_order_and_skips_replayed_needs(
    sessions: tuple[async_sessionmaker[AsyncSession], list[str]],
) -> None:
    factory, statements = sessions
    case_id, referral_id, now = uuid.uuid4(), uuid.uuid4(), datetime.now(UTC)
    async with factory() as session:
        await session.execute(
            cases.insert().values(
                case_id=case_id,
                case_reference="MPA-2026-000001",
                correlation_id=uuid.uuid4(),
                age_band="24-26",
                sex="female",
                languages=["en"],
                country="QA",
                vulnerabilities=[],
                do_not_contact=False,
                safe_contact_method="phone_call",
                status="open",
            )
        )
        buffer = WriteBuffer(session)
        first = need_row(case_id)
        # The same table with another set of columns: a run of its own.
        second = {**need_row(case_id), "assistance_country": "QB", "mandatory_rule": None}
        buffer.add(case_needs, first, second)
        buffer.add(
            referrals,
            {
                "id": referral_id,
                "case_id": case_id,
                "need_id": first["need_id"],
                "category": "food",
                "urgency": "low",
                "country": "QA",
                "state": "routed",
                "requested_by": "urn:mpa:service:intake",
            },
        )
        buffer.add(
            routing_attempts,
            {
                "referral_id": referral_id,
                "attempt": 1,
                "decided_at": now,
                "rule_set": "test",
                "candidates": [{"rule": "eligible", "score": 0.5}],
            },
        )
        kinds = ["requested", "routed", "accepted", "started", "closed"]
        buffer.add(
            referral_history,
            *(
                {
                    "referral_id": referral_id,
                    "at": now,
                    "actor_id": "test",
                    "actor_role": "system",
                    "to_state": kind,
                    "event_type": f"org.mpa.referral.{kind}.v1",
                    "event_id": uuid.uuid4(),
                    "note_sealed": b"\x00sealed" if kind == "accepted" else None,
                }
                for kind in kinds
            ),
        )
        buffer.add(
            timers,
            {
                "id": uuid.uuid4(),
                "kind": "test.kind",
                "subject_id": referral_id,
                "due_at": now + timedelta(hours=1),
                "payload": {"attempt": 1, "note": "é"},
            },
        )
        statements.clear()
        await buffer.flush()
        assert len(statements) == 1
        buffer.add(case_needs, first)  # a replay
        await buffer.flush()
        await session.commit()
    async with factory() as session:
        needs = (await session.execute(select(case_needs.c.need_id))).scalars().all()
        assert sorted(needs) == sorted([first["need_id"], second["need_id"]])
        history = (
            await session.execute(
                select(referral_history.c.to_state, referral_history.c.note_sealed).order_by(
                    referral_history.c.id
                )
            )
        ).all()
        assert [h.to_state for h in history] == kinds
        assert [h.note_sealed for h in history if h.note_sealed] == [b"\x00sealed"]
        (candidates,) = (await session.execute(select(routing_attempts.c.candidates))).scalars()
        assert candidates == [{"rule": "eligible", "score": 0.5}]
        (payload,) = (await session.execute(select(timers.c.payload))).scalars()
        assert payload == {"attempt": 1, "note": "é"}
        (assistance,) = (
            await session.execute(
                select(case_needs.c.assistance_country).where(
                    case_needs.c.need_id == second["need_id"]
                )
            )
        ).scalars()
        assert assistance == "QB"


async def test_a_commit_writes_its_events_in_the_flush_unless_they_are_directory_events(
    sessions: tuple[async_sessionmaker[AsyncSession], list[str]],
) -> None:
    """Without directory events the outbox rows go in the write buffer's statement, taking
    only per-key locks; with one, the whole outbox is locked first (TABLE order), which the
    directory snapshot's tail needs: it waits for a transaction that holds outbox rows."""
    factory, statements = sessions
    unit = ReferralUnitOfWork(
        factory,
        source="urn:mpa:service:referral",
        snapshot=DirectorySnapshot(),
        notes=NoteCipher(bytes(32)),
    )
    case = registered("QA", [(NeedCategory.FOOD, Urgency.LOW)])
    deactivated = PartnerDeactivatedV1(
        partner_id=uuid.uuid4(),
        reason=DeactivationReason.AGREEMENT_ENDED,
        actor_id=ADMIN.actor_id,
        actor_role=ADMIN.role,
    )
    async with factory() as holder:
        # Another writer of the outbox, not yet committed.
        await holder.execute(text("LOCK TABLE outbox IN ROW EXCLUSIVE MODE"))
        async with unit as uow:
            await uow.cases.add_needs(
                [CaseNeed(uuid.uuid4(), case.case_id, NeedCategory.FOOD, Urgency.LOW, None)]
            )
            uow.emit(case)
            statements.clear()
            with pytest.raises(IntegrityError):  # the need's case is not there
                await asyncio.wait_for(uow.commit(), 5)
            assert len(statements) == 1  # the need and the event together
        async with unit as uow:
            first = uow.emit(case)
            second = uow.emit(case)
            statements.clear()
            await asyncio.wait_for(uow.commit(), 5)  # not held up by the other writer
            assert len(statements) == 1
        async with unit as uow:
            directory = uow.emit(deactivated)
            committing = asyncio.ensure_future(uow.commit())
            await asyncio.sleep(0.5)
            assert not committing.done()  # TABLE order: waits for the other writer
            await holder.rollback()
            await asyncio.wait_for(committing, 5)
    async with factory() as session:
        written = (
            await session.execute(select(outbox.c.event_id).order_by(outbox.c.position))
        ).scalars()
        assert list(written) == [first.id, second.id, directory.id]
