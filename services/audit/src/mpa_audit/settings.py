"""Settings of the audit service: the shared ones, plus its own (prefix `AUDIT_`)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from mpa_common.settings import ServiceSettings

DEV_SIGNING_KEY_FILE = Path(".local/audit/tree-head-signing-key.pem")
"""Where development generates the tree-head signing key; never accepted in production."""


class WitnessSettings(BaseModel):
    """One C2SP tlog-witness the log asks to cosign its tree heads."""

    url: str = Field(description="Its submission prefix, e.g. http://127.0.0.1:8005")
    key: str = Field(
        description="Its cosigner key `<name>+<id>+<base64 key>` (type 0x04), or a file holding it"
    )


class AuditSettings(ServiceSettings):
    service_name: ClassVar[str] = "audit"

    # The log's name in every checkpoint, and the name its key signs under (C2SP origin).
    log_origin: str = Field(default="audit.mpa.example/log", pattern=r"^[^\s+]+$")
    # Ed25519 PKCS#8 PEM. Development creates it on first use; production must name its own.
    signing_key_file: Path = DEV_SIGNING_KEY_FILE
    signing_key_password: SecretStr = SecretStr("")
    # How often the background worker signs a tree head when the log has grown.
    checkpoint_interval_seconds: float = Field(default=60.0, gt=0)
    # Witnesses asked to cosign each new tree head: AUDIT_WITNESS_URL + AUDIT_WITNESS_KEY for
    # one, or AUDIT_WITNESSES as a JSON list of {"url": ..., "key": ...} for several.
    witness_url: str = ""
    witness_key: str = ""
    witnesses: list[WitnessSettings] = Field(default_factory=list)
    # How often the full integrity recomputation runs in the background (the endpoint's
    # default check is incremental).
    full_integrity_interval_seconds: float = Field(default=3600.0, gt=0)
    # Records appended per transaction (AUDIT_CONSUMER_BATCH_MAX_RECORDS): larger than the
    # platform's default, as each batch pays a lock, a few round trips and an offset commit
    # whatever its size, and a backlog replay is all batches.
    consumer_batch_max_records: int = Field(default=1000, ge=1, le=10_000)

    model_config = SettingsConfigDict(env_prefix="AUDIT_", extra="ignore")

    def all_witnesses(self) -> list[WitnessSettings]:
        single = [WitnessSettings(url=self.witness_url, key=self.witness_key)]
        return [*self.witnesses, *(single if self.witness_url else [])]
