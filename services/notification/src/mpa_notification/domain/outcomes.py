"""What one delivery attempt's result means: delivered, retry later, or endpoint gone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

from mpa_contracts.vocabularies import DeliveryFailureReason


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    # 410 Gone: the receiver says the endpoint no longer exists; it is disabled at once.
    GONE = "gone"


@dataclass(frozen=True)
class AttemptResult:
    verdict: Verdict
    status_code: int | None = None
    failure: DeliveryFailureReason | None = None
    retry_after_seconds: float | None = None
    error: str | None = None  # a short, value-free description for the delivery log


RETRY_AFTER_STATUSES = frozenset({429, 503})


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max((moment - now).total_seconds(), 0.0)


def classify_http_response(
    status_code: int, retry_after_header: str | None, now: datetime
) -> AttemptResult:
    """Standard Webhooks: any 2xx is success; 410 disables; everything else is retried."""
    if 200 <= status_code < 300:
        return AttemptResult(Verdict.DELIVERED, status_code=status_code)
    if status_code == 410:
        return AttemptResult(
            Verdict.GONE,
            status_code=status_code,
            failure=DeliveryFailureReason.HTTP_CLIENT_ERROR,
            error="endpoint answered 410 Gone",
        )
    retry_after = (
        parse_retry_after(retry_after_header, now) if status_code in RETRY_AFTER_STATUSES else None
    )
    failure = (
        DeliveryFailureReason.HTTP_SERVER_ERROR
        if status_code >= 500
        else DeliveryFailureReason.HTTP_CLIENT_ERROR
    )
    return AttemptResult(
        Verdict.RETRY,
        status_code=status_code,
        failure=failure,
        retry_after_seconds=retry_after,
        error=f"endpoint answered HTTP {status_code}",
    )
