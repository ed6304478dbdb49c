"""How a service's Kafka credentials are chosen (`mpa_common.kafka.client_options`)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pydantic import SecretStr

from mpa_common.kafka import (
    KafkaUser,
    StackCredentials,
    client_options,
    local_credentials_file,
    operator_options,
)
from mpa_common.settings import LOCAL_KAFKA_BOOTSTRAP_SERVERS, OperatorSettings, ServiceSettings


class ReferralLikeSettings(ServiceSettings):
    service_name = "referral"


@pytest.fixture
def local_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StackCredentials:
    monkeypatch.setenv("MPA_LOCAL_DIR", str(tmp_path))
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    credentials = StackCredentials(
        users={
            "referral": KafkaUser("mpa-referral", "referral-secret"),
            "admin": KafkaUser("mpa-admin", "admin-secret"),
        }
    )
    path = local_credentials_file()
    assert path == tmp_path / "kafka" / "credentials.json"
    credentials.save(path)
    return credentials


def test_on_the_local_stack_a_service_uses_its_own_generated_principal(
    local_stack: StackCredentials,
) -> None:
    options = client_options(ReferralLikeSettings())
    assert options == {
        "bootstrap_servers": LOCAL_KAFKA_BOOTSTRAP_SERVERS,
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "mpa-referral",
        "sasl_plain_password": "referral-secret",
    }
    assert operator_options()["sasl_plain_username"] == "mpa-admin"


def test_the_credentials_file_is_private(local_stack: StackCredentials) -> None:
    path = local_credentials_file()
    assert path is not None
    assert path.stat().st_mode & 0o777 == 0o600
    assert StackCredentials.load(path) == local_stack


def test_a_principal_the_stack_does_not_know_fails_clearly(local_stack: StackCredentials) -> None:
    class NotificationLikeSettings(ServiceSettings):
        service_name = "notification"

    with pytest.raises(LookupError, match="no principal 'notification'"):
        client_options(NotificationLikeSettings())


def test_explicit_credentials_win_over_the_local_stack(local_stack: StackCredentials) -> None:
    settings = ReferralLikeSettings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="svc-referral",
        kafka_sasl_password=SecretStr("from-the-vault"),
    )
    options = client_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-256"
    assert options["sasl_plain_username"] == "svc-referral"
    assert options["sasl_plain_password"] == "from-the-vault"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert "from-the-vault" not in repr(settings)  # a SecretStr


def test_service_settings_come_from_prefixed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka.example.org:9096")
    monkeypatch.setenv("MPA_ADMIN_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("MPA_ADMIN_KAFKA_SASL_USERNAME", "ops")
    monkeypatch.setenv("MPA_ADMIN_KAFKA_SASL_PASSWORD", "ops-secret")
    options = client_options(OperatorSettings())
    assert options["bootstrap_servers"] == "kafka.example.org:9096"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "ops",
        "ops-secret",
    )


def test_another_cluster_without_credentials_is_plaintext(local_stack: StackCredentials) -> None:
    settings = ReferralLikeSettings(KAFKA_BOOTSTRAP_SERVERS="kafka.example.org:9092")
    assert client_options(settings) == {
        "bootstrap_servers": "kafka.example.org:9092",
        "security_protocol": "PLAINTEXT",
    }


def test_a_bad_protocol_is_refused() -> None:
    with pytest.raises(ValueError, match="kafka_security_protocol"):
        ReferralLikeSettings(kafka_security_protocol="SASL_TLS")
