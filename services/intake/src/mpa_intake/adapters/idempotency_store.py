"""Idempotency records on PostgreSQL: the first response to each keyed POST request.

The request is kept as a keyed digest (a body holds personal data) and the response holds
ids only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_intake.adapters.tables import idempotency_keys
from mpa_intake.app.ports import StoredResponse


class SqlIdempotencyRepository:
    """`ports.IdempotencyRepository` on PostgreSQL: first responses to POST requests, by
    (principal subject, Idempotency-Key)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, subject: str, key: str) -> StoredResponse | None:
        row = (
            (
                await self._session.execute(
                    select(idempotency_keys).where(
                        idempotency_keys.c.subject == subject,
                        idempotency_keys.c.idempotency_key == key,
                    )
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        return StoredResponse(
            row["request_digest"], int(row["response_status"]), dict(row["response_body"])
        )

    async def put(
        self, subject: str, key: str, request_digest: bytes, status: int, body: dict[str, Any]
    ) -> bool:
        """Stores the response; False when a concurrent request with this key won."""
        inserted = await self._session.execute(
            pg_insert(idempotency_keys)
            .values(
                subject=subject,
                idempotency_key=key,
                request_digest=request_digest,
                response_status=status,
                response_body=body,
            )
            .on_conflict_do_nothing()
            .returning(idempotency_keys.c.subject)
        )
        return inserted.first() is not None
