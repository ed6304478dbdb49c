"""Referrals, their routing attempts (explanations) and history on PostgreSQL (see
app/ports.py for the contract). History notes are sealed with `NoteCipher` on the way in
and opened on the way out; erasure deletes the ciphertexts."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_common.pagination import keyset_after
from mpa_contracts.vocabularies import (
    CancelReason,
    ConsentOverrideReason,
    NeedCategory,
    OutcomeCode,
    ReferralState,
    ReferralStatusReason,
    UnroutableReason,
    Urgency,
)
from mpa_referral.adapters.notes import NoteCipher
from mpa_referral.adapters.tables import referral_history, referrals, routing_attempts
from mpa_referral.adapters.write_buffer import WriteBuffer
from mpa_referral.app.ports import ReferralFilter
from mpa_referral.domain.lifecycle import TURNED_DOWN, AttemptResponse
from mpa_referral.domain.mandatory import MandatoryRule
from mpa_referral.domain.referral import HistoryEntry, Referral, RoutingAttempt, StatusReason
from mpa_referral.domain.routing import CandidateEvaluation, RoutingRule

# Every stored field of the aggregate (its recorded changes are not a column).
_FIELDS = (
    "id",
    "case_id",
    "need_id",
    "category",
    "urgency",
    "country",
    "state",
    "requested_by",
    "partner_id",
    "service_id",
    "holds_capacity",
    "attempt",
    "reroute_count",
    "mandatory_rule",
    "chosen_service_id",
    "consent_override_reason",
    "routed_at",
    "acceptance_due_at",
    "accepted_at",
    "closed_at",
    "status_reason",
    "outcome",
)
_UPDATABLE = tuple(f for f in _FIELDS if f not in {"id", "case_id", "need_id", "requested_by"})
# The enum a status reason is read back as, by the state the referral is in.
_STATUS_REASON: dict[ReferralState, Callable[[str], StatusReason]] = {
    ReferralState.UNROUTABLE: UnroutableReason,
    ReferralState.CANCELLED: CancelReason,
    ReferralState.FAILED: ReferralStatusReason,
}


def _status_reason(state: ReferralState, value: str | None) -> StatusReason | None:
    if value is None:
        return None
    reader = _STATUS_REASON.get(state)
    if reader is not None:
        return reader(value)
    for kind in (UnroutableReason, CancelReason, ReferralStatusReason):
        try:
            return kind(value)
        except ValueError:
            continue
    return None


def _referral_of(row: RowMapping) -> Referral:
    state = ReferralState(row["state"])
    rule, override, outcome = row["mandatory_rule"], row["consent_override_reason"], row["outcome"]
    return Referral(
        id=row["id"],
        case_id=row["case_id"],
        need_id=row["need_id"],
        category=NeedCategory(row["category"]),
        urgency=Urgency(row["urgency"]),
        country=row["country"],
        state=state,
        requested_by=row["requested_by"],
        partner_id=row["partner_id"],
        service_id=row["service_id"],
        holds_capacity=row["holds_capacity"],
        attempt=row["attempt"],
        reroute_count=row["reroute_count"],
        mandatory_rule=MandatoryRule(rule) if rule else None,
        chosen_service_id=row["chosen_service_id"],
        consent_override_reason=ConsentOverrideReason(override) if override else None,
        routed_at=row["routed_at"],
        acceptance_due_at=row["acceptance_due_at"],
        accepted_at=row["accepted_at"],
        closed_at=row["closed_at"],
        status_reason=_status_reason(state, row["status_reason"]),
        outcome=OutcomeCode(outcome) if outcome else None,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _row_values(referral: Referral, names: Sequence[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in names:
        value = getattr(referral, name)
        values[name] = value.value if isinstance(value, Enum) else value
    return values


def _candidate_document(e: CandidateEvaluation) -> dict[str, Any]:
    return {
        "service_id": str(e.service_id),
        "partner_id": str(e.partner_id),
        "rule": e.rule.value,
        "passed": e.eligible,
        "score": e.score,
        "rank": e.rank,
        "components": dict(e.components),
    }


def _candidate_of(document: dict[str, Any]) -> CandidateEvaluation:
    return CandidateEvaluation(
        uuid.UUID(document["service_id"]),
        uuid.UUID(document["partner_id"]),
        RoutingRule(document["rule"]),
        document["score"],
        document.get("components") or {},
        document["rank"],
    )


def _attempt_of(row: RowMapping) -> RoutingAttempt:
    response = row["response"]
    return RoutingAttempt(
        attempt=row["attempt"],
        decided_at=row["decided_at"],
        rule_set=row["rule_set"],
        partner_id=row["partner_id"],
        service_id=row["service_id"],
        candidates=tuple(_candidate_of(c) for c in row["candidates"]),
        response=AttemptResponse(response) if response else None,
        responded_at=row["responded_at"],
    )


class SqlReferralRepository:
    def __init__(
        self,
        session: AsyncSession,
        notes: NoteCipher,
        buffer: WriteBuffer,
        *,
        on_record_changed: Callable[[uuid.UUID], None] = lambda partner_id: None,
    ) -> None:
        self._session = session
        self._notes = notes
        self._buffer = buffer
        # Told of each partner whose track record an answer changed (the snapshot's cue).
        self._on_record_changed = on_record_changed

    # ---- referrals ------------------------------------------------------------------

    async def add(self, referral: Referral) -> None:
        referral.created_at = referral.updated_at = datetime.now(UTC)
        self._buffer.add(
            referrals,
            {
                **_row_values(referral, _FIELDS),
                "created_at": referral.created_at,
                "updated_at": referral.updated_at,
            },
        )

    async def update(self, referral: Referral) -> None:
        await self._buffer.flush()
        referral.updated_at = datetime.now(UTC)
        await self._session.execute(
            update(referrals)
            .where(referrals.c.id == referral.id)
            .values(**_row_values(referral, _UPDATABLE), updated_at=referral.updated_at)
        )

    async def get(
        self, referral_id: uuid.UUID, *, for_update: bool = False, skip_locked: bool = False
    ) -> Referral | None:
        await self._buffer.flush()
        query = select(referrals).where(referrals.c.id == referral_id)
        if for_update:
            query = query.with_for_update(skip_locked=skip_locked)
        row = (await self._session.execute(query)).mappings().first()
        return None if row is None else _referral_of(row)

    async def of_case(
        self,
        case_id: uuid.UUID,
        *,
        states: Collection[ReferralState] | None = None,
        for_update: bool = False,
    ) -> list[Referral]:
        await self._buffer.flush()
        query = select(referrals).where(referrals.c.case_id == case_id).order_by(referrals.c.id)
        if states is not None:
            query = query.where(referrals.c.state.in_([s.value for s in states]))
        if for_update:
            query = query.with_for_update()
        return [_referral_of(row) for row in (await self._session.execute(query)).mappings()]

    async def held(
        self,
        *,
        states: Collection[ReferralState],
        partner_id: uuid.UUID | None = None,
        service_id: uuid.UUID | None = None,
    ) -> list[Referral]:
        await self._buffer.flush()
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
        return [_referral_of(row) for row in (await self._session.execute(query)).mappings()]

    async def retryable_unroutable(
        self, category: NeedCategory, countries: Collection[str], reasons: Collection[str]
    ) -> list[uuid.UUID]:
        await self._buffer.flush()
        rows = await self._session.execute(
            select(referrals.c.id)
            .where(referrals.c.state == ReferralState.UNROUTABLE.value)
            .where(referrals.c.category == category.value)
            .where(referrals.c.country.in_(list(countries)))
            .where(referrals.c.status_reason.in_(list(reasons)))
            .order_by(referrals.c.created_at, referrals.c.id)
        )
        return [row[0] for row in rows]

    async def page(
        self, where: ReferralFilter, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Referral]:
        await self._buffer.flush()
        conditions: list[ColumnElement[bool]] = []
        c = referrals.c
        for column, value in (
            (c.partner_id, where.partner_id),
            (c.case_id, where.case_id),
            (c.state, where.state.value if where.state else None),
            (c.urgency, where.urgency.value if where.urgency else None),
            (c.category, where.category.value if where.category else None),
        ):
            if value is not None:
                conditions.append(column == value)
        if where.created_from is not None:
            conditions.append(c.created_at >= where.created_from)
        if where.created_to is not None:
            conditions.append(c.created_at < where.created_to)
        if after is not None:
            conditions.append(keyset_after([c.created_at, c.id], after, descending=True))
        query = select(referrals).order_by(c.created_at.desc(), c.id.desc()).limit(limit)
        if conditions:
            query = query.where(and_(*conditions))
        return [_referral_of(row) for row in (await self._session.execute(query)).mappings()]

    async def outcomes_by_need(
        self, case_id: uuid.UUID
    ) -> dict[uuid.UUID, list[tuple[ReferralState, str | None]]]:
        await self._buffer.flush()
        rows = await self._session.execute(
            select(referrals.c.need_id, referrals.c.state, referrals.c.status_reason).where(
                referrals.c.case_id == case_id
            )
        )
        found: dict[uuid.UUID, list[tuple[ReferralState, str | None]]] = {}
        for need_id, state, reason in rows:
            found.setdefault(need_id, []).append((ReferralState(state), reason))
        return found

    # ---- routing attempts -------------------------------------------------------------

    async def add_attempt(self, referral_id: uuid.UUID, attempt: RoutingAttempt) -> None:
        self._buffer.add(
            routing_attempts,
            {
                "referral_id": referral_id,
                "attempt": attempt.attempt,
                "decided_at": attempt.decided_at,
                "rule_set": attempt.rule_set,
                "partner_id": attempt.partner_id,
                "service_id": attempt.service_id,
                "candidates": [_candidate_document(e) for e in attempt.candidates],
            },
        )

    async def record_response(
        self,
        referral_id: uuid.UUID,
        attempt: int,
        response: AttemptResponse,
        partner_id: uuid.UUID | None,
    ) -> None:
        await self._buffer.flush()
        await self._session.execute(
            update(routing_attempts)
            .where(routing_attempts.c.referral_id == referral_id)
            .where(routing_attempts.c.attempt == attempt)
            .where(routing_attempts.c.response.is_(None))
            .values(response=response.value, responded_at=func.now())
        )
        if partner_id is not None:
            self._on_record_changed(partner_id)

    async def attempts_of(self, referral_id: uuid.UUID) -> list[RoutingAttempt]:
        await self._buffer.flush()
        rows = await self._session.execute(
            select(routing_attempts)
            .where(routing_attempts.c.referral_id == referral_id)
            .order_by(routing_attempts.c.attempt)
        )
        return [_attempt_of(row) for row in rows.mappings()]

    async def tried_service_ids(self, referral_id: uuid.UUID) -> frozenset[uuid.UUID]:
        await self._buffer.flush()
        rows = await self._session.execute(
            select(routing_attempts.c.service_id)
            .where(routing_attempts.c.referral_id == referral_id)
            .where(routing_attempts.c.service_id.is_not(None))
            .where(routing_attempts.c.response.in_([r.value for r in TURNED_DOWN]))
        )
        return frozenset(row[0] for row in rows)

    # ---- history ----------------------------------------------------------------------

    async def add_history(self, referral_id: uuid.UUID, entries: Sequence[HistoryEntry]) -> None:
        self._buffer.add(
            referral_history,
            *(
                {
                    "referral_id": referral_id,
                    "at": entry.at,
                    "actor_id": entry.actor_id,
                    "actor_role": entry.actor_role,
                    "from_state": entry.from_state.value if entry.from_state else None,
                    "to_state": entry.to_state.value,
                    "event_type": entry.event_type,
                    "event_id": entry.event_id,
                    "reason": entry.reason,
                    "partner_id": entry.partner_id,
                    "note_sealed": self._notes.seal(referral_id, entry.event_id, entry.note)
                    if entry.note
                    else None,
                }
                for entry in entries
            ),
        )

    async def history_of(self, referral_id: uuid.UUID) -> list[HistoryEntry]:
        await self._buffer.flush()
        rows = await self._session.execute(
            select(referral_history)
            .where(referral_history.c.referral_id == referral_id)
            .order_by(referral_history.c.id)
        )
        return [self._entry_of(row) for row in rows.mappings()]

    def _entry_of(self, row: RowMapping) -> HistoryEntry:
        sealed = row["note_sealed"]
        from_state = row["from_state"]
        return HistoryEntry(
            at=row["at"],
            actor_id=row["actor_id"],
            actor_role=row["actor_role"],
            from_state=ReferralState(from_state) if from_state else None,
            to_state=ReferralState(row["to_state"]),
            event_type=row["event_type"],
            event_id=row["event_id"],
            reason=row["reason"],
            note=self._notes.open(row["referral_id"], row["event_id"], sealed)
            if sealed is not None
            else None,
            partner_id=row["partner_id"],
            note_erased=row["note_erased"],
        )

    async def erase_notes(self, case_id: uuid.UUID) -> int:
        await self._buffer.flush()
        result = await self._session.execute(
            update(referral_history)
            .where(
                referral_history.c.referral_id.in_(
                    select(referrals.c.id).where(referrals.c.case_id == case_id)
                )
            )
            .where(referral_history.c.note_sealed.is_not(None))
            .values(note_sealed=None, note_erased=True)
            .returning(referral_history.c.id)
        )
        return len(result.all())
