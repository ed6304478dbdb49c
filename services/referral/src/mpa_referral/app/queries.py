"""Reads: a referral with its explanation and history as the reader may see them, its FHIR
Task, pages of referrals, the candidates of a need, the referral figures. One unit of work
each; nothing is written."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mpa_common.pagination import InvalidCursor, Page, decode_cursor, encode_cursor
from mpa_referral.app.common import ReferralContext
from mpa_referral.app.ports import ReferralFigures, ReferralFilter, UnitOfWorkPort
from mpa_referral.app.routing import preview
from mpa_referral.domain.disclosure import Viewer, visible_explanation, visible_history
from mpa_referral.domain.errors import InvalidRequest, NotFound
from mpa_referral.domain.fhir import referral_task
from mpa_referral.domain.referral import HistoryEntry, Referral, RoutingAttempt
from mpa_referral.domain.routing import CandidateEvaluation


@dataclass(frozen=True, slots=True)
class ReferralView:
    """A referral, and what of its explanation and history the reader may see."""

    referral: Referral
    explanation: list[RoutingAttempt]
    history: list[HistoryEntry]


async def view_of(uow: UnitOfWorkPort, referral: Referral, viewer: Viewer) -> ReferralView:
    attempts = await uow.referrals.attempts_of(referral.id)
    history = await uow.referrals.history_of(referral.id)
    return ReferralView(
        referral, visible_explanation(viewer, attempts), visible_history(viewer, history)
    )


async def _visible(uow: UnitOfWorkPort, referral_id: uuid.UUID, viewer: Viewer) -> Referral:
    referral = await uow.referrals.get(referral_id)
    if referral is None or not viewer.may_see(referral):
        # The same answer whether it does not exist or belongs to another partner.
        raise NotFound("No such referral")
    return referral


@dataclass(frozen=True, slots=True)
class ReferralQuery:
    referral_id: uuid.UUID
    viewer: Viewer


async def get_referral(ctx: ReferralContext, query: ReferralQuery) -> ReferralView:
    async with ctx.units_of_work() as uow:
        referral = await _visible(uow, query.referral_id, query.viewer)
        return await view_of(uow, referral, query.viewer)


async def get_referral_task(ctx: ReferralContext, query: ReferralQuery) -> dict[str, Any]:
    """The referral as an HL7 FHIR R4 Task; its history as the reader may see it."""
    async with ctx.units_of_work() as uow:
        referral = await _visible(uow, query.referral_id, query.viewer)
        history = visible_history(query.viewer, await uow.referrals.history_of(referral.id))
    return referral_task(referral, [entry.event_id for entry in history])


@dataclass(frozen=True, slots=True)
class ListReferrals:
    viewer: Viewer
    where: ReferralFilter
    cursor: str | None = None
    limit: int = 50


def _page_key(referral: Referral) -> tuple[datetime, uuid.UUID]:
    assert referral.created_at is not None
    return referral.created_at, referral.id


async def list_referrals(ctx: ReferralContext, query: ListReferrals) -> Page[Referral]:
    """Newest first; a partner sees only the referrals it holds."""
    try:
        after = decode_cursor(query.cursor, datetime, uuid.UUID) if query.cursor else None
    except InvalidCursor:
        raise InvalidRequest("cursor", "malformed") from None
    where = query.where
    holder = query.viewer.holder_only
    if holder is not None:
        where = ReferralFilter(
            partner_id=holder,
            case_id=where.case_id,
            state=where.state,
            urgency=where.urgency,
            category=where.category,
            created_from=where.created_from,
            created_to=where.created_to,
        )
    async with ctx.units_of_work() as uow:
        found = await uow.referrals.page(
            where,
            after=(after[0], after[1]) if after else None,
            limit=query.limit + 1,
        )
    return Page.of(found, query.limit, lambda r: encode_cursor(*_page_key(r)))


@dataclass(frozen=True, slots=True)
class CandidatesQuery:
    case_id: uuid.UUID
    need_id: uuid.UUID


async def candidates(ctx: ReferralContext, query: CandidatesQuery) -> list[CandidateEvaluation]:
    """Every service routing would consider for the need now, ranked ones first."""
    async with ctx.units_of_work() as uow:
        case = await uow.cases.get(query.case_id)
        if case is None:
            raise NotFound("No such case")
        need = next(
            (n for n in await uow.cases.needs_of(query.case_id) if n.need_id == query.need_id),
            None,
        )
        if need is None:
            raise NotFound("need: no such need in this case")
        decision = await preview(uow, ctx.policy, case, need)
    return list(decision.evaluations)


@dataclass(frozen=True, slots=True)
class ReportQuery:
    start: datetime
    end: datetime
    country: str | None = None


async def referral_figures(ctx: ReferralContext, query: ReportQuery) -> ReferralFigures:
    if query.start.tzinfo is None or query.end.tzinfo is None:
        raise InvalidRequest("from/to", "a time zone is required")
    if query.end <= query.start:
        raise InvalidRequest("to", "must be after from")
    async with ctx.units_of_work() as uow:
        return await uow.reports.referral_figures(query.start, query.end, query.country)
