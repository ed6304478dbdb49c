"""Production sign-in: OpenID Connect authorization code flow with PKCE (Authlib, PyJWT).

Authlib builds the authorization request (state, nonce, S256 code challenge) and redeems
the code with the verifier; PyJWT checks the ID token against the issuer's JWKS (issuer,
audience = our client id, expiry, nonce). The access token the issuer grants is what the
console forwards to the services, which verify it themselves (AUTH_JWKS_URL); the console
reads the user's roles from it with the same verifier, so both agree on who the user is.
"""

from __future__ import annotations

import asyncio
import secrets
import warnings
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

# Importing this installs Authlib's own "always show" filter, so it must come before ours.
from authlib.deprecate import AuthlibDeprecationWarning

with warnings.catch_warnings():
    # Authlib 1.9 prefers httpx2 and warns when it runs on httpx, which the platform uses;
    # the client works the same on both.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client

from authlib.common.security import generate_token

_ID_TOKEN_ALGORITHMS = ["RS256", "ES256", "EdDSA", "PS256"]


class SignInFailed(Exception):
    """The issuer's answer did not check out; the message says which check (no token)."""


@dataclass(frozen=True)
class PendingSignIn:
    """What the session keeps between the redirect to the issuer and the callback."""

    state: str
    nonce: str
    code_verifier: str

    def as_dict(self) -> dict[str, str]:
        return {"state": self.state, "nonce": self.nonce, "code_verifier": self.code_verifier}


@dataclass(frozen=True)
class SignedIn:
    access_token: str
    id_claims: dict[str, Any]


class OidcClient:
    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        scopes: str,
        *,
        timeout: float = 10.0,
    ) -> None:
        self._issuer = issuer.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret or None
        self._redirect_uri = redirect_uri
        self._scopes = scopes
        self._timeout = timeout
        self._metadata: dict[str, Any] | None = None
        self._jwks: jwt.PyJWKClient | None = None
        self._lock = asyncio.Lock()

    @property
    def issuer(self) -> str:
        return self._issuer

    def _client(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self._client_id,
            client_secret=self._client_secret,
            scope=self._scopes,
            redirect_uri=self._redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if self._client_secret else "none",
            timeout=self._timeout,
        )

    async def metadata(self) -> dict[str, Any]:
        """The issuer's discovery document (fetched once)."""
        async with self._lock:
            if self._metadata is None:
                url = f"{self._issuer}/.well-known/openid-configuration"
                async with httpx.AsyncClient(timeout=self._timeout) as client:
                    response = await client.get(url)
                response.raise_for_status()
                metadata = response.json()
                if metadata.get("issuer", "").rstrip("/") != self._issuer:
                    raise SignInFailed("discovery document names another issuer")
                self._metadata = metadata
                self._jwks = jwt.PyJWKClient(metadata["jwks_uri"], cache_keys=True)
            return self._metadata

    async def start(self) -> tuple[str, PendingSignIn]:
        """The URL to send the browser to, and what to keep until it comes back."""
        metadata = await self.metadata()
        pending = PendingSignIn(
            state=generate_token(32), nonce=generate_token(32), code_verifier=generate_token(64)
        )
        async with self._client() as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"],
                state=pending.state,
                code_verifier=pending.code_verifier,
                nonce=pending.nonce,
            )
        return url, pending

    async def finish(self, pending: PendingSignIn, *, state: str, code: str) -> SignedIn:
        """Redeems the code (with the PKCE verifier) and checks the ID token."""
        if not secrets.compare_digest(state.encode(), pending.state.encode()):
            raise SignInFailed("state does not match this browser's sign-in")
        metadata = await self.metadata()
        async with self._client() as client:
            try:
                token = await client.fetch_token(
                    metadata["token_endpoint"],
                    code=code,
                    code_verifier=pending.code_verifier,
                    redirect_uri=self._redirect_uri,
                )
            except Exception as error:  # OAuthError, HTTP errors: the kind is what matters
                raise SignInFailed(f"token request refused ({type(error).__name__})") from error
        id_token, access_token = token.get("id_token"), token.get("access_token")
        if not id_token or not access_token:
            raise SignInFailed("the issuer granted no ID token or no access token")
        # PyJWKClient fetches keys synchronously: off the event loop.
        claims = await asyncio.to_thread(self._check_id_token, id_token, pending.nonce)
        return SignedIn(access_token, claims)

    def _check_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        assert self._jwks is not None
        try:
            key = self._jwks.get_signing_key_from_jwt(id_token).key
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=_ID_TOKEN_ALGORITHMS,
                audience=self._client_id,
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "nonce"]},
                leeway=30,
            )
        except jwt.PyJWTError as error:
            raise SignInFailed(f"ID token refused ({type(error).__name__})") from error
        if not secrets.compare_digest(str(claims["nonce"]).encode(), nonce.encode()):
            raise SignInFailed("ID token nonce does not match")
        return claims
