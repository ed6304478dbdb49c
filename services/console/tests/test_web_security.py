"""CSRF on every form, the security headers, the cookie's attributes, sign-in and roles."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.routing import APIRoute

from mpa_console.main import create_app
from mpa_console.settings import ConsoleSettings

ANY_ID = str(uuid.uuid4())


def _post_routes(settings: ConsoleSettings) -> list[str]:
    app = create_app(settings)
    paths = []
    routes = [
        route
        for included in app.routes
        for route in getattr(getattr(included, "original_router", None), "routes", [included])
    ]
    for route in routes:
        if isinstance(route, APIRoute) and "POST" in route.methods:
            path = route.path
            if "{action}" in path:
                action = "test" if "endpoints" in path else "accept"
                path = path.replace("{action}", action)
            paths.append(re.sub(r"\{[a-z_]+\}", ANY_ID, path))
    return paths


def test_every_form_needs_the_sessions_csrf_token(client, settings, signed_in) -> None:
    paths = _post_routes(settings)
    assert len(paths) >= 13
    signed_in(client)
    for path in paths:
        for data in ({}, {"csrf_token": "a-guess"}):
            answer = client.post(path, data=data, follow_redirects=False)
            assert answer.status_code == 403, path
            assert "out of date or came from another site" in answer.text


def test_a_cross_site_post_is_refused_even_with_the_token(client, signed_in) -> None:
    token = signed_in(client)
    answer = client.post(
        "/language",
        data={"language": "fr", "csrf_token": token},
        headers={"origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    same_site = client.post(
        "/language", data={"language": "fr", "csrf_token": token}, follow_redirects=False
    )
    assert same_site.status_code == 303


def test_pages_carry_a_strict_policy_and_are_never_cached(client) -> None:
    page = client.get("/sign-in")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    # No inline script or style for the policy to have to allow.
    assert "<script>" not in page.text
    assert " style=" not in page.text
    assert "<style" not in page.text
    static = client.get("/static/js/htmx.min.js", headers={"accept-encoding": "gzip"})
    assert static.status_code == 200
    assert static.headers["content-encoding"] == "gzip"
    assert "max-age" in static.headers["cache-control"]


def test_the_session_cookie_is_http_only_and_same_site(client) -> None:
    cookie = client.get("/sign-in").headers["set-cookie"]
    assert cookie.startswith("mpa_console=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/" in cookie


def test_screens_need_a_sign_in_and_the_right_role(client, signed_in) -> None:
    answer = client.get("/auditor/events", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=/auditor/events"
    signed_in(client, "operator")
    answer = client.get("/auditor/events")
    assert answer.status_code == 403
    assert "not for your role" in answer.text


def test_the_development_sign_in_reads_roles_from_the_token_and_renews_the_session(
    client, csrf_of, signed_in
) -> None:
    before = csrf_of(client.get("/sign-in").text)
    after = signed_in(client, "auditor")
    assert after != before  # a session fixed before sign-in is worth nothing after it
    page = client.get("/auditor/tree-head")  # the audit service is down: a 503 page
    assert page.status_code == 503
    assert page.headers["retry-after"]
    assert "auditor:console-auditor-" in page.text


def test_a_partner_cannot_sign_in_without_naming_its_organisation(client, csrf_of) -> None:
    token = csrf_of(client.get("/sign-in").text)
    answer = client.post(
        "/sign-in/dev", data={"role": "partner", "csrf_token": token}, follow_redirects=True
    )
    assert "for a partner, the organisation" in answer.text
    assert client.get("/partner/inbox", follow_redirects=False).status_code == 303


def test_no_open_redirect_after_sign_in(client, csrf_of) -> None:
    token = csrf_of(client.get("/sign-in").text)
    answer = client.post(
        "/sign-in/dev",
        data={"role": "operator", "csrf_token": token, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/operator/cases"


def test_development_sign_in_does_not_exist_in_production(tmp_path) -> None:
    with pytest.raises(RuntimeError, match="CONSOLE_OIDC_ISSUER"):
        ConsoleSettings(MPA_ENV="production", session_keys="x").check()
