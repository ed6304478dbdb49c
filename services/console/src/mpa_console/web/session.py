"""The session: an encrypted, HttpOnly, SameSite cookie; nothing is kept on the server.

The cookie holds the signed-in user's bearer token (which the console forwards to the
services), the roles read from it, the CSRF secret, the chosen language and, during an OIDC
sign-in, its state, nonce and PKCE verifier. It never holds personal data of a case. It is
sealed with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`), so the browser can
neither read nor alter it; MultiFernet opens cookies sealed with an older key after a key
rotation. Idle and absolute lifetimes end a session even when the cookie is replayed.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass, field
from http.cookies import SimpleCookie
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE_NAME = "mpa_console"
# In production the cookie is `__Host-` prefixed: the browser then insists on Secure, Path=/
# and no Domain, so no sibling host can plant or read it.
SECURE_COOKIE_NAME = "__Host-mpa_console"


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass
class Session:
    """What one browser's cookie holds. `token` is None until the user signs in."""

    csrf: str = field(default_factory=_new_secret)
    created_at: float = field(default_factory=time.time)
    seen_at: float = field(default_factory=time.time)
    language: str | None = None
    token: str | None = None
    token_expires_at: float | None = None
    actor_id: str | None = None
    roles: list[str] = field(default_factory=list)
    partner_id: str | None = None
    country: str | None = None
    # During an OIDC sign-in: state, nonce, PKCE verifier and where to go afterwards.
    login: dict[str, str] | None = None
    # Message ids (never data) to show once on the next page.
    flashes: list[str] = field(default_factory=list)

    @property
    def signed_in(self) -> bool:
        return self.token is not None

    def has(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)

    def flash(self, message_id: str) -> None:
        self.flashes.append(message_id)

    def take_flashes(self) -> list[str]:
        taken, self.flashes = self.flashes, []
        return taken

    def renewed(self) -> Session:
        """A fresh session (new CSRF secret) that keeps only the language: used at sign-in
        and sign-out, so a session fixed before sign-in is worth nothing after it."""
        return Session(language=self.language)


class SessionCodec:
    """Seals sessions into cookie values and opens them; refuses expired or idle ones."""

    def __init__(self, keys: list[bytes], *, max_age_seconds: int, idle_seconds: int) -> None:
        if not keys:
            raise ValueError("at least one session key is required")
        self._fernet = MultiFernet([Fernet(key) for key in keys])
        self._max_age = max_age_seconds
        self._idle = idle_seconds

    def seal(self, session: Session) -> str:
        payload = json.dumps(asdict(session), separators=(",", ":")).encode()
        return self._fernet.encrypt(payload).decode("ascii")

    def open(self, value: str, *, now: float | None = None) -> Session | None:
        """The session in a cookie value, or None when it is forged, expired or idle."""
        now = time.time() if now is None else now
        try:
            payload = self._fernet.decrypt_at_time(value.encode("ascii"), self._max_age, int(now))
            session = Session(**json.loads(payload))
        except (InvalidToken, ValueError, TypeError, UnicodeEncodeError):
            return None
        if now - session.created_at > self._max_age or now - session.seen_at > self._idle:
            return None
        if session.token_expires_at is not None and now >= session.token_expires_at:
            return None
        return session


class SessionMiddleware:
    """Loads the session into `scope["state"]["session"]` and writes it back on every
    response (which also slides the idle timeout)."""

    def __init__(self, app: ASGIApp, codec: SessionCodec, *, secure: bool) -> None:
        self._app = app
        self._codec = codec
        self._secure = secure
        self._name = SECURE_COOKIE_NAME if secure else COOKIE_NAME

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        session = self._read(scope) or Session()
        scope.setdefault("state", {})["session"] = session

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                current: Session = scope["state"]["session"]
                current.seen_at = time.time()
                headers = list(message.get("headers", []))
                headers.append((b"set-cookie", self._cookie(current).encode("latin-1")))
                message["headers"] = headers
            await send(message)

        await self._app(scope, receive, send_with_cookie)

    def _read(self, scope: Scope) -> Session | None:
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                cookie: SimpleCookie = SimpleCookie()
                try:
                    cookie.load(value.decode("latin-1"))
                except Exception:  # a malformed cookie header is no session
                    return None
                morsel = cookie.get(self._name)
                if morsel is not None:
                    return self._codec.open(morsel.value)
        return None

    def _cookie(self, session: Session) -> str:
        parts = [f"{self._name}={self._codec.seal(session)}", "Path=/", "HttpOnly", "SameSite=Lax"]
        if self._secure:
            parts.append("Secure")
        return "; ".join(parts)
