"""Server-rendered HTML: one Jinja2 environment, gettext wired to the request's language."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from mpa_console.messages import N_
from mpa_console.web import i18n
from mpa_console.web.labels import ACTION_NAMES, ROLE_NAMES, choices, label
from mpa_console.web.security import CSRF_FIELD, session_of
from mpa_console.web.session import Session

PACKAGE_DIR = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"


@cache
def _asset_version(path: str) -> str:
    return hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:10]


def static_url(path: str) -> str:
    """A static file's URL with its content hash, so browsers may cache it for long."""
    return f"/static/{path}?v={_asset_version(path)}"


def _navigation(session: Session) -> list[tuple[str, str]]:
    """(path, message id) of the screens the signed-in user's roles can use."""
    items: list[tuple[str, str]] = []
    if session.has("operator", "caseworker"):
        items += [("/operator/cases/new", N_("New case")), ("/operator/cases", N_("Cases"))]
    if session.has("partner"):
        items += [
            ("/partner/inbox", N_("Inbox")),
            ("/partner/endpoints", N_("Webhooks")),
            ("/partner/deliveries", N_("Delivery log")),
        ]
    if session.has("auditor", "admin"):
        items += [
            ("/auditor/events", N_("Event search")),
            ("/auditor/tree-head", N_("Signed tree head")),
        ]
    if session.has("operator", "caseworker", "supervisor"):
        items += [
            ("/casework/inbox", N_("Awaiting me")),
            ("/casework/report", N_("Casework report")),
        ]
    if session.has("supervisor", "admin"):
        items += [
            ("/supervisor/dashboard", N_("Dashboard")),
            ("/supervisor/unroutable", N_("Unroutable referrals")),
        ]
    if session.has("operator", "caseworker", "supervisor", "admin", "auditor", "partner"):
        items.append(("/feedback", N_("Feedback on services")))
    # Complaints of sexual exploitation and abuse: the focal point's alone, not even listed
    # for anyone else.
    if session.has("psea"):
        items += [
            ("/psea/complaints", N_("PSEA complaints")),
            ("/psea/complaints/new", N_("Record a complaint")),
        ]
    if session.signed_in:
        items.append(("/directory", N_("Directory")))
    return items


def build_environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(("html",)),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext_, i18n.ngettext_, newstyle=True
    )
    environment.globals.update(
        label=label,
        choices=choices,
        when=i18n.when,
        duration=i18n.duration,
        number=i18n.number,
        percent=i18n.percent,
        static=static_url,
        languages=i18n.LANGUAGES,
        csrf_field=CSRF_FIELD,
        role_names=ROLE_NAMES,
        action_names=ACTION_NAMES,
    )
    return environment


class Templates:
    def __init__(self) -> None:
        self.environment = build_environment()

    def render(
        self,
        request: Request,
        name: str,
        context: dict[str, Any] | None = None,
        *,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        session = session_of(request)
        values: dict[str, Any] = {
            "request": request,
            "session": session,
            "csrf": session.csrf,
            "lang": i18n.current_language(),
            "dir": i18n.direction(),
            "navigation": _navigation(session),
            "flashes": session.take_flashes(),
            "now": datetime.now(UTC),
            "path": request.url.path,
            "production": bool(getattr(request.app.state, "production", False)),
        }
        values.update(context or {})
        html = self.environment.get_template(name).render(values)
        return HTMLResponse(html, status_code=status_code, headers=headers)
