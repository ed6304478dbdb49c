"""The referral lifecycle, aligned with HL7 FHIR Task: which action is legal in which state.

requested -> routed -> accepted | declined; accepted -> in_progress <-> on_hold;
in_progress -> completed | failed; cancelled from any open state. A declined referral goes
straight back to routing (requested) and on to the next candidate; an unroutable one waits
for the directory to change and may be routed again. A routed or accepted (not yet started)
referral also goes back to routing when its partner or service leaves the directory.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from mpa_contracts.vocabularies import ReferralState
from mpa_referral.domain.errors import Conflict

S = ReferralState


class Action(StrEnum):
    ROUTE = "route"
    GIVE_UP = "give_up"  # no eligible service: unroutable
    ACCEPT = "accept"
    DECLINE = "decline"
    REROUTE = "reroute"  # back to routing: a decline, a missed SLA, a partner that left
    START = "start"
    HOLD = "hold"
    RESUME = "resume"
    COMPLETE = "complete"
    FAIL = "fail"
    CANCEL = "cancel"


TRANSITIONS: Mapping[tuple[ReferralState, Action], ReferralState] = {
    (S.REQUESTED, Action.ROUTE): S.ROUTED,
    (S.REQUESTED, Action.GIVE_UP): S.UNROUTABLE,
    (S.UNROUTABLE, Action.ROUTE): S.ROUTED,  # retried after the directory changed
    (S.ROUTED, Action.ACCEPT): S.ACCEPTED,
    (S.ROUTED, Action.DECLINE): S.DECLINED,
    (S.ROUTED, Action.REROUTE): S.REQUESTED,  # the SLA was missed, or the partner left
    # Accepted but not started when the partner or service left the directory.
    (S.ACCEPTED, Action.REROUTE): S.REQUESTED,
    (S.DECLINED, Action.REROUTE): S.REQUESTED,
    (S.ACCEPTED, Action.START): S.IN_PROGRESS,
    (S.IN_PROGRESS, Action.HOLD): S.ON_HOLD,
    (S.ON_HOLD, Action.RESUME): S.IN_PROGRESS,
    (S.IN_PROGRESS, Action.COMPLETE): S.COMPLETED,
    (S.IN_PROGRESS, Action.FAIL): S.FAILED,
    **{
        (state, Action.CANCEL): S.CANCELLED
        for state in (S.REQUESTED, S.ROUTED, S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD, S.UNROUTABLE)
    },
}

# States in which a referral is still being worked on (one such referral per need).
OPEN_STATES: frozenset[ReferralState] = frozenset(
    {S.REQUESTED, S.ROUTED, S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD}
)
# States whose referral holds one of its service's places; also the open referrals that
# have a partner (the ones a refusal of that partner reaches).
HOLDS_CAPACITY: frozenset[ReferralState] = frozenset(
    {S.ROUTED, S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD}
)
HELD = HOLDS_CAPACITY
# What a cancellation cascade reaches: open referrals and those waiting for the directory.
OPEN_OR_WAITING: frozenset[ReferralState] = OPEN_STATES | {S.UNROUTABLE}
# What a partner or service leaving the directory takes back to routing: referrals it holds
# whose service has not begun. Work in progress (or on hold) stays with the partner to be
# completed or failed: moving a person mid-service does more harm than finishing it.
NOT_STARTED: frozenset[ReferralState] = frozenset({S.ROUTED, S.ACCEPTED})


class AttemptResponse(StrEnum):
    """What became of one routing of a referral (None while the partner has not answered)."""

    ACCEPTED = "accepted"
    DECLINED = "declined"
    SLA_BREACHED = "sla_breached"
    CANCELLED = "cancelled"  # ended without the partner's answer counting against it


# The answers that count in a partner's track record, and those that exclude its service
# from the referral's next routings (it turned the referral down).
DECIDED_RESPONSES = frozenset(
    {AttemptResponse.ACCEPTED, AttemptResponse.DECLINED, AttemptResponse.SLA_BREACHED}
)
TURNED_DOWN = frozenset({AttemptResponse.DECLINED, AttemptResponse.SLA_BREACHED})


class IllegalTransition(Conflict):
    """The lifecycle does not allow the action in the referral's state."""

    def __init__(self, state: ReferralState, action: Action) -> None:
        super().__init__(f"a referral in state {state.value} cannot {action.value}")
        self.state = state
        self.action = action


def next_state(state: ReferralState, action: Action) -> ReferralState:
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise IllegalTransition(state, action) from None
