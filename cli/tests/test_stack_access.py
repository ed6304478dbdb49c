"""The ACL plan (mpa_cli.stack.access), without a broker: derived from the topic registry and
the services' subscriptions. The broker's enforcement is in tests/integration."""

from __future__ import annotations

from typer.testing import CliRunner

from mpa_cli.main import app
from mpa_cli.stack.access import (
    Grant,
    Operation,
    Resource,
    access_plan,
    librdkafka_config,
    service_subscriptions,
)


def test_the_referral_service_writes_its_topics_and_reads_only_the_case_topics() -> None:
    referral = {g for g in access_plan() if g.service == "referral"}
    assert referral == {
        Grant("referral", Operation.WRITE, Resource.TOPIC, "mpa.referral.v1"),
        Grant("referral", Operation.WRITE, Resource.TOPIC, "mpa.directory.v1"),
        Grant("referral", Operation.READ, Resource.TOPIC, "mpa.case.v1"),
        Grant("referral", Operation.WRITE, Resource.TOPIC, "mpa.case.v1.dlq"),
        # PSEA outcomes (issue 17): a substantiated allegation may suspend a partner.
        Grant("referral", Operation.READ, Resource.TOPIC, "mpa.psea.v1"),
        Grant("referral", Operation.WRITE, Resource.TOPIC, "mpa.psea.v1.dlq"),
        Grant("referral", Operation.READ, Resource.GROUP, "mpa-referral.cases"),
    }


def test_a_service_without_subscriptions_gets_only_its_own_topics() -> None:
    plan = access_plan({**service_subscriptions(), "intake": ()})
    intake = {(g.operation, g.resource, g.name) for g in plan if g.service == "intake"}
    assert intake == {
        (Operation.WRITE, Resource.TOPIC, "mpa.case.v1"),
        (Operation.WRITE, Resource.TOPIC, "mpa.access.v1"),
        (Operation.WRITE, Resource.TOPIC, "mpa.psea.v1"),
        (Operation.WRITE, Resource.TOPIC, "mpa.report.v1"),
    }


def test_no_service_may_write_a_main_topic_it_does_not_produce() -> None:
    writers = {g.name: g.service for g in access_plan() if g.operation == Operation.WRITE}
    assert {name: s for name, s in writers.items() if not name.endswith(".dlq")} == {
        "mpa.case.v1": "intake",
        "mpa.access.v1": "intake",
        "mpa.psea.v1": "intake",
        "mpa.report.v1": "intake",
        "mpa.referral.v1": "referral",
        "mpa.directory.v1": "referral",
        "mpa.notification.v1": "notification",
    }


def test_grants_are_applied_per_deployment_prefix() -> None:
    grant = Grant("audit", Operation.READ, Resource.GROUP, "mpa-audit.log")
    assert grant.prefixed("staging.").name == "staging.mpa-audit.log"


def test_librdkafka_gets_the_same_sasl_connection() -> None:
    config = librdkafka_config(
        {
            "bootstrap_servers": "127.0.0.1:9092",
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": "mpa-admin",
            "sasl_plain_password": "secret",
        }
    )
    assert config == {
        "bootstrap.servers": "127.0.0.1:9092",
        "security.protocol": "sasl_plaintext",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": "mpa-admin",
        "sasl.password": "secret",
    }


def test_mpa_stack_acls_prints_one_line_per_grant_with_the_prefix() -> None:
    result = CliRunner().invoke(app, ["stack", "acls", "--prefix", "staging."])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == len(access_plan())
    assert "ALLOW User:mpa-referral" in result.output
    assert all(" LITERAL staging." in line for line in lines)
