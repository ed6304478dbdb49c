"""Settings of the referral service: the shared ones, plus its own (prefix `REFERRAL_`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from mpa_common.settings import ServiceSettings


class ReferralSettings(ServiceSettings):
    service_name: ClassVar[str] = "referral"

    model_config = SettingsConfigDict(env_prefix="REFERRAL_", extra="ignore")
