"""`mpa stack up` pointed at existing servers uses them and starts none of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mpa_cli.stack.access import access_plan
from mpa_common.kafka import operator_options
from mpa_common.settings import (
    LOCAL_KAFKA_PORT,
    SERVICE_PORTS,
    local_database_url,
    local_owner_database_url,
)
from mpa_contracts.topics import all_topics

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_stack_up_with_external_servers_starts_nothing_and_migrates_them() -> None:
    # The same broker by another name, so it counts as another cluster: reached with the
    # credentials given for it (MPA_ADMIN_KAFKA_*), as an operator would pass them.
    external = f"localhost:{LOCAL_KAFKA_PORT}"
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": external}
    admin = operator_options()
    env.update(
        {
            "MPA_ADMIN_KAFKA_SECURITY_PROTOCOL": admin["security_protocol"],
            "MPA_ADMIN_KAFKA_SASL_MECHANISM": admin["sasl_mechanism"],
            "MPA_ADMIN_KAFKA_SASL_USERNAME": admin["sasl_plain_username"],
            "MPA_ADMIN_KAFKA_SASL_PASSWORD": admin["sasl_plain_password"],
        }
    )
    for service in SERVICE_PORTS:
        env[f"{service.upper()}_DATABASE_URL"] = local_database_url(service)
        env[f"{service.upper()}_MIGRATIONS_DATABASE_URL"] = local_owner_database_url(service)
    result = subprocess.run(
        [sys.executable, "-m", "mpa_cli.main", "stack", "up"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "using the databases named by <SERVICE>_DATABASE_URL" in output
    assert f"Kafka: using {external}" in output
    assert "Starting PostgreSQL" not in output
    assert "Starting Kafka" not in output
    assert "already running" not in output  # it did not even look at the local ones
    for service in SERVICE_PORTS:
        assert f"Migrating the {service} database" in output
    assert f"{len(all_topics())} topics" in output
    # The same broker: the services' ACLs were granted already.
    assert f"ACLs: 0 created, {len(access_plan())} present" in output
