"""Referral routes: refer by hand, the partner's inbox and actions, explanations, FHIR."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from mpa_common.auth import Principal, Role, require_roles
from mpa_common.problems import Problem
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
from mpa_referral.adapters import case_repository as case_repo
from mpa_referral.adapters import directory_repository as directory_repo
from mpa_referral.adapters import referral_repository as referral_repo
from mpa_referral.api.deps import referrals, unit_of_work
from mpa_referral.app.common import Actor, Cause
from mpa_referral.app.referrals import Referrals
from mpa_referral.domain.cases import CaseStatus
from mpa_referral.domain.fhir import referral_task
from mpa_referral.domain.lifecycle import OPEN_STATES, Action
from mpa_referral.domain.mandatory import RULES, MandatoryRule
from mpa_referral.domain.referral import Referral

router = APIRouter(prefix="/v1", tags=["referrals"])

REFERRERS = (Role.OPERATOR, Role.CASEWORKER, Role.SUPERVISOR, Role.ADMIN)
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


def _actor(principal: Principal) -> Actor:
    actor = Actor.of(principal)
    if principal.has(Role.PARTNER) and principal.partner_id is None:
        raise Problem(403, "Forbidden", "A partner token must name its partner (partner_id)")
    return actor


def _visible_to(principal: Principal) -> uuid.UUID | None:
    """The partner whose referrals alone a principal may see; None: all of them."""
    if principal.has(*REFERRERS, Role.AUDITOR):
        return None
    if principal.partner_id is None:
        raise Problem(403, "Forbidden", "A partner token must name its partner (partner_id)")
    return principal.partner_id


async def _detail(request: Request, referral_id: uuid.UUID, principal: Principal) -> ReferralDetail:
    partner = _visible_to(principal)
    async with unit_of_work(request) as uow:
        referral = await referral_repo.get_referral(uow.session, referral_id)
        if referral is None or (partner is not None and referral.partner_id != partner):
            raise Problem(404, "Not found", "No such referral")
        attempts = await referral_repo.attempts_of(uow.session, referral_id)
        history = await referral_repo.history_of(uow.session, referral_id)
    return ReferralDetail(
        **_fields(referral),
        explanation=[RoutingAttemptOut.model_validate(dict(a)) for a in attempts],
        history=[HistoryEntry.model_validate(dict(h)) for h in history],
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
    body: ReferralRequest,
    principal: Referrer,
    request: Request,
    use_cases: Referrals = Depends(referrals),
) -> ReferralDetail:
    actor = Actor.of(principal)
    if body.consent_override_reason is not None and not principal.has(Role.SUPERVISOR):
        raise Problem(403, "Forbidden", "consent_override_reason: supervisors only")
    async with unit_of_work(request) as uow:
        session = uow.session
        case_row = await case_repo.get_case(session, body.case_id, for_update=True)
        if case_row is None:
            raise Problem(404, "Not found", "No such case")
        case = case_repo.profile_from_row(case_row)
        need = next(
            (
                n
                for n in await case_repo.needs_of(session, case.case_id)
                if n.need_id == body.need_id
            ),
            None,
        )
        if need is None:
            raise Problem(404, "Not found", "need_id: no such need in this case")
        if case.status is CaseStatus.CLOSED:
            raise Problem(409, "Conflict", "The case is closed")
        statutory = (
            need.mandatory_rule is not None
            and not RULES[MandatoryRule(need.mandatory_rule)].subject_to_consent
        )
        consented = case.allows_referral(datetime.now(UTC))
        if not (consented or statutory or body.consent_override_reason):
            raise Problem(409, "Conflict", "The case has no consent to referral")
        override = body.consent_override_reason if not consented else None
        chosen_partner = None
        if body.service_id is not None:
            service = await directory_repo.get_service(session, body.service_id)
            if service is None:
                raise Problem(422, "Invalid request", "service_id: no such service")
            if service["category"] != need.category.value:
                raise Problem(
                    422, "Invalid request", "service_id: the service is of another category"
                )
            chosen_partner = service["partner_id"]
        open_referrals = await referral_repo.referrals_of_case(
            session, case.case_id, states=OPEN_STATES
        )
        if any(r.need_id == need.need_id for r in open_referrals):
            raise Problem(409, "Conflict", "need_id: this need has an open referral")
        referral = await use_cases.request(
            uow,
            case,
            need,
            actor,
            Cause(case_row["correlation_id"]),
            mandatory_rule=MandatoryRule(need.mandatory_rule) if need.mandatory_rule else None,
            chosen_service_id=body.service_id,
            chosen_partner_id=chosen_partner,
            override=override,
        )
        if body.service_id is not None and referral.state is not ReferralState.ROUTED:
            # A referral to a chosen service that fails a hard filter is refused, not stored.
            attempts = await referral_repo.attempts_of(session, referral.id)
            rule = next(
                (
                    c["rule"]
                    for c in (attempts[-1]["candidates"] if attempts else [])
                    if c["service_id"] == str(body.service_id)
                ),
                "outside_coverage",
            )
            raise Problem(
                409,
                "Conflict",
                f"service_id: the chosen service cannot take this referral ({rule})",
                extra={"rule": rule},
            )
        await uow.commit()
    return await _detail(request, referral.id, principal)


def _encode_cursor(referral: Referral) -> str:
    assert referral.created_at is not None
    raw = f"{referral.created_at.isoformat()}|{referral.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        created, _, referral_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(created), uuid.UUID(referral_id)
    except ValueError:
        raise Problem(422, "Invalid request", "cursor: malformed") from None


@router.get("/referrals", summary="Referrals, newest first (a partner sees only its own)")
async def list_referrals(
    principal: Reader,
    request: Request,
    state: ReferralState | None = None,
    urgency: Urgency | None = None,
    need: Annotated[NeedCategory | None, Query(description="Need category")] = None,
    case_id: uuid.UUID | None = None,
    created_from: DateTime | None = None,
    created_to: DateTime | None = None,
    cursor: Annotated[Text | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ReferralPage:
    partner = _visible_to(principal)
    async with unit_of_work(request) as uow:
        found = await referral_repo.list_referrals(
            uow.session,
            partner_id=partner,
            case_id=case_id,
            state=state,
            urgency=urgency,
            category=need,
            created_from=created_from,
            created_to=created_to,
            after=_decode_cursor(cursor) if cursor else None,
            limit=limit + 1,
        )
    page = found[:limit]
    return ReferralPage(
        items=[_out(r) for r in page],
        next_cursor=_encode_cursor(page[-1]) if len(found) > limit else None,
    )


@router.get(
    "/referrals/{referral_id}", summary="A referral with its routing explanation and history"
)
async def get_referral(
    referral_id: uuid.UUID, principal: Reader, request: Request
) -> ReferralDetail:
    return await _detail(request, referral_id, principal)


@router.get("/referrals/{referral_id}/fhir", summary="The referral as an HL7 FHIR R4 Task")
async def get_referral_fhir(
    referral_id: uuid.UUID, principal: Reader, request: Request
) -> dict[str, Any]:
    detail = await _detail(request, referral_id, principal)
    async with unit_of_work(request) as uow:
        referral = await referral_repo.get_referral(uow.session, referral_id)
    assert referral is not None
    return referral_task(referral, [h.event_id for h in detail.history])


async def _act(
    request: Request,
    use_cases: Referrals,
    referral_id: uuid.UUID,
    action: Action,
    principal: Principal,
    *,
    reason: str | None = None,
    note: str | None = None,
) -> ReferralDetail:
    await _apply(request, use_cases, referral_id, action, principal, reason=reason, note=note)
    return await _detail(request, referral_id, principal)


async def _apply(
    request: Request,
    use_cases: Referrals,
    referral_id: uuid.UUID,
    action: Action,
    principal: Principal,
    *,
    reason: str | None = None,
    note: str | None = None,
) -> None:
    actor = _actor(principal)
    async with unit_of_work(request) as uow:
        case_id = await referral_repo.case_of(uow.session, referral_id)
        row = await case_repo.get_case(uow.session, case_id) if case_id else None
        cause = Cause(row["correlation_id"] if row else None)
        await use_cases.act(uow, referral_id, action, actor, cause, reason=reason, note=note)
        await uow.commit()


@router.post("/referrals/{referral_id}/accept", summary="The partner accepts the referral")
async def accept(
    referral_id: uuid.UUID,
    principal: PartnerStaff,
    request: Request,
    body: Note | None = None,
    use_cases: Referrals = Depends(referrals),
) -> ReferralDetail:
    return await _act(
        request, use_cases, referral_id, Action.ACCEPT, principal, note=body.note if body else None
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
    referral_id: uuid.UUID,
    body: DeclineBody,
    principal: PartnerStaff,
    request: Request,
    use_cases: Referrals = Depends(referrals),
) -> Declined:
    # Afterwards the decliner no longer holds the referral, nor learns who does.
    await _apply(
        request,
        use_cases,
        referral_id,
        Action.DECLINE,
        principal,
        reason=body.reason.value,
        note=body.note,
    )
    return Declined(id=referral_id, state=ReferralState.DECLINED, reason=body.reason)


@router.post("/referrals/{referral_id}/start", summary="The partner starts providing the service")
async def start(
    referral_id: uuid.UUID,
    principal: PartnerStaff,
    request: Request,
    body: Note | None = None,
    use_cases: Referrals = Depends(referrals),
) -> ReferralDetail:
    return await _act(
        request, use_cases, referral_id, Action.START, principal, note=body.note if body else None
    )


@router.post("/referrals/{referral_id}/hold", summary="The partner pauses work")
async def hold(
    referral_id: uuid.UUID,
    body: HoldBody,
    principal: PartnerStaff,
    request: Request,
    use_cases: Referrals = Depends(referrals),
) -> ReferralDetail:
    return await _act(
        request,
        use_cases,
        referral_id,
        Action.HOLD,
        principal,
        reason=body.reason.value,
        note=body.note,
    )


@router.post("/referrals/{referral_id}/resume", summary="The partner resumes work")
async def resume(
    referral_id: uuid.UUID,
    principal: PartnerStaff,
    request: Request,
    body: Note | None = None,
    use_cases: Referrals = Depends(referrals),
) -> ReferralDetail:
    return await _act(
        request, use_cases, referral_id, Action.RESUME, principal, note=body.note if body else None
    )


@router.post(
    "/referrals/{referral_id}/complete", summary="The partner finished the service (outcome code)"
)
async def complete(
    referral_id: uuid.UUID,
    body: CompleteBody,
    principal: PartnerStaff,
    request: Request,
    use_cases: Referrals = Depends(referrals),
) -> ReferralDetail:
    return await _act(
        request,
        use_cases,
        referral_id,
        Action.COMPLETE,
        principal,
        reason=body.outcome.value,
        note=body.note,
    )


@router.post("/referrals/{referral_id}/fail", summary="The partner could not deliver the service")
async def fail(
    referral_id: uuid.UUID,
    body: FailBody,
    principal: PartnerStaff,
    request: Request,
    use_cases: Referrals = Depends(referrals),
) -> ReferralDetail:
    return await _act(
        request,
        use_cases,
        referral_id,
        Action.FAIL,
        principal,
        reason=body.reason.value,
        note=body.note,
    )


@router.post("/referrals/{referral_id}/cancel", summary="The referring side cancels the referral")
async def cancel(
    referral_id: uuid.UUID,
    body: CancelBody,
    principal: Referrer,
    request: Request,
    use_cases: Referrals = Depends(referrals),
) -> ReferralDetail:
    return await _act(
        request,
        use_cases,
        referral_id,
        Action.CANCEL,
        principal,
        reason=body.reason.value,
        note=body.note,
    )


@router.get(
    "/cases/{case_id}/candidates",
    summary="Ranked candidate services for one need of a case, before referring by hand",
)
async def candidates(
    case_id: uuid.UUID,
    principal: Referrer,
    request: Request,
    need: Annotated[uuid.UUID, Query(description="need_id of the need")],
    use_cases: Referrals = Depends(referrals),
) -> list[Candidate]:
    async with unit_of_work(request) as uow:
        case = await case_repo.get_profile(uow.session, case_id)
        if case is None:
            raise Problem(404, "Not found", "No such case")
        found = next(
            (n for n in await case_repo.needs_of(uow.session, case_id) if n.need_id == need), None
        )
        if found is None:
            raise Problem(404, "Not found", "need: no such need in this case")
        decision = await use_cases.preview(uow.session, case, found)
    return [
        Candidate(
            service_id=e.service_id,
            partner_id=e.partner_id,
            rule=e.rule.value,
            passed=e.eligible,
            score=e.score,
            rank=e.rank,
            components=dict(e.components),
        )
        for e in decision.evaluations
    ]
