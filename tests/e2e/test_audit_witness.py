"""Witnessed tree heads end to end (issue 12, finding 10): the audit service and an `mpa
audit witness` run as real processes with their own keys; every tree head the service signs
is cosigned, and an export verifies offline with the witness's key. Then a superuser
rewrites a logged row (and every hash above it, so the tree is self-consistent) and deletes
the tree heads: the service signs the fork, the witness refuses it (and keeps it as
evidence), the integrity check names it, and `mpa audit verify --witness-key` fails."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpa_audit_verify.note import private_key_to_pem
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

WITNESS_NAME = "witness.test.example/w1"


@dataclass
class Witnessed:
    audit: httpx.Client
    witness_url: str
    schema: str
    prefix: str
    env: dict[str, str]
    log_key: str
    witness_key: str
    state_dir: Path


def mpa(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mpa_cli.main", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _wait(ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            pytest.fail(f"process exited early:\n{log.read_text()}")
        try:
            if ready():
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"process did not start:\n{log.read_text()}")
        time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def witnessed(
    bootstrap_servers: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Witnessed]:
    schema = asyncio.run(create_audit_schema())
    prefix = f"{schema}."
    topics = asyncio.run(ensure_topics(bootstrap_servers, prefix))
    work = tmp_path_factory.mktemp("audit-witness")
    state_dir = work / "witness-state"
    witness_key_file = work / "witness-key.pem"
    witness_key_file.write_bytes(private_key_to_pem(Ed25519PrivateKey.generate()))
    env = {
        **os.environ,
        "AUDIT_DATABASE_SCHEMA": schema,
        "KAFKA_TOPIC_PREFIX": prefix,
        "AUDIT_SIGNING_KEY_FILE": str(work / "tree-head-key.pem"),
        "AUDIT_CHECKPOINT_INTERVAL_SECONDS": "0.5",
        "PYTHONUNBUFFERED": "1",
    }
    printed = mpa(env, "audit", "public-key")  # creates the log's development key
    assert printed.returncode == 0, printed.stderr
    log_key = printed.stdout.strip()

    witness_port = free_port()
    witness_log = work / "witness.log"
    witness = subprocess.Popen(
        [sys.executable, "-m", "mpa_cli.main", "audit", "witness", "--port", str(witness_port),
         "--name", WITNESS_NAME, "--key-file", str(witness_key_file), "--state-dir",
         str(state_dir), "--log-key", log_key],
        env=env, stdout=witness_log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    witness_url = f"http://127.0.0.1:{witness_port}"
    _wait(lambda: httpx.get(f"{witness_url}/healthz").status_code == 200, witness, witness_log)
    witness_key = httpx.get(f"{witness_url}/verifier-key").text.strip()
    assert (state_dir / "witness.vkey").read_text().strip() == witness_key

    audit_port = free_port()
    env |= {
        "AUDIT_PORT": str(audit_port),
        "AUDIT_WITNESS_URL": witness_url,
        "AUDIT_WITNESS_KEY": str(state_dir / "witness.vkey"),
    }
    audit_log = work / "audit.log"
    audit = subprocess.Popen(
        [sys.executable, "-m", "mpa_audit.main"],
        env=env,
        stdout=audit_log.open("w"),
        stderr=subprocess.STDOUT,
    )
    token = mint_dev_token([Role.AUDITOR], subject="e2e-witness-auditor")
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{audit_port}",
        headers={"authorization": f"Bearer {token}"},
        timeout=60,
    )
    try:
        _wait(lambda: client.get("/readyz").status_code == 200, audit, audit_log)
        yield Witnessed(client, witness_url, schema, prefix, env, log_key, witness_key, state_dir)
    finally:
        client.close()
        _stop(audit)
        _stop(witness)
        asyncio.run(delete_topics(bootstrap_servers, topics))
        asyncio.run(drop_audit_schema(schema))


def _cosigned_head(witnessed: Witnessed, size: int) -> dict[str, object]:
    deadline = time.monotonic() + 60
    head: dict[str, object] = {}
    while time.monotonic() < deadline:
        head = witnessed.audit.get("/v1/audit/tree-head").json()
        if head["tree_size"] == size and head["cosignatures"]:
            return head
        time.sleep(0.3)
    raise AssertionError(f"no cosigned tree head of {size} leaves: {head}")


def _export(witnessed: Witnessed, path: Path) -> Path:
    with witnessed.audit.stream("GET", "/v1/audit/export") as response:
        assert response.status_code == 200
        with path.open("wb") as file:
            for chunk in response.iter_bytes():
                file.write(chunk)
    return path


def _rewrite_history(schema: str) -> None:
    """As a superuser: change logged event 3, recompute its leaf hash and every node above
    it (a self-consistent forged tree), and delete the tree heads and cosignatures."""

    async def tamper() -> None:
        changed = await superuser_execute(
            schema,
            "UPDATE log_entries SET leaf = convert_to(replace(convert_from(leaf, 'UTF8'), "
            "'\"source\":\"urn:mpa:service:', '\"source\":\"urn:mpa:service:x'), 'UTF8') "
            "WHERE seq = 3",
        )
        assert changed == "UPDATE 1"
        await superuser_execute(
            schema, "UPDATE log_entries SET leaf_hash = sha256('\\x00'::bytea || leaf)"
        )
        await superuser_execute(
            schema,
            "UPDATE merkle_nodes n SET hash = sha256('\\x01'::bytea || l.leaf_hash || "
            "r.leaf_hash) FROM log_entries l, log_entries r WHERE n.level = 1 "
            "AND l.seq = 2 * n.node_index AND r.seq = 2 * n.node_index + 1",
        )
        for level in range(2, 8):
            await superuser_execute(
                schema,
                "UPDATE merkle_nodes n SET hash = sha256('\\x01'::bytea || l.hash || r.hash) "
                "FROM merkle_nodes l, merkle_nodes r WHERE n.level = $1 "
                "AND l.level = $1 - 1 AND r.level = $1 - 1 "
                "AND l.node_index = 2 * n.node_index AND r.node_index = 2 * n.node_index + 1",
                level,
            )
        await superuser_execute(schema, "DELETE FROM tree_heads")
        await superuser_execute(schema, "DELETE FROM tree_head_cosignatures")
        await superuser_execute(schema, "DELETE FROM integrity_checks")

    asyncio.run(tamper())


def test_a_witnessed_log_and_a_rewritten_history_the_witness_refuses(
    witnessed: Witnessed, bootstrap_servers: str, tmp_path: Path
) -> None:
    events, _ = scenario()
    asyncio.run(publish(bootstrap_servers, witnessed.prefix, events))
    head = _cosigned_head(witnessed, len(events))
    assert [c["witness"] for c in head["cosignatures"]] == [WITNESS_NAME]  # type: ignore[index]
    assert witnessed.audit.get("/v1/audit/public-key").json()["witnesses"] == [
        witnessed.witness_key
    ]
    kept = tmp_path / "kept-tree-head.json"
    kept.write_text(json.dumps(head))

    export = _export(witnessed, tmp_path / "witnessed.jsonl")
    checked = mpa(
        witnessed.env, "audit", "verify", str(export), "--public-key", witnessed.log_key,
        "--witness-key", witnessed.witness_key,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"by {WITNESS_NAME}" in checked.stdout
    intact = witnessed.audit.get("/v1/audit/health/integrity")
    assert intact.status_code == 200, intact.text
    assert intact.json()["witnesses_checked"] == 1

    _rewrite_history(witnessed.schema)
    # The service signs the rewritten tree (it holds the key); the witness refuses it.
    deadline = time.monotonic() + 30
    refusals = witnessed.state_dir / "refusals.jsonl"
    while not refusals.exists() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert refusals.exists(), "the witness refused nothing"
    refused = json.loads(refusals.read_text().splitlines()[0])
    assert refused["reason"] == f"a different root for size {len(events)} than the one cosigned"
    fork = witnessed.audit.get("/v1/audit/tree-head").json()
    assert fork["tree_size"] == len(events)
    assert fork["cosignatures"] == []
    assert fork["root_hash"] != head["root_hash"]

    for scope in ("incremental", "full"):
        integrity = witnessed.audit.get("/v1/audit/health/integrity", params={"scope": scope})
        assert integrity.status_code == 503, integrity.text
        findings = {f["check"]: f["detail"] for f in integrity.json()["findings"]}
        assert "witness_checkpoint" in findings, findings
        assert "rewritten after it was witnessed" in findings["witness_checkpoint"]

    forged = _export(witnessed, tmp_path / "forged.jsonl")
    # Signed by the log's key, the fork verifies on that key alone...
    alone = mpa(witnessed.env, "audit", "verify", str(forged), "--public-key", witnessed.log_key)
    assert alone.returncode == 0, alone.stdout + alone.stderr
    # ...but it has no cosignature by the witness, and it contradicts the tree head kept.
    checked = mpa(
        witnessed.env, "audit", "verify", str(forged), "--public-key", witnessed.log_key,
        "--witness-key", witnessed.witness_key,
    )  # fmt: skip
    assert checked.returncode == 1
    assert "not witnessed" in checked.stderr
    assert f"no cosignature by witness {WITNESS_NAME}" in checked.stderr
    kept_check = mpa(
        witnessed.env, "audit", "verify", str(forged), "--public-key", witnessed.log_key,
        "--previous-tree-head", str(kept),
    )  # fmt: skip
    assert kept_check.returncode == 1
    assert "FAILED" in kept_check.stderr
