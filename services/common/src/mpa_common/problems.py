"""RFC 9457 problem details (`application/problem+json`) for every error a service returns.

Error bodies name fields and reasons, never the values that were sent: a rejected request may
carry personal data.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from mpa_common.failures import DependencyUnavailable, dependency_of, describe, is_transient
from mpa_common.logging import redacted_path

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://mpa.example.org/problems/"
RETRY_AFTER_SECONDS = 5
# Throttled like aiokafka's logger (mpa_common.logging): one line per outage window.
http_log = logging.getLogger("mpa.http")
# Errors that may mean "a dependency is away": handled here (not by Starlette's last-resort
# handler, which re-raises and so logs a traceback per request during an outage).
_DEPENDENCY_ERRORS: tuple[type[Exception], ...] = (
    SQLAlchemyError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
    KafkaError,
    DependencyUnavailable,
)


class Problem(Exception):
    """An error a use case or route raises to answer with problem+json."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        type_: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_ or "about:blank"
        self.extra = extra or {}
        # e.g. WWW-Authenticate on a 401, Retry-After on a 503
        self.headers = headers or {}


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str | None = None,
    *,
    type_: str = "about:blank",
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body["instance"] = redacted_path(request.url.path)
    body.update(extra or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def unavailable_response(request: Request, dependency: str) -> JSONResponse:
    """503 for a request that needed a dependency that is down: the client should retry
    (with the same Idempotency-Key), and nothing was half-written."""
    return problem_response(
        request,
        503,
        "Service unavailable",
        f"A dependency ({dependency}) is unavailable; retry later.",
        type_=PROBLEM_TYPE_BASE + "unavailable",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


_BODY_NOT_JSON = {"field": "body", "reason": "JSON decode error: not valid UTF-8 JSON"}


def validation_problem(request: Request, errors: list[dict[str, str]]) -> JSONResponse:
    """The 422 for a request that failed validation; `errors` name fields and reasons."""
    return problem_response(
        request,
        422,
        "Invalid request",
        f"{len(errors)} field(s) failed validation",
        type_=PROBLEM_TYPE_BASE + "validation",
        extra={"errors": errors},
    )


def _allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            request,
            exc.status,
            exc.title,
            exc.detail,
            type_=exc.type,
            extra=exc.extra,
            headers=exc.headers or None,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Only where and why: pydantic's "input" (the submitted value) is left out on purpose.
        errors = [
            {"field": ".".join(str(p) for p in err.get("loc", ())), "reason": err.get("msg", "")}
            for err in exc.errors()
        ]
        return validation_problem(request, errors)

    async def _dependency_error(request: Request, exc: Exception) -> JSONResponse:
        if is_transient(exc):
            dependency = dependency_of(exc)
            http_log.warning(
                "request failed: dependency unavailable; answered 503",
                extra={"dependency": dependency, "error": describe(exc, 200)},
            )
            return unavailable_response(request, dependency)
        path = redacted_path(request.url.path)
        http_log.error("request failed", exc_info=exc, extra={"path": path})
        return _internal_error(request)

    for error_class in _DEPENDENCY_ERRORS:
        app.add_exception_handler(error_class, _dependency_error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # No detail: an internal error's text may echo submitted values. The traceback goes
        # to the server's log (Starlette re-raises after this handler), keyed by the path.
        return _internal_error(request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.__cause__ is not None:
            # FastAPI's answer to a body it could not decode at all (not UTF-8, nested too
            # deeply): the same answer as for malformed JSON, a 422 naming the body.
            return validation_problem(request, [_BODY_NOT_JSON])
        title = {
            401: "Unauthorized",
            404: "Not found",
            405: "Method not allowed",
            413: "Content too large",
        }.get(exc.status_code, "HTTP error")
        detail = exc.detail if isinstance(exc.detail, str) else None
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            # Starlette names only the first route matching the path; the path may have
            # several (GET and POST /v1/cases): Allow lists the methods of all of them.
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return problem_response(request, exc.status_code, title, detail, headers=headers or None)


def _internal_error(request: Request) -> JSONResponse:
    return problem_response(
        request, 500, "Internal error", "The request could not be completed; it has been logged."
    )
