"""Small helpers every real-stack test uses (the service harnesses re-export them)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable


async def eventually(
    check: Callable[[], Awaitable[bool]],
    timeout: float = 45.0,
    what: str = "condition",
    interval: float = 0.1,
) -> None:
    """Waits until `check()` is true; fails the test naming `what` after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
