"""Bearer tokens: verification, roles, and pseudonymous actor ids (no servers needed)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

import jwt
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from mpa_common.auth import (
    AuthSettings,
    Principal,
    Role,
    TokenVerifier,
    load_or_create_dev_key,
    mint_dev_token,
    require_roles,
)
from mpa_common.problems import Problem, install_problem_handlers


@pytest.fixture
def settings(tmp_path: Path) -> AuthSettings:
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
