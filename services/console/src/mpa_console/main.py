"""Composition root of the console: builds the app from its settings and runs it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import uvicorn
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

from mpa_common.auth import AuthSettings, TokenVerifier
from mpa_common.logging import configure_logging
from mpa_console.adapters.oidc import OidcClient
from mpa_console.adapters.platform import Platform, Service
from mpa_console.settings import ConsoleSettings
from mpa_console.web import (
    auth_routes,
    casework_routes,
    cross_border_routes,
    i18n,
    operator_routes,
    oversight_routes,
    partner_routes,
    protection_routes,
    psea_routes,
    voice_routes,
)
from mpa_console.web.deps import Console, install_error_pages
from mpa_console.web.security import SecurityHeadersMiddleware
from mpa_console.web.session import (
    ASGIApp,
    Receive,
    Scope,
    Send,
    Session,
    SessionCodec,
    SessionMiddleware,
)
from mpa_console.web.templating import STATIC_DIR, Templates


def create_app(settings: ConsoleSettings | None = None) -> FastAPI:
    settings = settings or ConsoleSettings()
    settings.check()
    platform = Platform(
        {
            Service.INTAKE: settings.intake_url,
            Service.REFERRAL: settings.referral_url,
            Service.NOTIFICATION: settings.notification_url,
            Service.AUDIT: settings.audit_url,
        },
        timeout=settings.upstream_timeout_seconds,
    )
    oidc = None
    if settings.oidc_issuer:
        oidc = OidcClient(
            settings.oidc_issuer,
            settings.oidc_client_id,
            settings.oidc_client_secret.get_secret_value(),
            f"{settings.base_url}/auth/callback",
            settings.oidc_scopes,
            timeout=settings.upstream_timeout_seconds,
        )
    console = Console(
        settings=settings,
        platform=platform,
        templates=Templates(),
        verifier=TokenVerifier(AuthSettings(), production=settings.production),
        oidc=oidc,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await platform.close()

    app = FastAPI(
        title="MPA Console",
        description="Server-rendered screens over the platform services' public APIs.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.console = console
    app.state.production = settings.production

    install_error_pages(app)
    for router in (
        auth_routes.router,
        auth_routes.health,
        operator_routes.router,
        partner_routes.router,
        oversight_routes.router,
        casework_routes.router,
        protection_routes.router,
        psea_routes.router,
        voice_routes.router,
        cross_border_routes.router,
    ):
        app.include_router(router)
    # Only static files are compressed: pages carry the CSRF secret next to what users typed,
    # which compression would expose to a length-observing attacker (BREACH).
    app.mount("/static", GZipMiddleware(StaticFiles(directory=STATIC_DIR), minimum_size=500))
    # Outermost last: the session is loaded before anything reads it; headers on everything.
    form_targets = (_origin(settings.oidc_issuer),) if settings.oidc_issuer else ()
    app.add_middleware(LanguageMiddleware)
    app.add_middleware(SessionMiddleware, codec=_codec(settings), secure=settings.production)
    app.add_middleware(
        SecurityHeadersMiddleware, production=settings.production, form_targets=form_targets
    )
    return app


class LanguageMiddleware:
    """Sets the request's language: the user's choice, else the browser's preference."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            session: Session = scope["state"]["session"]
            accept = dict(scope.get("headers", [])).get(b"accept-language", b"").decode("latin-1")
            i18n.set_language(i18n.choose_language(session.language, accept))
        await self._app(scope, receive, send)


def _codec(settings: ConsoleSettings) -> SessionCodec:
    return SessionCodec(
        settings.fernet_keys(),
        max_age_seconds=settings.session_max_age_seconds,
        idle_seconds=settings.session_idle_seconds,
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def main() -> None:
    settings = ConsoleSettings()
    configure_logging("console", settings.log_level)
    # httpx logs every request's URL at INFO: noise, and the console's calls are its users'.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
