"""HTTP routes of the intake service (`/v1/cases`): parse, authorise, call a use case."""

from collections.abc import Awaitable, Callable
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response, status

from mpa_common.auth import BearerCredentials, Role, authorize
from mpa_common.request_types import DateTime, Text
from mpa_contracts.vocabularies import (
    AccessPurpose,
    BreakGlassReason,
    ErasureBasis,
    NeedCategory,
    Vulnerability,
)
from mpa_intake.api.errors import problem_responses
from mpa_intake.app import cases, reads
from mpa_intake.app.commands import (
    AddNeeds,
    CloseCase,
    ConsentChange,
    DuplicateCheck,
    RegisterCase,
    UpdateCase,
)
from mpa_intake.app.context import Actor, IntakeContext
from mpa_intake.app.ports import CaseFilter
from mpa_intake.app.views import (
    CaseDetail,
    CasePage,
    CaseSummary,
    ConsentState,
    DuplicateHints,
    ErasureResult,
    NeedsAdded,
    RegistrationResult,
)
from mpa_intake.domain.case import CaseStatus
from mpa_intake.settings import IntakeSettings

CaseIdPath = Annotated[
    UUID, Path(description="Id of the case", examples=["6f1c2a3e-8d4b-4c1a-9e2f-0a1b2c3d4e5f"])
]


def acting_as(*roles: Role) -> Callable[..., Awaitable[Actor]]:
    """Dependency: the caller as an Actor, acting in the first of `roles` it holds."""

    # The token and role checks of require_roles, in this one dependency: every level of
    # dependencies is a solve of its own on each request.
    async def actor(request: Request, credentials: BearerCredentials) -> Actor:
        principal = authorize(request, credentials, roles)
        role = next(role for role in roles if role in principal.roles)
        # A partner's own token is handed on to the referral service to confirm, at read
        # time, what it holds there; nobody else's is.
        _, _, token = request.headers.get("authorization", "").partition(" ")
        return Actor(
            subject=principal.subject,
            actor_id=principal.actor_id,
            role=role,
            partner_id=principal.partner_id,
            credentials=token.strip() or None if role is Role.PARTNER else None,
            team=principal.team,
            agency=principal.agency,
            country=principal.country,
        )

    return actor


CaseWriter = Annotated[Actor, Depends(acting_as(Role.CASEWORKER, Role.OPERATOR))]
CaseReader = Annotated[Actor, Depends(acting_as(Role.CASEWORKER, Role.OPERATOR, Role.PARTNER))]
CaseLister = Annotated[
    Actor, Depends(acting_as(Role.CASEWORKER, Role.OPERATOR, Role.SUPERVISOR, Role.AUDITOR))
]
Eraser = Annotated[Actor, Depends(acting_as(Role.ADMIN))]


def cases_router(settings: IntakeSettings, intake: IntakeContext) -> APIRouter:
    router = APIRouter(prefix="/v1/cases", tags=["cases"])
    # Outside /v1/cases, where any segment is read as a case id (so a PATCH there would
    # be taken for a change of a case named "duplicate-checks").
    checks = APIRouter(prefix="/v1", tags=["cases"])

    async def context() -> IntakeContext:
        return intake

    Context = Annotated[IntakeContext, Depends(context)]

    @router.post(
        "",
        status_code=status.HTTP_201_CREATED,
        response_model=RegistrationResult,
        summary="Register a case",
        description="Registers a person, their needs, consent and safety. Personal data is "
        "encrypted with a key of the case's own; `org.mpa.case.registered.v1` carries only "
        "pseudonymous routing attributes. Possible duplicates are reported, not blocked.",
        responses=problem_responses(403, 409, 422),
    )
    async def register(
        body: RegisterCase,
        ctx: Context,
        actor: CaseWriter,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                min_length=1,
                max_length=200,
                pattern=r"^[\x21-\x7e]+$",
                description="Client-chosen key: a repeat with the same key and body returns the "
                "first result; the same key with another body is refused (409)",
                examples=["5b0d7c8e-intake-form-42"],
            ),
        ] = None,
    ) -> Response:
        result = await cases.register_case(ctx, actor, body, idempotency_key)
        # The view as it is: validating it again as the response model (what returning
        # it would do) is a cost on the busiest route for nothing.
        return Response(
            result.model_dump_json(),
            status_code=status.HTTP_201_CREATED,
            media_type="application/json",
            headers={"Location": f"/v1/cases/{result.case_id}"},
        )

    @checks.post(
        "/duplicate-checks",
        summary="Look for open cases about the same person before registering",
        description="Compares names with the date of birth, or the phone number, as "
        "registration does (keyed hashes, never plaintext). Answers ids and references only, "
        "so it discloses no personal data; the query travels in the body, never in a URL.",
        responses=problem_responses(403, 422),
    )
    async def possible_duplicates(
        body: DuplicateCheck, ctx: Context, _: CaseWriter
    ) -> DuplicateHints:
        return await reads.find_possible_duplicates(ctx, body)

    @router.get(
        "",
        summary="List cases (no personal data)",
        description="Pseudonymous summaries of the cases within your role's read scope "
        "(own, team, agency, country or all; configured per role), newest first, with "
        "cursor pagination.",
        responses=problem_responses(403, 422),
    )
    async def list_cases(
        ctx: Context,
        actor: CaseLister,
        status_: Annotated[
            CaseStatus | None,
            Query(alias="status", description="Only cases in this state", examples=["open"]),
        ] = None,
        need: Annotated[
            NeedCategory | None,
            Query(description="Only cases with a need of this category", examples=["shelter"]),
        ] = None,
        vulnerability: Annotated[
            Vulnerability | None,
            Query(description="Only cases with this vulnerability", examples=["gbv_survivor"]),
        ] = None,
        registered_from: Annotated[
            DateTime | None,
            Query(description="Registered at or after", examples=["2026-03-01T00:00:00Z"]),
        ] = None,
        registered_before: Annotated[
            DateTime | None,
            Query(description="Registered before", examples=["2026-04-01T00:00:00Z"]),
        ] = None,
        cursor: Annotated[
            Text | None,
            Query(max_length=200, description="`next_cursor` of the previous page"),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=settings.max_page_size, description="Page size")] = 20,
    ) -> CasePage:
        where = CaseFilter(
            status=status_,
            need=need,
            vulnerability=vulnerability,
            registered_from=registered_from,
            registered_before=registered_before,
        )
        return await reads.list_cases(ctx, actor, where, cursor, limit)

    @router.get(
        "/{case_id}",
        summary="Read a case with its personal data",
        description="Operators and caseworkers see everything of the cases within their "
        "role's read scope (outside it only with a `break_glass` reason); a partner sees "
        "the case only "
        "while it holds an accepted referral and consent allows sharing with it, and then "
        "only the fields its referrals need. Every read is announced as "
        "`org.mpa.access.personal_data_accessed.v1` before the answer is sent.",
        responses=problem_responses(403, 404, 410, 422),
    )
    async def read(
        case_id: CaseIdPath,
        ctx: Context,
        actor: CaseReader,
        purpose: Annotated[
            AccessPurpose | None,
            Query(
                description="Why the data is read; defaults to case_management for operators "
                "and caseworkers, service_delivery for partners",
                examples=["case_management"],
            ),
        ] = None,
        break_glass: Annotated[
            BreakGlassReason | None,
            Query(
                description="Read a case outside your scope, for this reason: the read is "
                "announced as `org.mpa.access.break_glass_used.v1` beside the usual access "
                "event, for review and for the owner's supervisor",
                examples=["owner_unavailable"],
            ),
        ] = None,
    ) -> CaseDetail:
        return await reads.read_case(ctx, actor, case_id, purpose, break_glass)

    @router.patch(
        "/{case_id}",
        summary="Change the person, location, vulnerabilities or safety",
        responses=problem_responses(403, 404, 409, 410, 422),
    )
    async def update(
        case_id: CaseIdPath, body: UpdateCase, ctx: Context, actor: CaseWriter
    ) -> CaseSummary:
        return await cases.update_case(ctx, actor, case_id, body)

    @router.post(
        "/{case_id}/needs",
        status_code=status.HTTP_201_CREATED,
        summary="Add needs to an open case",
        responses=problem_responses(403, 404, 409, 410, 422),
    )
    async def add_needs(
        case_id: CaseIdPath, body: AddNeeds, ctx: Context, actor: CaseWriter
    ) -> NeedsAdded:
        return await cases.add_needs(ctx, actor, case_id, body)

    @router.post(
        "/{case_id}/consent",
        summary="Record a new consent, or withdraw consent",
        description="`record` replaces the current consent; `withdraw` narrows it and emits "
        "`org.mpa.case.consent_withdrawn.v1`, which stops routing and cancels open referrals.",
        responses=problem_responses(403, 404, 409, 410, 422),
    )
    async def consent(
        case_id: CaseIdPath,
        body: Annotated[ConsentChange, Body(description="What changes")],
        ctx: Context,
        actor: CaseWriter,
    ) -> ConsentState:
        return await cases.change_consent(ctx, actor, case_id, body)

    @router.post(
        "/{case_id}/close",
        summary="Close a case",
        responses=problem_responses(403, 404, 409, 422),
    )
    async def close(
        case_id: CaseIdPath, body: CloseCase, ctx: Context, actor: CaseWriter
    ) -> CaseSummary:
        return await cases.close_case(ctx, actor, case_id, body)

    @router.delete(
        "/{case_id}/personal-data",
        summary="Erase the personal data of a case (crypto-shredding)",
        description="Destroys the case's data key and ciphertext. The case stays as a "
        "tombstone with its pseudonymous attributes; reads of its personal data answer 410.",
        responses=problem_responses(403, 404, 410, 422),
    )
    async def erase(
        case_id: CaseIdPath,
        ctx: Context,
        actor: Eraser,
        basis: Annotated[
            ErasureBasis,
            Query(description="Why the data is erased", examples=["data_subject_request"]),
        ] = ErasureBasis.DATA_SUBJECT_REQUEST,
    ) -> ErasureResult:
        return await cases.erase_personal_data(ctx, actor, case_id, basis)

    both = APIRouter()
    both.include_router(router)
    both.include_router(checks)
    return both
