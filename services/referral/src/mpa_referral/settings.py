"""Settings of the referral service: the shared ones, plus its own (prefix `REFERRAL_`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from mpa_common.settings import Environment, ServiceSettings
from mpa_contracts.vocabularies import Urgency
from mpa_referral.domain.sla import DEFAULT_ACCEPTANCE_SLA, DEFAULT_START_SLA


class ReferralSettings(ServiceSettings):
    service_name: ClassVar[str] = "referral"

    # Seeds the fictional demo directory when the directory is empty; never in production.
    demo_directory: bool = True
    # Acceptance SLA per urgency, in seconds (tests shorten them; a service may promise less).
    sla_critical_seconds: float = Field(
        default=DEFAULT_ACCEPTANCE_SLA[Urgency.CRITICAL].total_seconds(), gt=0
    )
    sla_high_seconds: float = Field(
        default=DEFAULT_ACCEPTANCE_SLA[Urgency.HIGH].total_seconds(), gt=0
    )
    sla_medium_seconds: float = Field(
        default=DEFAULT_ACCEPTANCE_SLA[Urgency.MEDIUM].total_seconds(), gt=0
    )
    sla_low_seconds: float = Field(
        default=DEFAULT_ACCEPTANCE_SLA[Urgency.LOW].total_seconds(), gt=0
    )
    # Service-start SLA per urgency, in seconds from acceptance: an accepted referral not
    # started in time emits `sla_breached` (milestone service_start).
    start_sla_critical_seconds: float = Field(
        default=DEFAULT_START_SLA[Urgency.CRITICAL].total_seconds(), gt=0
    )
    start_sla_high_seconds: float = Field(
        default=DEFAULT_START_SLA[Urgency.HIGH].total_seconds(), gt=0
    )
    start_sla_medium_seconds: float = Field(
        default=DEFAULT_START_SLA[Urgency.MEDIUM].total_seconds(), gt=0
    )
    start_sla_low_seconds: float = Field(
        default=DEFAULT_START_SLA[Urgency.LOW].total_seconds(), gt=0
    )
    # Re-routes (after declines or missed SLAs) before a referral is given up as unroutable.
    max_reroutes: int = Field(default=3, ge=0)
    # The timer worker sleeps until the next timer falls due, woken early by a commit here
    # that schedules one due sooner. Its passes start at least `timer_poll_seconds` apart
    # (and that is how soon it tries again after a failure, or looks again at a due timer
    # another replica holds); it looks at least every `timer_idle_seconds` (timers another
    # replica scheduled and did not fire).
    timer_poll_seconds: float = Field(default=1.0, gt=0)
    timer_idle_seconds: float = Field(default=5.0, gt=0)
    # Key that encrypts the free-text notes of referral histories at rest (base64 of 32
    # bytes). Unset outside production: a development key is created under .local/
    # (refused in production).
    notes_key: SecretStr = SecretStr("")
    notes_dev_key_file: Path = Path(".local/referral/notes.key")
    # The in-memory directory routing reads: how often it re-reads the places other
    # replicas took or gave back, and partners' track records (directory changes
    # themselves are caught up from the directory's events before every routing).
    directory_capacity_refresh_seconds: float = Field(default=2.0, gt=0)
    directory_records_refresh_seconds: float = Field(default=10.0, gt=0)

    model_config = SettingsConfigDict(env_prefix="REFERRAL_", extra="ignore")

    @property
    def demo_directory_enabled(self) -> bool:
        return self.demo_directory and self.environment != Environment.PRODUCTION

    def acceptance_sla(self) -> Mapping[Urgency, timedelta]:
        return {
            Urgency.CRITICAL: timedelta(seconds=self.sla_critical_seconds),
            Urgency.HIGH: timedelta(seconds=self.sla_high_seconds),
            Urgency.MEDIUM: timedelta(seconds=self.sla_medium_seconds),
            Urgency.LOW: timedelta(seconds=self.sla_low_seconds),
        }

    def start_sla(self) -> Mapping[Urgency, timedelta]:
        return {
            Urgency.CRITICAL: timedelta(seconds=self.start_sla_critical_seconds),
            Urgency.HIGH: timedelta(seconds=self.start_sla_high_seconds),
            Urgency.MEDIUM: timedelta(seconds=self.start_sla_medium_seconds),
            Urgency.LOW: timedelta(seconds=self.start_sla_low_seconds),
        }
