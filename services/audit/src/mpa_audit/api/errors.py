"""The audit's domain errors as RFC 9457 problem+json (one mapping, installed by main.py;
a dependency that is down is answered 503 with Retry-After by the shared handlers)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from mpa_audit.domain.errors import (
    AuditError,
    EventNotFound,
    InvalidCursor,
    InvalidPreviousTreeSize,
    InvalidRange,
    InvalidTreeSizes,
    LeafNotInTree,
    TreeSizeNotReached,
)
from mpa_common.problems import PROBLEM_TYPE_BASE, problem_response

_STATUS_AND_TITLE: dict[type[AuditError], tuple[int, str, str]] = {
    TreeSizeNotReached: (422, "Tree size not reached", "tree-size-not-reached"),
    LeafNotInTree: (422, "Leaf not in tree", "leaf-not-in-tree"),
    InvalidTreeSizes: (422, "Invalid tree sizes", "invalid-tree-sizes"),
    InvalidRange: (422, "Invalid range", "invalid-range"),
    InvalidPreviousTreeSize: (422, "Invalid previous tree size", "invalid-previous-tree-size"),
    InvalidCursor: (422, "Invalid cursor", "invalid-cursor"),
    EventNotFound: (404, "Not found", "event-not-found"),
}


def install_audit_error_handlers(app: FastAPI) -> None:
    async def domain_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, AuditError)
        status, title, slug = _STATUS_AND_TITLE[type(error)]
        return problem_response(request, status, title, str(error), type_=PROBLEM_TYPE_BASE + slug)

    app.add_exception_handler(AuditError, domain_error)
