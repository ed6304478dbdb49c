"""Production sign-in: OpenID Connect authorization code with PKCE, against a small stub
issuer on 127.0.0.1 (discovery, authorize, token, JWKS), with the console in production
mode: `__Host-` Secure cookie, no development sign-in, state and single-use codes checked."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, generate_private_key
from jwt.algorithms import RSAAlgorithm

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

from mpa_console.main import create_app
from mpa_console.settings import ConsoleSettings

CLIENT_ID, CLIENT_SECRET = "mpa-console", "s3cret"
CONSOLE = "https://console.test"


@dataclass
class StubIssuer:
    """An OIDC provider that signs a user in at once, as the roles it is told to grant."""

    port: int
    key: RSAPrivateKey = field(default_factory=lambda: generate_private_key(65537, 2048))
    roles: list[str] = field(default_factory=lambda: ["auditor"])
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _jwt(self, claims: dict[str, Any]) -> str:
        now = int(time.time())
        return jwt.encode(
            {"iss": self.url, "iat": now, "exp": now + 600, **claims},
            self.key,
            algorithm="RS256",
            headers={"kid": "stub-1"},
        )

    def serve(self) -> ThreadingHTTPServer:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/.well-known/openid-configuration":
                    self._json(
                        200,
                        {
                            "issuer": issuer.url,
                            "authorization_endpoint": f"{issuer.url}/authorize",
                            "token_endpoint": f"{issuer.url}/token",
                            "jwks_uri": f"{issuer.url}/jwks",
                            "code_challenge_methods_supported": ["S256"],
                        },
                    )
                elif url.path == "/jwks":
                    jwk = json.loads(RSAAlgorithm.to_jwk(issuer.key.public_key()))
                    self._json(200, {"keys": [{**jwk, "kid": "stub-1", "use": "sig"}]})
                elif url.path == "/authorize":
                    params = {k: v[0] for k, v in parse_qs(url.query).items()}
                    issuer.authorize_requests.append(params)
                    code = secrets.token_urlsafe(16)
                    issuer.codes[code] = params
                    target = f"{params['redirect_uri']}?" + urlencode(
                        {"code": code, "state": params["state"]}
                    )
                    self.send_response(302)
                    self.send_header("location", target)
                    self.end_headers()
                else:
                    self._json(404, {})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                form = {k: v[0] for k, v in parse_qs(body).items()}
                basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                if self.headers.get("authorization") != f"Basic {basic}":
                    self._json(401, {"error": "invalid_client"})
                    return
                granted = issuer.codes.pop(form.get("code", ""), None)  # single use
                verifier = form.get("code_verifier", "")
                challenge = (
                    base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                    .rstrip(b"=")
                    .decode()
                )
                if (
                    granted is None
                    or form.get("grant_type") != "authorization_code"
                    or granted.get("code_challenge") != challenge
                    or granted.get("redirect_uri") != form.get("redirect_uri")
                ):
                    self._json(400, {"error": "invalid_grant"})
                    return
                access = issuer._jwt({"sub": "u-42", "aud": "mpa", "roles": issuer.roles})
                identity = issuer._jwt({"sub": "u-42", "aud": CLIENT_ID, "nonce": granted["nonce"]})
                self._json(
                    200,
                    {
                        "access_token": access,
                        "id_token": identity,
                        "token_type": "Bearer",
                        "expires_in": 600,
                    },
                )

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


@pytest.fixture
def issuer() -> Iterator[StubIssuer]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    stub = StubIssuer(port)
    server = stub.serve()
    yield stub
    server.shutdown()


@pytest.fixture
def production(
    issuer: StubIssuer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    # The services would verify the same access tokens against the issuer's JWKS.
    monkeypatch.setenv("AUTH_JWKS_URL", f"{issuer.url}/jwks")
    monkeypatch.setenv("AUTH_ISSUER", issuer.url)
    monkeypatch.setenv("AUTH_AUDIENCE", "mpa")
    settings = ConsoleSettings(
        MPA_ENV="production",
        public_url=CONSOLE,
        session_keys=Fernet.generate_key().decode(),
        oidc_issuer=issuer.url,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        audit_url="http://127.0.0.1:9",  # nothing there: pages answer 503, signed in
    )
    with TestClient(create_app(settings), base_url=CONSOLE) as client:
        yield client


def _through_the_issuer(client: TestClient, next_path: str = "/auditor/events") -> str:
    """Starts a sign-in; returns the callback URL the issuer sends the browser back to."""
    start = client.get(f"/auth/login?next={next_path}", follow_redirects=False)
    assert start.status_code == 302
    authorize = start.headers["location"]
    answer = httpx.get(authorize, follow_redirects=False)
    assert answer.status_code == 302
    callback = answer.headers["location"]
    assert callback.startswith(f"{CONSOLE}/auth/callback?")
    return callback.removeprefix(CONSOLE)


def test_sign_in_with_the_authorization_code_flow_and_pkce(
    production: TestClient, issuer: StubIssuer
) -> None:
    callback = _through_the_issuer(production)
    sent = issuer.authorize_requests[-1]
    assert sent["response_type"] == "code"
    assert sent["client_id"] == CLIENT_ID
    assert sent["redirect_uri"] == f"{CONSOLE}/auth/callback"
    assert sent["code_challenge_method"] == "S256"
    assert len(sent["code_challenge"]) == 43
    assert sent["state"]
    assert sent["nonce"]
    assert "openid" in sent["scope"].split()

    done = production.get(callback, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == "/auditor/events"
    cookie = done.headers["set-cookie"]
    assert cookie.startswith("__Host-mpa_console=")
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    page = production.get("/auditor/events")
    assert "auditor:u-42" in page.text  # the roles come from the issuer's access token
    assert page.headers["strict-transport-security"]


def test_a_callback_with_another_state_or_a_replayed_code_signs_no_one_in(
    production: TestClient, issuer: StubIssuer
) -> None:
    callback = _through_the_issuer(production)
    forged = callback.replace("state=", "state=x", 1)
    answer = production.get(forged)
    assert "Sign-in did not complete" in answer.text
    assert production.get("/auditor/events", follow_redirects=False).status_code == 303

    callback = _through_the_issuer(production)
    assert production.get(callback, follow_redirects=False).status_code == 303
    production.post("/sign-out", data={"csrf_token": _csrf(production)})
    # The same callback again: its state was used up, and the issuer refuses the code.
    again = production.get(callback)
    assert "Sign-in did not complete" in again.text


def test_production_offers_no_development_sign_in(production: TestClient) -> None:
    page = production.get("/sign-in")
    assert "/auth/login" in page.text
    assert "sign-in/dev" not in page.text
    answer = production.post(
        "/sign-in/dev", data={"role": "admin", "csrf_token": _csrf(production)}
    )
    assert answer.status_code == 404


def _csrf(client: TestClient) -> str:
    import re

    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/sign-in").text)
    assert found
    return found.group(1)
