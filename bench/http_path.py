"""CPU of the intake service per POST /v1/cases, read from /proc (issue 13).

Registers --cases fictional cases (the harness's bodies, one dev token) against a running
intake at --concurrency requests in flight with aiohttp (httpx costs ~2 ms of CPU per
request on the client, which on a 2-core machine disturbs what is measured), and prints the
CPU (utime + stime of --pid, all its threads) the service spent per registration. Several
rounds, the median and the spread:

    .venv/bin/python bench/http_path.py --pid <intake pid> [--url http://127.0.0.1:8001]
        [--cases 400] [--rounds 5] [--concurrency 16]

Run it against the old and the new code in turn (the machine is shared: alternate them).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from pathlib import Path

import aiohttp

from mpa_cli.harness.load import case_body
from mpa_common.auth import Role, mint_dev_token

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


async def register(url: str, token: str, cases: int, concurrency: int, offset: int) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    created = 0
    queue = iter(range(offset, offset + cases))

    async def worker(client: aiohttp.ClientSession) -> None:
        nonlocal created
        for index in queue:
            async with client.post(
                f"{url}/v1/cases",
                json=case_body(index),
                headers={"Idempotency-Key": str(uuid.uuid4())},
            ) as response:
                await response.read()
                if response.status == 201:
                    created += 1
                else:
                    raise RuntimeError(f"POST /v1/cases answered {response.status}")

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return created


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--url", default="http://127.0.0.1:8001")
    parser.add_argument("--cases", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=100)
    args = parser.parse_args()
    token = mint_dev_token([Role.OPERATOR], subject="bench-operator")
    offset = int(time.time()) * 1000
    await register(args.url, token, args.warmup, args.concurrency, offset)
    per_case = []
    for round_ in range(args.rounds):
        before = cpu_seconds(args.pid)
        began = time.perf_counter()
        offset += args.cases + args.warmup
        created = await register(args.url, token, args.cases, args.concurrency, offset)
        wall = time.perf_counter() - began
        spent = cpu_seconds(args.pid) - before
        per_case.append(spent / created * 1000)
        print(
            f"round {round_ + 1}: {created} cases, {per_case[-1]:.2f} ms CPU/case, "
            f"{created / wall:.0f} cases/s"
        )
    print(
        f"median {statistics.median(per_case):.2f} ms CPU/case "
        f"(min {min(per_case):.2f}, max {max(per_case):.2f})"
    )


if __name__ == "__main__":
    asyncio.run(main())
