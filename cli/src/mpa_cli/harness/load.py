"""Registers N fictional cases over HTTP, at a fixed rate (open loop) or at saturation.

Each case has one Idempotency-Key for all its tries: a 503 or a connection error (refused,
reset, timed out) is retried with the same key and body until `give_up_after` seconds, as a
well-behaved client does; every other answer is final. Every POST's response time and
outcome is recorded.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from mpa_cli.harness.directory import CATEGORY, COUNTRY, LANGUAGE
from mpa_common.auth import Role, mint_dev_token

# Every n-th case is of low urgency, whose short acceptance SLA fires during the run.
LOW_URGENCY_EVERY = 10
RETRY_PAUSE_SECONDS = 0.5


def case_body(index: int) -> dict[str, Any]:
    """A fictional adult needing shelter (no child-protection rule applies: one referral)."""
    urgency = "low" if index % LOW_URGENCY_EVERY == LOW_URGENCY_EVERY - 1 else "medium"
    return {
        "person": {
            "given_name": "Fictional",
            "family_name": f"Harness-{index}",
            "estimated_age": 30,
            "sex": "female",
            "nationality": "NG",
            "languages": [LANGUAGE],
        },
        "location": {"country": COUNTRY},
        "vulnerabilities": [],
        "needs": [{"category": CATEGORY, "urgency": urgency}],
        "consent": {
            "given": True,
            "details": {
                "scopes": ["referral", "data_sharing"],
                "given_by": "self",
                "method": "verbal",
                "obtained_at": "2026-03-02T09:15:00Z",
            },
        },
        "safety": {"do_not_contact": False, "safe_contact_method": "through_caseworker"},
    }


@dataclass(frozen=True, slots=True)
class Attempt:
    sent_at: float  # wall clock
    seconds: float  # response time
    outcome: str  # HTTP status as text ("201", "503") or the error's class name


@dataclass
class CaseOutcome:
    index: int
    idempotency_key: str
    attempts: list[Attempt] = field(default_factory=list)
    status: int | None = None  # the final HTTP status; None when no answer ever came
    case_id: str | None = None
    case_ids_seen: set[str] = field(default_factory=set)  # more than one: a duplicate
    responded_at: float | None = None  # wall clock of the final answer

    @property
    def registered(self) -> bool:
        return self.status == 201 and self.case_id is not None

    @property
    def first_sent_at(self) -> float:
        return self.attempts[0].sent_at if self.attempts else 0.0


@dataclass
class LoadResult:
    outcomes: list[CaseOutcome]
    started_at: float
    finished_at: float

    @property
    def registered(self) -> list[CaseOutcome]:
        return [o for o in self.outcomes if o.registered]

    @property
    def attempts(self) -> list[Attempt]:
        return [a for o in self.outcomes for a in o.attempts]

    def outcome_counts(self) -> Counter[str]:
        return Counter(a.outcome for a in self.attempts)

    @property
    def seconds(self) -> float:
        return self.finished_at - self.started_at


Progress = Callable[[int, int], None]


class LoadGenerator:
    def __init__(
        self,
        intake_url: str,
        *,
        cases: int,
        rate: float | None,
        concurrency: int = 64,
        # Longer than a service's own waits (its pool's 30 s), so that what the service
        # answers in the end is seen, not a client-side timeout.
        request_timeout: float = 35.0,
        # A patient client: it keeps retrying (same key) through a restart on a slow machine.
        give_up_after: float = 240.0,
        first_index: int = 0,
        body: Callable[[int], dict[str, Any]] = case_body,
    ) -> None:
        self.intake_url = intake_url.rstrip("/")
        self.cases = cases
        self.rate = rate  # cases per second; None: as fast as `concurrency` allows
        self.concurrency = concurrency
        self.request_timeout = request_timeout
        self.give_up_after = give_up_after
        self.first_index = first_index
        self.body = body
        token = mint_dev_token([Role.OPERATOR], subject="harness-operator")
        self._headers = {"Authorization": f"Bearer {token}"}

    async def run(self, progress: Progress | None = None) -> LoadResult:
        outcomes = [
            CaseOutcome(self.first_index + i, f"harness-{uuid.uuid4()}") for i in range(self.cases)
        ]
        done = 0
        started = time.time()
        # aiohttp, not httpx: on this machine httpx spends ~2 ms of CPU per POST at 16 in
        # flight against aiohttp's ~0.1 ms (measured), CPU the platform under test would
        # not get.
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.concurrency),
            timeout=aiohttp.ClientTimeout(total=self.request_timeout),
            headers=self._headers,
        ) as client:
            gate = asyncio.Semaphore(self.concurrency)

            async def one(outcome: CaseOutcome) -> None:
                nonlocal done
                async with gate:
                    await self._register(client, outcome)
                done += 1
                if progress is not None:
                    progress(done, self.cases)

            if self.rate is None:
                await asyncio.gather(*(one(o) for o in outcomes))
            else:
                loop = asyncio.get_running_loop()
                origin = loop.time()
                tasks = []
                for i, outcome in enumerate(outcomes):
                    # Open loop: the i-th case starts at i/rate whatever the answers before.
                    delay = origin + i / self.rate - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.create_task(one(outcome)))
                await asyncio.gather(*tasks)
        return LoadResult(outcomes, started, time.time())

    async def _register(self, client: aiohttp.ClientSession, outcome: CaseOutcome) -> None:
        body = self.body(outcome.index)
        headers = {"Idempotency-Key": outcome.idempotency_key}
        deadline = time.monotonic() + self.give_up_after
        while True:
            sent_at = time.time()
            began = time.perf_counter()
            retry_after = RETRY_PAUSE_SECONDS
            try:
                async with client.post(
                    f"{self.intake_url}/v1/cases", json=body, headers=headers
                ) as response:
                    status = response.status
                    answer = await response.json() if status == 201 else None
                    retry_after_header = response.headers.get("retry-after", "")
            except (aiohttp.ClientError, TimeoutError) as error:
                # Refused, reset, timed out: the request may or may not have been handled.
                outcome.attempts.append(
                    Attempt(sent_at, time.perf_counter() - began, type(error).__name__)
                )
                retryable = True
            else:
                outcome.attempts.append(Attempt(sent_at, time.perf_counter() - began, str(status)))
                outcome.status = status
                outcome.responded_at = time.time()
                if answer is not None:
                    outcome.case_id = str(answer["case_id"])
                    outcome.case_ids_seen.add(outcome.case_id)
                    return
                retryable = status == 503
                retry_after = _retry_after(retry_after_header, default=RETRY_PAUSE_SECONDS)
            if not retryable or time.monotonic() + retry_after > deadline:
                return
            await asyncio.sleep(retry_after)


def _retry_after(value: str, *, default: float) -> float:
    """The server's Retry-After in seconds (capped at 5: the test must keep moving)."""
    try:
        return min(5.0, max(0.1, float(value)))
    except ValueError:
        return default


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))
    return ordered[rank]
