"""Referral routes: refer by hand, the partner's inbox and actions, explanations, FHIR.

Each route parses, authorises, calls one use case (app/) and shapes its answer; domain
errors become problem+json in api/errors.py.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, ConfigDict, Field

from mpa_common.auth import Principal, Role, require_roles
from mpa_common.request_types import DateTime, Text
from mpa_contracts.vocabularies import (
    CancelReason,
    ConsentOverrideReason,
    HoldReason,
    NeedCategory,
    OutcomeCode,
    ReferralState,
    ReferralStatusReason,
    Urgency,
)
from mpa_referral.api.deps import REFERRERS, Context, actor_of, viewer_of
from mpa_referral.app.actions import ActOnReferral, act_on_referral
from mpa_referral.app.ports import ReferralFilter
from mpa_referral.app.queries import (
    CandidatesQuery,
    ListReferrals,
    ReferralQuery,
    ReferralView,
    get_referral_task,
)
from mpa_referral.app.queries import (
    candidates as candidates_of,
)
from mpa_referral.app.queries import (
    get_referral as get_referral_view,
)
from mpa_referral.app.queries import (
    list_referrals as list_referral_page,
)
from mpa_referral.app.request import RequestReferral, request_referral
from mpa_referral.domain.errors import Forbidden
from mpa_referral.domain.lifecycle import Action
from mpa_referral.domain.referral import Referral
from mpa_referral.domain.routing import CandidateEvaluation

router = APIRouter(prefix="/v1", tags=["referrals"])

Referrer = Annotated[Principal, Depends(require_roles(*REFERRERS))]
Reader = Annotated[Principal, Depends(require_roles(*REFERRERS, Role.PARTNER, Role.AUDITOR))]
PartnerStaff = Annotated[Principal, Depends(require_roles(Role.PARTNER))]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReferralRequest(Strict):
    case_id: uuid.UUID
    need_id: uuid.UUID = Field(description="The need of the case to refer")
    service_id: uuid.UUID | None = Field(
        default=None, description="Refer to this service (hard filters and consent still apply)"
    )
    consent_override_reason: ConsentOverrideReason | None = Field(
        default=None,
        description="Supervisors only, where a life or safety is at risk: refer although the "
        "case has no consent to referral",
    )


class Candidate(BaseModel):
    service_id: uuid.UUID
    partner_id: uuid.UUID
    rule: str = Field(description="`eligible`, or the hard filter the service failed")
    passed: bool
    score: float | None
    rank: int | None
    components: dict[str, float] = Field(description="Score components, each in [0, 1]")


class RoutingAttemptOut(BaseModel):
    attempt: int
    decided_at: datetime
    rule_set: str = Field(examples=["standard", "mandatory:child_protection_authority"])
    partner_id: uuid.UUID | None
    service_id: uuid.UUID | None
    response: str | None
    responded_at: datetime | None
    candidates: list[Candidate]


class HistoryEntry(BaseModel):
    at: datetime
    actor_id: str
    actor_role: str
    from_state: ReferralState | None
    to_state: ReferralState
    event_type: str
    event_id: uuid.UUID
    reason: str | None
    note: str | None


class ReferralOut(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    need_id: uuid.UUID
    category: NeedCategory
    urgency: Urgency
    country: str
    state: ReferralState
    partner_id: uuid.UUID | None
    service_id: uuid.UUID | None
    attempt: int
    reroute_count: int
    mandatory_rule: str | None
    consent_override_reason: str | None
    routed_at: datetime | None
    acceptance_due_at: datetime | None
    accepted_at: datetime | None
    closed_at: datetime | None
    status_reason: str | None
    outcome: str | None
    created_at: datetime | None
    updated_at: datetime | None


class ReferralDetail(ReferralOut):
    explanation: list[RoutingAttemptOut] = Field(
        description="Every routing decision: each candidate considered, the rule that passed "
        "or failed it, its score"
    )
    history: list[HistoryEntry]


class ReferralPage(BaseModel):
    items: list[ReferralOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")


class Note(Strict):
    note: Text | None = Field(
        default=None, max_length=2000, description="Kept in the referral's history, never in events"
    )


class DeclineBody(Note):
    reason: ReferralStatusReason


class HoldBody(Note):
    reason: HoldReason


class CompleteBody(Note):
    outcome: OutcomeCode


class FailBody(Note):
    reason: ReferralStatusReason


class CancelBody(Note):
    reason: CancelReason


def _out(referral: Referral) -> ReferralOut:
    return ReferralOut.model_validate(_fields(referral))


def _fields(referral: Referral) -> dict[str, Any]:
    return {name: getattr(referral, name) for name in ReferralOut.model_fields}


def _candidate(e: CandidateEvaluation) -> Candidate:
    return Candidate(
        service_id=e.service_id,
        partner_id=e.partner_id,
        rule=e.rule.value,
        passed=e.eligible,
        score=e.score,
        rank=e.rank,
        components=dict(e.components),
    )


def _detail(view: ReferralView) -> ReferralDetail:
    return ReferralDetail(
        **_fields(view.referral),
        explanation=[
            RoutingAttemptOut(
                attempt=a.attempt,
                decided_at=a.decided_at,
                rule_set=a.rule_set,
                partner_id=a.partner_id,
                service_id=a.service_id,
                response=a.response.value if a.response else None,
                responded_at=a.responded_at,
                candidates=[_candidate(c) for c in a.candidates],
            )
            for a in view.explanation
        ],
        history=[
            HistoryEntry(
                at=h.at,
                actor_id=h.actor_id,
                actor_role=h.actor_role,
                from_state=h.from_state,
                to_state=h.to_state,
                event_type=h.event_type,
                event_id=h.event_id,
                reason=h.reason,
                note=h.note,
            )
            for h in view.history
        ],
    )


@router.post(
    "/referrals",
    status_code=status.HTTP_201_CREATED,
    summary="Refer one need of a case by hand, optionally to a chosen service",
    responses={
        409: {
            "description": "No consent, case closed, need already referred, or the "
            "chosen service fails a hard filter"
        }
    },
)
async def create_referral(
    body: ReferralRequest, principal: Referrer, ctx: Context
) -> ReferralDetail:
    if body.consent_override_reason is not None and not principal.has(Role.SUPERVISOR):
        raise Forbidden("consent_override_reason: supervisors only")
    view = await request_referral(
        ctx,
        RequestReferral(
            case_id=body.case_id,
            need_id=body.need_id,
            actor=actor_of(principal),
            viewer=viewer_of(principal),
            service_id=body.service_id,
            consent_override_reason=body.consent_override_reason,
        ),
    )
    return _detail(view)


@router.get("/referrals", summary="Referrals, newest first (a partner sees only its own)")
async def list_referrals(
    principal: Reader,
    ctx: Context,
    state: ReferralState | None = None,
    urgency: Urgency | None = None,
    need: Annotated[NeedCategory | None, Query(description="Need category")] = None,
    case_id: uuid.UUID | None = None,
    created_from: DateTime | None = None,
    created_to: DateTime | None = None,
    cursor: Annotated[Text | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ReferralPage:
    page = await list_referral_page(
        ctx,
        ListReferrals(
            viewer=viewer_of(principal),
            where=ReferralFilter(
                case_id=case_id,
                state=state,
                urgency=urgency,
                category=need,
                created_from=created_from,
                created_to=created_to,
            ),
            cursor=cursor,
            limit=limit,
        ),
    )
    return ReferralPage(items=[_out(r) for r in page.items], next_cursor=page.next_cursor)


@router.get(
    "/referrals/{referral_id}", summary="A referral with its routing explanation and history"
)
async def get_referral(referral_id: uuid.UUID, principal: Reader, ctx: Context) -> ReferralDetail:
    return _detail(await get_referral_view(ctx, ReferralQuery(referral_id, viewer_of(principal))))


@router.get("/referrals/{referral_id}/fhir", summary="The referral as an HL7 FHIR R4 Task")
async def get_referral_fhir(
    referral_id: uuid.UUID, principal: Reader, ctx: Context
) -> dict[str, Any]:
    return await get_referral_task(ctx, ReferralQuery(referral_id, viewer_of(principal)))


async def _act(
    ctx: Context,
    referral_id: uuid.UUID,
    action: Action,
    principal: Principal,
    *,
    reason: StrEnum | None = None,
    note: str | None = None,
) -> ReferralView | None:
    return await act_on_referral(
        ctx,
        ActOnReferral(
            referral_id=referral_id,
            action=action,
            actor=actor_of(principal),
            viewer=viewer_of(principal),
            reason=reason,
            note=note,
        ),
    )


async def _acted(
    ctx: Context,
    referral_id: uuid.UUID,
    action: Action,
    principal: Principal,
    *,
    reason: StrEnum | None = None,
    note: str | None = None,
) -> ReferralDetail:
    view = await _act(ctx, referral_id, action, principal, reason=reason, note=note)
    assert view is not None  # the actor holds it still (only a decline lets it go)
    return _detail(view)


@router.post("/referrals/{referral_id}/accept", summary="The partner accepts the referral")
async def accept(
    referral_id: uuid.UUID, principal: PartnerStaff, ctx: Context, body: Note | None = None
) -> ReferralDetail:
    return await _acted(
        ctx, referral_id, Action.ACCEPT, principal, note=body.note if body else None
    )


class Declined(BaseModel):
    id: uuid.UUID
    state: ReferralState = Field(description="Always `declined`: routing has moved on")
    reason: ReferralStatusReason


@router.post(
    "/referrals/{referral_id}/decline",
    summary="The partner declines; routing tries the next candidate",
)
async def decline(
    referral_id: uuid.UUID, body: DeclineBody, principal: PartnerStaff, ctx: Context
) -> Declined:
    # Afterwards the decliner no longer holds the referral, nor learns who does.
    await _act(ctx, referral_id, Action.DECLINE, principal, reason=body.reason, note=body.note)
    return Declined(id=referral_id, state=ReferralState.DECLINED, reason=body.reason)


@router.post("/referrals/{referral_id}/start", summary="The partner starts providing the service")
async def start(
    referral_id: uuid.UUID, principal: PartnerStaff, ctx: Context, body: Note | None = None
) -> ReferralDetail:
    return await _acted(ctx, referral_id, Action.START, principal, note=body.note if body else None)


@router.post("/referrals/{referral_id}/hold", summary="The partner pauses work")
async def hold(
    referral_id: uuid.UUID, body: HoldBody, principal: PartnerStaff, ctx: Context
) -> ReferralDetail:
    return await _acted(
        ctx, referral_id, Action.HOLD, principal, reason=body.reason, note=body.note
    )


@router.post("/referrals/{referral_id}/resume", summary="The partner resumes work")
async def resume(
    referral_id: uuid.UUID, principal: PartnerStaff, ctx: Context, body: Note | None = None
) -> ReferralDetail:
    return await _acted(
        ctx, referral_id, Action.RESUME, principal, note=body.note if body else None
    )


@router.post(
    "/referrals/{referral_id}/complete", summary="The partner finished the service (outcome code)"
)
async def complete(
    referral_id: uuid.UUID, body: CompleteBody, principal: PartnerStaff, ctx: Context
) -> ReferralDetail:
    return await _acted(
        ctx, referral_id, Action.COMPLETE, principal, reason=body.outcome, note=body.note
    )


@router.post("/referrals/{referral_id}/fail", summary="The partner could not deliver the service")
async def fail(
    referral_id: uuid.UUID, body: FailBody, principal: PartnerStaff, ctx: Context
) -> ReferralDetail:
    return await _acted(
        ctx, referral_id, Action.FAIL, principal, reason=body.reason, note=body.note
    )


@router.post("/referrals/{referral_id}/cancel", summary="The referring side cancels the referral")
async def cancel(
    referral_id: uuid.UUID, body: CancelBody, principal: Referrer, ctx: Context
) -> ReferralDetail:
    return await _acted(
        ctx, referral_id, Action.CANCEL, principal, reason=body.reason, note=body.note
    )


@router.get(
    "/cases/{case_id}/candidates",
    summary="Ranked candidate services for one need of a case, before referring by hand",
)
async def candidates(
    case_id: uuid.UUID,
    principal: Referrer,
    ctx: Context,
    need: Annotated[uuid.UUID, Query(description="need_id of the need")],
) -> list[Candidate]:
    found = await candidates_of(ctx, CandidatesQuery(case_id=case_id, need_id=need))
    return [_candidate(e) for e in found]
