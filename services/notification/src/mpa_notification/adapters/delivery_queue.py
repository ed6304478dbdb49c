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
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_common.driver import driver_of
from mpa_notification.adapters.records import delivery_of, endpoint_of
from mpa_notification.adapters.tables import deliveries, endpoints
from mpa_notification.domain.models import (
    Attempt,
    Claim,
    Claimed,
    Delivery,
    DeliveryState,
    Endpoint,
)

# One claim at a time per schema (the deployment's tables), across every replica.
_CLAIM_LOCK = "hashtext('mpa-notification-claim:' || current_schema())"
_CLAIM_LOCK_SQL = f"SELECT pg_advisory_xact_lock({_CLAIM_LOCK})"

# An endpoint's columns beside a delivery's in one row (`e_` before each name: the two
# tables share column names), so that claiming and recording read both in one statement.
_ENDPOINT_COLUMNS = ", ".join(f"e.{c.name} AS e_{c.name}" for c in endpoints.c)
_DELIVERY_COLUMNS = ", ".join(f"d.{c.name}" for c in deliveries.c)


class _EndpointColumns:
    """The `e_`-prefixed endpoint columns of a joined row, by their own names."""

    __slots__ = ("_row",)

    def __init__(self, row: asyncpg.Record) -> None:
        self._row = row

    def __getitem__(self, key: str) -> Any:
        return self._row["e_" + key]


def _joined_endpoint(row: asyncpg.Record) -> Endpoint | None:
    return endpoint_of(_EndpointColumns(row)) if row["e_id"] is not None else None


# Claims a bounded window of due rows within every lane's room and leases them, in one
# statement ($1 window, $2 e-mail cap, $3 default endpoint cap, $4 limit, $5 lease seconds).
_CLAIM_SQL = f"""
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
           CASE WHEN a.endpoint_id IS NULL THEN $2 - a.in_flight
                ELSE least(coalesce(e.max_in_flight, $3)
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
    LIMIT $1
),
due AS (
    SELECT w.id,
           row_number() OVER (
               PARTITION BY w.endpoint_id ORDER BY w.next_attempt_at
           ) AS lane_rank,
           coalesce(
               r.room,
               CASE WHEN w.endpoint_id IS NULL THEN $2
                    ELSE least(coalesce(e.max_in_flight, $3),
                               e.rate_limit_per_second)
               END
           ) AS lane_room
    FROM window_rows w
    LEFT JOIN endpoints e ON e.id = w.endpoint_id
    LEFT JOIN active_room r
        ON r.endpoint_id IS NOT DISTINCT FROM w.endpoint_id
    WHERE w.endpoint_id IS NULL OR (e.enabled AND e.deleted_at IS NULL)
),
picked AS (
    SELECT d.id, d.endpoint_id
    FROM deliveries d JOIN due ON due.id = d.id
    WHERE due.lane_rank <= due.lane_room
      AND d.state = 'pending' AND d.next_attempt_at <= statement_timestamp()
    ORDER BY d.next_attempt_at
    LIMIT $4
    FOR UPDATE OF d SKIP LOCKED
),
claimed AS (
    UPDATE deliveries
    SET claimed_at = statement_timestamp(),
        leased_until = statement_timestamp() + $5::float8 * interval '1 second',
        next_attempt_at = statement_timestamp() + $5::float8 * interval '1 second'
    FROM picked LEFT JOIN endpoints e ON e.id = picked.endpoint_id
    WHERE deliveries.id = picked.id
    RETURNING deliveries.*, {_ENDPOINT_COLUMNS}
),
rest AS (
    -- When the earliest pending row left is due (what next_due_in answers): the idle
    -- dispatcher's wait, without a statement of its own.
    SELECT extract(epoch FROM min(d.next_attempt_at) - statement_timestamp())::float8
               AS due_in
    FROM deliveries d LEFT JOIN endpoints e ON e.id = d.endpoint_id
    WHERE d.state = 'pending'
      AND (d.endpoint_id IS NULL OR (e.enabled AND e.deleted_at IS NULL))
      AND NOT EXISTS (SELECT 1 FROM picked p WHERE p.id = d.id)
)
-- One row at least: the claimed rows (none: NULLs), each with `rest_due_in`.
SELECT claimed.*, rest.due_in AS rest_due_in FROM rest LEFT JOIN claimed ON true
"""  # noqa: S608 - constants only

# Ended attempts' lanes: their leases end early, if they are still this dispatcher's.
# SKIP LOCKED: a row locked now is being recorded (which ends its lease anyway); waiting for
# it would take row locks in another order than the recorder's and deadlock with it.
_RELEASE_SQL = """
UPDATE deliveries d SET leased_until = NULL
FROM (
    SELECT l.id FROM deliveries l
    JOIN unnest($1::uuid[], $2::timestamptz[]) AS e(id, leased_until)
      ON l.id = e.id AND l.leased_until = e.leased_until
    FOR UPDATE OF l SKIP LOCKED
) AS free
WHERE d.id = free.id
"""

# When the dispatcher may next find work: the earliest pending delivery a claim could take
# (the claim's own filter on endpoints), in the database's clock as the claim compares it.
_NEXT_DUE_SQL = """
SELECT extract(epoch FROM min(d.next_attempt_at) - statement_timestamp())::float8
FROM deliveries d LEFT JOIN endpoints e ON e.id = d.endpoint_id
WHERE d.state = 'pending'
  AND (d.endpoint_id IS NULL OR (e.enabled AND e.deleted_at IS NULL))
"""

# The deliveries an attempt batch records, locked in id order (replicas recording
# overlapping batches cannot deadlock), each with its endpoint if live (not locked).
_LOCK_WITH_ENDPOINTS_SQL = f"""
SELECT {_DELIVERY_COLUMNS}, {_ENDPOINT_COLUMNS}
FROM deliveries d LEFT JOIN endpoints e ON e.id = d.endpoint_id AND e.deleted_at IS NULL
WHERE d.id = ANY($1)
ORDER BY d.id
FOR UPDATE OF d
"""  # noqa: S608 - constants only

_ADD_ATTEMPTS_SQL = """
INSERT INTO delivery_attempts
    (delivery_id, attempt, started_at, latency_ms, status_code, failure, error)
SELECT * FROM unnest(
    $1::uuid[], $2::int[], $3::timestamptz[], $4::int[], $5::int[], $6::text[], $7::text[]
)
"""

# The attempt is over: its lease no longer counts against the lane's limits.
_SAVE_OUTCOMES_SQL = """
UPDATE deliveries d
SET state = o.state, attempts = o.attempts, schedule_position = o.position,
    next_attempt_at = o.next_attempt_at, last_failure = o.failure,
    last_status_code = o.status, delivered_at = o.delivered_at,
    leased_until = NULL, updated_at = now()
FROM unnest(
    $1::uuid[], $2::text[], $3::int[], $4::int[], $5::timestamptz[], $6::text[], $7::int[],
    $8::timestamptz[]
) AS o(id, state, attempts, position, next_attempt_at, failure, status, delivered_at)
WHERE d.id = o.id
"""


# Both at once when a batch has both (it always has): one round trip. The CTE's insert and
# the update touch different tables; the deliveries are locked already (`lock`).
_RECORD_SQL = """
WITH logged AS (
    INSERT INTO delivery_attempts
        (delivery_id, attempt, started_at, latency_ms, status_code, failure, error)
    SELECT * FROM unnest(
        $1::uuid[], $2::int[], $3::timestamptz[], $4::int[], $5::int[], $6::text[], $7::text[]
    )
)
UPDATE deliveries d
SET state = o.state, attempts = o.attempts, schedule_position = o.position,
    next_attempt_at = o.next_attempt_at, last_failure = o.failure,
    last_status_code = o.status, delivered_at = o.delivered_at,
    leased_until = NULL, updated_at = now()
FROM unnest(
    $8::uuid[], $9::text[], $10::int[], $11::int[], $12::timestamptz[], $13::text[],
    $14::int[], $15::timestamptz[]
) AS o(id, state, attempts, position, next_attempt_at, failure, status, delivered_at)
WHERE d.id = o.id
"""


class SqlDeliveryQueue:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(
        self,
        *,
        limit: int,
        endpoint_cap: int,
        email_cap: int,
        lease_seconds: float,
        ended: Collection[tuple[uuid.UUID, datetime]] = (),
    ) -> Claim:
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
        driver = await self._driver()
        await driver.execute(_CLAIM_LOCK_SQL)
        if ended:
            # Only while the lease is still the one this dispatcher took: a delivery whose
            # lease ran out may be in flight at another replica now.
            ids, untils = zip(*ended, strict=True)
            await driver.execute(_RELEASE_SQL, list(ids), list(untils))
        leased = await driver.fetch(
            _CLAIM_SQL, max(limit * 8, 200), email_cap, endpoint_cap, limit, lease_seconds
        )
        # The endpoints come in the claim's own rows (joined): no second statement; and
        # when the next delivery is due (the leases taken end then at the latest).
        claimed = [
            Claimed(delivery_of(row), _joined_endpoint(row))
            for row in leased
            if row["id"] is not None
        ]
        claimed.sort(key=lambda c: c.delivery.created_at)
        due_in: float | None = leased[0]["rest_due_in"]
        if claimed:
            due_in = lease_seconds if due_in is None else min(due_in, lease_seconds)
        return Claim(claimed, due_in)

    async def _driver(self, *, transaction: bool = True) -> asyncpg.Connection:
        return await driver_of(self._session, transaction=transaction)

    async def next_due_in(self) -> float | None:
        # One statement on its own (no BEGIN, no ROLLBACK): a read that locks nothing.
        driver = await self._driver(transaction=False)
        seconds = await driver.fetchval(_NEXT_DUE_SQL)
        return None if seconds is None else float(seconds)

    async def lock(self, delivery_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Delivery]:
        if not delivery_ids:
            return {}
        driver = await self._driver()
        rows = await driver.fetch(
            # In id order: replicas recording overlapping batches cannot deadlock.
            "SELECT * FROM deliveries WHERE id = ANY($1) ORDER BY id FOR UPDATE",
            list(delivery_ids),
        )
        return {row["id"]: delivery_of(row) for row in rows}

    async def lock_with_endpoints(
        self, delivery_ids: Collection[uuid.UUID]
    ) -> tuple[dict[uuid.UUID, Delivery], dict[uuid.UUID, Endpoint]]:
        if not delivery_ids:
            return {}, {}
        driver = await self._driver()
        rows = await driver.fetch(_LOCK_WITH_ENDPOINTS_SQL, list(delivery_ids))
        deliveries: dict[uuid.UUID, Delivery] = {}
        endpoints: dict[uuid.UUID, Endpoint] = {}
        for row in rows:
            deliveries[row["id"]] = delivery_of(row)
            endpoint = _joined_endpoint(row)
            if endpoint is not None:
                endpoints[endpoint.id] = endpoint
        return deliveries, endpoints

    async def record(
        self, attempts: Sequence[tuple[uuid.UUID, Attempt]], outcomes: Sequence[Delivery]
    ) -> None:
        driver = await self._driver()
        logged = (
            [delivery_id for delivery_id, _ in attempts],
            [a.attempt for _, a in attempts],
            [a.started_at for _, a in attempts],
            [a.latency_ms for _, a in attempts],
            [a.status_code for _, a in attempts],
            [a.failure for _, a in attempts],
            [a.error for _, a in attempts],
        )
        saved = (
            [d.id for d in outcomes],
            [d.state.value for d in outcomes],
            [d.attempts for d in outcomes],
            [d.schedule_position for d in outcomes],
            [d.next_attempt_at for d in outcomes],
            [d.last_failure for d in outcomes],
            [d.last_status_code for d in outcomes],
            [d.delivered_at for d in outcomes],
        )
        if attempts and outcomes:
            await driver.execute(_RECORD_SQL, *logged, *saved)
        elif attempts:
            await driver.execute(_ADD_ATTEMPTS_SQL, *logged)
        elif outcomes:
            await driver.execute(_SAVE_OUTCOMES_SQL, *saved)

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
        return delivery_of(row._mapping) if row else None

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
