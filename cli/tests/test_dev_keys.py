"""Development keys come from the platform's home (the checkout, or MPA_HOME), never from the
working directory; `mpa token` never creates a key (finding 9 of issue 12: run from another
folder it silently made a new key there and minted tokens every service rejected)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mpa_common.auth import AuthSettings, Role, TokenVerifier, ensure_dev_key
from mpa_common.paths import platform_home

ROOT = Path(__file__).resolve().parents[2]


def mpa(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mpa_cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


@pytest.fixture
def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "MPA_HOME"))}
    env.pop("MPA_ROOT", None)
    return env


def test_without_mpa_home_keys_resolve_to_the_checkout_whatever_the_cwd(
    elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MPA_HOME", raising=False)
    monkeypatch.chdir(elsewhere)
    assert platform_home() == ROOT
    assert AuthSettings().dev_key_path == ROOT / ".local/auth/dev-signing-key.pem"


def test_mpa_token_fails_clearly_when_no_key_exists_and_creates_none(
    tmp_path: Path, elsewhere: Path, clean_env: dict[str, str]
) -> None:
    home = tmp_path / "home"
    result = mpa(
        "token", "--role", "operator", cwd=elsewhere, env={**clean_env, "MPA_HOME": str(home)}
    )
    assert result.returncode == 1
    assert "no development signing key" in result.stderr
    assert "make stack" in result.stderr
    assert result.stdout == ""
    assert not home.exists()
    assert not (elsewhere / ".local").exists()


def test_mpa_token_from_another_folder_signs_with_the_home_key(
    tmp_path: Path, elsewhere: Path, clean_env: dict[str, str]
) -> None:
    home = tmp_path / "home"
    key = ensure_dev_key(home / ".local/auth/dev-signing-key.pem")  # what `mpa stack up` does
    result = mpa(
        "token", "--role", "admin", cwd=elsewhere, env={**clean_env, "MPA_HOME": str(home)}
    )
    assert result.returncode == 0, result.stderr
    assert not (elsewhere / ".local").exists()
    settings = AuthSettings(auth_dev_key_file=home / ".local/auth/dev-signing-key.pem")
    principal = TokenVerifier(settings, production=False).verify(result.stdout.strip())
    assert principal.roles == {Role.ADMIN}
    assert key.public_key() is not None


def test_services_resolve_their_dev_keys_from_home_too(
    tmp_path: Path, elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mpa_audit.adapters.signing import load_signer
    from mpa_audit.settings import AuditSettings
    from mpa_intake.adapters.keys import master_keyring, match_keyer
    from mpa_intake.settings import IntakeSettings
    from mpa_notification.adapters.secrets import SecretBox
    from mpa_notification.settings import NotificationSettings

    home = tmp_path / "home"
    monkeypatch.setenv("MPA_HOME", str(home))
    monkeypatch.chdir(elsewhere)
    intake = IntakeSettings()
    master_keyring(intake)
    match_keyer(intake)
    SecretBox.from_settings(NotificationSettings())
    load_signer(AuditSettings())
    created = sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())
    assert created == [
        ".local/audit/tree-head-signing-key.pem",
        ".local/intake/dev-master-key",
        ".local/intake/dev-matching-key",
        ".local/notification/webhook-secrets.key",
    ]
    assert not (elsewhere / ".local").exists()
