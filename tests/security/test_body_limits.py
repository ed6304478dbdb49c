"""Bodies are limited while they stream in (issue 12, finding 2): one unauthenticated 300 MB
POST to intake grew it from 115 MB to 536 MB before its 401. Now the service answers 413
after about 1 MiB, quickly, and its memory does not grow."""

from __future__ import annotations

import contextlib
import socket
import time

import pytest

from tests.security.conftest import Platform

pytestmark = pytest.mark.e2e
MIB = 1024 * 1024


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def post_chunked(url: str, path: str, total: int) -> tuple[int, int, float]:
    """Sends up to `total` bytes as a chunked body, stopping when the server answers or
    closes; returns (status, bytes sent, seconds until the answer)."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    sent = 0
    chunk = b"x" * (64 * 1024)
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        connection.setblocking(False)
        answer = b""
        while sent < total and not answer:
            try:
                connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            except BlockingIOError:
                time.sleep(0.01)
            except (BrokenPipeError, ConnectionResetError):
                break
            with contextlib.suppress(BlockingIOError):
                answer += connection.recv(65536)
        connection.setblocking(True)
        while b"\r\n" not in answer:
            data = connection.recv(65536)
            if not data:
                break
            answer += data
    elapsed = time.monotonic() - started
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, sent, elapsed


def test_a_300_mb_chunked_post_is_refused_quickly_and_memory_does_not_grow(
    platform: Platform,
) -> None:
    pid = platform.pids["intake"]
    before = rss_mib(pid)
    status, sent, elapsed = post_chunked(platform.urls["intake"], "/v1/cases", 300 * MIB)
    after = rss_mib(pid)
    print(f"\n413 after {sent / MIB:.1f} MiB in {elapsed:.2f} s; RSS {before:.0f}->{after:.0f} MiB")
    assert status == 413
    assert sent < 64 * MIB  # the limit plus what socket buffers absorb, not 300 MB
    assert elapsed < 10
    assert after - before < 30


def test_a_declared_length_over_the_limit_is_refused_before_the_body(platform: Platform) -> None:
    host, port = platform.urls["intake"].removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(
            f"POST /v1/cases HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {300 * MIB}\r\n\r\n".encode()
        )
        answer = connection.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"application/problem+json" in answer
