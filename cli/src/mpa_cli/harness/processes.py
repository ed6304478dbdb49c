"""One service as a separate OS process (`python -m mpa_<service>.main`), by its pid.

Started, SIGKILLed and started again by the harness alone: `make run`'s honcho stops every
service when one dies, which is the opposite of what a kill test needs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx


class ServiceFailed(RuntimeError):
    """A service exited or did not become ready; the message ends with its log's tail."""


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: Mapping[str, str]
    log_path: Path
    cwd: Path
    # Put in front of the interpreter, e.g. `ip netns exec <ns>` (which execs in place, so
    # the pid is still the service's own).
    launcher: Sequence[str] = ()
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: list[float] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None
        return self.process.pid

    def start(self) -> int:
        if self.pid is not None:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n--- harness: start #{self.starts + 1} at {time.time():.3f}\n".encode())
            log.flush()
            self.process = subprocess.Popen(  # noqa: S603 - argv built here
                [*self.launcher, sys.executable, "-m", f"mpa_{self.name}.main"],
                cwd=self.cwd,
                env=dict(self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.starts += 1
        return self.process.pid

    def kill(self) -> int:
        """SIGKILL by pid: no shutdown hook runs, as when a machine or a container dies."""
        process = self.process
        if process is None or process.poll() is not None:
            raise RuntimeError(f"{self.name} is not running")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        self.kills.append(time.time())
        return process.pid

    def terminate(self, timeout: float = 20.0) -> None:
        """SIGTERM (a graceful stop), SIGKILL after `timeout`."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    async def wait_ready(self, timeout: float = 90.0, path: str = "/readyz") -> float:
        """Waits until `path` answers 200; returns the seconds it took."""
        started = time.monotonic()
        deadline = started + timeout
        async with httpx.AsyncClient(timeout=3) as client:
            while True:
                if self.process is None or self.process.poll() is not None:
                    raise ServiceFailed(f"{self.name} exited.\n{self.log_tail()}")
                try:
                    if (await client.get(self.url + path)).status_code == 200:
                        return time.monotonic() - started
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise ServiceFailed(
                        f"{self.name} not ready after {timeout:.0f} s.\n{self.log_tail()}"
                    )
                await asyncio.sleep(0.2)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return f"--- {self.log_path} ---\n" + "\n".join(tail)

    def log_lines(self, level: str) -> int:
        """How many JSON log lines of this level the service wrote (all its starts)."""
        if not self.log_path.exists():
            return 0
        needle = f'"level": "{level}"'
        with self.log_path.open(errors="replace") as log:
            return sum(1 for line in log if needle in line)
