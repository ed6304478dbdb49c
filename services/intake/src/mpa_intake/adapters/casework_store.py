"""Casework records on PostgreSQL: one row each in `casework_records`, the record's fields
as JSON beside its kind and state (what queries filter on); durable timers through
`mpa_common.timers`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_common.timers import TimerStore
from mpa_intake.adapters.prebuilt import Prebuilt
from mpa_intake.adapters.tables import cases, casework_records, timers
from mpa_intake.domain.casework import REQUESTED, CaseworkRecord, R
from mpa_intake.domain.ownership import Ownership

TIMER_STORE = TimerStore(timers)


class SqlCaseworkRepository:
    """`ports.CaseworkRepository` on the unit of work's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, record: CaseworkRecord) -> None:
        await self._session.execute(insert(casework_records).values(**_row(record)))

    async def get(self, kind: type[R], record_id: UUID, *, for_update: bool = False) -> R | None:
        query = select(casework_records.c.record).where(
            casework_records.c.record_id == record_id, casework_records.c.kind == kind.kind
        )
        if for_update:
            query = query.with_for_update()
        found = (await self._session.execute(query)).scalar_one_or_none()
        return kind.model_validate(found) if found is not None else None

    async def save(self, record: CaseworkRecord) -> None:
        row = _row(record)
        statement = insert(casework_records).values(**row)
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[casework_records.c.record_id],
                set_={"state": row["state"], "record": row["record"], "updated_at": func.now()},
            )
        )

    async def get_many(
        self, kind: type[R], record_ids: Sequence[UUID], *, for_update: bool = False
    ) -> dict[UUID, R]:
        if not record_ids:
            return {}
        statement = _GET_MANY_FOR_UPDATE if for_update else _GET_MANY
        rows = await statement.execute(self._session, {"ids": list(record_ids), "kind": kind.kind})
        return {row.record_id: kind.model_validate(row.record) for row in rows}

    async def save_where_held(self, records: Sequence[CaseworkRecord]) -> set[UUID]:
        if not records:
            return set()
        written = await _SAVE_WHERE_HELD.execute(
            self._session,
            {
                "record_ids": [record.record_id for record in records],
                "case_ids": [record.case_id for record in records],
                "kinds": [record.kind for record in records],
                "states": [record.state for record in records],
                "records": [record.model_dump_json() for record in records],
                "created_at": [record.created_at for record in records],
            },
        )
        return set(written.scalars())

    async def of_case(self, kind: type[R], case_id: UUID) -> list[R]:
        return await self.of_cases(kind, [case_id])

    async def of_cases(self, kind: type[R], case_ids: Sequence[UUID]) -> list[R]:
        if not case_ids:
            return []
        rows = await self._session.execute(
            select(casework_records.c.record)
            .where(casework_records.c.kind == kind.kind)
            .where(casework_records.c.case_id.in_(list(case_ids)))
            .order_by(casework_records.c.created_at, casework_records.c.record_id)
        )
        return [kind.model_validate(record) for record in rows.scalars()]

    async def awaiting(self, kind: type[R], limit: int) -> list[tuple[R, Ownership]]:
        rows = await self._session.execute(
            select(
                casework_records.c.record,
                cases.c.owner_id,
                cases.c.owner_team,
                cases.c.owner_agency,
                cases.c.owner_country,
                cases.c.shared_with,
            )
            .join(cases, cases.c.case_id == casework_records.c.case_id)
            .where(casework_records.c.kind == kind.kind)
            .where(casework_records.c.state == REQUESTED)
            .order_by(casework_records.c.created_at, casework_records.c.record_id)
            .limit(limit)
        )
        return [
            (
                kind.model_validate(row.record),
                Ownership(
                    row.owner_id,
                    row.owner_team,
                    row.owner_agency,
                    row.owner_country,
                    tuple(row.shared_with),
                ),
            )
            for row in rows
        ]


class SqlTimerRepository:
    """`ports.TimerRepository` on the unit of work's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def schedule(self, *, kind: str, subject_id: UUID, due_at: datetime) -> UUID:
        return await TIMER_STORE.schedule(
            self._session, kind=kind, subject_id=subject_id, due_at=due_at
        )

    async def cancel(self, *, kind: str, subject_id: UUID) -> int:
        return await TIMER_STORE.cancel(self._session, kind=kind, subject_id=subject_id)


# Locked in id order, so two writers of overlapping batches queue rather than deadlock.
_GET_MANY_SQL = (
    "SELECT record_id, record FROM casework_records "
    "WHERE record_id = ANY(CAST(:ids AS uuid[])) AND kind = :kind ORDER BY record_id"
)
_GET_MANY = Prebuilt(_GET_MANY_SQL)
_GET_MANY_FOR_UPDATE = Prebuilt(f"{_GET_MANY_SQL} FOR UPDATE")
# From arrays: one statement text (prepared once) for any number of records. The document's
# text is cast to JSONB by the server.
_SAVE_WHERE_HELD = Prebuilt(
    "INSERT INTO casework_records (record_id, case_id, kind, state, record, created_at) "
    "SELECT r.record_id, r.case_id, r.kind, r.state, CAST(r.record AS jsonb), r.created_at "
    "FROM unnest(CAST(:record_ids AS uuid[]), CAST(:case_ids AS uuid[]), "
    "CAST(:kinds AS text[]), CAST(:states AS text[]), CAST(:records AS text[]), "
    "CAST(:created_at AS timestamptz[])) AS r(record_id, case_id, kind, state, record, created_at) "
    "WHERE EXISTS (SELECT FROM cases WHERE cases.case_id = r.case_id) "
    "ON CONFLICT (record_id) DO UPDATE "
    "SET state = EXCLUDED.state, record = EXCLUDED.record, updated_at = now() "
    "RETURNING record_id"
)


def _row(record: CaseworkRecord) -> dict[str, object]:
    return {
        "record_id": record.record_id,
        "case_id": record.case_id,
        "kind": record.kind,
        "state": record.state,
        "record": record.model_dump(mode="json"),
        "created_at": record.created_at,
    }
