"""The service's domain errors as RFC 9457 problem+json: the one mapping (messages name
rules and fields, never the values that were sent)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from mpa_common.problems import PROBLEM_TYPE_BASE, problem_response
from mpa_notification.domain.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    NotificationError,
)

# Most specific first: the first class an error is an instance of decides.
_STATUS: tuple[tuple[type[NotificationError], int, str, str], ...] = (
    (InvalidRequest, 422, "Invalid request", PROBLEM_TYPE_BASE + "validation"),
    (Forbidden, 403, "Forbidden", "about:blank"),
    (NotFound, 404, "Not found", "about:blank"),
    (Conflict, 409, "Conflict", "about:blank"),
)


def install_error_handler(app: FastAPI) -> None:
    async def handle(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, NotificationError)
        status, title, type_ = next(
            (s, t, ty) for cls, s, t, ty in _STATUS if isinstance(error, cls)
        )
        extra: dict[str, Any] = {}
        if isinstance(error, InvalidRequest):
            extra["errors"] = [{"field": error.field, "reason": error.reason}]
        return problem_response(request, status, title, error.detail, type_=type_, extra=extra)

    app.add_exception_handler(NotificationError, handle)
