"""The audit API: read-only views of the log, its proofs, signed tree heads and coverage.

Each route parses, authorises and calls one use case; domain errors become problem+json in
`api/errors.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from mpa_audit.api import models
from mpa_audit.app import coverage as coverage_use_case
from mpa_audit.app import proofs, queries
from mpa_audit.app.export import export_lines, prepare_export
from mpa_audit.app.integrity import IntegrityChecker, IntegrityReport
from mpa_audit.app.ports import EndOffsets, EventFilter, UnitOfWorkFactory
from mpa_audit.app.tree_heads import TreeHeads
from mpa_audit_verify.note import VerifierKey
from mpa_common.auth import Principal, Role, require_roles
from mpa_common.problems import PROBLEM_JSON, PROBLEM_TYPE_BASE, Problem
from mpa_common.request_types import DateTime, Index64Param, Text

JSON_LINES = "application/jsonl"


@dataclass(frozen=True)
class AuditContext:
    """What the routes use, built once per process by the composition root."""

    uow_factory: UnitOfWorkFactory
    tree_heads: TreeHeads
    integrity: IntegrityChecker
    public_key: VerifierKey
    end_offsets: EndOffsets
    source_topics: list[str]


async def audit_context(request: Request) -> AuditContext:
    context: AuditContext = request.app.state.audit
    return context


Context = Annotated[AuditContext, Depends(audit_context)]
Auditor = Annotated[Principal, Depends(require_roles(Role.AUDITOR, Role.ADMIN))]

_ERRORS = {
    401: {"description": "No or invalid bearer token", "content": {PROBLEM_JSON: {}}},
    403: {"description": "Not an auditor or admin", "content": {PROBLEM_JSON: {}}},
    422: {"description": "Invalid parameters", "content": {PROBLEM_JSON: {}}},
}

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=_ERRORS)  # type: ignore[arg-type]


@router.get("/events", summary="Logged events, filtered, in log order (cursor pagination)")
async def list_events(
    context: Context,
    _: Auditor,
    correlation_id: Annotated[UUID | None, Query(description="A story's correlation id")] = None,
    case_id: Annotated[
        UUID | None, Query(description="Events whose payload names the case")
    ] = None,
    type: Annotated[
        Text | None, Query(description="Event type, e.g. org.mpa.case.closed.v1", max_length=200)
    ] = None,
    actor_id: Annotated[
        Text | None, Query(description="Actor, e.g. caseworker:u-1", max_length=200)
    ] = None,
    since: Annotated[DateTime | None, Query(description="Event time at or after")] = None,
    until: Annotated[DateTime | None, Query(description="Event time before")] = None,
    # A seq: digits that fit a BIGINT (a longer one answered 500).
    cursor: Annotated[
        str | None,
        Query(description="next_cursor of the previous page", pattern=r"^[0-9]{1,18}$"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> models.EventPage:
    conditions = EventFilter(correlation_id, case_id, type, actor_id, since, until)
    page = await queries.find_events(context.uow_factory, conditions, cursor=cursor, limit=limit)
    return models.EventPage(
        items=[models.LoggedEvent.of(e) for e in page.entries], next_cursor=page.next_cursor
    )


@router.get(
    "/events/{seq}",
    summary="One logged event by its leaf index",
    responses={404: {"description": "No such seq", "content": {PROBLEM_JSON: {}}}},
)
async def get_event(context: Context, _: Auditor, seq: Index64Param) -> models.LoggedEvent:
    return models.LoggedEvent.of(await queries.get_event(context.uow_factory, seq))


@router.get("/cases/{case_id}/timeline", summary="A case's whole story across every service")
async def case_timeline(
    context: Context,
    _: Auditor,
    case_id: UUID,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> models.CaseTimeline:
    entries = await queries.case_timeline(context.uow_factory, case_id, limit=limit + 1)
    return models.CaseTimeline(
        case_id=case_id,
        events=[models.LoggedEvent.of(e) for e in entries[:limit]],
        truncated=len(entries) > limit,
    )


@router.get("/tree-head", summary="The signed tree head of the log's current (or a given) size")
async def tree_head(
    context: Context,
    _: Auditor,
    tree_size: Annotated[
        Index64Param | None, Query(description="Default: the current size")
    ] = None,
) -> models.TreeHead:
    return models.TreeHead.of(await context.tree_heads.at(tree_size))


@router.get("/public-key", summary="The public key that signs tree heads (no token needed)")
async def public_key(context: Context) -> models.PublicKey:
    return models.PublicKey(
        origin=context.tree_heads.origin,
        algorithm="Ed25519",
        verifier_key=context.public_key.encode(),
        witnesses=[w.key.encode() for w in context.tree_heads.witnesses],
    )


@router.get("/proofs/inclusion", summary="Inclusion proof of a leaf in a tree size")
async def inclusion_proof(
    context: Context,
    _: Auditor,
    seq: Annotated[Index64Param, Query()],
    tree_size: Annotated[
        Index64Param | None, Query(ge=1, description="Default: the current size")
    ] = None,
) -> models.InclusionProofResponse:
    proof = await proofs.inclusion_proof(context.uow_factory, seq, tree_size)
    return models.InclusionProofResponse(
        seq=proof.seq,
        tree_size=proof.tree_size,
        leaf_hash=models.b64(proof.leaf_hash),
        audit_path=[models.b64(h) for h in proof.audit_path],
        root_hash=models.b64(proof.root_hash),
    )


@router.get("/proofs/consistency", summary="Consistency proof between two tree sizes")
async def consistency_proof(
    context: Context,
    _: Auditor,
    first: Annotated[Index64Param, Query(ge=1)],
    second: Annotated[
        Index64Param | None, Query(ge=1, description="Default: the current size")
    ] = None,
) -> models.ConsistencyProofResponse:
    proof = await proofs.consistency_proof(context.uow_factory, first, second)
    return models.ConsistencyProofResponse(
        first=proof.first,
        second=proof.second,
        first_root_hash=models.b64(proof.first_root_hash),
        second_root_hash=models.b64(proof.second_root_hash),
        proof=[models.b64(h) for h in proof.proof],
    )


@router.get(
    "/export",
    summary="Stream leaves [start, tree_size) as JSON Lines, with the signed tree head",
    response_class=StreamingResponse,
    responses={200: {"content": {JSON_LINES: {}}, "description": "mpa-audit-export/1"}},
)
async def export(
    context: Context,
    _: Auditor,
    start: Annotated[Index64Param, Query()] = 0,
    tree_size: Annotated[
        Index64Param | None, Query(description="Default: the current size")
    ] = None,
    previous_tree_size: Annotated[
        Index64Param | None,
        Query(ge=1, description="Size of a tree head you hold: adds a consistency proof from it"),
    ] = None,
) -> StreamingResponse:
    header = await prepare_export(
        context.uow_factory,
        context.tree_heads,
        start=start,
        tree_size=tree_size,
        previous_tree_size=previous_tree_size,
    )
    filename = f"audit-export-{header.start}-{header.tree_size}.jsonl"
    return StreamingResponse(
        export_lines(context.uow_factory, header),
        media_type=JSON_LINES,
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/coverage",
    summary="Per source partition: offsets accounted, lag, gaps and missing events",
    responses={503: {"description": "Kafka unreachable", "content": {PROBLEM_JSON: {}}}},
)
async def coverage(context: Context, _: Auditor) -> models.Coverage:
    partitions = await coverage_use_case.coverage(
        context.uow_factory, context.end_offsets, context.source_topics
    )
    return models.Coverage.of(partitions)


@router.get(
    "/health/integrity",
    summary="Verify what was added since the last intact check (or, with scope=full, "
    "recompute every hash); check the signed tree heads and the witnesses' checkpoints",
    responses={503: {"description": "Tampering found", "content": {PROBLEM_JSON: {}}}},
)
async def integrity(
    context: Context,
    _: Auditor,
    scope: Annotated[
        Literal["incremental", "full"],
        Query(description="incremental (default): what was added since the last intact check"),
    ] = "incremental",
) -> models.IntegrityReportModel:
    checker = context.integrity
    report = await (checker.full() if scope == "full" else checker.incremental())
    if not report.intact:
        raise _integrity_problem(report)
    return models.IntegrityReportModel.of(report)


def _integrity_problem(report: IntegrityReport) -> Problem:
    findings = [{"check": f.check, "detail": f.detail} for f in report.findings]
    if report.last_full is not None and not report.last_full.intact:
        findings += [
            {"check": check, "detail": f"{detail} (full check of {report.last_full.checked_at})"}
            for check, detail in report.last_full.findings
        ]
    return Problem(
        503,
        "Audit log integrity check failed",
        f"{len(findings)} finding(s)",
        type_=PROBLEM_TYPE_BASE + "integrity-check-failed",
        extra={
            "scope": report.scope,
            "tree_size": report.tree_size,
            "findings": findings,
            "warnings": report.warnings,
        },
    )
