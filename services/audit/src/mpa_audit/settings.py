"""Settings of the audit service: the shared ones, plus its own (prefix `AUDIT_`)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from mpa_common.settings import ServiceSettings

DEV_SIGNING_KEY_FILE = Path(".local/audit/tree-head-signing-key.pem")
"""Where development generates the tree-head signing key; never accepted in production."""


class AuditSettings(ServiceSettings):
    service_name: ClassVar[str] = "audit"

    # The log's name in every checkpoint, and the name its key signs under (C2SP origin).
    log_origin: str = Field(default="audit.mpa.example/log", pattern=r"^[^\s+]+$")
    # Ed25519 PKCS#8 PEM. Development creates it on first use; production must name its own.
    signing_key_file: Path = DEV_SIGNING_KEY_FILE
    signing_key_password: SecretStr = SecretStr("")
    # How often the background worker signs a tree head when the log has grown.
    checkpoint_interval_seconds: float = Field(default=60.0, gt=0)

    model_config = SettingsConfigDict(env_prefix="AUDIT_", extra="ignore")
