"""The delivery queue: deliveries as the dispatcher's work. Due ones are claimed under
every lane's limits and leased; attempts' results are recorded in bulk; an endpoint's
pending messages are failed or re-queued together.

Apart from the repositories (`repositories.SqlDeliveryLog` reads the same table as a log)
because its statements are the dispatcher's hot path and its concurrency rules — advisory
lock, SKIP LOCKED, leases — are its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_notification.adapters.records import delivery_of, endpoint_of
from mpa_notification.adapters.tables import deliveries, delivery_attempts, endpoints
from mpa_notification.domain.models import Attempt, Claimed, Delivery, DeliveryState, Endpoint

# One claim at a time per schema (the deployment's tables), across every replica.
_CLAIM_LOCK = "hashtext('mpa-notification-claim:' || current_schema())"


class SqlDeliveryQueue:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim_due(
        self, *, limit: int, endpoint_cap: int, email_cap: int, lease_seconds: float
    ) -> list[Claimed]:
        """Takes up to `limit` due deliveries, no more per lane than its limits allow across
        every replica, and leases them.

        A lane is one endpoint, or the SMTP server. What a lane may start now is its max in
        flight (the endpoint's, else `endpoint_cap`; `email_cap` for SMTP) minus the leases
        in flight in every replica, and for an endpoint with a rate limit no more than the
        limit minus the attempts started in the last second. Claims take a transaction-level
        advisory lock (per schema) first, so replicas claim one after another and each sees
        the leases of the claims before it: limits hold across replicas. Rows are locked
        with SKIP LOCKED; the lease moves `next_attempt_at` past the attempt's timeout, so a
        replica that dies mid-attempt leaves the row due again once the lease ends: a
        restart resumes the schedule. Full lanes are left out before the window is cut, so
        a lane with a large backlog can fill one claim's window at most until its slots are
        taken.
        """
        await self._session.execute(text(f"SELECT pg_advisory_xact_lock({_CLAIM_LOCK})"))
        rows = (
            await self._session.execute(
                text(
                    """
                    WITH activity AS (
                        -- Every replica's attempts of each lane (NULL: e-mail) in flight now,
                        -- and started in the last second. Both sets are small and indexed.
                        SELECT d.endpoint_id,
                               count(*) FILTER (
                                   WHERE d.leased_until > statement_timestamp()
                               ) AS in_flight,
                               count(*) FILTER (
                                   WHERE d.claimed_at > statement_timestamp() - interval '1 second'
                               ) AS recent
                        FROM deliveries d
                        WHERE d.leased_until > statement_timestamp()
                           OR d.claimed_at > statement_timestamp() - interval '1 second'
                        GROUP BY d.endpoint_id
                    ),
                    active_room AS (
                        -- What a lane with attempts under way may still start now
                        -- (least() ignores the NULL of an endpoint without a rate limit).
                        SELECT a.endpoint_id,
                               CASE WHEN a.endpoint_id IS NULL THEN :email_cap - a.in_flight
                                    ELSE least(coalesce(e.max_in_flight, :endpoint_cap)
                                                   - a.in_flight,
                                               e.rate_limit_per_second - a.recent)
                               END AS room
                        FROM activity a LEFT JOIN endpoints e ON e.id = a.endpoint_id
                    ),
                    window_rows AS (
                        -- A bounded window of the earliest due rows of lanes that may start
                        -- anything now: the claim's cost does not grow with the backlog.
                        SELECT d.id, d.endpoint_id, d.next_attempt_at
                        FROM deliveries d
                        WHERE d.state = 'pending'
                          AND d.next_attempt_at <= statement_timestamp()
                          AND NOT EXISTS (
                              SELECT 1 FROM active_room r
                              WHERE r.room <= 0
                                AND r.endpoint_id IS NOT DISTINCT FROM d.endpoint_id
                          )
                        ORDER BY d.next_attempt_at
                        LIMIT :window
                    ),
                    due AS (
                        SELECT w.id,
                               row_number() OVER (
                                   PARTITION BY w.endpoint_id ORDER BY w.next_attempt_at
                               ) AS lane_rank,
                               coalesce(
                                   r.room,
                                   CASE WHEN w.endpoint_id IS NULL THEN :email_cap
                                        ELSE least(coalesce(e.max_in_flight, :endpoint_cap),
                                                   e.rate_limit_per_second)
                                   END
                               ) AS lane_room
                        FROM window_rows w
                        LEFT JOIN endpoints e ON e.id = w.endpoint_id
                        LEFT JOIN active_room r
                            ON r.endpoint_id IS NOT DISTINCT FROM w.endpoint_id
                        WHERE w.endpoint_id IS NULL OR (e.enabled AND e.deleted_at IS NULL)
                    )
                    SELECT d.id
                    FROM deliveries d JOIN due ON due.id = d.id
                    WHERE due.lane_rank <= due.lane_room
                      AND d.state = 'pending' AND d.next_attempt_at <= statement_timestamp()
                    ORDER BY d.next_attempt_at
                    LIMIT :limit
                    FOR UPDATE OF d SKIP LOCKED
                    """
                ),
                {
                    "window": max(limit * 8, 200),
                    "email_cap": email_cap,
                    "endpoint_cap": endpoint_cap,
                    "limit": limit,
                },
            )
        ).all()
        ids = [row.id for row in rows]
        if not ids:
            return []
        leased = await self._session.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(ids))
            .values(
                claimed_at=func.statement_timestamp(),
                leased_until=func.statement_timestamp() + timedelta(seconds=lease_seconds),
                next_attempt_at=func.statement_timestamp() + timedelta(seconds=lease_seconds),
            )
            .returning(deliveries)
        )
        claimed = [delivery_of(row) for row in leased]
        endpoint_ids = {d.endpoint_id for d in claimed if d.endpoint_id is not None}
        by_id: dict[uuid.UUID, Endpoint] = {}
        if endpoint_ids:
            found = await self._session.execute(
                select(endpoints).where(endpoints.c.id.in_(endpoint_ids))
            )
            by_id = {row.id: endpoint_of(row) for row in found}
        claimed.sort(key=lambda d: d.created_at)
        return [
            Claimed(d, by_id[d.endpoint_id] if d.endpoint_id is not None else None) for d in claimed
        ]

    async def lock(self, delivery_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Delivery]:
        if not delivery_ids:
            return {}
        rows = await self._session.execute(
            select(deliveries)
            .where(deliveries.c.id.in_(list(delivery_ids)))
            # In id order: replicas recording overlapping batches cannot deadlock.
            .order_by(deliveries.c.id)
            .with_for_update()
        )
        return {row.id: delivery_of(row) for row in rows}

    async def record(
        self, attempts: Sequence[tuple[uuid.UUID, Attempt]], outcomes: Sequence[Delivery]
    ) -> None:
        if attempts:
            await self._session.execute(
                insert(delivery_attempts),
                [
                    {
                        "delivery_id": delivery_id,
                        "attempt": a.attempt,
                        "started_at": a.started_at,
                        "latency_ms": a.latency_ms,
                        "status_code": a.status_code,
                        "failure": a.failure,
                        "error": a.error,
                    }
                    for delivery_id, a in attempts
                ],
            )
        if outcomes:
            # The attempt is over: its lease no longer counts against the lane's limits.
            await self._session.execute(
                update(deliveries)
                .where(deliveries.c.id == bindparam("b_id"))
                .values(
                    state=bindparam("b_state"),
                    attempts=bindparam("b_attempts"),
                    schedule_position=bindparam("b_position"),
                    next_attempt_at=bindparam("b_next"),
                    last_failure=bindparam("b_failure"),
                    last_status_code=bindparam("b_status"),
                    delivered_at=bindparam("b_delivered"),
                    leased_until=None,
                    updated_at=func.now(),
                ),
                [
                    {
                        "b_id": d.id,
                        "b_state": d.state.value,
                        "b_attempts": d.attempts,
                        "b_position": d.schedule_position,
                        "b_next": d.next_attempt_at,
                        "b_failure": d.last_failure,
                        "b_status": d.last_status_code,
                        "b_delivered": d.delivered_at,
                    }
                    for d in outcomes
                ],
            )

    async def reschedule(self, delivery_id: uuid.UUID, at: datetime) -> Delivery | None:
        row = (
            await self._session.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(
                    state=DeliveryState.PENDING.value,
                    schedule_position=0,
                    next_attempt_at=at,
                    updated_at=func.now(),
                )
                .returning(deliveries)
            )
        ).first()
        return delivery_of(row) if row else None

    async def fail_pending_of(self, endpoint_id: uuid.UUID, failure: str) -> int:
        result = await self._session.execute(
            update(deliveries)
            .where(
                deliveries.c.endpoint_id == endpoint_id,
                deliveries.c.state == DeliveryState.PENDING.value,
            )
            .values(
                state=DeliveryState.FAILED.value,
                last_failure=failure,
                next_attempt_at=None,
                updated_at=func.now(),
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def requeue_failed_of(self, endpoint_id: uuid.UUID, since: datetime) -> int:
        result = await self._session.execute(
            update(deliveries)
            .where(
                deliveries.c.endpoint_id == endpoint_id,
                deliveries.c.state == DeliveryState.FAILED.value,
                deliveries.c.created_at >= since,
            )
            .values(
                state=DeliveryState.PENDING.value,
                schedule_position=0,
                next_attempt_at=func.now(),
                updated_at=func.now(),
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
