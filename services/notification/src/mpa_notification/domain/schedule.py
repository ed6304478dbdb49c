"""When the next delivery attempt happens: the retry schedule, jitter and Retry-After."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetrySchedule:
    """`delays[n]` is the wait before attempt n+1 of a run (the first is usually 0).

    Jitter spreads retries of many messages that failed together (an endpoint outage)
    so they do not all return at the same second.
    """

    delays: tuple[float, ...]
    jitter_ratio: float = 0.1
    max_retry_after: float = 24 * 3600.0

    def __post_init__(self) -> None:
        if not self.delays or any(delay < 0 for delay in self.delays):
            raise ValueError("a schedule needs at least one non-negative delay")
        if not 0 <= self.jitter_ratio < 1:
            raise ValueError("jitter_ratio must be in [0, 1)")

    @property
    def max_attempts(self) -> int:
        return len(self.delays)

    def first_delay(self) -> float:
        return self.delays[0]

    def delay_after(
        self,
        attempts_made: int,
        *,
        retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> float | None:
        """Seconds until the next attempt after `attempts_made` in this run; None when spent.

        A receiver's Retry-After (429/503) replaces the scheduled wait, capped: it is the
        receiver's own statement of when it can take the message.
        """
        if attempts_made >= self.max_attempts:
            return None
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        base = self.delays[attempts_made]
        spread = (rng or random).uniform(-self.jitter_ratio, self.jitter_ratio)
        return base * (1 + spread)
