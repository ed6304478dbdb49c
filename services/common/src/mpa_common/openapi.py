"""One post-processing of every service's OpenAPI document, so that it says what the service
really answers: errors as `application/problem+json` (RFC 9457) with the status codes a route
can give, the bearer security scheme on the routes that need a token (declared by
`mpa_common.auth.bearer_scheme`), and each request body's size limit (`x-max-body-bytes`).

Which errors an operation documents follows from what it is, the same way in every service:
401 and 403 where a token is needed; 404 where the path (or a body sent with a token) names
something; 409 for a change made with a token (a state or an earlier request may conflict);
413 and 422 where a body is sent; 422 where parameters are; 503 everywhere but liveness (a
dependency down or not ready).
A route may declare more (intake's 410) in its `responses`; those get the problem schema too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from mpa_common.limits import BODY_LIMIT_EXTENSION, RouteBodyLimits
from mpa_common.problems import PROBLEM_JSON

PROBLEM_SCHEMA_NAME = "Problem"
_WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
_LIVENESS_PATHS = frozenset({"/healthz"})

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details. Error bodies name fields and reasons, never the "
    "values that were sent.",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "The request path"},
        "errors": {
            "type": "array",
            "description": "For 422: each field that failed validation, and why",
            "items": {
                "type": "object",
                "required": ["field", "reason"],
                "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}

_DESCRIPTIONS = {
    400: "The request is malformed",
    401: "No valid bearer token (missing, expired, malformed or not signed by the issuer)",
    403: "The token's roles or scope do not allow this",
    404: "Nothing has this id (or it is not visible to the caller)",
    409: "The request conflicts with the current state or an earlier request",
    410: "Gone",
    413: "The request body is larger than this route accepts (`x-max-body-bytes`)",
    422: "A parameter or the body is invalid; `errors` names each field and why",
    503: "A dependency is unreachable or the service is not ready; retry later",
}


def install_problem_openapi(app: FastAPI, limits: RouteBodyLimits | None = None) -> None:
    """Replaces `app.openapi` with one that post-processes FastAPI's document once."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            app.openapi_schema = document
            describe_problems(document, limits)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def describe_problems(document: dict[str, Any], limits: RouteBodyLimits | None) -> None:
    components = document.setdefault("components", {})
    components.setdefault("schemas", {})[PROBLEM_SCHEMA_NAME] = PROBLEM_SCHEMA
    problem_content = {
        PROBLEM_JSON: {"schema": {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA_NAME}"}}
    }
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            statuses = _statuses(path, method, operation)
            responses: dict[str, Any] = operation["responses"]
            for status in statuses:
                responses.setdefault(str(status), {"description": _DESCRIPTIONS[status]})
            for code, response in responses.items():
                if code.isdigit() and int(code) >= 400:
                    response["content"] = dict(problem_content)
                    if code == "401":
                        response.setdefault(
                            "headers",
                            {
                                "WWW-Authenticate": {
                                    "description": "`Bearer`",
                                    "schema": {"type": "string"},
                                }
                            },
                        )
            if "requestBody" in operation and limits is not None:
                operation[BODY_LIMIT_EXTENSION] = limits.for_route(method, path)
    # FastAPI's own validation-error schemas are no longer referenced.
    schemas = components["schemas"]
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


def _statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    statuses: set[int] = set()
    secured = bool(operation.get("security"))
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    if secured:
        statuses |= {401, 403}
        if method in _WRITE_METHODS:
            statuses.add(409)
    if any(p.get("in") == "path" for p in parameters) or (secured and has_body):
        statuses.add(404)  # the path, or the body, names something that may not exist
    if has_body:
        statuses |= {413, 422}
    if parameters:
        statuses.add(422)
    if path not in _LIVENESS_PATHS:
        statuses.add(503)
    return statuses
