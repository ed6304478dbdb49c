"""A network partition: one service in a network namespace of its own, cut off from PostgreSQL
or Kafka by nftables inside that namespace, then joined again.

Needs root (`ip netns`, nftables) — the harness runs as root on this kind of machine, as the
stack does. The namespace reaches the host's loopback only through `forwarder` (a process of
the harness), port by port; `Partition.cut(port)` makes the namespace's kernel drop every
packet to and from that port, so open connections hang and new ones time out (a partition,
not a refusal), and `heal()` removes the rule: connections resume where TCP left them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from mpa_cli.stack.console import StackError, run, step

TABLE = "mpa_partition"


def ensure_nftables() -> str:
    """The `nft` command, installed from Debian's packages when missing (as root)."""
    if (found := shutil.which("nft")) is not None:
        return found
    if os.geteuid() != 0:
        raise StackError("a network partition needs root and nftables (apt-get install nftables)")
    step("Installing nftables from Debian's packages (for the network-partition scenario)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update"], what="apt-get update", env=env)
    run(
        ["apt-get", "install", "-y", "--no-install-recommends", "nftables"],
        what="apt-get install nftables",
        env=env,
    )
    found = shutil.which("nft")
    if found is None:
        raise StackError("apt-get installed nftables but `nft` is not on PATH")
    return found


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)  # noqa: S603,S607


@dataclass
class NetworkNamespace:
    name: str = field(default_factory=lambda: f"mpa-{uuid.uuid4().hex[:8]}")
    forwarder: subprocess.Popen[str] | None = None

    @property
    def launcher(self) -> list[str]:
        """Put before a command to run it inside the namespace (it keeps its pid)."""
        return ["ip", "netns", "exec", self.name]

    def create(self) -> None:
        if os.geteuid() != 0:
            raise StackError("network namespaces need root")
        _ip("netns", "add", self.name)
        _ip("netns", "exec", self.name, "ip", "link", "set", "lo", "up")

    async def join(self, inward: Sequence[int], outward: Sequence[int]) -> None:
        """Starts the forwarder: `inward` ports lead from the namespace to the host's
        services (PostgreSQL, Kafka), `outward` ports from the host into the namespace."""
        argv = [sys.executable, "-m", "mpa_cli.harness.forwarder", "--netns", self.name]
        argv += [a for port in inward for a in ("--inward", str(port))]
        argv += [a for port in outward for a in ("--outward", str(port))]
        self.forwarder = _launch(argv)
        assert self.forwarder.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.forwarder.stdout.readline), 30)
        if line.strip() != "ready":
            rest = self.forwarder.stdout.read() if self.forwarder.poll() is not None else ""
            raise StackError(f"the namespace forwarder did not start: {line}{rest}")

    def delete(self) -> None:
        if self.forwarder is not None and self.forwarder.poll() is None:
            self.forwarder.terminate()
            try:
                self.forwarder.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.forwarder.kill()
        self.forwarder = None
        subprocess.run(  # noqa: S603
            ["ip", "netns", "del", self.name],  # noqa: S607
            check=False,
            capture_output=True,
        )


def _launch(argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - argv built here
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


class Partition:
    """Drops, in the namespace's kernel, every TCP packet to or from one port."""

    def __init__(self, namespace: NetworkNamespace, port: int, what: str) -> None:
        self.namespace = namespace
        self.port = port
        self.label = f"partition from {what}"
        self.nft = ensure_nftables()

    def _nft(self, script: str) -> None:
        subprocess.run(  # noqa: S603
            [*self.namespace.launcher, self.nft, "-f", "-"],
            input=script,
            check=True,
            capture_output=True,
            text=True,
        )

    async def inject(self) -> dict[str, object]:
        self._nft(
            f"table inet {TABLE} {{\n"
            "  chain output {\n"
            "    type filter hook output priority 0; policy accept;\n"
            f"    tcp dport {self.port} drop\n"
            f"    tcp sport {self.port} drop\n"
            "  }\n"
            "}\n"
        )
        return {"namespace": self.namespace.name, "port": self.port}

    async def heal(self) -> dict[str, object]:
        self._nft(f"delete table inet {TABLE}\n")
        return {}
