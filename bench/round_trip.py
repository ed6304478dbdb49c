"""CPU of PostgreSQL round trips on this machine, client and server side (issue 13).

Runs a small statement COUNT times in sequence on one connection, in the shapes the
services use, and prints the CPU per repetition of this process (user + system time) and of
the server's backend for the connection (from /proc, found by pg_backend_pid()):

- asyncpg: one prepared statement (the relay, notification's driver statements);
- SQLAlchemy: `session.execute(text(...))` inside an open transaction (a repository's read),
  `exec_driver_sql` on the session's connection (intake's `Prebuilt`), and the asyncpg
  connection under the session (notification's driver statements);
- unit of work: a session, BEGIN, the statement, COMMIT (a consumer's batch, at its least).

    .venv/bin/python bench/round_trip.py [--url postgresql+asyncpg://...] [--count 20000]

Against `make stack`'s intake database by default. The figures price what one more round
trip per case costs (the bench's CPU per case is a sum of such terms).
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import uvloop
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from mpa_common.settings import local_database_url

_TICKS = os.sysconf("SC_CLK_TCK")
_STATEMENT = "SELECT $1::int AS n, repeat('x', 200) AS filler"


def _process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _measure(
    name: str, backend: int, count: int, once: Callable[[int], Awaitable[object]]
) -> None:
    for i in range(min(500, count)):  # warm: statement caches, plans
        await once(i)
    client, server, started = _own_cpu(), _process_cpu(backend), time.perf_counter()
    for i in range(count):
        await once(i)
    wall = time.perf_counter() - started
    client, server = _own_cpu() - client, _process_cpu(backend) - server
    each = 1e6 / count
    print(
        f"{name:32} wall {wall * each:6.1f} us | CPU: client {client * each:6.1f} us,"
        f" server {server * each:6.1f} us, both {(client + server) * each:6.1f} us"
    )


async def main(url: str, count: int) -> None:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    connection = await asyncpg.connect(dsn)
    try:
        backend = int(await connection.fetchval("SELECT pg_backend_pid()"))
        prepared = await connection.prepare(_STATEMENT)
        await _measure("asyncpg, prepared", backend, count, prepared.fetch)
    finally:
        await connection.close()

    engine = create_async_engine(url, pool_size=1, max_overflow=0)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    statement = text("SELECT CAST(:n AS int) AS n, repeat('x', 200) AS filler")
    try:
        async with sessions() as session:
            backend = int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())

            async def read(i: int) -> object:
                return (await session.execute(statement, {"n": i})).all()

            await _measure("SQLAlchemy, in a transaction", backend, count, read)
            on_session = await session.connection()

            async def driver_sql(i: int) -> object:
                return (await on_session.exec_driver_sql(_STATEMENT, (i,))).all()

            await _measure("exec_driver_sql, in a transaction", backend, count, driver_sql)
            raw = await on_session.get_raw_connection()
            driver: asyncpg.Connection = raw.driver_connection

            async def under_session(i: int) -> object:
                return await driver.fetch(_STATEMENT, i)

            await _measure("its asyncpg connection", backend, count, under_session)
            await session.rollback()

        async def unit_of_work(i: int) -> object:
            session: AsyncSession
            async with sessions() as session:
                rows = (await session.execute(statement, {"n": i})).all()
                await session.commit()
                return rows

        await _measure("unit of work: BEGIN, 1, COMMIT", backend, count // 2, unit_of_work)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=local_database_url("intake"))
    parser.add_argument("--count", type=int, default=20000)
    args = parser.parse_args()
    uvloop.run(main(args.url, args.count))
