"""Intake errors as RFC 9457 problem+json (messages name fields and reasons, never values)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from mpa_common.problems import PROBLEM_JSON, PROBLEM_TYPE_BASE, problem_response
from mpa_intake.domain.errors import (
    AccessDenied,
    CaseConflict,
    CaseNotFound,
    ComplaintConflict,
    ComplaintNotFound,
    ContactRefused,
    IdempotencyConflict,
    IntakeError,
    InvalidCase,
    InvitationNotFound,
    OutsideScope,
    PersonalDataErased,
)

_STATUS_AND_TITLE: dict[type[IntakeError], tuple[int, str, str]] = {
    InvalidCase: (422, "Invalid request", "validation"),
    AccessDenied: (403, "Forbidden", "forbidden"),
    OutsideScope: (403, "Outside your scope", "outside-scope"),
    CaseNotFound: (404, "Not found", "case-not-found"),
    CaseConflict: (409, "Conflict with the case's state", "case-conflict"),
    ComplaintNotFound: (404, "Not found", "complaint-not-found"),
    ComplaintConflict: (409, "Conflict with the complaint's state", "complaint-conflict"),
    IdempotencyConflict: (409, "Idempotency-Key reused", "idempotency-key-reused"),
    PersonalDataErased: (410, "Personal data erased", "personal-data-erased"),
    InvitationNotFound: (404, "Not found", "feedback-invitation-not-found"),
    ContactRefused: (409, "Contact refused by the safety profile", "contact-refused"),
}


def install_intake_error_handler(app: FastAPI) -> None:
    async def handle(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, IntakeError)
        status, title, slug = _STATUS_AND_TITLE[type(error)]
        extra: dict[str, Any] = {}
        if isinstance(error, InvalidCase):
            extra["errors"] = [{"field": e.field, "reason": e.reason} for e in error.errors]
            detail = f"{len(error.errors)} field(s) failed validation"
        elif isinstance(error, ContactRefused):
            extra["reason"] = error.reason
            detail = str(error)
        else:
            detail = str(error)
        return problem_response(
            request, status, title, detail, type_=PROBLEM_TYPE_BASE + slug, extra=extra
        )

    app.add_exception_handler(IntakeError, handle)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem+json answers a route may give."""
    descriptions = {
        401: "No valid bearer token",
        403: "The token's roles or the case's grants do not allow this",
        404: "No case has this id",
        409: "The request conflicts with the case's state or an earlier request",
        410: "The case's personal data was erased",
        422: "A field is invalid; `errors` names each one and why",
    }
    return {
        status: {"description": descriptions[status], "content": {PROBLEM_JSON: {}}}
        for status in (401, *statuses)
    }
