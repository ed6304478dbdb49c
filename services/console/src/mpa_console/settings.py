"""Configuration of the console, read from the environment (pydantic-settings).

The console keeps no data of its own: it needs the four services' base URLs, a key for its
session cookies and, in production, the OIDC issuer users sign in with.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from mpa_common.settings import Environment, local_service_url

DEFAULT_PORT = 8000


class ConsoleSettings(BaseSettings):
    """`CONSOLE_*` variables, plus the platform-wide `MPA_ENV` and `LOG_LEVEL`."""

    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore")

    environment: Environment = Field(
        default=Environment.DEVELOPMENT, validation_alias=AliasChoices("MPA_ENV")
    )
    log_level: str = Field(default="INFO", validation_alias=AliasChoices("LOG_LEVEL"))
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    # Where the console is reached by browsers (OIDC redirect URI); default: host and port.
    public_url: str = ""

    intake_url: str = Field(default_factory=lambda: local_service_url("intake"))
    referral_url: str = Field(default_factory=lambda: local_service_url("referral"))
    notification_url: str = Field(default_factory=lambda: local_service_url("notification"))
    audit_url: str = Field(default_factory=lambda: local_service_url("audit"))
    upstream_timeout_seconds: float = 10.0

    # Fernet keys (urlsafe base64 of 32 bytes), comma-separated, newest first: the first
    # seals new session cookies, every one opens them (rotation without signing users out).
    session_keys: SecretStr = SecretStr("")
    session_key_file: Path = Path(".local/console/session-key")
    session_max_age_seconds: int = 8 * 3600
    session_idle_seconds: int = 30 * 60

    # Production sign-in: OpenID Connect authorization code flow with PKCE.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: SecretStr = SecretStr("")
    oidc_scopes: str = "openid profile"

    @property
    def production(self) -> bool:
        return self.environment == Environment.PRODUCTION

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def fernet_keys(self) -> list[bytes]:
        """The session keys; in development a key is made once under `.local/console/`."""
        configured = [k.strip() for k in self.session_keys.get_secret_value().split(",")]
        keys = [k.encode() for k in configured if k]
        if keys:
            return keys
        if self.production:
            raise RuntimeError("CONSOLE_SESSION_KEYS is required in production")
        path = self.session_key_file
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(base64.urlsafe_b64encode(os.urandom(32)))
            path.chmod(0o600)
        return [path.read_bytes().strip()]

    def check(self) -> None:
        """Refuses a production configuration that would fall back to development means."""
        if not self.production:
            return
        missing = [
            name
            for name, value in (
                ("CONSOLE_OIDC_ISSUER", self.oidc_issuer),
                ("CONSOLE_OIDC_CLIENT_ID", self.oidc_client_id),
                ("CONSOLE_PUBLIC_URL", self.public_url),
            )
            if not value
        ]
        if missing:
            raise RuntimeError(f"production needs {', '.join(missing)}")
        if not self.public_url.startswith("https://"):
            raise RuntimeError("CONSOLE_PUBLIC_URL must be https in production")
        self.fernet_keys()
