"""A private stack: a PostgreSQL cluster and a Kafka broker of the harness's own.

Built from the same steps as `mpa stack up` (`mpa_cli.stack`), with free ports and a folder
of its own, so faults injected into it (a stopped database, a killed broker) disturb nobody
else's tests. The broker's jars are the checkout's (`.local/kafka/libs`), resolved once.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mpa_cli.harness.ports import free_ports
from mpa_cli.stack import postgres
from mpa_cli.stack.kafka import KAFKA_HOST, LocalKafka
from mpa_cli.stack.layout import Layout, find_project_root
from mpa_common.settings import LOCAL_POSTGRES_HOST, RUNTIME_ROLES


@dataclass(frozen=True)
class StackLayout(Layout):
    """The checkout's layout, with the stack's data kept in `home` instead of `.local`."""

    home: Path = field(default_factory=Path)

    @property
    def local(self) -> Path:
        return self.home

    @property
    def kafka_libs(self) -> Path:
        # The jars resolved for the checkout itself: no second download.
        return Layout(self.root).kafka_libs


class PrivateStack:
    """PostgreSQL (with one role and database per service) and one Kafka node, on free ports.

    `start()` and `stop()` block (they wait for the servers); call them from a thread when
    an event loop is running. Nothing here deletes data unless `destroy()` is called.
    """

    def __init__(
        self,
        home: Path,
        *,
        root: Path | None = None,
        postgres_settings: tuple[str, ...] = (),
    ) -> None:
        self.home = home
        self.layout = StackLayout(root or find_project_root(), home)
        postgres_port, kafka_port, controller_port = free_ports(3)
        self.postgres = postgres.LocalPostgres(
            self.layout,
            postgres.ensure_installed(),
            port=postgres_port,
            settings=postgres_settings,
        )
        self.kafka = LocalKafka(self.layout, port=kafka_port, controller_port=controller_port)

    @classmethod
    def in_temporary_folder(
        cls, prefix: str = "mpa-harness-", *, postgres_settings: tuple[str, ...] = ()
    ) -> PrivateStack:
        # Short (Unix socket paths are bounded) and reachable by the `postgres` user.
        home = Path(tempfile.mkdtemp(prefix=prefix))
        home.chmod(0o755)
        return cls(home, postgres_settings=postgres_settings)

    @property
    def root(self) -> Path:
        return self.layout.root

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka.bootstrap_servers

    @property
    def kafka_options(self) -> dict[str, Any]:
        """The stack's admin principal: what the harness's own clients connect as."""
        return self.kafka.admin_options

    def kafka_environment(self, service: str) -> dict[str, str]:
        """The variables that give a service process its own principal on this broker."""
        return self.kafka.service_environment(service)

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self.start_postgres()
        self.postgres.provision()
        self.start_kafka()

    def start_postgres(self) -> None:
        self.postgres.init()
        self.postgres.start()

    def stop_postgres(self) -> None:
        """`pg_ctl stop -m fast` as the cluster's owner: what an operator's restart does."""
        self.postgres.stop()

    def start_kafka(self) -> None:
        self.kafka.start()

    def kill_kafka(self) -> int:
        """SIGKILLs the broker's JVM by the pid this stack recorded; returns the pid."""
        pid = self.kafka.pid()
        if pid is None:
            raise RuntimeError("the stack's broker is not running")
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid)
        self.kafka.pid_file.unlink(missing_ok=True)
        return pid

    def stop(self) -> None:
        self.kafka.stop()
        self.postgres.stop()

    def destroy(self) -> None:
        """Stops both servers and deletes the stack's folder."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.home, ignore_errors=True)

    # ---- PostgreSQL processes (for the pause fault) ---------------------------------------

    def postmaster_pid(self) -> int:
        """The postmaster's pid, from the first line of the data folder's postmaster.pid."""
        pid_file = self.postgres.data_dir / "postmaster.pid"
        return int(pid_file.read_text().splitlines()[0])

    # ---- connection strings ----------------------------------------------------------------

    def database_url(self, service: str) -> str:
        """What the service runs with: its runtime role on its own database."""
        role = RUNTIME_ROLES.get(service, f"mpa_{service}")
        return self._url(role, f"mpa_{service}")

    def owner_database_url(self, service: str) -> str:
        """The role that owns the service's schema (what migrations run as)."""
        return self._url(f"mpa_{service}", f"mpa_{service}")

    def superuser_dsn(self, database: str) -> str:
        """An asyncpg DSN of the cluster's superuser, for the harness's own checks."""
        return (
            f"postgresql://{postgres.SUPERUSER}:{self.postgres.superuser_password()}"
            f"@{LOCAL_POSTGRES_HOST}:{self.postgres.port}/{database}"
        )

    def _url(self, role: str, database: str) -> str:
        # The local cluster's convention: each role's password is its name (loopback only).
        return (
            f"postgresql+asyncpg://{role}:{role}@{LOCAL_POSTGRES_HOST}:"
            f"{self.postgres.port}/{database}"
        )

    def describe(self) -> str:
        return (
            f"PostgreSQL {LOCAL_POSTGRES_HOST}:{self.postgres.port}, "
            f"Kafka {KAFKA_HOST}:{self.kafka.port}, data in {self.home}"
        )


def _wait_gone(pid: int, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        # A killed child of ours stays a zombie until reaped; a zombie is gone for our needs.
        if _is_zombie(pid):
            return
        time.sleep(0.05)
    raise RuntimeError(f"process {pid} did not exit within {timeout} s")


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"
