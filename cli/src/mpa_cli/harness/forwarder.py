"""Joins a network namespace's loopback to the host's, port by port (a process of its own).

A service started in its own namespace (`ip netns exec`) reaches PostgreSQL and Kafka on
"127.0.0.1" — but that is the namespace's loopback. This process listens there (its listening
sockets are made inside the namespace with setns(2)) and connects each connection on to the
host's 127.0.0.1, and the other way for the service's own HTTP port. Kafka's advertised
listener (127.0.0.1:<port>) thereby works unchanged inside the namespace.

A partition is then made in the kernel, inside the namespace (`netns.Partition`: nftables
drops the port's packets), not here: this process only relays bytes.

    python -m mpa_cli.harness.forwarder --netns NAME --inward 5432 --inward 9092 --outward 8002
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator

CLONE_NEWNET = 0x40000000
LOOPBACK = "127.0.0.1"
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"setns: {os.strerror(error)}")


@contextlib.contextmanager
def inside(namespace: str) -> Iterator[None]:
    """Sockets made in this block belong to `namespace` (and stay there afterwards)."""
    host = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(host)
    finally:
        os.close(target)
        os.close(host)


def _listener(port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((LOOPBACK, port))
    listener.listen(256)
    listener.setblocking(False)
    return listener


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


async def _join(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    upstream: socket.socket,
    port: int,
) -> None:
    loop = asyncio.get_running_loop()
    try:
        await loop.sock_connect(upstream, (LOOPBACK, port))
    except OSError:
        upstream.close()
        client_writer.close()
        return
    up_reader, up_writer = await asyncio.open_connection(sock=upstream)
    await asyncio.gather(_pump(client_reader, up_writer), _pump(up_reader, client_writer))
    for writer in (up_writer, client_writer):
        with contextlib.suppress(Exception):
            writer.close()


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def serve(namespace: str, inward: list[int], outward: list[int]) -> None:
    servers = []

    def handler(port: int, into_namespace: bool) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if into_namespace:
                with inside(namespace):
                    upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            else:
                upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            upstream.setblocking(False)
            await _join(reader, writer, upstream, port)

        return handle

    for port in inward:  # namespace -> host: listen inside, connect on the host
        with inside(namespace):
            listener = _listener(port)
        servers.append(await asyncio.start_server(handler(port, False), sock=listener))
    for port in outward:  # host -> namespace: listen on the host, connect inside
        servers.append(await asyncio.start_server(handler(port, True), sock=_listener(port)))
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--netns", required=True)
    parser.add_argument("--inward", type=int, action="append", default=[])
    parser.add_argument("--outward", type=int, action="append", default=[])
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.netns, args.inward, args.outward))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
