"""Cross-border work on a case (issue 17), as casework records that check their own
transitions.

* `TransferConsent`: the person's consent to the transfer of their data to named countries
  (ISO 3166-1). A need whose assistance country is not the country the person is in is a
  transnational referral: it is neither routed nor disclosed to a partner there unless a
  transfer consent in force names that country. Withdrawing a country stops any further
  disclosure there at once (and the referral service cancels what is open there).
* `Handoff`: a person travels to another country office, which accepts responsibility
  before travel (requested → accepted | declined | cancelled); departure can be recorded
  only once accepted (accepted → departed), and the receiving office records arrival
  (accepted | departed → arrived), which moves the case's responsibility there through an
  ordinary transfer of responsibility (domain.casework.Transfer).

Codes, country codes, ids and dates only: nothing here is personal data.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import ClassVar
from uuid import UUID

from mpa_contracts.vocabularies import (
    AgeBand,
    ConsentGivenBy,
    ConsentMethod,
    HandoffCancelReason,
    HandoffDeclineReason,
    HandoffState,
    is_child,
)
from mpa_intake.domain.casework import CaseworkRecord
from mpa_intake.domain.errors import AccessDenied, CaseConflict, FieldError
from mpa_intake.domain.ownership import Viewer

IN_FORCE = "in_force"
WITHDRAWN = "withdrawn"
# A hand-off in one of these states is under way: the case has one at a time.
OPEN_HANDOFF_STATES = frozenset(
    {HandoffState.REQUESTED, HandoffState.ACCEPTED, HandoffState.DEPARTED}
)


class TransferConsent(CaseworkRecord):
    """A consent to transfers of the person's data to `countries` (those still in force)."""

    kind: ClassVar[str] = "transfer_consent"

    countries: tuple[str, ...]
    withdrawn_countries: tuple[str, ...] = ()
    given_by: ConsentGivenBy
    method: ConsentMethod
    obtained_by: str
    obtained_at: datetime
    expires_at: datetime | None = None
    withdrawn_by: str | None = None
    withdrawn_at: datetime | None = None

    @property
    def state(self) -> str:
        return IN_FORCE if self.countries else WITHDRAWN

    def covers(self, country: str, now: datetime) -> bool:
        return country in self.countries and (self.expires_at is None or now < self.expires_at)

    def withdraw(self, countries: Iterable[str] | None, actor_id: str, now: datetime) -> list[str]:
        """Takes back `countries` (all of them when None); returns those withdrawn."""
        wanted = list(self.countries) if countries is None else list(dict.fromkeys(countries))
        if not wanted:
            raise CaseConflict("this transfer consent names no country any more")
        held = [c for c in wanted if c not in self.countries]
        if held:
            raise CaseConflict(
                "this transfer consent does not name (or no longer names): " + ", ".join(held)
            )
        self.countries = tuple(c for c in self.countries if c not in wanted)
        self.withdrawn_countries = (*self.withdrawn_countries, *wanted)
        self.withdrawn_by, self.withdrawn_at = actor_id, now
        return wanted


def transfer_consent_rule_errors(
    consent: TransferConsent, band: AgeBand, here: str, *, now: datetime
) -> list[FieldError]:
    """Rules a new transfer consent must meet (`here`: the country the person is in)."""
    errors: list[FieldError] = []
    if is_child(band) and consent.given_by is ConsentGivenBy.SELF:
        errors.append(
            FieldError(
                "body.given_by",
                "a child's consent must be given by a parent, guardian, caregiver or "
                "other representative",
            )
        )
    if here in consent.countries:
        errors.append(
            FieldError(
                "body.destination_countries",
                f"{here} is the country the person is in: no transfer abroad to consent to",
            )
        )
    if consent.obtained_at > now:
        errors.append(FieldError("body.obtained_at", "must not be in the future"))
    if consent.expires_at is not None and consent.expires_at <= consent.obtained_at:
        errors.append(FieldError("body.expires_at", "must be after obtained_at"))
    return errors


def covered(consents: Iterable[TransferConsent], country: str, now: datetime) -> bool:
    """Whether any of the case's transfer consents in force names `country`."""
    return any(consent.covers(country, now) for consent in consents)


class Handoff(CaseworkRecord):
    """A person's hand-off from the office responsible for their case to another country's
    office: that office accepts responsibility before travel, and records arrival."""

    kind: ClassVar[str] = "handoff"

    status: HandoffState = HandoffState.REQUESTED
    requested_by: str
    from_country: str
    from_owner_id: str
    to_country: str
    planned_travel_at: datetime
    # Who accepted responsibility (the case's owner from arrival on), and their units.
    accepted_by: str | None = None
    receiving_team: str | None = None
    receiving_agency: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decline_reason: HandoffDeclineReason | None = None
    cancel_reason: HandoffCancelReason | None = None
    departed_at: datetime | None = None
    departure_recorded_by: str | None = None
    arrived_at: datetime | None = None
    arrival_recorded_by: str | None = None
    transfer_id: UUID | None = None  # the transfer of responsibility arrival made

    @property
    def state(self) -> str:
        return self.status.value

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_HANDOFF_STATES

    def is_receiver(self, viewer: Viewer) -> bool:
        """Whether `viewer` works in the receiving country office."""
        return viewer.country is not None and viewer.country == self.to_country

    def ensure_receiver(self, viewer: Viewer) -> None:
        if not self.is_receiver(viewer):
            raise AccessDenied(f"only the receiving country office ({self.to_country}) may")

    def accept(self, acceptor: Viewer, now: datetime) -> None:
        self.ensure_receiver(acceptor)
        self._ensure(HandoffState.REQUESTED, "accepted")
        self.status = HandoffState.ACCEPTED
        self.accepted_by, self.receiving_team = acceptor.actor_id, acceptor.team
        self.receiving_agency = acceptor.agency
        self.decided_by, self.decided_at = acceptor.actor_id, now

    def decline(self, decider: Viewer, reason: HandoffDeclineReason, now: datetime) -> None:
        self.ensure_receiver(decider)
        self._ensure(HandoffState.REQUESTED, "declined")
        self.status, self.decline_reason = HandoffState.DECLINED, reason
        self.decided_by, self.decided_at = decider.actor_id, now

    def cancel(self, reason: HandoffCancelReason) -> None:
        """The sending side withdraws it, before the person travelled."""
        if self.status not in (HandoffState.REQUESTED, HandoffState.ACCEPTED):
            raise CaseConflict(
                f"the hand-off is {self.status.value}: it can no longer be cancelled"
            )
        self.status, self.cancel_reason = HandoffState.CANCELLED, reason

    def depart(self, actor_id: str, departed_at: datetime, now: datetime) -> None:
        if self.status is HandoffState.REQUESTED:
            raise CaseConflict(
                "travel can be recorded only once the receiving office accepted responsibility"
            )
        self._ensure(HandoffState.ACCEPTED, "departed")
        if departed_at > now:
            raise CaseConflict("a departure cannot be recorded in advance")
        self.status, self.departed_at = HandoffState.DEPARTED, departed_at
        self.departure_recorded_by = actor_id

    def arrive(self, arriver: Viewer, arrived_at: datetime, now: datetime) -> None:
        self.ensure_receiver(arriver)
        if self.status is HandoffState.REQUESTED:
            raise CaseConflict(
                "arrival can be recorded only once the receiving office accepted responsibility"
            )
        if self.status not in (HandoffState.ACCEPTED, HandoffState.DEPARTED):
            raise CaseConflict(f"the hand-off is {self.status.value} already")
        if arrived_at > now:
            raise CaseConflict("an arrival cannot be recorded in advance")
        if self.departed_at is not None and arrived_at < self.departed_at:
            raise CaseConflict("the arrival must not be before the departure")
        self.status, self.arrived_at = HandoffState.ARRIVED, arrived_at
        self.arrival_recorded_by = arriver.actor_id

    def _ensure(self, state: HandoffState, to: str) -> None:
        if self.status is not state:
            raise CaseConflict(f"the hand-off is {self.status.value}: it cannot be {to}")
