"""The supervisor's dashboard: reporting periods and bar charts from the referral report.

Pure: no I/O. Charts are drawn server-side as SVG from these bars (no script needed), each
with the same figures as a table beside it for screen readers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

PERIODS_DAYS = (1, 7, 30, 90, 365)
DEFAULT_PERIOD_DAYS = 30


@dataclass(frozen=True)
class Bar:
    key: str
    value: float
    fraction: float  # of the longest bar, 0..1


def bars(values: Mapping[str, float], *, limit: int = 20) -> list[Bar]:
    """Largest first; each bar's length relative to the largest."""
    ordered = sorted(values.items(), key=lambda item: (-item[1], item[0]))[:limit]
    top = max((value for _, value in ordered), default=0) or 1
    return [Bar(key, value, value / top) for key, value in ordered]


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    days: int


def period(days: int | None, now: datetime | None = None) -> Period:
    """The last `days` days up to now (a known length, else the default)."""
    chosen = days if days in PERIODS_DAYS else DEFAULT_PERIOD_DAYS
    end = (now or datetime.now(UTC)).replace(microsecond=0) + timedelta(seconds=1)
    return Period(end - timedelta(days=chosen), end, chosen)


def scale(values: Mapping[str, float], order: Sequence[str]) -> list[Bar]:
    """One bar per code of a scale, in the scale's order (absent codes count 0)."""
    top = max(values.values(), default=0) or 1
    return [Bar(code, values.get(code, 0), values.get(code, 0) / top) for code in order]
