"""Settings of the audit service: the shared ones, plus its own (prefix `AUDIT_`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from mpa_common.settings import ServiceSettings


class AuditSettings(ServiceSettings):
    service_name: ClassVar[str] = "audit"

    model_config = SettingsConfigDict(env_prefix="AUDIT_", extra="ignore")
