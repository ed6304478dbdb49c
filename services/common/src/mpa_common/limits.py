"""Request body size limits, enforced while the body streams in (a pure ASGI middleware).

FastAPI reads a whole body into memory before any dependency runs, authentication included:
one unauthenticated 300 MB POST grew a service by 400 MB before its 401. This middleware sits
in front of the application and counts the bytes as they arrive: a `Content-Length` above the
limit is refused before a byte is read, and a chunked body is cut off as soon as it passes the
limit. Either way the answer is 413 problem+json and nothing beyond the limit is buffered (the
server stops reading the connection once the application stops asking for more).

The limit is the service's (`<SERVICE>_MAX_BODY_BYTES`, 1 MiB by default); a route may declare
a larger or smaller one with `openapi_extra=body_limit(n)` (shown in its OpenAPI operation as
`x-max-body-bytes`), and `<SERVICE>_ROUTE_BODY_LIMITS='{"POST /v1/path": n}'` overrides
either per route.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mpa_common.problems import PROBLEM_JSON

MIB = 1024 * 1024
DEFAULT_MAX_BODY_BYTES = MIB
BODY_LIMIT_EXTENSION = "x-max-body-bytes"


def body_limit(max_bytes: int) -> dict[str, Any]:
    """`openapi_extra` of a route whose bodies may be larger (or must be smaller) than the
    service's default: the middleware enforces it and the OpenAPI operation states it."""
    return {BODY_LIMIT_EXTENSION: max_bytes}


class BodyTooLarge(HTTPException):
    """Raised from `receive` once the body passes its limit; the app answers it with 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes")
        self.limit = limit


class RouteBodyLimits:
    """The limit of each route of an app: an override, the route's own, or the default."""

    def __init__(
        self, app: FastAPI, *, default: int, overrides: Mapping[str, int] | None = None
    ) -> None:
        self._app = app
        self.default = default
        self._overrides = {_normalise(key): value for key, value in (overrides or {}).items()}
        self._routes: list[tuple[APIRoute, dict[str, int]]] | None = None
        # Every route's limit is the default (most services): no request needs matching.
        self._uniform = False

    def _table(self) -> list[tuple[APIRoute, dict[str, int]]]:
        # Built on first use: routers are all included by then.
        if self._routes is None:
            table = []
            for route in self._app.routes:
                if not isinstance(route, APIRoute):
                    continue
                declared = (route.openapi_extra or {}).get(BODY_LIMIT_EXTENSION)
                limits = {
                    method: self._overrides.get(
                        f"{method} {route.path}",
                        int(declared) if declared is not None else self.default,
                    )
                    for method in route.methods or ()
                }
                table.append((route, limits))
            self._routes = table
            self._uniform = all(v == self.default for _, limits in table for v in limits.values())
        return self._routes

    def for_scope(self, scope: Scope) -> int:
        table = self._table()
        if self._uniform:
            return self.default
        for route, limits in table:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return limits.get(scope["method"], self.default)
        return self.default

    def for_route(self, method: str, path: str) -> int:
        for route, limits in self._table():
            if route.path == path and method.upper() in limits:
                return limits[method.upper()]
        return self.default


def _normalise(key: str) -> str:
    method, _, path = key.strip().partition(" ")
    return f"{method.upper()} {path.strip()}"


class BodySizeLimit:
    """Pure ASGI middleware: 413 problem+json for a body beyond its route's limit."""

    def __init__(self, app: ASGIApp, *, limits: RouteBodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.for_scope(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _reject(scope, send, limit)
            return

        received = 0
        exceeded = False
        started = False  # a response began before the limit was passed (streaming upload)

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                # Only the app's own 413 goes out; anything else it made of the cut-off body
                # (a 400 "could not parse", a 500) is replaced by ours below.
                if message["type"] == "http.response.start" and message["status"] == 413:
                    started = True
                if started:
                    await send(message)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _reject(scope, send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed Content-Length itself
    return None


async def _reject(scope: Scope, send: Send, limit: int) -> None:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Content too large",
            "status": 413,
            "detail": f"The request body is larger than {limit} bytes",
            "instance": scope.get("path", ""),
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                # The rest of the body is never read: the connection cannot be reused.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def install_body_limits(
    app: FastAPI, *, default: int, overrides: Mapping[str, int] | None = None
) -> RouteBodyLimits:
    """Adds the middleware to `app` (outermost of the app's own middleware)."""
    limits = RouteBodyLimits(app, default=default, overrides=overrides)
    app.add_middleware(BodySizeLimit, limits=limits)
    app.state.body_limits = limits
    return limits
