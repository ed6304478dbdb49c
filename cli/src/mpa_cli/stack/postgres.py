"""A private PostgreSQL cluster for the platform, from Debian's packages.

It listens on 127.0.0.1:54320 (MPA_LOCAL_POSTGRES_PORT) only, keeps its data under
`.local/postgres`, and holds one role and one database per service. Sessions and CI run as
root, where initdb and postgres refuse to run: the cluster then runs as the `postgres` system
user (created by Debian's package).
"""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import os
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from mpa_cli.stack.console import StackError, info, run, step
from mpa_cli.stack.layout import Layout
from mpa_common.settings import (
    LOCAL_POSTGRES_HOST,
    LOCAL_POSTGRES_PORT,
    RUNTIME_ROLES,
    SERVICE_PORTS,
)

SUPERUSER = "postgres"
SERVICES = tuple(SERVICE_PORTS)
# Unix socket paths are limited to 107 bytes; long checkout paths fall back to a temp folder.
MAX_SOCKET_DIR = 80


def find_server_bin() -> Path | None:
    """The newest installed PostgreSQL server's bin folder, if any."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return candidates[-1].parent if candidates else None


def ensure_installed() -> Path:
    if (found := find_server_bin()) is not None:
        return found
    step("Installing PostgreSQL from Debian's packages (apt-get install postgresql)")
    if os.geteuid() != 0:
        raise StackError(
            "PostgreSQL is not installed and this user cannot install it: run "
            "`sudo apt-get update && sudo apt-get install -y postgresql`, then try again."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update"], what="apt-get update", env=env, line_filter=_apt_progress)
    run(
        ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"],
        what="apt-get install postgresql",
        env=env,
        line_filter=_apt_progress,
    )
    if (found := find_server_bin()) is None:
        raise StackError("apt-get installed postgresql but no /usr/lib/postgresql/*/bin/pg_ctl")
    return found


def _apt_progress(line: str) -> str | None:
    return line if line.startswith(("Get:", "Setting up", "Unpacking")) else None


@dataclass(frozen=True)
class LocalPostgres:
    layout: Layout
    bin_dir: Path
    port: int = LOCAL_POSTGRES_PORT
    # Extra `name=value` server settings (e.g. the bench's pg_stat_statements).
    settings: tuple[str, ...] = ()

    @property
    def as_root(self) -> bool:
        return os.geteuid() == 0

    @property
    def owner(self) -> str:
        return "postgres" if self.as_root else getpass.getuser()

    @property
    def home(self) -> Path:
        # Resolved: when .local/postgres links elsewhere, the server must be handed paths
        # that do not pass through the (possibly private) checkout.
        return self.layout.postgres_home.resolve()

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def log_file(self) -> Path:
        return self.home / "postgres.log"

    @property
    def password_file(self) -> Path:
        return self.home / "superuser-password"

    @property
    def socket_dir(self) -> Path:
        preferred = self.home / "run"
        if len(str(preferred.resolve())) <= MAX_SOCKET_DIR:
            return preferred
        digest = hashlib.sha256(str(self.layout.root).encode()).hexdigest()[:10]
        return Path(tempfile.gettempdir()) / f"mpa-pg-{digest}"

    def _as_owner(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", self.owner, "--", *argv] if self.as_root else argv

    def _prepare_home(self) -> None:
        """Creates the cluster's folders, owned by the user the server runs as.

        As root, the `postgres` user must be able to reach `.local/postgres`; a checkout in a
        private folder (mode 700, as `mktemp -d` makes) is out of its reach, so the cluster
        then lives in /var/lib/mpa-local/<hash> with `.local/postgres` a link to it.
        """
        self.layout.local.mkdir(parents=True, exist_ok=True)
        link = self.layout.postgres_home
        if self.as_root and not link.exists() and not self._owner_can_reach(self.layout.local):
            digest = hashlib.sha256(str(self.layout.root).encode()).hexdigest()[:12]
            target = Path("/var/lib/mpa-local") / digest / "postgres"
            target.mkdir(parents=True, exist_ok=True)
            link.symlink_to(target)
            info(f"{self.layout.local} is private to root; cluster kept in {target} (linked)")
        self.home.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            for path in (self.home, self.socket_dir):
                shutil.chown(path, user="postgres", group="postgres")

    def _owner_can_reach(self, folder: Path) -> bool:
        probe = subprocess.run(  # noqa: S603
            ["runuser", "-u", "postgres", "--", "test", "-x", str(folder)],  # noqa: S607
            check=False,
        )
        return probe.returncode == 0

    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        self._prepare_home()
        if self.initialised():
            return
        step(f"Creating the local PostgreSQL cluster in {self.data_dir}")
        password = secrets.token_urlsafe(24)
        self.password_file.write_text(password + "\n")
        self.password_file.chmod(0o600)
        if self.as_root:
            shutil.chown(self.password_file, user="postgres", group="postgres")
        run(
            self._as_owner(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={self.password_file}",
                    "--auth-local=peer",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "--no-instructions",
                ]
            ),
            what="initdb",
        )

    def running(self) -> bool:
        if not self.initialised():
            return False
        status = subprocess.run(  # noqa: S603
            self._as_owner([str(self.bin_dir / "pg_ctl"), "status", "-D", str(self.data_dir)]),
            capture_output=True,
            check=False,
        )
        return status.returncode == 0

    def start(self) -> None:
        if self.running():
            info(f"PostgreSQL already running on {LOCAL_POSTGRES_HOST}:{self.port}")
            return
        step(f"Starting PostgreSQL on {LOCAL_POSTGRES_HOST}:{self.port}")
        options = " ".join(
            [
                f"-p {self.port}",
                f"-k {self.socket_dir}",
                f"-c listen_addresses={LOCAL_POSTGRES_HOST}",
                "-c max_connections=300",
                *(f"-c {setting}" for setting in self.settings),
            ]
        )
        run(
            self._as_owner(
                [
                    str(self.bin_dir / "pg_ctl"),
                    "start",
                    "-w",
                    "-t",
                    "60",
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-o",
                    options,
                ]
            ),
            what="pg_ctl start",
        )

    def stop(self) -> None:
        if not self.running():
            info("PostgreSQL is not running")
            return
        step("Stopping PostgreSQL")
        run(
            self._as_owner(
                [str(self.bin_dir / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.data_dir)]
            ),
            what="pg_ctl stop",
        )

    def superuser_password(self) -> str:
        return self.password_file.read_text().strip()

    def admin_dsn(self) -> str:
        return (
            f"postgresql://{SUPERUSER}:{self.superuser_password()}"
            f"@{LOCAL_POSTGRES_HOST}:{self.port}/postgres"
        )

    def provision(self) -> None:
        """One role and one database per service, each closed to every other role."""
        step(
            "Ensuring one role and one database per service: "
            + ", ".join(f"mpa_{s}" for s in SERVICES)
        )
        asyncio.run(provision_service_databases(self.admin_dsn()))


async def provision_service_databases(admin_dsn: str) -> None:
    connection = await asyncpg.connect(admin_dsn)
    try:
        for service in SERVICES:
            role = f"mpa_{service}"
            # Identifiers come from the fixed SERVICES tuple, never from input.
            if not await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
                await connection.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{role}'")
            if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", role):
                await connection.execute(f'CREATE DATABASE {role} OWNER {role} ENCODING "UTF8"')
            # Services never share a database: no other role may even connect to this one.
            await connection.execute(f"REVOKE ALL ON DATABASE {role} FROM PUBLIC")
            await connection.execute(f"GRANT ALL ON DATABASE {role} TO {role}")
            # A runtime role that is not the owner: its rights come from the service's
            # migrations (GRANTs), so it can be denied UPDATE and DELETE on what it logs.
            if runtime := RUNTIME_ROLES.get(service):
                if not await connection.fetchval(
                    "SELECT 1 FROM pg_roles WHERE rolname = $1", runtime
                ):
                    await connection.execute(f"CREATE ROLE {runtime} LOGIN PASSWORD '{runtime}'")
                await connection.execute(f"GRANT CONNECT ON DATABASE {role} TO {runtime}")
    finally:
        await connection.close()
