"""What one attempt's result does to its delivery and its endpoint: the delivery's next
state and time, the endpoint's failure run, and whether the endpoint must be disabled.

Pure: the app layer loads the rows, asks `after_attempt` for each result in the order the
attempts ended, and writes what it answers (many results in one transaction).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from mpa_contracts.vocabularies import DeliveryFailureReason
from mpa_notification.domain.models import (
    Attempt,
    Delivery,
    DeliveryState,
    DisabledReason,
    Endpoint,
)
from mpa_notification.domain.outcomes import AttemptResult, Verdict
from mpa_notification.domain.schedule import RetrySchedule


@dataclass(frozen=True)
class AttemptStep:
    delivery: Delivery  # after the attempt
    attempt: Attempt  # the log entry
    endpoint: Endpoint | None  # after the attempt (its failure run), when it has one
    # Why the endpoint must now be disabled, if it must.
    disable: DisabledReason | None = None
    # No attempt is left in the delivery's run: it failed for good.
    exhausted: bool = False
    # The failure this attempt ended with (None when delivered).
    failure: DeliveryFailureReason | None = None

    @property
    def delivered(self) -> bool:
        return self.failure is None


def after_attempt(
    delivery: Delivery,
    endpoint: Endpoint | None,
    result: AttemptResult,
    *,
    started_at: datetime,
    latency_ms: int,
    now: datetime,
    schedule: RetrySchedule,
    disable_after: timedelta,
) -> AttemptStep:
    number = delivery.attempts + 1
    attempt = Attempt(
        attempt=number,
        started_at=started_at,
        latency_ms=latency_ms,
        status_code=result.status_code,
        failure=result.failure.value if result.failure else None,
        error=result.error,
    )
    position = delivery.schedule_position + 1
    counted = replace(
        delivery, attempts=number, schedule_position=position, last_status_code=result.status_code
    )
    if result.verdict is Verdict.DELIVERED:
        healthy = (
            replace(endpoint, failing_since=None, consecutive_failures=0)
            if endpoint is not None and not endpoint.is_healthy
            else endpoint
        )
        return AttemptStep(
            replace(counted, state=DeliveryState.DELIVERED, delivered_at=now, next_attempt_at=None),
            attempt,
            healthy,
        )

    failure = result.failure or DeliveryFailureReason.CONNECTION_ERROR
    if delivery.state is not DeliveryState.PENDING:
        # Its endpoint was disabled or deleted while the attempt ran: logged, nothing more.
        return AttemptStep(counted, attempt, endpoint, failure=failure)
    delay = (
        None
        if result.verdict is Verdict.GONE
        else schedule.delay_after(position, retry_after=result.retry_after_seconds)
    )
    next_attempt_at = now + timedelta(seconds=delay) if delay is not None else None
    disable: DisabledReason | None = None
    if endpoint is not None:
        failing_since = endpoint.failing_since or now
        endpoint = replace(
            endpoint,
            failing_since=failing_since,
            consecutive_failures=endpoint.consecutive_failures + 1,
        )
        failing_too_long = now - failing_since >= disable_after
        if result.verdict is Verdict.GONE or failing_too_long:
            next_attempt_at = None
        if endpoint.enabled:
            if result.verdict is Verdict.GONE:
                disable = DisabledReason.GONE
            elif failing_too_long:
                disable = DisabledReason.CONSECUTIVE_FAILURES
    return AttemptStep(
        replace(
            counted,
            state=DeliveryState.PENDING if next_attempt_at else DeliveryState.FAILED,
            next_attempt_at=next_attempt_at,
            last_failure=failure.value,
        ),
        attempt,
        endpoint,
        disable=disable,
        exhausted=next_attempt_at is None,
        failure=failure,
    )
