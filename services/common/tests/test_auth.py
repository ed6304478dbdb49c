"""Bearer tokens: verification, roles, and pseudonymous actor ids (no servers needed)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Annotated

import jwt
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from mpa_common.auth import (
    AuthSettings,
    CurrentPrincipal,
    DevKeyMissing,
    Principal,
    Role,
    TokenVerifier,
    ensure_dev_key,
    load_or_create_dev_key,
    mint_dev_token,
    require_roles,
)
from mpa_common.problems import Problem, install_problem_handlers


@pytest.fixture
def settings(tmp_path: Path) -> AuthSettings:
    ensure_dev_key(tmp_path / "key.pem")  # what the stack or a service's first start does
    return AuthSettings(auth_dev_key_file=tmp_path / "key.pem")


def test_a_minted_token_verifies_to_its_principal(settings: AuthSettings) -> None:
    partner = uuid.uuid4()
    token = mint_dev_token(
        [Role.PARTNER], subject="p-7", partner_id=partner, country="NE", settings=settings
    )
    principal = TokenVerifier(settings, production=False).verify(token)
    assert principal == Principal(
        subject="p-7", roles=frozenset({Role.PARTNER}), partner_id=partner, country="NE"
    )
    assert principal.actor_id == "partner:p-7"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"exp": 1}, "expired"),
        ({"aud": "someone-else"}, "audience"),
        ({"iss": "urn:elsewhere"}, "issuer"),
    ],
)
def test_tampered_claims_are_rejected(settings: AuthSettings, change: dict, reason: str) -> None:
    claims = jwt.decode(
        mint_dev_token([Role.OPERATOR], settings=settings), options={"verify_signature": False}
    )
    key = load_or_create_dev_key(settings.auth_dev_key_file)
    forged = jwt.encode({**claims, **change}, key, algorithm="EdDSA")
    with pytest.raises(Problem) as error:
        TokenVerifier(settings, production=False).verify(forged)
    assert error.value.status == 401
    assert reason in (error.value.detail or "").lower()


def test_a_token_signed_by_another_key_is_rejected(settings: AuthSettings, tmp_path: Path) -> None:
    other = AuthSettings(auth_dev_key_file=tmp_path / "other.pem")
    ensure_dev_key(other.auth_dev_key_file)
    token = mint_dev_token([Role.ADMIN], settings=other)
    with pytest.raises(Problem) as error:
        TokenVerifier(settings, production=False).verify(token)
    assert "signature" in (error.value.detail or "").lower()


def test_production_refuses_to_run_on_dev_keys(settings: AuthSettings) -> None:
    with pytest.raises(RuntimeError, match="AUTH_JWKS_URL"):
        TokenVerifier(settings, production=True)


def test_an_email_subject_never_becomes_an_actor_id() -> None:
    principal = Principal(subject="amina@example.org", roles=frozenset({Role.CASEWORKER}))
    assert "amina" not in principal.actor_id
    assert principal.actor_id.startswith("caseworker:h-")


def test_the_most_privileged_role_names_the_actor() -> None:
    principal = Principal(subject="u1", roles=frozenset({Role.OPERATOR, Role.SUPERVISOR}))
    assert principal.actor_id == "supervisor:u1"


def test_routes_answer_401_without_a_token_and_403_without_the_role(
    settings: AuthSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTH_DEV_KEY_FILE", str(settings.auth_dev_key_file))
    from mpa_common import auth

    auth._verifier.cache_clear()
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/admin-only")
    def admin_only(
        principal: Annotated[Principal, Depends(require_roles(Role.ADMIN))],
    ) -> dict[str, str]:
        return {"actor": principal.actor_id}

    client = TestClient(app)
    assert client.get("/admin-only").status_code == 401
    operator = mint_dev_token([Role.OPERATOR], subject="op1", settings=settings)
    denied = client.get("/admin-only", headers={"Authorization": f"Bearer {operator}"})
    assert denied.status_code == 403
    assert denied.headers["content-type"] == "application/problem+json"
    admin = mint_dev_token([Role.ADMIN], subject="ad1", settings=settings)
    allowed = client.get("/admin-only", headers={"Authorization": f"Bearer {admin}"})
    assert allowed.json() == {"actor": "admin:ad1"}
    auth._verifier.cache_clear()


# ---- hardening: every malformed, mistyped or wrong-algorithm token is a 401 ---------------


def _segment(document: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


def _signed(settings: AuthSettings, **changes: object) -> str:
    now = int(time.time())
    claims = {
        "sub": "u-1",
        "roles": ["operator"],
        "iss": settings.auth_issuer,
        "aud": settings.auth_audience,
        "iat": now,
        "exp": now + 60,
        **changes,
    }
    key = ensure_dev_key(settings.auth_dev_key_file)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm="EdDSA")


MALFORMED_TOKENS = {
    # The header claims RS256 while the key is Ed25519: PyJWT raised TypeError (a 500).
    "rs256 header": _segment({"alg": "RS256", "typ": "JWT"})
    + "."
    + _segment({"sub": "x"})
    + ".c2ln",
    "es256 header": _segment({"alg": "ES256"}) + "." + _segment({"sub": "x"}) + ".c2ln",
    "hs256 header": _segment({"alg": "HS256"}) + "." + _segment({"sub": "x"}) + ".c2ln",
    "alg none": _segment({"alg": "none"}) + "." + _segment({"sub": "x"}) + ".",
    "alg not a string": _segment({"alg": ["EdDSA"]}) + "." + _segment({"sub": "x"}) + ".c2ln",
    "header not an object": _segment([1, 2]) + "." + _segment({"sub": "x"}) + ".c2ln",
    "garbage segments": "!!!.###.$$$",
    "one segment": "abc",
    "empty segments": "..",
    "non-ascii": "é.é.é",
    "huge": "a" * 20_000,
}


@pytest.mark.parametrize("name", list(MALFORMED_TOKENS))
def test_a_malformed_token_is_a_401_never_a_crash(settings: AuthSettings, name: str) -> None:
    with pytest.raises(Problem) as error:
        TokenVerifier(settings, production=False).verify(MALFORMED_TOKENS[name])
    assert error.value.status == 401
    assert error.value.headers == {"WWW-Authenticate": "Bearer"}


@pytest.mark.parametrize(
    "claims",
    [
        {"roles": "admin"},  # a string, not a list
        {"roles": 5},  # raised TypeError
        {"roles": {"admin": True}},
        {"roles": [["admin"]]},
        {"roles": []},  # grants nothing: no actor to name
        {"roles": ["system"]},  # never granted by a token
        {"roles": ["wizard"]},
        {"partner_id": 5, "roles": ["partner"]},  # raised AttributeError
        {"partner_id": ["x"], "roles": ["partner"]},
        {"partner_id": "not-a-uuid", "roles": ["partner"]},
        {"country": 5},
        {"country": "niger"},
        {"sub": 5},
        {"sub": ""},
        {"exp": "soon"},
        {"iat": None},
    ],
)
def test_claims_of_the_wrong_type_are_a_401(settings: AuthSettings, claims: dict) -> None:
    with pytest.raises(Problem) as error:
        TokenVerifier(settings, production=False).verify(_signed(settings, **claims))
    assert error.value.status == 401


def test_a_token_cannot_choose_another_algorithm_for_the_dev_key(settings: AuthSettings) -> None:
    """Even a well-formed RS256 token signed by some RSA key is refused for the EdDSA key."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = jwt.decode(_signed(settings), options={"verify_signature": False})
    forged = jwt.encode(claims, rsa_key, algorithm="RS256")
    with pytest.raises(Problem) as error:
        TokenVerifier(settings, production=False).verify(forged)
    assert error.value.status == 401
    assert "algorithm" in (error.value.detail or "")


def test_minting_never_creates_a_key(tmp_path: Path) -> None:
    missing = AuthSettings(auth_dev_key_file=tmp_path / "none" / "key.pem")
    with pytest.raises(DevKeyMissing, match="make stack"):
        mint_dev_token([Role.OPERATOR], settings=missing)
    assert not (tmp_path / "none").exists()


def test_a_relative_key_path_is_read_from_the_platform_home_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("MPA_HOME", str(home))
    monkeypatch.chdir(elsewhere)
    ensure_dev_key(Path(".local/auth/k.pem"))
    assert (home / ".local/auth/k.pem").is_file()
    assert not (elsewhere / ".local").exists()
    token = mint_dev_token(
        [Role.ADMIN], settings=AuthSettings(auth_dev_key_file=Path(".local/auth/k.pem"))
    )
    assert token.count(".") == 2


def test_a_missing_or_wrong_type_of_header_is_a_401_with_www_authenticate(
    settings: AuthSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTH_DEV_KEY_FILE", str(settings.auth_dev_key_file))
    from mpa_common import auth

    auth._verifier.cache_clear()
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/who")
    def who(principal: CurrentPrincipal) -> dict[str, str]:
        return {"actor": principal.actor_id}

    client = TestClient(app)
    for header in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"},
                   {"Authorization": "Bearer " + MALFORMED_TOKENS["rs256 header"]}):  # fmt: skip
        response = client.get("/who", headers=header)
        assert response.status_code == 401, header
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"
    assert app.openapi()["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    auth._verifier.cache_clear()


# ---- the cache of verified tokens ---------------------------------------------------------


def test_a_verified_token_is_not_verified_again_within_the_minute(
    settings: AuthSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = TokenVerifier(settings, production=False)
    token = mint_dev_token([Role.OPERATOR], subject="op-1", settings=settings)
    first = verifier.verify(token)
    calls = []
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: calls.append(a) or {})
    assert verifier.verify(token) is first
    assert calls == []


def test_a_remembered_token_is_verified_again_after_a_minute(
    settings: AuthSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mpa_common import auth

    verifier = TokenVerifier(settings, production=False)
    token = mint_dev_token([Role.OPERATOR], settings=settings)
    verifier.verify(token)
    now = time.monotonic()
    monkeypatch.setattr(auth.time, "monotonic", lambda: now + auth.VERIFIED_TOKEN_TTL_SECONDS)
    # The issuer's key is gone (rotated out): the token is refused once the entry ends.
    verifier._dev_key = ensure_dev_key(settings.auth_dev_key_file.with_name("new.pem")).public_key()
    with pytest.raises(Problem) as error:
        verifier.verify(token)
    assert error.value.status == 401


def test_a_remembered_token_ends_at_its_own_expiry(settings: AuthSettings) -> None:
    verifier = TokenVerifier(settings, production=False)
    token = _signed(settings, exp=int(time.time()) + 2)
    verifier.verify(token)
    _principal, deadline = verifier._verified[token]
    assert deadline <= time.monotonic() + 2


def test_an_altered_copy_of_a_remembered_token_is_refused(settings: AuthSettings) -> None:
    verifier = TokenVerifier(settings, production=False)
    token = mint_dev_token([Role.OPERATOR], settings=settings)
    verifier.verify(token)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    altered = f"{header}.{_segment({**claims, 'roles': ['admin']})}.{signature}"
    for forged in (altered, token[:-2] + ("AA" if not token.endswith("AA") else "BB"), token + " "):
        with pytest.raises(Problem) as error:
            verifier.verify(forged)
        assert error.value.status == 401


def test_the_cache_of_verified_tokens_is_bounded(
    settings: AuthSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mpa_common import auth

    monkeypatch.setattr(auth, "VERIFIED_TOKEN_CACHE_SIZE", 3)
    verifier = TokenVerifier(settings, production=False)
    tokens = [_signed(settings, sub=f"u-{n}") for n in range(5)]
    for token in tokens:
        verifier.verify(token)
    assert list(verifier._verified) == tokens[2:]
