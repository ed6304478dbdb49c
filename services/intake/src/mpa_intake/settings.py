"""Settings of the intake service: the shared ones, plus its own (prefix `INTAKE_`)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from mpa_common.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    service_name: ClassVar[str] = "intake"

    # INTAKE_MASTER_KEYS="kid1:base64key,kid2:base64key": every master key that may still
    # unwrap a case's data key; INTAKE_ACTIVE_MASTER_KEY names the one new wraps use (it may
    # be omitted when there is a single key). Unset in development: a local key is created.
    master_keys: SecretStr = SecretStr("")
    active_master_key: str = ""
    # INTAKE_MATCHING_KEY: base64 of at least 32 bytes for the duplicate-matching HMAC.
    matching_key: SecretStr = SecretStr("")
    # Where development keys are kept when none are configured (refused in production).
    local_key_dir: Path = Path(".local/intake")
    # Page size bounds of GET /v1/cases.
    max_page_size: int = 100
    # The referral service's API, asked at each partner read whether the partner's
    # referral of the case is still accepted or in progress (INTAKE_REFERRAL_API_BASE_URL).
    referral_api_base_url: str = "http://127.0.0.1:8002"
    referral_timeout_seconds: float = 2.0

    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")
