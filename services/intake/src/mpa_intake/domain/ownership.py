"""Who is responsible for a case, and which cases a person may see or change (scopes).

Each case has an owner — the caseworker responsible for it — and sits in the owner's team,
agency and country office. A role's scope (configured per role, for reading and for
writing) says how far beyond their own cases its holders reach: `own`, `team`, `agency`,
`country` or `all`. Partners are not scoped here: they read through their referrals.
"""

from __future__ import annotations

from dataclasses import dataclass

from mpa_contracts.vocabularies import CaseScope


@dataclass(frozen=True)
class Ownership:
    owner_id: str  # actor id of the owning caseworker
    team: str | None
    agency: str | None
    country: str  # the country office
    # Actor ids that keep access beside the owner's scope (e.g. a previous owner after a
    # transfer, where so configured).
    shared_with: tuple[str, ...] = ()


@dataclass(frozen=True)
class Viewer:
    """The person asking, as scopes see them (from their verified token)."""

    actor_id: str
    team: str | None = None
    agency: str | None = None
    country: str | None = None


def within(scope: CaseScope, ownership: Ownership, viewer: Viewer) -> bool:
    """Whether a case owned so lies within `viewer`'s `scope`. One's own cases always do;
    a viewer without the scope's unit (no team in the token, say) reaches only their own."""
    if scope is CaseScope.ALL or ownership.owner_id == viewer.actor_id:
        return True
    if viewer.actor_id in ownership.shared_with:
        return True
    if scope is CaseScope.TEAM:
        return viewer.team is not None and viewer.team == ownership.team
    if scope is CaseScope.AGENCY:
        return viewer.agency is not None and viewer.agency == ownership.agency
    if scope is CaseScope.COUNTRY:
        return viewer.country is not None and viewer.country == ownership.country
    return False
