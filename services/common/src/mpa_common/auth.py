"""Bearer-token authentication and role checks, shared by every service (PyJWT).

Production validates tokens from an OIDC issuer: signature against the issuer's JWKS
(AUTH_JWKS_URL), issuer (AUTH_ISSUER) and audience (AUTH_AUDIENCE). Development and tests
use a local Ed25519 key in `.local/auth/` of the platform's home (the checkout, or MPA_HOME)
that `mpa token` signs with; it is refused in production. Who did what always comes from the
verified token, never from a request body.

Every token that is not exactly right — malformed segments, an algorithm other than the
key's, claims of the wrong type — answers 401 problem+json; it can never cause a 500.

A token that verified is remembered (the exact token string, never a part of it) for at most
VERIFIED_TOKEN_TTL_SECONDS and never beyond its own `exp`, so a client's next requests with it
skip the signature check (an Ed25519 verify was ~4% of the intake service's CPU). Why that is
safe: only tokens that passed every check are remembered, keyed by their whole text, so a
forged, altered or expired token never matches an entry and is verified in full; an entry
ends at the token's `exp` (tighter than the leeway verification allows), and at most 60 s
after it was verified, so a key the issuer rotates out or removes stops being honoured within
a minute (PyJWKClient already keeps the issuer's key set for minutes). The cache is bounded
(VERIFIED_TOKEN_CACHE_SIZE entries): a flood of valid tokens only evicts older entries.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from mpa_common.paths import resolve_home_path
from mpa_common.problems import Problem
from mpa_contracts.types import ORG_UNIT_CODE_PATTERN
from mpa_contracts.vocabularies import ActorRole

log = logging.getLogger(__name__)

DEV_KEY_ALGORITHM = "EdDSA"
DEFAULT_AUDIENCE = "mpa"
DEV_ISSUER = "urn:mpa:dev-issuer"
DEV_KEY_FILE = Path(".local/auth/dev-signing-key.pem")
# Asymmetric algorithms only: an HMAC ("HS256") token verified with a public key would let
# anyone who knows the key forge tokens. "none" is never accepted.
ACCEPTED_ALGORITHMS = ("EdDSA", "ES256", "ES384", "RS256", "PS256")
# Far above any real token (a few hundred bytes); bounds the work spent on garbage.
MAX_TOKEN_LENGTH = 8192
BEARER_SCHEME_NAME = "bearerAuth"
# How long, at most, a verified token is taken without checking its signature again (see the
# module's docstring); and how many verified tokens are remembered.
VERIFIED_TOKEN_TTL_SECONDS = 60.0
VERIFIED_TOKEN_CACHE_SIZE = 1024
_SAFE_SUBJECT = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": "Bearer"}


# One vocabulary for token roles and the roles events name (SYSTEM is never in a token).
Role = ActorRole


class AuthSettings(BaseSettings):
    auth_jwks_url: str = ""
    auth_issuer: str = DEV_ISSUER
    auth_audience: str = DEFAULT_AUDIENCE
    # Relative paths are read from the platform's home (the checkout or MPA_HOME).
    auth_dev_key_file: Path = DEV_KEY_FILE
    auth_leeway_seconds: int = 30

    model_config = SettingsConfigDict(extra="ignore")

    @property
    def dev_key_path(self) -> Path:
        return resolve_home_path(self.auth_dev_key_file)


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
        for role in (Role.ADMIN, Role.SUPERVISOR, Role.AUDITOR, Role.PSEA_FOCAL_POINT,
                     Role.CASEWORKER, Role.OPERATOR, Role.PARTNER, Role.SERVICE):  # fmt: skip
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


_TOKEN_ROLES = tuple(role.value for role in Role if role is not Role.SYSTEM)


class TokenClaims(BaseModel):
    """The claims the platform reads, with their JSON types checked strictly: a `roles`
    that is not a list of strings, or a `partner_id` that is not a UUID string, is a
    malformed token (401), not a crash."""

    model_config = ConfigDict(strict=True, extra="ignore")

    sub: str = Field(min_length=1, max_length=256)
    roles: list[str] = Field(min_length=1, max_length=16)
    partner_id: str | None = Field(default=None, max_length=64)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    team: str | None = Field(default=None, pattern=ORG_UNIT_CODE_PATTERN)
    agency: str | None = Field(default=None, pattern=ORG_UNIT_CODE_PATTERN)

    def principal(self) -> Principal:
        unknown = [r for r in self.roles if r not in _TOKEN_ROLES]
        if unknown:
            raise ValueError("roles: not a role a token may carry")
        return Principal(
            subject=self.sub,
            roles=frozenset(Role(r) for r in self.roles),
            partner_id=uuid.UUID(self.partner_id) if self.partner_id is not None else None,
            country=self.country,
            team=self.team,
            agency=self.agency,
        )


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail, headers=_UNAUTHORIZED_HEADERS)


class TokenVerifier:
    def __init__(self, settings: AuthSettings, *, production: bool) -> None:
        self._settings = settings
        self._jwks: jwt.PyJWKClient | None = None
        self._dev_key: Ed25519PublicKey | None = None
        # token -> (principal, monotonic deadline); insertion order is age (oldest first).
        self._verified: dict[str, tuple[Principal, float]] = {}
        if settings.auth_jwks_url:
            self._jwks = jwt.PyJWKClient(settings.auth_jwks_url, cache_keys=True)
        elif production:
            raise RuntimeError("AUTH_JWKS_URL is required in production (dev keys are refused)")

    def _key_for(self, token: str, algorithm: str) -> Any:
        """The key that must have signed `token`, if its header's algorithm is that key's."""
        if self._jwks is None:
            if algorithm != DEV_KEY_ALGORITHM:
                raise _unauthorized("Invalid bearer token: the algorithm is not accepted")
            if self._dev_key is None:
                self._dev_key = ensure_dev_key(self._settings.dev_key_path).public_key()
            return self._dev_key
        try:
            signing_key = self._jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as error:
            # The issuer being unreachable is not the caller's fault: not ready, retry.
            raise Problem(
                503,
                "Service unavailable",
                "The token issuer's keys cannot be fetched right now",
                headers={"Retry-After": "5"},
            ) from error
        except jwt.PyJWTError as error:
            raise _unauthorized("Invalid bearer token: no key of the issuer matches") from error
        if signing_key.algorithm_name != algorithm:
            raise _unauthorized("Invalid bearer token: the algorithm is not the key's")
        return signing_key.key

    def verify(self, token: str) -> Principal:
        """The principal of `token`, from the cache of tokens verified in the last minute
        (never past their `exp`), else by verifying it in full."""
        remembered = self._verified.get(token)
        if remembered is not None:
            principal, deadline = remembered
            if time.monotonic() < deadline:
                return principal
            del self._verified[token]
        principal, expires_at = self._verify(token)
        self._remember(token, principal, expires_at)
        return principal

    def _remember(self, token: str, principal: Principal, expires_at: float) -> None:
        now = time.monotonic()
        # `exp` is wall-clock time: how much of it is left, on the monotonic clock.
        lifetime = min(VERIFIED_TOKEN_TTL_SECONDS, expires_at - time.time())
        if lifetime <= 0:
            return  # inside the leeway past its exp: valid now, but never remembered
        verified = self._verified
        if len(verified) >= VERIFIED_TOKEN_CACHE_SIZE:
            for stale in [t for t, (_, deadline) in verified.items() if deadline <= now]:
                del verified[stale]
            while len(verified) >= VERIFIED_TOKEN_CACHE_SIZE:
                del verified[next(iter(verified))]
        verified[token] = (principal, now + lifetime)

    def _verify(self, token: str) -> tuple[Principal, float]:
        """Every check of a token: its principal and its `exp` (Unix time)."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise _unauthorized("Invalid bearer token: too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise _unauthorized(f"Invalid bearer token: {error}") from error
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in ACCEPTED_ALGORITHMS:
            raise _unauthorized("Invalid bearer token: the algorithm is not accepted")
        key = self._key_for(token, algorithm)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self._settings.auth_audience,
                issuer=self._settings.auth_issuer,
                leeway=self._settings.auth_leeway_seconds,
                options={"require": ["exp", "iat", "sub"]},
            )
        except jwt.PyJWTError as error:
            raise _unauthorized(f"Invalid bearer token: {error}") from error
        except Exception as error:  # whatever garbage a crafted token makes the library hit
            log.info("bearer token rejected", extra={"error": type(error).__name__})
            raise _unauthorized("Invalid bearer token") from error
        try:
            principal = TokenClaims.model_validate(claims).principal()
        except (ValidationError, ValueError) as error:
            fields = (
                sorted({str(e["loc"][0]) for e in error.errors() if e["loc"]})
                if isinstance(error, ValidationError)
                else []
            )
            named = f": {', '.join(fields)}" if fields else ""
            raise _unauthorized(f"Token claims are malformed{named}") from error
        # PyJWT checked that exp is a number (required); a bool would be one too.
        expires_at = claims["exp"]
        if isinstance(expires_at, bool) or not isinstance(expires_at, int | float):
            return principal, 0.0
        return principal, float(expires_at)


class DevKeyMissing(RuntimeError):
    """No development signing key exists yet (the stack or a service creates it)."""


def _load_dev_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise RuntimeError(f"{path} is not an Ed25519 private key")
    return key


def load_dev_key(path: Path) -> Ed25519PrivateKey:
    """The development signing key at `path` (relative: under the platform's home); never
    creates one, so a token is never signed by a key no service knows."""
    path = resolve_home_path(path)
    if not path.exists():
        raise DevKeyMissing(
            f"no development signing key at {path}: start the local stack (`make stack`) or "
            "a service once to create it, or set MPA_HOME / AUTH_DEV_KEY_FILE to where it is"
        )
    return _load_dev_key(path)


def ensure_dev_key(path: Path) -> Ed25519PrivateKey:
    """The development signing key, created on first use (mode 600). Several processes may
    start at once: the key is written aside and linked into place, so one of them wins and
    the others read the winner's key."""
    path = resolve_home_path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        scratch = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
        descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
        try:
            os.link(scratch, path)
        except FileExistsError:
            pass
        finally:
            with contextlib.suppress(FileNotFoundError):
                scratch.unlink()
    return _load_dev_key(path)


# The name other modules (the audit's tree-head key) have used; it creates on first use.
load_or_create_dev_key = ensure_dev_key


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
    """A token signed with the local development key (for `mpa token` and tests); raises
    DevKeyMissing when there is no key yet."""
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
    key = load_dev_key(settings.auth_dev_key_file)
    return jwt.encode(claims, key, algorithm=DEV_KEY_ALGORITHM)


@lru_cache(maxsize=4)
def _verifier(production: bool) -> TokenVerifier:
    return TokenVerifier(AuthSettings(), production=production)


# Declares the bearer scheme in every service's OpenAPI, on exactly the routes that need a
# token; auto_error=False so that a missing token answers our 401 problem+json.
bearer_scheme = HTTPBearer(
    scheme_name=BEARER_SCHEME_NAME,
    bearerFormat="JWT",
    description="An OIDC access token (JWT) of the platform's issuer; in development "
    "`mpa token --role ROLE` prints one",
    auto_error=False,
)


BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def _principal(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    if credentials is None or not credentials.credentials.strip():
        raise _unauthorized("A bearer token is required")
    production = getattr(request.app.state, "production", False)
    return _verifier(bool(production)).verify(credentials.credentials.strip())


async def authenticated(request: Request, credentials: BearerCredentials) -> Principal:
    """FastAPI dependency: the verified principal of a request with a bearer token."""
    return _principal(request, credentials)


CurrentPrincipal = Annotated[Principal, Depends(authenticated)]


def require_roles(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """FastAPI dependency factory: the principal, if it holds one of `roles` (else 403).

    It reads the bearer credentials itself rather than through `authenticated`: each level
    of dependencies is a solve of its own on every request (the same token check, and the
    same `bearerAuth` requirement in the OpenAPI document)."""

    async def check(request: Request, credentials: BearerCredentials) -> Principal:
        return authorize(request, credentials, roles)

    return check


def authorize(
    request: Request, credentials: HTTPAuthorizationCredentials | None, roles: tuple[Role, ...]
) -> Principal:
    """The verified principal of a request (401 without a valid token), if it holds one of
    `roles` (else 403): what a dependency declaring `BearerCredentials` calls."""
    principal = _principal(request, credentials)
    if not principal.roles.intersection(roles):
        allowed = ", ".join(r.value for r in roles)
        raise Problem(403, "Forbidden", f"This needs one of the roles: {allowed}")
    return principal
