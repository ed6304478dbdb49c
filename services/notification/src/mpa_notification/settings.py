"""Settings of the notification service: the shared ones, plus its own (prefix `NOTIFICATION_`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from mpa_common.settings import ServiceSettings


class NotificationSettings(ServiceSettings):
    service_name: ClassVar[str] = "notification"

    model_config = SettingsConfigDict(env_prefix="NOTIFICATION_", extra="ignore")
