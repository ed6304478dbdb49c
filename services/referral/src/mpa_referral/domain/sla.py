"""Deadlines of a referral: how long a partner has to accept or decline a routed referral,
and, once it accepted, to start providing the service."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from mpa_contracts.vocabularies import Urgency

# The inter-agency referral form's emergency / urgent / normal windows, with critical for a
# life at risk.
DEFAULT_ACCEPTANCE_SLA: Mapping[Urgency, timedelta] = {
    Urgency.CRITICAL: timedelta(hours=1),
    Urgency.HIGH: timedelta(hours=24),
    Urgency.MEDIUM: timedelta(hours=72),
    Urgency.LOW: timedelta(days=14),
}

# How long an accepted referral may wait for the service to start. No inter-agency standard
# fixes it; the acceptance windows are the defaults, so a case is never left longer waiting
# for help than for an answer. Configurable per urgency (REFERRAL_START_SLA_*_SECONDS).
DEFAULT_START_SLA: Mapping[Urgency, timedelta] = DEFAULT_ACCEPTANCE_SLA


def acceptance_window(
    urgency: Urgency,
    defaults: Mapping[Urgency, timedelta],
    service_hours: Mapping[Urgency, int] | None = None,
) -> timedelta:
    """The platform's window for the urgency, or the service's own if it promises shorter."""
    window = defaults[urgency]
    promised = (service_hours or {}).get(urgency)
    if promised is not None:
        window = min(window, timedelta(hours=promised))
    return window


def acceptance_due(
    urgency: Urgency,
    routed_at: datetime,
    defaults: Mapping[Urgency, timedelta],
    service_hours: Mapping[Urgency, int] | None = None,
) -> datetime:
    return routed_at + acceptance_window(urgency, defaults, service_hours)
