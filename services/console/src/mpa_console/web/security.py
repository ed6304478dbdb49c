"""CSRF protection and the security headers of every response.

CSRF: the synchronizer-token pattern (OWASP). Each session has a random secret; every form
carries it in a hidden `csrf_token` field (htmx requests send it as `X-CSRF-Token`), and
every state-changing request must present it. The session cookie is sealed, so another site
can neither read nor guess the secret; SameSite=Lax and a check of `Origin` /
`Sec-Fetch-Site` come on top. Written here rather than taken from a library because the
libraries at hand check a header only (starlette-csrf, fastapi-csrf-protect: double-submit
cookies) and the console's forms must work without JavaScript.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request

from mpa_console.web.session import ASGIApp, Message, Receive, Scope, Send, Session

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRejected(Exception):
    """A state-changing request without a valid CSRF token or from another site."""


def session_of(request: Request) -> Session:
    session: Session = request.state.session
    return session


async def check_csrf(request: Request) -> None:
    """FastAPI dependency for every router: unsafe methods need the session's token."""
    if request.method in SAFE_METHODS:
        return
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise CsrfRejected("cross-site request")
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        expected = f"{request.url.scheme}://{request.url.netloc}"
        if urlsplit(origin)._replace(path="").geturl() != expected:
            raise CsrfRejected("foreign origin")
    presented = request.headers.get(CSRF_HEADER)
    if presented is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get(CSRF_FIELD)
            presented = value if isinstance(value, str) else None
    expected_token = session_of(request).csrf
    if not presented or not hmac.compare_digest(presented.encode(), expected_token.encode()):
        raise CsrfRejected("missing or wrong CSRF token")


def content_security_policy(form_targets: tuple[str, ...] = ()) -> str:
    """A strict policy: only the console's own scripts, styles, images and connections.

    No inline script or style anywhere (templates use classes; htmx is told not to inject
    its indicator styles), no eval, no frames, no plugins, no base-URI changes."""
    form_action = " ".join(("'self'", *form_targets))
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            f"form-action {form_action}",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "object-src 'none'",
        )
    )


class SecurityHeadersMiddleware:
    """Adds the CSP and the other protective headers; pages are never cached (they may hold
    personal data, and a shared computer's cache must not keep it)."""

    def __init__(self, app: ASGIApp, *, production: bool, form_targets: tuple[str, ...] = ()):
        self._app = app
        policy = content_security_policy(form_targets)
        self._headers: list[tuple[bytes, bytes]] = [
            (b"content-security-policy", policy.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"cross-origin-resource-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
        ]
        if production:
            self._headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        is_static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = _without(message.get("headers", []), b"cache-control")
                headers.extend(self._headers)
                cache = b"public, max-age=3600" if is_static else b"no-store"
                headers.append((b"cache-control", cache))
                message["headers"] = headers
            await send(message)

        await self._app(scope, receive, send_with_headers)


def _without(headers: Any, name: bytes) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in headers if k.lower() != name]
