"""Reading and writing the service's tables inside a unit of work's session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, any_, func, insert, literal, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_contracts.vocabularies import NotificationChannel
from mpa_notification.adapters.tables import (
    contacts,
    deliveries,
    delivery_attempts,
    endpoints,
    referrals,
)
from mpa_notification.domain.models import (
    Attempt,
    Contact,
    Delivery,
    DeliveryFilter,
    DeliveryState,
    DisabledReason,
    Endpoint,
    KnownReferral,
)
from mpa_notification.domain.routing import Audience


def _endpoint(row: Row[Any]) -> Endpoint:
    m = row._mapping
    return Endpoint(
        id=m["id"],
        partner_id=m["partner_id"],
        url=m["url"],
        description=m["description"],
        event_types=tuple(m["event_types"]),
        enabled=m["enabled"],
        disabled_reason=DisabledReason(m["disabled_reason"]) if m["disabled_reason"] else None,
        rate_limit_per_second=m["rate_limit_per_second"],
        max_in_flight=m["max_in_flight"],
        secret=m["secret"],
        previous_secret=m["previous_secret"],
        previous_secret_expires_at=m["previous_secret_expires_at"],
        failing_since=m["failing_since"],
        consecutive_failures=m["consecutive_failures"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _delivery(row: Row[Any]) -> Delivery:
    m = row._mapping
    return Delivery(
        id=m["id"],
        channel=NotificationChannel(m["channel"]),
        audience=Audience(m["audience"]),
        endpoint_id=m["endpoint_id"],
        email=m["email"],
        contact_id=m["contact_id"],
        language=m["language"],
        partner_id=m["partner_id"],
        event_type=m["event_type"],
        trigger_event_id=m["trigger_event_id"],
        correlation_id=m["correlation_id"],
        referral_id=m["referral_id"],
        case_id=m["case_id"],
        body=m["body"],
        state=DeliveryState(m["state"]),
        attempts=m["attempts"],
        schedule_position=m["schedule_position"],
        next_attempt_at=m["next_attempt_at"],
        last_failure=m["last_failure"],
        last_status_code=m["last_status_code"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        delivered_at=m["delivered_at"],
    )


def _contact(row: Row[Any]) -> Contact:
    m = row._mapping
    return Contact(
        id=m["id"],
        kind=Audience(m["kind"]),
        owner=m["owner"],
        email=m["email"],
        language=m["language"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


class EndpointRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, values: dict[str, Any]) -> Endpoint:
        row = (
            await self._session.execute(insert(endpoints).values(**values).returning(endpoints))
        ).one()
        return _endpoint(row)

    async def get(
        self, endpoint_id: uuid.UUID, *, partner_id: uuid.UUID | None, lock: bool = False
    ) -> Endpoint | None:
        query = select(endpoints).where(
            endpoints.c.id == endpoint_id, endpoints.c.deleted_at.is_(None)
        )
        if partner_id is not None:
            query = query.where(endpoints.c.partner_id == partner_id)
        if lock:
            query = query.with_for_update()
        row = (await self._session.execute(query)).first()
        return _endpoint(row) if row else None

    async def visible(self, *, partner_id: uuid.UUID | None) -> list[Endpoint]:
        query = select(endpoints).where(endpoints.c.deleted_at.is_(None))
        if partner_id is not None:
            query = query.where(endpoints.c.partner_id == partner_id)
        rows = await self._session.execute(query.order_by(endpoints.c.created_at, endpoints.c.id))
        return [_endpoint(row) for row in rows]

    async def subscribed(self, partner_id: uuid.UUID, event_type: str) -> list[Endpoint]:
        rows = await self._session.execute(
            select(endpoints).where(
                endpoints.c.partner_id == partner_id,
                endpoints.c.enabled.is_(True),
                endpoints.c.deleted_at.is_(None),
                literal(event_type) == any_(endpoints.c.event_types),
            )
        )
        return [_endpoint(row) for row in rows]

    async def enabled_of_partner(self, partner_id: uuid.UUID, *, lock: bool) -> list[Endpoint]:
        query = select(endpoints).where(
            endpoints.c.partner_id == partner_id,
            endpoints.c.enabled.is_(True),
            endpoints.c.deleted_at.is_(None),
        )
        rows = await self._session.execute(query.with_for_update() if lock else query)
        return [_endpoint(row) for row in rows]

    async def update(self, endpoint_id: uuid.UUID, values: dict[str, Any]) -> Endpoint:
        row = (
            await self._session.execute(
                update(endpoints)
                .where(endpoints.c.id == endpoint_id)
                .values(**values, updated_at=func.now())
                .returning(endpoints)
            )
        ).one()
        return _endpoint(row)


class DuplicateAddress(Exception):
    """The recipient already has this e-mail address."""


class ContactRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, values: dict[str, Any]) -> Contact | None:
        """The new contact, or None when that kind/owner already has that address."""
        row = (
            await self._session.execute(
                pg_insert(contacts).values(**values).on_conflict_do_nothing().returning(contacts)
            )
        ).first()
        return _contact(row) if row else None

    async def get(self, contact_id: uuid.UUID, *, lock: bool = False) -> Contact | None:
        query = select(contacts).where(contacts.c.id == contact_id)
        row = (await self._session.execute(query.with_for_update() if lock else query)).first()
        return _contact(row) if row else None

    async def find(
        self, *, kind: Audience | None = None, owner: str | None = None
    ) -> list[Contact]:
        query = select(contacts)
        if kind is not None:
            query = query.where(contacts.c.kind == kind.value)
        if owner is not None:
            query = query.where(contacts.c.owner == owner)
        rows = await self._session.execute(query.order_by(contacts.c.created_at, contacts.c.id))
        return [_contact(row) for row in rows]

    async def update(self, contact_id: uuid.UUID, values: dict[str, Any]) -> Contact | None:
        """The changed contact (None if absent); DuplicateAddress if the owner has it already."""
        try:
            async with self._session.begin_nested():
                row = (
                    await self._session.execute(
                        update(contacts)
                        .where(contacts.c.id == contact_id)
                        .values(**values, updated_at=func.now())
                        .returning(contacts)
                    )
                ).first()
        except IntegrityError as error:
            raise DuplicateAddress from error
        return _contact(row) if row else None

    async def delete(self, contact_id: uuid.UUID) -> None:
        await self._session.execute(contacts.delete().where(contacts.c.id == contact_id))


class ReferralRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(
        self,
        referral_id: uuid.UUID,
        case_id: uuid.UUID,
        *,
        state: str | None,
        referrer_actor_id: str | None = None,
        country: str | None = None,
        partner_id: uuid.UUID | None = None,
    ) -> None:
        """Creates or completes what is known of a referral; known facts are not erased."""
        statement = pg_insert(referrals).values(
            referral_id=referral_id,
            case_id=case_id,
            referrer_actor_id=referrer_actor_id,
            country=country,
            partner_id=partner_id,
            state=state,
        )
        excluded = statement.excluded
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[referrals.c.referral_id],
                set_={
                    "referrer_actor_id": func.coalesce(
                        excluded.referrer_actor_id, referrals.c.referrer_actor_id
                    ),
                    "country": func.coalesce(excluded.country, referrals.c.country),
                    "partner_id": func.coalesce(excluded.partner_id, referrals.c.partner_id),
                    "state": func.coalesce(excluded.state, referrals.c.state),
                    "updated_at": func.now(),
                },
            )
        )

    async def get(self, referral_id: uuid.UUID) -> KnownReferral | None:
        row = (
            await self._session.execute(
                select(referrals).where(referrals.c.referral_id == referral_id)
            )
        ).first()
        if row is None:
            return None
        m = row._mapping
        return KnownReferral(
            m["referral_id"], m["case_id"], m["referrer_actor_id"], m["country"], m["partner_id"]
        )


# One claim at a time per schema (the deployment's tables), across every replica.
_CLAIM_LOCK = "hashtext('mpa-notification-claim:' || current_schema())"


@dataclass(frozen=True)
class Claimed:
    delivery: Delivery
    endpoint: Endpoint | None


class DeliveryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_many(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        # One executemany needs the same keys in every row: absent ones become NULL.
        keys = {key for row in rows for key in row}
        await self._session.execute(
            insert(deliveries), [{key: row.get(key) for key in keys} for row in rows]
        )

    async def get(
        self, delivery_id: uuid.UUID, *, partner_id: uuid.UUID | None, lock: bool = False
    ) -> Delivery | None:
        query = select(deliveries).where(deliveries.c.id == delivery_id)
        if partner_id is not None:
            query = query.where(
                deliveries.c.partner_id == partner_id,
                deliveries.c.audience == Audience.PARTNER.value,
            )
        row = (await self._session.execute(query.with_for_update() if lock else query)).first()
        return _delivery(row) if row else None

    async def attempts_of(self, delivery_id: uuid.UUID) -> list[Attempt]:
        rows = await self._session.execute(
            select(delivery_attempts)
            .where(delivery_attempts.c.delivery_id == delivery_id)
            .order_by(delivery_attempts.c.attempt, delivery_attempts.c.id)
        )
        return [
            Attempt(
                attempt=r.attempt,
                started_at=r.started_at,
                latency_ms=r.latency_ms,
                status_code=r.status_code,
                failure=r.failure,
                error=r.error,
            )
            for r in rows
        ]

    async def page(
        self, where: DeliveryFilter, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Delivery]:
        """Newest first; `after` is the (created_at, id) of the last row of the previous page."""
        c = deliveries.c
        query = select(deliveries)
        if where.partner_id is not None:
            query = query.where(
                c.partner_id == where.partner_id, c.audience == Audience.PARTNER.value
            )
        if where.endpoint_id is not None:
            query = query.where(c.endpoint_id == where.endpoint_id)
        if where.state is not None:
            query = query.where(c.state == where.state.value)
        if where.event_type is not None:
            query = query.where(c.event_type == where.event_type)
        if where.channel is not None:
            query = query.where(c.channel == where.channel.value)
        if where.referral_id is not None:
            query = query.where(c.referral_id == where.referral_id)
        if where.since is not None:
            query = query.where(c.created_at >= where.since)
        if where.until is not None:
            query = query.where(c.created_at < where.until)
        if after is not None:
            created, last_id = after
            query = query.where(
                or_(c.created_at < created, and_(c.created_at == created, c.id < last_id))
            )
        rows = await self._session.execute(
            query.order_by(c.created_at.desc(), c.id.desc()).limit(limit)
        )
        return [_delivery(row) for row in rows]

    async def update(self, delivery_id: uuid.UUID, values: dict[str, Any]) -> None:
        await self._session.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery_id)
            .values(**values, updated_at=func.now())
        )

    async def add_attempt(self, delivery_id: uuid.UUID, attempt: Attempt) -> None:
        await self._session.execute(
            insert(delivery_attempts).values(
                delivery_id=delivery_id,
                attempt=attempt.attempt,
                started_at=attempt.started_at,
                latency_ms=attempt.latency_ms,
                status_code=attempt.status_code,
                failure=attempt.failure,
                error=attempt.error,
            )
        )

    async def fail_pending_of_endpoint(self, endpoint_id: uuid.UUID, failure: str) -> int:
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

    async def requeue_failed_of_endpoint(self, endpoint_id: uuid.UUID, since: datetime) -> int:
        """Recovery: failed messages of an endpoint created since a time start a new run."""
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
        claimed = [_delivery(row) for row in leased]
        endpoint_ids = {d.endpoint_id for d in claimed if d.endpoint_id is not None}
        by_id: dict[uuid.UUID, Endpoint] = {}
        if endpoint_ids:
            found = await self._session.execute(
                select(endpoints).where(endpoints.c.id.in_(endpoint_ids))
            )
            by_id = {row.id: _endpoint(row) for row in found}
        claimed.sort(key=lambda d: d.created_at)
        return [
            Claimed(d, by_id[d.endpoint_id] if d.endpoint_id is not None else None) for d in claimed
        ]
