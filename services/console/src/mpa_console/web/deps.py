"""What routes share: the console's collaborators, the signed-in user, and error pages."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from mpa_common.auth import TokenVerifier
from mpa_common.logging import redacted_path
from mpa_console.adapters.oidc import OidcClient
from mpa_console.adapters.platform import Platform, UpstreamError, UpstreamUnavailable
from mpa_console.app.context import User
from mpa_console.messages import N_
from mpa_console.settings import ConsoleSettings
from mpa_console.web.security import CsrfRejected, session_of
from mpa_console.web.templating import Templates

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Console:
    """Built once by the composition root."""

    settings: ConsoleSettings
    platform: Platform
    templates: Templates
    verifier: TokenVerifier
    oidc: OidcClient | None


def console_in(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


async def console_of(request: Request) -> Console:
    """Dependency: the console's context (a coroutine, so FastAPI runs it on the loop)."""
    return console_in(request)


ConsoleDep = Annotated[Console, Depends(console_of)]


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class NotForYourRole(Exception):
    """The signed-in user's roles do not include one this screen is for."""


def user_with(*roles: str) -> Callable[[Request], Awaitable[User]]:
    """Dependency: the signed-in user, holding one of `roles` (any role when none given)."""

    async def dependency(request: Request) -> User:
        session = session_of(request)
        if session.token is None or session.actor_id is None:
            raise SignInRequired(request.url.path)
        if roles and not session.has(*roles):
            raise NotForYourRole
        return User(
            token=session.token,
            actor_id=session.actor_id,
            roles=tuple(session.roles),
            partner_id=session.partner_id,
            country=session.country,
        )

    return dependency


def see_other(path: str) -> RedirectResponse:
    """After a form: go to a page with GET (post/redirect/get)."""
    return RedirectResponse(path, status_code=303)


def safe_next(path: str | None) -> str:
    """Only a path of this site (no scheme, no host, no `//`): no open redirect."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


def install_error_pages(app: FastAPI) -> None:
    def page(request: Request, status: int, message: str, **extra: object) -> Response:
        console = console_in(request)
        headers = {}
        if status == 503:
            headers["retry-after"] = str(extra.get("retry_after", 5))
        return console.templates.render(
            request,
            "error.html",
            {"status": status, "message": message, **extra},
            status_code=status,
            headers=headers,
        )

    async def sign_in_required(request: Request, error: Exception) -> Response:
        assert isinstance(error, SignInRequired)
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"hx-redirect": "/sign-in"})
        return see_other(f"/sign-in?next={quote(safe_next(error.next_path), safe='/')}")

    async def wrong_role(request: Request, error: Exception) -> Response:
        return page(request, 403, N_("This screen is not for your role."))

    async def csrf(request: Request, error: Exception) -> Response:
        log.warning(
            "csrf rejected",
            extra={"reason": str(error), "path": redacted_path(request.url.path)},
        )
        return page(request, 403, N_("The form was out of date or came from another site."))

    async def upstream(request: Request, error: Exception) -> Response:
        assert isinstance(error, UpstreamError)
        if error.status == 401:
            # The token expired or was revoked: sign in again.
            request.state.session = session_of(request).renewed()
            return see_other(f"/sign-in?next={quote(safe_next(request.url.path), safe='/')}")
        messages = {
            403: N_("You may not see or do this."),
            404: N_("Not found, or not yours to see."),
            409: N_("This cannot be done in the current state."),
            410: N_("The personal data of this case was erased."),
        }
        status = error.status if error.status in messages else 400
        return page(request, status, messages.get(status, "The request was not accepted."))

    async def unavailable(request: Request, error: Exception) -> Response:
        assert isinstance(error, UpstreamUnavailable)
        return page(
            request,
            503,
            N_("A platform service is not available right now. Please try again shortly."),
            retry_after=error.retry_after,
            service=error.service.value,
        )

    async def invalid(request: Request, error: Exception) -> Response:
        return page(request, 400, N_("The request was not accepted."))

    async def http(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        if error.status_code == 404:
            return page(request, 404, N_("Not found, or not yours to see."))
        if error.status_code == 405:
            return page(request, 405, N_("The request was not accepted."))
        return page(request, error.status_code, "The request was not accepted.")

    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(NotForYourRole, wrong_role)
    app.add_exception_handler(CsrfRejected, csrf)
    app.add_exception_handler(UpstreamError, upstream)
    app.add_exception_handler(UpstreamUnavailable, unavailable)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http)
