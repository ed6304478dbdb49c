"""A PostgreSQL cluster of the test's own (its own folder and port), for tests that stop or
pause the server: the shared stack that `make test` started is never touched.

Built from the stack's own `LocalPostgres` (the same initdb, start and provisioning), so it
behaves like the real thing; ~3 s to create.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mpa_cli.stack import postgres
from mpa_cli.stack.layout import Layout
from tests.support import free_port


@dataclass(frozen=True)
class _PrivateLayout(Layout):
    folder: Path = Path()

    @property
    def local(self) -> Path:
        return self.folder


@dataclass
class PrivatePostgres:
    cluster: postgres.LocalPostgres

    @property
    def port(self) -> int:
        return self.cluster.port

    def url(self, service: str, *, driver: str = "postgresql+asyncpg") -> str:
        """The service role's URL on this cluster (what the local stack provisions)."""
        role = f"mpa_{service}"
        return f"{driver}://{role}:{role}@127.0.0.1:{self.port}/{role}"

    def stop(self) -> None:
        """`pg_ctl stop -m fast`, as the postgres user: a database restart's first half."""
        self.cluster.stop()

    def start(self) -> None:
        self.cluster.start()

    def server_pids(self) -> list[int]:
        """The postmaster and every process it forked (backends, walwriter, ...)."""
        postmaster = int((self.cluster.data_dir / "postmaster.pid").read_text().split()[0])
        children = Path(f"/proc/{postmaster}/task/{postmaster}/children")
        return [postmaster, *(int(p) for p in children.read_text().split())]

    def pause(self) -> list[int]:
        """SIGSTOP on every server process: a hung database (connections stay open)."""
        pids = self.server_pids()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        return pids

    def resume(self, pids: list[int]) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    folder = Path(tempfile.mkdtemp(prefix="mpa-pg-"))
    folder.chmod(0o755)  # the postgres system user must reach the cluster's folder
    cluster = postgres.LocalPostgres(
        _PrivateLayout(root=folder, folder=folder),
        postgres.ensure_installed(),
        port=free_port(),
    )
    try:
        cluster.init()
        cluster.start()
        cluster.provision()
        yield PrivatePostgres(cluster)
    finally:
        with contextlib.suppress(Exception):
            cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
