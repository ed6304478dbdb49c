"""The person's feedback on services, as a partner's figures (issue 17). Pure rules.

A person may ask that the provider not see their feedback as theirs (`anonymous`). The
provider's own view then lists only the feedback given openly, and counts the anonymous
kind in its figures only when there is enough of it that none can be told apart
(`ANONYMITY_FLOOR` in the period); oversight sees every figure, and never a single one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from mpa_contracts.vocabularies import (
    SERVICE_QUALITY_SCORE,
    ServiceQuality,
    ServiceReceived,
    WaitingTime,
)

# Fewer anonymous answers than this in the period stay out of the provider's figures.
ANONYMITY_FLOOR = 5


@dataclass(frozen=True, slots=True)
class Feedback:
    feedback_id: UUID
    referral_id: UUID
    partner_id: UUID
    service_id: UUID | None
    recorded_at: datetime
    received: ServiceReceived
    quality: ServiceQuality | None
    waiting_time: WaitingTime | None
    felt_safe: bool | None
    anonymous: bool


@dataclass(frozen=True, slots=True)
class FeedbackFigures:
    responses: int
    received: dict[ServiceReceived, int]
    received_rate: float | None  # received in full / responses
    quality: dict[ServiceQuality, int]
    quality_mean: float | None  # on the five-point scale, 1 (very poor) to 5 (very good)
    waiting_time: dict[WaitingTime, int]
    felt_safe_rate: float | None  # felt safe / those who said
    anonymous_withheld: int  # anonymous answers left out of a provider's own view


def figures_of(entries: Sequence[Feedback], *, anonymous_withheld: int = 0) -> FeedbackFigures:
    received = Counter(e.received for e in entries)
    quality = Counter(e.quality for e in entries if e.quality is not None)
    waiting = Counter(e.waiting_time for e in entries if e.waiting_time is not None)
    said_safe = [e.felt_safe for e in entries if e.felt_safe is not None]
    rated = sum(quality.values())
    return FeedbackFigures(
        responses=len(entries),
        received={r: received[r] for r in ServiceReceived if received[r]},
        received_rate=received[ServiceReceived.RECEIVED] / len(entries) if entries else None,
        quality={q: quality[q] for q in ServiceQuality if quality[q]},
        quality_mean=(
            sum(SERVICE_QUALITY_SCORE[q] * n for q, n in quality.items()) / rated if rated else None
        ),
        waiting_time={w: waiting[w] for w in WaitingTime if waiting[w]},
        felt_safe_rate=sum(said_safe) / len(said_safe) if said_safe else None,
        anonymous_withheld=anonymous_withheld,
    )


def providers_view(entries: Sequence[Feedback]) -> tuple[FeedbackFigures, list[Feedback]]:
    """What the provider itself sees: the figures (anonymous answers in them only from the
    floor up) and the answers given openly, one by one."""
    open_answers = [e for e in entries if not e.anonymous]
    anonymous = [e for e in entries if e.anonymous]
    if len(anonymous) >= ANONYMITY_FLOOR:
        return figures_of(entries), open_answers
    return figures_of(open_answers, anonymous_withheld=len(anonymous)), open_answers
