"""Settings of the notification service: the shared ones, plus its own (prefix `NOTIFICATION_`).

List settings are read as JSON, e.g.
`NOTIFICATION_WEBHOOK_ALLOWED_NETWORKS='["127.0.0.1/32"]'`.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from mpa_common.settings import Environment, ServiceSettings, local_service_url

# Standard Webhooks' recommended schedule: the delay before each attempt, the first at once.
DEFAULT_RETRY_SCHEDULE_SECONDS: tuple[float, ...] = (
    0,
    5,
    5 * 60,
    30 * 60,
    2 * 3600,
    5 * 3600,
    10 * 3600,
    10 * 3600,
)


class NotificationSettings(ServiceSettings):
    service_name: ClassVar[str] = "notification"

    # Links in notifications point here; an authorised user sees the details there.
    # Defaults to the local referral service, wherever REFERRAL_PORT moved it.
    referral_api_base_url: str = Field(default_factory=lambda: local_service_url("referral"))
    public_base_url: str = "http://127.0.0.1:8003"

    # Delivery: timeouts, schedule (delay before attempt n), jitter, Retry-After cap.
    webhook_timeout_seconds: float = Field(default=15.0, gt=0)
    retry_schedule_seconds: tuple[float, ...] = Field(
        default=DEFAULT_RETRY_SCHEDULE_SECONDS, min_length=1
    )
    retry_jitter_ratio: float = Field(default=0.1, ge=0, lt=1)
    max_retry_after_seconds: float = Field(default=24 * 3600, ge=0)
    # An endpoint whose every attempt failed for this long is disabled and its partner told
    # (NOTIFICATION_ENDPOINT_DISABLE_AFTER_SECONDS; five days by default).
    endpoint_disable_after_seconds: float = Field(default=5 * 24 * 3600, gt=0)
    rotation_grace_seconds_default: int = Field(default=24 * 3600, ge=0)

    # SSRF guard. `http` is always refused in production unless allowed here; addresses in
    # loopback, private, link-local, shared or metadata ranges are refused unless listed.
    webhook_allow_http: bool = False
    webhook_allowed_networks: tuple[str, ...] = ()
    # Ports webhooks may be sent to (NOTIFICATION_WEBHOOK_ALLOWED_PORTS='[443, 8443]'); empty:
    # 443, and 80 where http is allowed. Allowed networks are exempt (any port).
    webhook_allowed_ports: tuple[int, ...] = ()

    # Dispatcher: a pool of attempts per replica; bounds per endpoint (unless it sets its
    # own) and for SMTP that every replica shares (counted in the database); polling.
    dispatch_concurrency: int = Field(default=64, ge=1)
    endpoint_max_in_flight: int = Field(default=4, ge=1)
    email_max_in_flight: int = Field(default=4, ge=1)
    dispatch_poll_seconds: float = Field(default=0.5, gt=0)
    # With nothing due, the dispatcher sleeps until the next delivery is due, at most this
    # long: new work wakes it at once (its own replica's), so idling costs no claim per poll.
    dispatch_idle_seconds: float = Field(default=5.0, gt=0)
    # A claimed attempt's lease: its timeout plus this margin (recording the result, clock
    # skew). An attempt cut off by a crash is made again once its lease ends.
    dispatch_lease_margin_seconds: float = Field(default=30.0, gt=0)
    # Attempt results recorded per transaction, at most (they are recorded in bulk).
    dispatch_record_batch_max: int = Field(default=500, ge=1, le=10_000)

    # Key that encrypts webhook secrets at rest (base64 of 32 bytes). Unset outside
    # production: a development key is created under .local/ of the platform's home (the
    # checkout or MPA_HOME, never the working directory); refused in production.
    secrets_key: SecretStr = SecretStr("")
    secrets_dev_key_file: Path = Path(".local/notification/webhook-secrets.key")

    # SMTP (the local sink, `mpa smtp-sink`, listens on 127.0.0.1:8025).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_from: str = "MPA Notifications <notifications@mpa.invalid>"
    smtp_start_tls: bool = False
    smtp_use_tls: bool = False
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)

    model_config = SettingsConfigDict(env_prefix="NOTIFICATION_", extra="ignore")

    @property
    def http_webhooks_allowed(self) -> bool:
        return self.webhook_allow_http or self.environment != Environment.PRODUCTION
