"""Bearer-token authentication and role checks, shared by every service (PyJWT).

Production validates tokens from an OIDC issuer: signature against the issuer's JWKS
(AUTH_JWKS_URL), issuer (AUTH_ISSUER) and audience (AUTH_AUDIENCE). Development and tests
use a local Ed25519 key in `.local/auth/` that `mpa token` signs with; it is refused in
production. Who did what always comes from the verified token, never from a request body.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import Depends, Request
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from mpa_common.problems import Problem
from mpa_contracts.types import ORG_UNIT_CODE_PATTERN
from mpa_contracts.vocabularies import ActorRole

DEV_KEY_ALGORITHM = "EdDSA"
DEFAULT_AUDIENCE = "mpa"
DEV_ISSUER = "urn:mpa:dev-issuer"
_SAFE_SUBJECT = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


# One vocabulary for token roles and the roles events name (SYSTEM is never in a token).
Role = ActorRole


class AuthSettings(BaseSettings):
    auth_jwks_url: str = ""
    auth_issuer: str = DEV_ISSUER
    auth_audience: str = DEFAULT_AUDIENCE
    auth_dev_key_file: Path = Path(".local/auth/dev-signing-key.pem")
    auth_leeway_seconds: int = 30

    model_config = SettingsConfigDict(extra="ignore")


class Principal(BaseModel):
    """The verified caller."""

    model_config = {"frozen": True}

    subject: str
    roles: frozenset[Role]
    partner_id: uuid.UUID | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    # The user's team and agency (organisation units), for case scopes: codes, never names.
    team: str | None = Field(default=None, pattern=ORG_UNIT_CODE_PATTERN)
    agency: str | None = Field(default=None, pattern=ORG_UNIT_CODE_PATTERN)

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def primary_role(self) -> Role:
        # The most privileged role names the actor in events; order is deliberate.
        for role in (Role.ADMIN, Role.SUPERVISOR, Role.AUDITOR, Role.CASEWORKER,
                     Role.OPERATOR, Role.PARTNER, Role.SERVICE):  # fmt: skip
            if role in self.roles:
                return role
        raise ValueError("principal without roles")

    @property
    def actor_id(self) -> str:
        """A pseudonymous actor id for events: `<role>:<subject>`; an unusual subject (an
        e-mail address, say) is replaced by a hash so it never leaks into an event."""
        subject = self.subject
        if not _SAFE_SUBJECT.match(subject) or "@" in subject:
            subject = "h-" + hashlib.sha256(subject.encode()).hexdigest()[:32]
        return f"{self.primary_role.value}:{subject}"


class TokenVerifier:
    def __init__(self, settings: AuthSettings, *, production: bool) -> None:
        self._settings = settings
        self._jwks: jwt.PyJWKClient | None = None
        self._dev_key: Ed25519PublicKey | None = None
        if settings.auth_jwks_url:
            self._jwks = jwt.PyJWKClient(settings.auth_jwks_url, cache_keys=True)
        elif production:
            raise RuntimeError("AUTH_JWKS_URL is required in production (dev keys are refused)")

    def _key_for(self, token: str) -> Any:
        if self._jwks is not None:
            return self._jwks.get_signing_key_from_jwt(token).key
        if self._dev_key is None:
            self._dev_key = load_or_create_dev_key(self._settings.auth_dev_key_file).public_key()
        return self._dev_key

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._key_for(token),
                algorithms=["EdDSA", "RS256", "ES256"],
                audience=self._settings.auth_audience,
                issuer=self._settings.auth_issuer,
                leeway=self._settings.auth_leeway_seconds,
                options={"require": ["exp", "iat", "sub"]},
            )
        except jwt.PyJWTError as error:
            raise Problem(401, "Unauthorized", f"Invalid bearer token: {error}") from error
        try:
            roles = frozenset(Role(r) for r in claims.get("roles", ()))
            if Role.SYSTEM in roles:
                raise ValueError("the system role is never granted by a token")
            partner = claims.get("partner_id")
            return Principal(
                subject=str(claims["sub"]),
                roles=roles,
                partner_id=uuid.UUID(partner) if partner else None,
                country=claims.get("country"),
                team=claims.get("team"),
                agency=claims.get("agency"),
            )
        except ValueError as error:
            raise Problem(401, "Unauthorized", "Token claims are malformed") from error


def load_or_create_dev_key(path: Path) -> Ed25519PrivateKey:
    """The local development signing key, created on first use (mode 600)."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise RuntimeError(f"{path} is not an Ed25519 private key")
        return key
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    path.chmod(0o600)
    return key


def mint_dev_token(
    roles: Iterable[Role | str],
    *,
    subject: str | None = None,
    partner_id: uuid.UUID | None = None,
    country: str | None = None,
    team: str | None = None,
    agency: str | None = None,
    ttl_seconds: int = 8 * 3600,
    settings: AuthSettings | None = None,
) -> str:
    """A token signed with the local development key (for `mpa token` and tests)."""
    settings = settings or AuthSettings()
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject or f"dev-{uuid.uuid4().hex[:8]}",
        "roles": [Role(r).value for r in roles],
        "iss": settings.auth_issuer,
        "aud": settings.auth_audience,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if partner_id is not None:
        claims["partner_id"] = str(partner_id)
    if country is not None:
        claims["country"] = country
    if team is not None:
        claims["team"] = team
    if agency is not None:
        claims["agency"] = agency
    key = load_or_create_dev_key(settings.auth_dev_key_file)
    return jwt.encode(claims, key, algorithm=DEV_KEY_ALGORITHM)


@lru_cache(maxsize=4)
def _verifier(production: bool) -> TokenVerifier:
    return TokenVerifier(AuthSettings(), production=production)


def authenticated(request: Request) -> Principal:
    """FastAPI dependency: the verified principal of a request with a bearer token."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem(401, "Unauthorized", "A bearer token is required")
    production = getattr(request.app.state, "production", False)
    return _verifier(bool(production)).verify(token.strip())


CurrentPrincipal = Annotated[Principal, Depends(authenticated)]


def require_roles(*roles: Role) -> Callable[[Principal], Principal]:
    """FastAPI dependency factory: the principal, if it holds one of `roles` (else 403)."""

    def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has(*roles):
            allowed = ", ".join(r.value for r in roles)
            raise Problem(403, "Forbidden", f"This needs one of the roles: {allowed}")
        return principal

    return check
