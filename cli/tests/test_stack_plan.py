"""The stack manager's decisions, without starting anything."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from mpa_cli.harness.stack import StackLayout
from mpa_cli.stack.console import StackError
from mpa_cli.stack.control import StackPlan
from mpa_cli.stack.kafka import (
    _DOWNLOADED,
    CONTROLLER_PORT,
    KAFKA_PORT,
    PRINCIPALS,
    LocalKafka,
    new_cluster_id,
)
from mpa_cli.stack.layout import find_project_root
from mpa_common.settings import LOCAL_KAFKA_BOOTSTRAP_SERVERS

SERVICES = ("INTAKE", "REFERRAL", "NOTIFICATION", "AUDIT")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    for service in SERVICES:
        monkeypatch.delenv(f"{service}_DATABASE_URL", raising=False)


def test_by_default_everything_is_local() -> None:
    plan = StackPlan.from_environment()
    assert plan == StackPlan(external_kafka=None, external_postgres=False)
    # 127.0.0.1:9092 unless MPA_LOCAL_KAFKA_PORT moves the local stack (as in a worktree).
    assert plan.bootstrap_servers == LOCAL_KAFKA_BOOTSTRAP_SERVERS


def test_another_kafka_means_no_local_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1.example:9092,kafka-2.example:9092")
    plan = StackPlan.from_environment()
    assert plan.external_kafka == "kafka-1.example:9092,kafka-2.example:9092"
    assert plan.bootstrap_servers == plan.external_kafka


def test_all_database_urls_mean_no_local_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    for service in SERVICES:
        monkeypatch.setenv(f"{service}_DATABASE_URL", f"postgresql+asyncpg://db/{service}")
    assert StackPlan.from_environment().external_postgres


def test_some_database_urls_is_an_error_naming_the_missing_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INTAKE_DATABASE_URL", "postgresql+asyncpg://db/intake")
    with pytest.raises(StackError) as error:
        StackPlan.from_environment()
    message = str(error.value)
    assert "REFERRAL_DATABASE_URL" in message
    assert "AUDIT_DATABASE_URL" in message
    assert "INTAKE_DATABASE_URL" not in message.split("also set")[1]


def test_cluster_ids_are_16_bytes_of_url_safe_base64_not_starting_with_a_dash() -> None:
    for _ in range(200):
        cluster_id = new_cluster_id()
        assert not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_the_broker_configuration_renders_every_placeholder(tmp_path: Path) -> None:
    layout = StackLayout(find_project_root(), tmp_path)
    kafka = LocalKafka(layout, port=KAFKA_PORT, controller_port=CONTROLLER_PORT)
    assert kafka.configure() is True
    assert kafka.configure() is False  # unchanged: a running broker is left alone
    rendered = kafka.properties.read_text()
    assert "{" not in rendered
    assert f"log.dirs={layout.kafka_data}" in rendered
    assert "process.roles=broker,controller" in rendered
    assert "offsets.topic.replication.factor=1" in rendered
    assert "group.initial.rebalance.delay.ms=0" in rendered
    assert kafka.bootstrap_servers == f"127.0.0.1:{KAFKA_PORT}"


def test_the_broker_authenticates_and_authorizes_with_generated_credentials(
    tmp_path: Path,
) -> None:
    layout = StackLayout(find_project_root(), tmp_path)
    kafka = LocalKafka(layout, port=KAFKA_PORT, controller_port=CONTROLLER_PORT)
    kafka.configure()
    rendered = kafka.properties.read_text()
    settings = dict(
        line.split("=", 1) for line in rendered.splitlines() if line and not line.startswith("#")
    )
    assert settings["listeners"] == (
        f"SASL_PLAINTEXT://127.0.0.1:{KAFKA_PORT},CONTROLLER://127.0.0.1:{CONTROLLER_PORT}"
    )
    assert settings["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert settings["authorizer.class.name"].endswith("StandardAuthorizer")
    assert settings["allow.everyone.if.no.acl.found"] == "false"
    assert settings["super.users"] == "User:mpa-admin;User:mpa-controller"
    credentials = kafka.credentials()
    assert set(credentials.users) == {*PRINCIPALS, "controller"}
    assert {u.username for u in credentials.users.values()} == {
        "mpa-admin",
        "mpa-intake",
        "mpa-referral",
        "mpa-notification",
        "mpa-audit",
        "mpa-controller",
    }
    assert len({u.password for u in credentials.users.values()}) == 6
    # Generated once, then kept; both files hold passwords: owner only.
    assert kafka.credentials() == credentials
    for secret in (kafka.credentials_file, kafka.properties):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert credentials.users["admin"].password in rendered
    assert credentials.users["intake"].password not in rendered  # SCRAM users live in storage


def test_maven_download_lines_become_progress_lines() -> None:
    line = (
        "Downloaded from central: https://repo.maven.apache.org/maven2/org/apache/kafka/"
        "kafka-clients/4.4.0/kafka-clients-4.4.0.jar (7.2 MB at 9.1 MB/s)"
    )
    match = _DOWNLOADED.search(line)
    assert match is not None
    assert match.groups() == ("kafka-clients-4.4.0.jar", "7.2 MB at 9.1 MB/s")
    assert _DOWNLOADED.search("Downloading from central: https://x/y.jar") is None
