"""Referrals, their routing attempts (explanations) and history: rows in and out."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_contracts.vocabularies import NeedCategory, ReferralState, Urgency
from mpa_referral.adapters.tables import referral_history, referrals, routing_attempts
from mpa_referral.domain.referral import Referral
from mpa_referral.domain.routing import PartnerRecord

_COLUMNS = tuple(f.name for f in fields(Referral))
_UPDATABLE = tuple(c for c in _COLUMNS if c not in {"id", "case_id", "need_id", "created_at"})


def referral_from_row(row: RowMapping) -> Referral:
    values = {name: row[name] for name in _COLUMNS}
    values["category"] = NeedCategory(values["category"])
    values["urgency"] = Urgency(values["urgency"])
    values["state"] = ReferralState(values["state"])
    return Referral(**values)


def _row_values(referral: Referral, names: Sequence[str]) -> dict[str, Any]:
    values = {name: getattr(referral, name) for name in names}
    for name in ("category", "urgency", "state"):
        if name in values:
            values[name] = values[name].value
    return values


async def insert_referral(session: AsyncSession, referral: Referral) -> None:
    values = _row_values(referral, [c for c in _COLUMNS if c not in {"created_at", "updated_at"}])
    await session.execute(referrals.insert().values(**values))


async def save_referral(session: AsyncSession, referral: Referral) -> None:
    values = _row_values(referral, [c for c in _UPDATABLE if c != "updated_at"])
    await session.execute(
        update(referrals)
        .where(referrals.c.id == referral.id)
        .values(**values, updated_at=func.now())
    )


async def get_referral(
    session: AsyncSession,
    referral_id: uuid.UUID,
    *,
    for_update: bool = False,
    skip_locked: bool = False,
) -> Referral | None:
    query = select(referrals).where(referrals.c.id == referral_id)
    if for_update:
        query = query.with_for_update(skip_locked=skip_locked)
    row = (await session.execute(query)).mappings().first()
    return None if row is None else referral_from_row(row)


async def referrals_of_case(
    session: AsyncSession,
    case_id: uuid.UUID,
    *,
    states: Collection[ReferralState] | None = None,
    for_update: bool = False,
) -> list[Referral]:
    query = select(referrals).where(referrals.c.case_id == case_id).order_by(referrals.c.id)
    if states is not None:
        query = query.where(referrals.c.state.in_([s.value for s in states]))
    if for_update:
        query = query.with_for_update()
    return [referral_from_row(row) for row in (await session.execute(query)).mappings()]


async def referrals_held(
    session: AsyncSession,
    *,
    states: Collection[ReferralState],
    partner_id: uuid.UUID | None = None,
    service_id: uuid.UUID | None = None,
) -> list[Referral]:
    """The referrals in `states` a partner (or one of its services) holds, locked."""
    query = (
        select(referrals)
        .where(referrals.c.state.in_([s.value for s in states]))
        .order_by(referrals.c.created_at, referrals.c.id)
        .with_for_update()
    )
    if partner_id is not None:
        query = query.where(referrals.c.partner_id == partner_id)
    if service_id is not None:
        query = query.where(referrals.c.service_id == service_id)
    return [referral_from_row(row) for row in (await session.execute(query)).mappings()]


async def retryable_unroutable(
    session: AsyncSession,
    category: NeedCategory,
    countries: Collection[str],
    reasons: Collection[str],
) -> list[uuid.UUID]:
    rows = await session.execute(
        select(referrals.c.id)
        .where(referrals.c.state == ReferralState.UNROUTABLE.value)
        .where(referrals.c.category == category.value)
        .where(referrals.c.country.in_(list(countries)))
        .where(referrals.c.status_reason.in_(list(reasons)))
        .order_by(referrals.c.created_at)
    )
    return [row[0] for row in rows]


async def list_referrals(
    session: AsyncSession,
    *,
    partner_id: uuid.UUID | None,
    case_id: uuid.UUID | None,
    state: ReferralState | None,
    urgency: Urgency | None,
    category: NeedCategory | None,
    created_from: datetime | None,
    created_to: datetime | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Referral]:
    """Newest first; `after` is the (created_at, id) of the last referral of the previous page."""
    query = (
        select(referrals)
        .order_by(referrals.c.created_at.desc(), referrals.c.id.desc())
        .limit(limit)
    )
    conditions = []
    if partner_id is not None:
        conditions.append(referrals.c.partner_id == partner_id)
    if case_id is not None:
        conditions.append(referrals.c.case_id == case_id)
    if state is not None:
        conditions.append(referrals.c.state == state.value)
    if urgency is not None:
        conditions.append(referrals.c.urgency == urgency.value)
    if category is not None:
        conditions.append(referrals.c.category == category.value)
    if created_from is not None:
        conditions.append(referrals.c.created_at >= created_from)
    if created_to is not None:
        conditions.append(referrals.c.created_at < created_to)
    if after is not None:
        created, last_id = after
        conditions.append(
            or_(
                referrals.c.created_at < created,
                and_(referrals.c.created_at == created, referrals.c.id < last_id),
            )
        )
    if conditions:
        query = query.where(and_(*conditions))
    return [referral_from_row(row) for row in (await session.execute(query)).mappings()]


async def referral_outcomes_by_need(
    session: AsyncSession, case_id: uuid.UUID
) -> dict[uuid.UUID, list[tuple[ReferralState, str | None]]]:
    """Each need of the case that has referrals, with their states and status reasons."""
    rows = await session.execute(
        select(referrals.c.need_id, referrals.c.state, referrals.c.status_reason).where(
            referrals.c.case_id == case_id
        )
    )
    found: dict[uuid.UUID, list[tuple[ReferralState, str | None]]] = {}
    for need_id, state, reason in rows:
        found.setdefault(need_id, []).append((ReferralState(state), reason))
    return found


async def add_attempt(
    session: AsyncSession,
    *,
    referral_id: uuid.UUID,
    attempt: int,
    decided_at: datetime,
    rule_set: str,
    partner_id: uuid.UUID | None,
    service_id: uuid.UUID | None,
    candidates: list[dict[str, Any]],
) -> None:
    await session.execute(
        routing_attempts.insert().values(
            referral_id=referral_id,
            attempt=attempt,
            decided_at=decided_at,
            rule_set=rule_set,
            partner_id=partner_id,
            service_id=service_id,
            candidates=candidates,
        )
    )


async def record_response(
    session: AsyncSession, referral_id: uuid.UUID, attempt: int, response: str
) -> None:
    await session.execute(
        update(routing_attempts)
        .where(routing_attempts.c.referral_id == referral_id)
        .where(routing_attempts.c.attempt == attempt)
        .where(routing_attempts.c.response.is_(None))
        .values(response=response, responded_at=func.now())
    )


async def attempts_of(session: AsyncSession, referral_id: uuid.UUID) -> Sequence[RowMapping]:
    return (
        (
            await session.execute(
                select(routing_attempts)
                .where(routing_attempts.c.referral_id == referral_id)
                .order_by(routing_attempts.c.attempt)
            )
        )
        .mappings()
        .all()
    )


async def tried_service_ids(session: AsyncSession, referral_id: uuid.UUID) -> frozenset[uuid.UUID]:
    """Services that turned this referral down (declined it or let its SLA pass). One that
    only lost it by leaving the directory may take it again once it is back."""
    rows = await session.execute(
        select(routing_attempts.c.service_id)
        .where(routing_attempts.c.referral_id == referral_id)
        .where(routing_attempts.c.service_id.is_not(None))
        .where(routing_attempts.c.response.in_(("declined", "sla_breached")))
    )
    return frozenset(row[0] for row in rows)


_DECIDED = ("accepted", "declined", "sla_breached")


async def partner_records(
    session: AsyncSession, partner_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, PartnerRecord]:
    """Each partner's acceptance rate and median response time over its answers so far."""
    if not partner_ids:
        return {}
    response_seconds = func.extract(
        "epoch", routing_attempts.c.responded_at - routing_attempts.c.decided_at
    )
    rows = await session.execute(
        select(
            routing_attempts.c.partner_id,
            func.count().filter(routing_attempts.c.response == "accepted"),
            func.count().filter(routing_attempts.c.response.in_(_DECIDED)),
            func.percentile_cont(0.5)
            .within_group(response_seconds)
            .filter(routing_attempts.c.response.in_(("accepted", "declined"))),
        )
        .where(routing_attempts.c.partner_id.in_(list(partner_ids)))
        .group_by(routing_attempts.c.partner_id)
    )
    records: dict[uuid.UUID, PartnerRecord] = {}
    for partner_id, accepted, decided, median in rows:
        records[partner_id] = PartnerRecord(
            acceptance_rate=accepted / decided if decided else None,
            median_response_seconds=float(median) if median is not None else None,
        )
    return records


async def add_history(
    session: AsyncSession,
    *,
    referral_id: uuid.UUID,
    actor_id: str,
    actor_role: str,
    from_state: ReferralState | None,
    to_state: ReferralState,
    event_type: str,
    event_id: uuid.UUID,
    reason: str | None = None,
    note: str | None = None,
) -> None:
    await session.execute(
        referral_history.insert().values(
            referral_id=referral_id,
            actor_id=actor_id,
            actor_role=actor_role,
            from_state=from_state.value if from_state else None,
            to_state=to_state.value,
            event_type=event_type,
            event_id=event_id,
            reason=reason,
            note=note,
        )
    )


async def history_of(session: AsyncSession, referral_id: uuid.UUID) -> Sequence[RowMapping]:
    return (
        (
            await session.execute(
                select(referral_history)
                .where(referral_history.c.referral_id == referral_id)
                .order_by(referral_history.c.id)
            )
        )
        .mappings()
        .all()
    )


async def case_of(session: AsyncSession, referral_id: uuid.UUID) -> uuid.UUID | None:
    found = await session.execute(select(referrals.c.case_id).where(referrals.c.id == referral_id))
    row = found.first()
    return None if row is None else row[0]
