"""Settings of the intake service: the shared ones, plus its own (prefix `INTAKE_`)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from mpa_common.settings import ServiceSettings, local_service_url
from mpa_contracts.vocabularies import MINIMUM_REFLECTION_DAYS, ActorRole, CaseScope

# Which cases each role reaches beyond its own (see domain.ownership). Configured ones
# replace these role by role; a role named nowhere reaches only its own cases.
DEFAULT_READ_SCOPES: dict[ActorRole, CaseScope] = {
    ActorRole.OPERATOR: CaseScope.COUNTRY,
    ActorRole.CASEWORKER: CaseScope.TEAM,
    ActorRole.SUPERVISOR: CaseScope.COUNTRY,
    ActorRole.AUDITOR: CaseScope.ALL,  # lists only: auditors never read personal data
    ActorRole.ADMIN: CaseScope.ALL,
    # PSEA complaints (the psea role reads no case): their own country office's.
    ActorRole.PSEA_FOCAL_POINT: CaseScope.COUNTRY,
}
DEFAULT_WRITE_SCOPES: dict[ActorRole, CaseScope] = {
    ActorRole.OPERATOR: CaseScope.TEAM,
    ActorRole.CASEWORKER: CaseScope.TEAM,
    ActorRole.SUPERVISOR: CaseScope.TEAM,
    ActorRole.ADMIN: CaseScope.ALL,  # erasure
    ActorRole.PSEA_FOCAL_POINT: CaseScope.COUNTRY,  # the steps of PSEA complaints
}


class IntakeSettings(ServiceSettings):
    service_name: ClassVar[str] = "intake"

    # The same ceiling of connections as every service's (10 kept, 10 more under load), all
    # kept open: each registration holds one, and with more requests in flight than the
    # pool kept, every connection beyond it was opened (a server process, authentication,
    # type introspection) and closed again, over and over (INTAKE_DATABASE_POOL_SIZE, ...).
    database_pool_size: int = Field(default=20, ge=1, le=200)
    database_max_overflow: int = Field(default=0, ge=0, le=200)

    # INTAKE_MASTER_KEYS="kid1:base64key,kid2:base64key": every master key that may still
    # unwrap a case's data key; INTAKE_ACTIVE_MASTER_KEY names the one new wraps use (it may
    # be omitted when there is a single key). Unset in development: a local key is created.
    master_keys: SecretStr = SecretStr("")
    active_master_key: str = ""
    # INTAKE_MATCHING_KEY: base64 of at least 32 bytes for the duplicate-matching HMAC.
    matching_key: SecretStr = SecretStr("")
    # Where development keys are kept when none are configured (refused in production);
    # a relative path is under the platform's home (the checkout or MPA_HOME), not the cwd.
    local_key_dir: Path = Path(".local/intake")
    # Page size bounds of GET /v1/cases.
    max_page_size: int = 100
    # The referral service's API, asked at each partner read whether the partner's
    # referral of the case is still accepted or in progress (INTAKE_REFERRAL_API_BASE_URL).
    # Defaults to the local referral service, wherever REFERRAL_PORT moved it.
    referral_api_base_url: str = Field(default_factory=lambda: local_service_url("referral"))
    referral_timeout_seconds: float = 2.0

    # INTAKE_CASE_READ_SCOPES='{"caseworker": "agency"}': per role, own|team|agency|country|all.
    case_read_scopes: dict[ActorRole, CaseScope] = DEFAULT_READ_SCOPES
    case_write_scopes: dict[ActorRole, CaseScope] = DEFAULT_WRITE_SCOPES

    # INTAKE_TRANSFER_SENDER_KEEPS_ACCESS: whether a case's previous owner keeps access
    # (read and change, like the owner) once a transfer of responsibility is accepted.
    transfer_sender_keeps_access: bool = False
    # How often the timer worker looks for follow-ups falling overdue.
    timer_poll_seconds: float = 1.0
    # At most this many cases (the newest within the viewer's scope) feed one report.
    report_case_limit: int = 10_000
    # PSEA complaints (issue 17): from receipt, the survivor offered assistance and the
    # allegation referred to the implicated organisation; from referral, its investigation.
    psea_assistance_due_seconds: int = Field(default=24 * 3600, gt=0)
    psea_allegation_referral_due_seconds: int = Field(default=24 * 3600, gt=0)
    psea_investigation_due_seconds: int = Field(default=90 * 24 * 3600, gt=0)

    # Recovery and reflection periods (issue 17): INTAKE_REFLECTION_DAYS_BY_COUNTRY='{"NE":
    # 45}' gives a country more than INTAKE_REFLECTION_DAYS; neither may be under the
    # Convention's 30 days (start-up refuses it). The owner is reminded
    # INTAKE_REFLECTION_REMINDER_DAYS before the end.
    reflection_days: int = Field(default=MINIMUM_REFLECTION_DAYS, ge=MINIMUM_REFLECTION_DAYS)
    reflection_days_by_country: dict[str, int] = {}
    reflection_reminder_days: int = Field(default=7, ge=0)

    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    @field_validator("reflection_days_by_country", mode="after")
    @classmethod
    def _never_under_the_convention(cls, value: dict[str, int]) -> dict[str, int]:
        short = sorted(country for country, days in value.items() if days < MINIMUM_REFLECTION_DAYS)
        if short:
            raise ValueError(
                f"{', '.join(short)}: a recovery and reflection period lasts at least "
                f"{MINIMUM_REFLECTION_DAYS} days (Council of Europe Convention, art. 13)"
            )
        return value

    @field_validator("case_read_scopes", mode="after")
    @classmethod
    def _read_defaults(cls, value: dict[ActorRole, CaseScope]) -> dict[ActorRole, CaseScope]:
        return {**DEFAULT_READ_SCOPES, **value}

    @field_validator("case_write_scopes", mode="after")
    @classmethod
    def _write_defaults(cls, value: dict[ActorRole, CaseScope]) -> dict[ActorRole, CaseScope]:
        return {**DEFAULT_WRITE_SCOPES, **value}
