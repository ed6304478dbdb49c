"""An auditor's round trip (issue 5): the audit service runs as a real process, logs a
scenario's events from Kafka, and its exports verify offline with `mpa audit verify`,
including consistency with a tree head kept from earlier; after a superuser alters a
logged row, `verify` and the API's integrity check both fail."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from mpa_cli.stack.topics import ensure_topics
from mpa_common.auth import Role, mint_dev_token
from tests.integration.audit_support import (
    create_audit_schema,
    delete_topics,
    drop_audit_schema,
    publish,
    scenario,
    superuser_execute,
)
from tests.support import free_port

pytestmark = pytest.mark.e2e


@dataclass
class AuditProcess:
    url: str
    schema: str
    prefix: str
    env: dict[str, str]
    client: httpx.Client


def mpa(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mpa_cli.main", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def audit(
    bootstrap_servers: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AuditProcess]:
    import asyncio

    schema = asyncio.run(create_audit_schema())
    prefix = f"{schema}."
    topics = asyncio.run(ensure_topics(bootstrap_servers, prefix))
    work = tmp_path_factory.mktemp("audit-e2e")
    port = free_port()
    env = {
        **os.environ,
        "AUDIT_PORT": str(port),
        "AUDIT_DATABASE_SCHEMA": schema,
        "KAFKA_TOPIC_PREFIX": prefix,
        "AUDIT_SIGNING_KEY_FILE": str(work / "tree-head-key.pem"),
        "AUDIT_CHECKPOINT_INTERVAL_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = work / "audit.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "mpa_audit.main"],
        env=env,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
    )
    token = mint_dev_token([Role.AUDITOR], subject="e2e-auditor")
    url = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=60)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"audit exited early:\n{log_path.read_text()}")
            try:
                if client.get("/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"audit did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield AuditProcess(url, schema, prefix, env, client)
    finally:
        client.close()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        asyncio.run(delete_topics(bootstrap_servers, topics))
        asyncio.run(drop_audit_schema(schema))


def _log_until(audit: AuditProcess, size: int) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        head = audit.client.get("/v1/audit/tree-head").json()
        if head["tree_size"] >= size:
            assert head["tree_size"] == size
            return dict(head)
        time.sleep(0.3)
    raise AssertionError(f"the log did not reach {size} leaves")


def _export(audit: AuditProcess, path: Path, **params: int) -> Path:
    with audit.client.stream("GET", "/v1/audit/export", params=params) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/jsonl")
        with path.open("wb") as file:
            for chunk in response.iter_bytes():
                file.write(chunk)
    return path


def test_exports_verify_offline_and_tampering_is_found(
    audit: AuditProcess, bootstrap_servers: str, tmp_path: Path
) -> None:
    import asyncio

    first, _ = scenario()
    asyncio.run(publish(bootstrap_servers, audit.prefix, first))
    kept = _log_until(audit, len(first))
    kept_file = tmp_path / "tree-head.json"
    kept_file.write_text(json.dumps(kept))

    # The key an auditor is given, from the host's configuration and from the API.
    printed = mpa(audit.env, "audit", "public-key")
    assert printed.returncode == 0, printed.stderr
    key = printed.stdout.strip()
    assert audit.client.get("/v1/audit/public-key").json()["verifier_key"] == key

    full = _export(audit, tmp_path / "first.jsonl")
    checked = mpa(audit.env, "audit", "verify", str(full), "--public-key", key)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"{len(first)} verified" in checked.stdout

    second, _ = scenario()
    asyncio.run(publish(bootstrap_servers, audit.prefix, second))
    total = len(first) + len(second)
    _log_until(audit, total)
    grown = _export(audit, tmp_path / "grown.jsonl")
    checked = mpa(
        audit.env, "audit", "verify", str(grown), "--public-key", key,
        "--previous-tree-head", str(kept_file),
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "consistent with the previous tree head" in checked.stdout
    # Only the new leaves, proven consistent with the kept tree head by a proof.
    tail = _export(
        audit, tmp_path / "tail.jsonl", start=len(first) + 5, previous_tree_size=len(first)
    )
    checked = mpa(
        audit.env, "audit", "verify", str(tail), "--public-key", key,
        "--previous-tree-head", str(kept_file),
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # A superuser rewrites a logged event: the export no longer matches the signed root.
    changed = asyncio.run(
        superuser_execute(
            audit.schema,
            "UPDATE log_entries SET leaf = convert_to(replace(convert_from(leaf, 'UTF8'), "
            "'\"source\":\"urn:mpa:service:', '\"source\":\"urn:mpa:service:x'), 'UTF8') "
            "WHERE seq = 3",
        )
    )
    assert changed == "UPDATE 1"
    altered = _export(audit, tmp_path / "altered.jsonl", tree_size=total)
    checked = mpa(audit.env, "audit", "verify", str(altered), "--public-key", key)
    assert checked.returncode == 1
    assert "FAILED" in checked.stderr
    assert "differs from the signed root" in checked.stderr
    integrity = audit.client.get("/v1/audit/health/integrity")
    assert integrity.status_code == 503
    assert "leaf_hash" in {f["check"] for f in integrity.json()["findings"]}
