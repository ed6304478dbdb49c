"""A one-node Apache Kafka (KRaft: broker and controller in one JVM) from Maven Central jars.

`mvn dependency:copy-dependencies` resolves the broker pinned in deploy/local/kafka/pom.xml
into .local/kafka/libs once (the copy is keyed by the pom's hash); storage is formatted once;
the JVM runs detached with its pid in .local/kafka/broker.pid and its log in broker.log.

The broker authenticates every client (SASL/SCRAM-SHA-512) and authorizes it with ACLs
(KRaft's StandardAuthorizer, nothing allowed without an ACL). The SCRAM users — an admin and
one per service — are generated once into .local/kafka/credentials.json and written into the
storage when it is formatted (`kafka-storage format --add-scram`); a principal added later
is created through the admin API. The ACLs come with the topics (`mpa_cli.stack.topics`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mpa_cli.stack.console import StackError, info, run, step
from mpa_cli.stack.layout import Layout
from mpa_common.kafka import (
    CREDENTIALS_FILE_NAME,
    KafkaUser,
    StackCredentials,
    kafka_metadata_ok,
)
from mpa_common.settings import LOCAL_KAFKA_PORT, SERVICE_PORTS

KAFKA_HOST = "127.0.0.1"
KAFKA_PORT = LOCAL_KAFKA_PORT
CONTROLLER_PORT = LOCAL_KAFKA_PORT + 1
READY_TIMEOUT_SECONDS = 90
ADMIN = "admin"
# The admin and one principal per service, each a SCRAM user `mpa-<name>`.
PRINCIPALS: tuple[str, ...] = (ADMIN, *SERVICE_PORTS)
# The broker's own user on the controller listener (SASL/PLAIN, only in server.properties).
CONTROLLER_USER = "mpa-controller"
# Half a GiB is plenty for one test node on a 2-core, small machine.
JVM_OPTIONS = [
    "-Xms512m",
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
]


def ensure_java_and_maven() -> None:
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if not missing:
        return
    step(f"Installing {' and '.join(missing)} from Debian's packages")
    if os.geteuid() != 0:
        raise StackError(
            "Java 17 and Maven are needed for the local Kafka: "
            "`sudo apt-get install -y openjdk-17-jre-headless maven`"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update"], what="apt-get update", env=env)
    run(
        ["apt-get", "install", "-y", "--no-install-recommends", "openjdk-17-jre-headless", "maven"],
        what="apt-get install java and maven",
        env=env,
    )


def new_credentials() -> StackCredentials:
    """Random passwords for every principal (and, under the name `controller`, the
    broker's controller-listener password)."""
    users = {name: KafkaUser(f"mpa-{name}", secrets.token_urlsafe(24)) for name in PRINCIPALS}
    users["controller"] = KafkaUser(CONTROLLER_USER, secrets.token_urlsafe(24))
    return StackCredentials(users=users)


def new_cluster_id() -> str:
    """A KRaft cluster id: URL-safe base64 of 16 random bytes, unpadded, not starting with '-'."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


_DOWNLOADED = re.compile(r"Downloaded from \S+: \S+/([^/]+\.(?:jar|pom)) \(([^)]*)\)")


@dataclass(frozen=True)
class LocalKafka:
    layout: Layout
    port: int = KAFKA_PORT
    controller_port: int = CONTROLLER_PORT

    @property
    def bootstrap_servers(self) -> str:
        return f"{KAFKA_HOST}:{self.port}"

    @property
    def home(self) -> Path:
        return self.layout.kafka_home

    @property
    def properties(self) -> Path:
        return self.home / "server.properties"

    @property
    def pid_file(self) -> Path:
        return self.home / "broker.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "broker.log"

    def pom_digest(self) -> str:
        return hashlib.sha256(self.layout.kafka_pom.read_bytes()).hexdigest()

    def resolve_jars(self) -> None:
        libs = self.layout.kafka_libs
        stamp = libs / ".pom-sha256"
        if stamp.exists() and stamp.read_text().strip() == self.pom_digest():
            info(f"Kafka jars cached in {libs}")
            return
        ensure_java_and_maven()
        step("Resolving the Kafka broker's jars from Maven Central (first run only)")
        staging = libs.with_name("libs.partial")
        shutil.rmtree(staging, ignore_errors=True)
        count = 0

        def progress(line: str) -> str | None:
            nonlocal count
            if match := _DOWNLOADED.search(line):
                count += 1
                return f"[{count}] {match.group(1)} ({match.group(2)})"
            return None

        run(
            [
                "mvn",
                "-B",
                "-f",
                str(self.layout.kafka_pom),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={staging}",
            ],
            what="mvn copy-dependencies",
            line_filter=progress,
        )
        (staging / ".pom-sha256").write_text(self.pom_digest() + "\n")
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)
        jars = len(list(libs.glob("*.jar")))
        info(f"{jars} jars in {libs}")

    @property
    def credentials_file(self) -> Path:
        return self.home / CREDENTIALS_FILE_NAME

    def credentials(self) -> StackCredentials:
        """The stack's SCRAM users, generated on the first call."""
        if self.credentials_file.exists():
            known = StackCredentials.load(self.credentials_file)
            missing = [p for p in (*PRINCIPALS, "controller") if p not in known.users]
            if not missing:
                return known
            fresh = new_credentials().users
            known = StackCredentials({**known.users, **{p: fresh[p] for p in missing}})
        else:
            known = new_credentials()
        known.save(self.credentials_file)
        return known

    @property
    def admin_options(self) -> dict[str, Any]:
        """aiokafka options of the stack's admin principal."""
        return self.credentials().options_for(self.bootstrap_servers, ADMIN)

    def service_options(self, service: str) -> dict[str, Any]:
        return self.credentials().options_for(self.bootstrap_servers, service)

    def service_users(self) -> dict[str, tuple[str, str]]:
        """Every SCRAM principal (admin and services): (user name, password)."""
        users = self.credentials().users
        return {p: (users[p].username, users[p].password) for p in PRINCIPALS}

    def service_environment(self, service: str) -> dict[str, str]:
        """The `<SERVICE>_KAFKA_*` variables that give a service process its principal on
        this broker (what a harness's processes run with)."""
        user = self.credentials().users[service]
        prefix = "MPA_ADMIN" if service == ADMIN else service.upper()
        return {
            f"{prefix}_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            f"{prefix}_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            f"{prefix}_KAFKA_SASL_USERNAME": user.username,
            f"{prefix}_KAFKA_SASL_PASSWORD": user.password,
        }

    def configure(self) -> bool:
        """Renders server.properties (owner-only: it holds passwords); True if it changed."""
        self.layout.kafka_data.mkdir(parents=True, exist_ok=True)
        users = self.credentials().users
        rendered = self.layout.kafka_properties_template.read_text().format(
            data_dir=self.layout.kafka_data,
            port=self.port,
            controller_port=self.controller_port,
            admin_username=users[ADMIN].username,
            admin_password=users[ADMIN].password,
            controller_username=users["controller"].username,
            controller_password=users["controller"].password,
        )
        if self.properties.exists() and self.properties.read_text() == rendered:
            return False
        descriptor = os.open(self.properties, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(rendered)
        self.properties.chmod(0o600)
        return True

    def _java(self, main_class: str, *args: str, jvm: list[str] | None = None) -> list[str]:
        return [
            "java",
            *(jvm or []),
            f"-Dlog4j2.configurationFile={self.layout.kafka_log4j}",
            "-cp",
            f"{self.layout.kafka_libs}/*",
            main_class,
            *args,
        ]

    @property
    def _scram_stamp(self) -> Path:
        # Written after a format that added the SCRAM users: storage without it predates
        # authentication and cannot take users any more (KRaft adds them only at format).
        return self.layout.kafka_data / ".mpa-scram"

    def format_storage(self) -> None:
        data = self.layout.kafka_data
        if (data / "meta.properties").exists():
            if self._scram_stamp.exists():
                return
            step(
                "Kafka's storage predates authentication (SASL/SCRAM): formatting it anew; "
                "the local topics start empty"
            )
            shutil.rmtree(data)
            data.mkdir(parents=True)
        step("Formatting Kafka's KRaft storage with its SCRAM users (once)")
        users = self.credentials().users
        scram = [
            f"SCRAM-SHA-512=[name={users[p].username},password={users[p].password}]"
            for p in PRINCIPALS
        ]
        run(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "--ignore-formatted",
                "-t",
                new_cluster_id(),
                "-c",
                str(self.properties),
                *(arg for entry in scram for arg in ("--add-scram", entry)),
            ),
            what="kafka storage format",
        )
        self._scram_stamp.write_text("SCRAM-SHA-512 users added at format\n")

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        cmdline = Path(f"/proc/{pid}/cmdline")
        if cmdline.exists() and b"kafka.Kafka" not in cmdline.read_bytes():
            return None  # a recycled pid, not our broker
        return pid

    def start(self) -> None:
        if (pid := self.pid()) is not None:
            if not self.configure() and self._scram_stamp.exists():
                info(f"Kafka already running (pid {pid}) on {self.bootstrap_servers}")
                self.wait_ready()
                return
            info("Kafka's configuration changed: restarting it")
            self.stop()
        if _port_open(KAFKA_HOST, self.port):
            raise StackError(
                f"Port {self.port} is taken by a process this checkout did not start. Stop it, "
                "or use it: set KAFKA_BOOTSTRAP_SERVERS to its address."
            )
        self.resolve_jars()
        self.configure()
        self.format_storage()
        step(f"Starting Kafka (KRaft, one node) on {self.bootstrap_servers}")
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(  # noqa: S603
                self._java("kafka.Kafka", str(self.properties), jvm=JVM_OPTIONS),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in `make run` must not kill the broker
            )
        self.pid_file.write_text(f"{process.pid}\n")
        self.wait_ready(process)

    def wait_ready(self, process: subprocess.Popen[bytes] | None = None) -> None:
        """Waits until a metadata request succeeds; shows the broker log if it never does."""
        # Refused connections are expected while the JVM starts; the deadline decides.
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        started = time.monotonic()
        last_error = ""
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise StackError(
                    f"Kafka exited with code {process.returncode}.\n{self._log_tail()}"
                )
            try:
                asyncio.run(kafka_metadata_ok(self.admin_options, timeout=3))
            except Exception as exc:  # not ready yet: keep polling until the deadline
                last_error = f"{type(exc).__name__}: {exc}"
                time.sleep(0.5)
                continue
            info(
                f"Kafka ready after {time.monotonic() - started:.1f} s (metadata request answered)"
            )
            return
        raise StackError(
            f"Kafka did not answer a metadata request within {READY_TIMEOUT_SECONDS} s "
            f"({last_error}).\n{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 30) -> str:
        if not self.log_file.exists():
            return "(no broker log)"
        tail = self.log_file.read_text(errors="replace").splitlines()[-lines:]
        return f"--- {self.log_file} ---\n" + "\n".join(tail)

    def stop(self) -> None:
        pid = self.pid()
        if pid is None:
            info("Kafka is not running")
            self.pid_file.unlink(missing_ok=True)
            return
        step(f"Stopping Kafka (pid {pid})")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.pid() is None:
                break
            time.sleep(0.2)
        else:
            info("Kafka did not stop within 30 s; killing it")
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0
