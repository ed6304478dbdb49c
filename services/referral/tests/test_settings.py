"""The demo directory is a development convenience that production never gets."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mpa_contracts.vocabularies import Urgency
from mpa_referral.settings import ReferralSettings


@pytest.mark.parametrize(
    ("environment", "flag", "seeded"),
    [("development", "true", True), ("development", "false", False), ("production", "true", False)],
)
def test_demo_directory_only_outside_production(
    monkeypatch: pytest.MonkeyPatch, environment: str, flag: str, seeded: bool
) -> None:
    monkeypatch.setenv("MPA_ENV", environment)
    monkeypatch.setenv("REFERRAL_DEMO_DIRECTORY", flag)
    assert ReferralSettings().demo_directory_enabled is seeded


def test_sla_windows_default_to_the_issue_and_are_configurable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert ReferralSettings().acceptance_sla()[Urgency.LOW] == timedelta(days=14)
    monkeypatch.setenv("REFERRAL_SLA_CRITICAL_SECONDS", "2")
    assert ReferralSettings().acceptance_sla()[Urgency.CRITICAL] == timedelta(seconds=2)


def test_start_sla_windows_are_configurable_per_urgency(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ReferralSettings().start_sla()[Urgency.HIGH] == timedelta(hours=24)
    monkeypatch.setenv("REFERRAL_START_SLA_MEDIUM_SECONDS", "3")
    assert ReferralSettings().start_sla()[Urgency.MEDIUM] == timedelta(seconds=3)
