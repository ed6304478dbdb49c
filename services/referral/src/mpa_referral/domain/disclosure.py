"""Who may read what of a referral: its history, its notes and its routing explanation.

* The referring side (operators, caseworkers, supervisors, admins) reads everything: it
  coordinates the person's referrals, partners' notes to it included.
* Auditors read every action, reason and actor, never free text: notes are withheld.
* A partner reads only the referrals it holds and, of those, only what concerns it: the
  history entries about its own holding (routed to it, its answers and work, deadlines it
  missed, cancellation while it held it), the notes its own staff wrote, and its own line
  of each routing that chose it. Never whom else routing considered, whom the referral
  went to before, or rules that would tell it what the person refused (such as
  `consent_refused_partner`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from mpa_contracts.vocabularies import ActorRole
from mpa_referral.domain.referral import HistoryEntry, Referral, RoutingAttempt


class Audience(StrEnum):
    REFERRER = "referrer"
    AUDITOR = "auditor"
    PARTNER = "partner"


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who reads; a partner's staff always name their partner."""

    audience: Audience
    partner_id: UUID | None = None

    @classmethod
    def referrer(cls) -> Viewer:
        return cls(Audience.REFERRER)

    @classmethod
    def auditor(cls) -> Viewer:
        return cls(Audience.AUDITOR)

    @classmethod
    def partner(cls, partner_id: UUID) -> Viewer:
        return cls(Audience.PARTNER, partner_id)

    @property
    def holder_only(self) -> UUID | None:
        """The partner whose referrals alone this viewer may see; None: all of them."""
        return self.partner_id if self.audience is Audience.PARTNER else None

    def may_see(self, referral: Referral) -> bool:
        holder = self.holder_only
        return holder is None or referral.partner_id == holder


def visible_history(viewer: Viewer, entries: list[HistoryEntry]) -> list[HistoryEntry]:
    if viewer.audience is Audience.REFERRER:
        return entries
    if viewer.audience is Audience.AUDITOR:
        return [_without_note(e) for e in entries]
    own = viewer.partner_id
    return [
        e if e.actor_role == ActorRole.PARTNER.value else _without_note(e)
        for e in entries
        if e.partner_id is not None and e.partner_id == own
    ]


def visible_explanation(viewer: Viewer, attempts: list[RoutingAttempt]) -> list[RoutingAttempt]:
    if viewer.audience is not Audience.PARTNER:
        return attempts
    own = viewer.partner_id
    return [
        dataclasses.replace(a, candidates=tuple(c for c in a.candidates if c.partner_id == own))
        for a in attempts
        if a.partner_id is not None and a.partner_id == own
    ]


def _without_note(entry: HistoryEntry) -> HistoryEntry:
    return entry if entry.note is None else dataclasses.replace(entry, note=None)
