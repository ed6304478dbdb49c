"""The referral service's domain errors as RFC 9457 problem+json: the one mapping.

Messages name fields and reasons, never values (see domain/errors.py)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from mpa_common.problems import PROBLEM_TYPE_BASE, problem_response
from mpa_referral.domain.errors import (
    BestInterestsDeterminationRequired,
    ChosenServiceRefused,
    Conflict,
    Forbidden,
    InvalidDocument,
    InvalidRequest,
    InvalidService,
    NotFound,
    ReferralError,
)
from mpa_referral.domain.lifecycle import IllegalTransition

# Most specific first: the first class an error is an instance of decides.
_PROBLEMS: tuple[tuple[type[ReferralError], int, str, str | None], ...] = (
    (NotFound, 404, "Not found", None),
    (Forbidden, 403, "Forbidden", None),
    (IllegalTransition, 409, "Illegal transition", None),
    (
        BestInterestsDeterminationRequired,
        409,
        "Best-interests determination required",
        "best-interests-determination-required",
    ),
    (Conflict, 409, "Conflict", None),
    (InvalidRequest, 422, "Invalid request", None),
    (InvalidService, 422, "Invalid service", None),
    (InvalidDocument, 422, "Invalid HSDS document", "validation"),
)


def problem_of(error: ReferralError) -> tuple[int, str, str, dict[str, Any]]:
    """(status, title, type, extra) of the problem that answers `error`."""
    for kind, status, title, slug in _PROBLEMS:
        if isinstance(error, kind):
            extra: dict[str, Any] = {}
            if isinstance(error, BestInterestsDeterminationRequired):
                extra["reason"] = "best_interests_determination_required"
                extra["category"] = error.category
            if isinstance(error, ChosenServiceRefused):
                extra["rule"] = error.rule
            if isinstance(error, InvalidDocument):
                extra["errors"] = [{"field": e.field, "reason": e.reason} for e in error.errors]
            return status, title, PROBLEM_TYPE_BASE + slug if slug else "about:blank", extra
    return 400, "Bad request", "about:blank", {}


def install_referral_error_handler(app: FastAPI) -> None:
    async def handle(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ReferralError)
        status, title, type_, extra = problem_of(error)
        return problem_response(request, status, title, str(error), type_=type_, extra=extra)

    app.add_exception_handler(ReferralError, handle)
