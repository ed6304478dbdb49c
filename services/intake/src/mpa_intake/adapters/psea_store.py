"""PSEA complaints on PostgreSQL (`ports.PseaComplaintRepository`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from pydantic import TypeAdapter
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_intake.adapters.tables import psea_complaints
from mpa_intake.app.ports import SealedPersonalData, StoredComplaint
from mpa_intake.domain.psea import PseaComplaint

_RECORD = TypeAdapter(PseaComplaint)


def complaint_record(complaint: PseaComplaint) -> dict[str, Any]:
    """The record's fields as JSON (no free text: that is sealed)."""
    record: dict[str, Any] = _RECORD.dump_python(complaint, mode="json")
    record["missed_steps"] = sorted(record["missed_steps"])
    return record


def complaint_of(record: dict[str, Any]) -> PseaComplaint:
    return _RECORD.validate_python(record)


class SqlPseaComplaintRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, complaint: PseaComplaint, sealed: SealedPersonalData) -> None:
        await self._session.execute(
            insert(psea_complaints).values(
                complaint_id=complaint.complaint_id,
                received_at=complaint.received_at,
                country=complaint.country,
                record=complaint_record(complaint),
                master_key_id=sealed.master_key_id,
                wrapped_data_key=sealed.wrapped_data_key,
                personal_data=sealed.ciphertext,
            )
        )

    async def get(self, complaint_id: UUID, *, for_update: bool = False) -> StoredComplaint | None:
        query = select(psea_complaints).where(psea_complaints.c.complaint_id == complaint_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).mappings().first()
        if row is None:
            return None
        return StoredComplaint(
            complaint_of(row["record"]),
            SealedPersonalData(row["master_key_id"], row["wrapped_data_key"], row["personal_data"]),
        )

    async def save(self, complaint: PseaComplaint) -> None:
        await self._session.execute(
            update(psea_complaints)
            .where(psea_complaints.c.complaint_id == complaint.complaint_id)
            .values(record=complaint_record(complaint), updated_at=func.now())
        )

    async def lock_wrapped_by(
        self, key_ids: Sequence[str], limit: int
    ) -> list[tuple[UUID, SealedPersonalData]]:
        query = (
            select(
                psea_complaints.c.complaint_id,
                psea_complaints.c.master_key_id,
                psea_complaints.c.wrapped_data_key,
                psea_complaints.c.personal_data,
            )
            .where(psea_complaints.c.master_key_id.in_(key_ids))
            .order_by(psea_complaints.c.complaint_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [
            (
                row.complaint_id,
                SealedPersonalData(row.master_key_id, row.wrapped_data_key, row.personal_data),
            )
            for row in await self._session.execute(query)
        ]

    async def store_sealed(self, complaint_id: UUID, sealed: SealedPersonalData) -> None:
        await self._session.execute(
            update(psea_complaints)
            .where(psea_complaints.c.complaint_id == complaint_id)
            .values(
                master_key_id=sealed.master_key_id,
                wrapped_data_key=sealed.wrapped_data_key,
                personal_data=sealed.ciphertext,
                updated_at=func.now(),
            )
        )

    async def count_by_master_key(self) -> dict[str, int]:
        query = select(psea_complaints.c.master_key_id, func.count()).group_by(
            psea_complaints.c.master_key_id
        )
        return {row[0]: int(row[1]) for row in await self._session.execute(query)}

    async def recent(self, limit: int, *, country: str | None = None) -> list[PseaComplaint]:
        query = select(psea_complaints.c.record)
        if country is not None:
            query = query.where(psea_complaints.c.country == country)
        rows = await self._session.execute(
            query.order_by(
                psea_complaints.c.received_at.desc(), psea_complaints.c.complaint_id
            ).limit(limit)
        )
        return [complaint_of(record) for record in rows.scalars()]
