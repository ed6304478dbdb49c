"""Sign-in, sign-out, the language switch, the home page and health checks.

Development: a page to choose a role (and a partner) that mints a development token with
the local key — refused in production. Production: OpenID Connect with PKCE against
CONSOLE_OIDC_ISSUER. Either way the session is renewed at sign-in (new CSRF secret), and
the roles shown are read from the verified token, never from the form.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from mpa_common.auth import Role, mint_dev_token
from mpa_common.problems import Problem
from mpa_console.adapters.oidc import PendingSignIn, SignInFailed
from mpa_console.adapters.platform import Service, UpstreamUnavailable
from mpa_console.messages import N_
from mpa_console.web import i18n
from mpa_console.web.deps import ConsoleDep, safe_next, see_other
from mpa_console.web.security import check_csrf, session_of
from mpa_console.web.session import Session

router = APIRouter(dependencies=[Depends(check_csrf)])

DEV_ROLES = (
    Role.OPERATOR,
    Role.CASEWORKER,
    Role.PARTNER,
    Role.AUDITOR,
    Role.SUPERVISOR,
    Role.ADMIN,
    Role.PSEA_FOCAL_POINT,
)
DEV_COUNTRIES = ("NE", "ML")
# Fictional teams to sign in with (case scopes: a caseworker reaches the team's cases).
DEV_TEAMS = ("ne-niamey-cm", "ne-agadez-cm", "ml-gao-cm", "ml-bamako-cm")


def home_of(session: Session) -> str:
    """Where a user lands: the first screen of their most specific role."""
    for roles, path in (
        (("operator", "caseworker"), "/operator/cases"),
        (("partner",), "/partner/inbox"),
        (("supervisor", "admin"), "/supervisor/dashboard"),
        (("auditor",), "/auditor/events"),
        (("psea",), "/psea/complaints"),
    ):
        if session.has(*roles):
            return path
    return "/directory"


@router.get("/", include_in_schema=False)
async def home(request: Request) -> Response:
    session = session_of(request)
    return see_other(home_of(session) if session.signed_in else "/sign-in")


@router.get("/sign-in", summary="Sign in")
async def sign_in_page(
    request: Request, console: ConsoleDep, next: Annotated[str | None, Query()] = None
) -> Response:
    partners: list[dict[str, str]] = []
    if not console.settings.production:
        partners = await _dev_partners(console)
    return console.templates.render(
        request,
        "sign_in.html",
        {
            "next": safe_next(next),
            "dev": not console.settings.production,
            "roles": [r.value for r in DEV_ROLES],
            "partners": partners,
            "countries": DEV_COUNTRIES,
            "teams": DEV_TEAMS,
        },
    )


async def _dev_partners(console: ConsoleDep) -> list[dict[str, str]]:
    """The directory's partners, to choose one to act for (development only: listed with a
    short-lived development token of the console's own)."""
    token = mint_dev_token([Role.ADMIN], subject="console-dev-chooser", ttl_seconds=60)
    try:
        partners = await console.platform.get(Service.REFERRAL, "/v1/partners", token)
    except UpstreamUnavailable:
        return []
    return sorted(
        ({"id": p["id"], "name": p["name"], "code": p["code"]} for p in partners),
        key=lambda p: p["code"],
    )


@router.post("/sign-in/dev", summary="Development sign-in with a chosen role")
async def dev_sign_in(
    request: Request,
    console: ConsoleDep,
    role: Annotated[str, Form()],
    partner_id: Annotated[str, Form()] = "",
    country: Annotated[str, Form()] = "",
    team: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    if console.settings.production:
        raise StarletteHTTPException(404)  # development sign-in does not exist there
    session = session_of(request)
    try:
        chosen = Role(role)
        if chosen not in DEV_ROLES:
            raise ValueError(role)
        partner = uuid.UUID(partner_id) if chosen is Role.PARTNER else None
    except ValueError:
        session.flash(N_("Choose a role, and for a partner, the organisation."))
        return see_other("/sign-in")
    if country and country not in DEV_COUNTRIES:
        country = ""
    if team not in DEV_TEAMS:
        team = ""
    token = mint_dev_token(
        [chosen],
        subject=f"console-{chosen.value}-{uuid.uuid4().hex[:8]}",
        partner_id=partner,
        country=country or None,
        team=team or None,
        ttl_seconds=console.settings.session_max_age_seconds,
    )
    return _signed_in(request, console, token, next)


def _signed_in(request: Request, console: ConsoleDep, token: str, next_path: str) -> Response:
    principal = console.verifier.verify(token)
    claims_exp = _expiry(token)
    session = session_of(request).renewed()
    session.token = token
    session.token_expires_at = claims_exp
    session.actor_id = principal.actor_id
    session.roles = sorted(role.value for role in principal.roles)
    session.partner_id = str(principal.partner_id) if principal.partner_id else None
    session.country = principal.country
    request.state.session = session
    target = safe_next(next_path)
    return see_other(home_of(session) if target == "/" else target)


def _expiry(token: str) -> float | None:
    import jwt

    try:
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        return None
    return float(exp) if isinstance(exp, int | float) else None


@router.get("/auth/login", summary="Start an OpenID Connect sign-in")
async def oidc_login(
    request: Request, console: ConsoleDep, next: Annotated[str | None, Query()] = None
) -> Response:
    if console.oidc is None:
        return see_other("/sign-in")
    url, pending = await console.oidc.start()
    session = session_of(request)
    session.login = {**pending.as_dict(), "next": safe_next(next), "at": str(int(time.time()))}
    return RedirectResponse(url, status_code=302)


@router.get("/auth/callback", summary="Where the issuer sends the browser back")
async def oidc_callback(
    request: Request,
    console: ConsoleDep,
    code: Annotated[str | None, Query(max_length=2000)] = None,
    state: Annotated[str | None, Query(max_length=500)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    session = session_of(request)
    login, session.login = session.login, None
    if console.oidc is None or login is None or error or not code or not state:
        session.flash(N_("Sign-in did not complete. Please try again."))
        return see_other("/sign-in")
    pending = PendingSignIn(login["state"], login["nonce"], login["code_verifier"])
    try:
        signed_in = await console.oidc.finish(pending, state=state, code=code)
        return _signed_in(request, console, signed_in.access_token, login.get("next", "/"))
    except (SignInFailed, Problem):
        session.flash(N_("Sign-in did not complete. Please try again."))
        return see_other("/sign-in")


@router.post("/sign-out", summary="Sign out")
async def sign_out(request: Request) -> Response:
    request.state.session = session_of(request).renewed()
    request.state.session.flash(N_("You are signed out."))
    return see_other("/sign-in")


@router.post("/language", summary="Choose the language")
async def choose_language(
    request: Request,
    language: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    session = session_of(request)
    if language in i18n.LANGUAGES:
        session.language = language
    return see_other(safe_next(next))


health = APIRouter(tags=["health"])


@health.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok", "service": "console"}


@health.get("/readyz")
async def readyz(console: ConsoleDep) -> JSONResponse:
    """Ready when the four services answer their own readiness checks."""
    checks = {service.value: await console.platform.ready(service) for service in Service}
    down = [name for name, ok in checks.items() if not ok]
    body: dict[str, Any] = {
        "service": "console",
        "checks": {k: "ok" if v else "down" for k, v in checks.items()},
    }
    if down:
        body.update(
            type="about:blank", title="Service not ready", status=503, detail=", ".join(down)
        )
        return JSONResponse(body, 503, media_type="application/problem+json")
    return JSONResponse({**body, "status": "ready"})
