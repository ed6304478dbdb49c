"""The keys the service runs with: configured ones, or local development keys.

Production must configure INTAKE_MASTER_KEYS and INTAKE_MATCHING_KEY; development without
them gets keys created once under `.local/intake/` (like the local token signing key).
"""

from __future__ import annotations

import base64
import secrets

from mpa_common.paths import resolve_home_path
from mpa_common.settings import Environment
from mpa_intake.adapters.crypto import (
    KeyConfigurationError,
    MasterKeyring,
    MatchKeyer,
    load_or_create_local_key,
    new_master_key,
    parse_master_keys,
)
from mpa_intake.settings import IntakeSettings


def master_keyring(settings: IntakeSettings) -> MasterKeyring:
    configured = settings.master_keys.get_secret_value()
    if configured:
        keys = parse_master_keys(configured)
        active = settings.active_master_key or (next(iter(keys)) if len(keys) == 1 else "")
        if not active:
            raise KeyConfigurationError(
                "INTAKE_ACTIVE_MASTER_KEY must name one of several INTAKE_MASTER_KEYS"
            )
        return MasterKeyring(keys, active)
    _refuse_in_production(settings, "INTAKE_MASTER_KEYS")
    local = load_or_create_local_key(
        resolve_home_path(settings.local_key_dir) / "dev-master-key",
        new_master_key(f"dev-{secrets.token_hex(4)}"),
    )
    keys = parse_master_keys(local)
    return MasterKeyring(keys, next(iter(keys)))


def match_keyer(settings: IntakeSettings) -> MatchKeyer:
    configured = settings.matching_key.get_secret_value()
    if not configured:
        _refuse_in_production(settings, "INTAKE_MATCHING_KEY")
        configured = load_or_create_local_key(
            resolve_home_path(settings.local_key_dir) / "dev-matching-key",
            base64.b64encode(secrets.token_bytes(32)).decode(),
        )
    try:
        return MatchKeyer(base64.b64decode(configured, validate=True))
    except ValueError:
        raise KeyConfigurationError("INTAKE_MATCHING_KEY is not valid base64") from None


def _refuse_in_production(settings: IntakeSettings, variable: str) -> None:
    if settings.environment == Environment.PRODUCTION:
        raise KeyConfigurationError(f"{variable} is required in production (dev keys refused)")
