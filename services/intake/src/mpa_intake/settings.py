"""Settings of the intake service: the shared ones, plus its own (prefix `INTAKE_`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from mpa_common.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    service_name: ClassVar[str] = "intake"

    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")
