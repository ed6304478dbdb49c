"""The person's personal data: the part of a case that is only ever stored encrypted.

Everything here is identifying or sensitive free text. The rest of a case (codes, age band,
ids) is pseudonymous and may travel in events; this record never leaves the service except
in an authorised read, and every such read is announced as an access event.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from mpa_contracts.vocabularies import AgeBand, PersonalDataField, age_band

_T = TypeVar("_T")


class PersonalData(BaseModel):
    """What is encrypted with the case's data key (serialised as JSON)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    given_name: str
    family_name: str
    date_of_birth: date | None = None
    estimated_age: int | None = None
    gender_identity: str | None = None
    phone: str | None = None
    email: str | None = None
    place: str | None = None
    safe_contact_details: str | None = None
    # Free-text notes per need id: they may describe abuse, health or whereabouts.
    need_notes: dict[UUID, str] = {}
    # Free text of the casework, per record id (an assessment's findings, an approval's
    # comment, a follow-up's outcome in words): it may describe abuse or whereabouts too.
    casework_notes: dict[UUID, str] = {}

    def present_fields(self) -> frozenset[PersonalDataField]:
        """The personal-data fields that hold a value (what an erasure destroys)."""
        return frozenset(field for field, value in self._values() if value)

    def restricted_to(
        self, fields: Iterable[PersonalDataField], need_ids: Iterable[UUID] | None = None
    ) -> PersonalData:
        """A copy holding only `fields` (names are always kept: they are required), and
        only the notes of `need_ids` when given."""
        keep = frozenset(fields)
        notes = self.need_notes if PersonalDataField.NEEDS_NOTE in keep else {}
        if need_ids is not None:
            wanted = set(need_ids)
            notes = {need_id: note for need_id, note in notes.items() if need_id in wanted}
        return PersonalData(
            given_name=self.given_name,
            family_name=self.family_name,
            date_of_birth=self._if(
                keep, PersonalDataField.PERSON_DATE_OF_BIRTH, self.date_of_birth
            ),
            estimated_age=self._if(
                keep, PersonalDataField.PERSON_ESTIMATED_AGE, self.estimated_age
            ),
            gender_identity=self._if(
                keep, PersonalDataField.PERSON_GENDER_IDENTITY, self.gender_identity
            ),
            phone=self._if(keep, PersonalDataField.PERSON_PHONE, self.phone),
            email=self._if(keep, PersonalDataField.PERSON_EMAIL, self.email),
            place=self._if(keep, PersonalDataField.LOCATION_PLACE, self.place),
            safe_contact_details=self._if(
                keep, PersonalDataField.SAFETY_SAFE_CONTACT_DETAILS, self.safe_contact_details
            ),
            need_notes=notes,
            casework_notes=(self.casework_notes if PersonalDataField.CASEWORK_NOTE in keep else {}),
        )

    def _values(self) -> Iterable[tuple[PersonalDataField, object]]:
        yield PersonalDataField.PERSON_GIVEN_NAME, self.given_name
        yield PersonalDataField.PERSON_FAMILY_NAME, self.family_name
        yield PersonalDataField.PERSON_DATE_OF_BIRTH, self.date_of_birth
        yield PersonalDataField.PERSON_ESTIMATED_AGE, self.estimated_age is not None
        yield PersonalDataField.PERSON_GENDER_IDENTITY, self.gender_identity
        yield PersonalDataField.PERSON_PHONE, self.phone
        yield PersonalDataField.PERSON_EMAIL, self.email
        yield PersonalDataField.LOCATION_PLACE, self.place
        yield PersonalDataField.SAFETY_SAFE_CONTACT_DETAILS, self.safe_contact_details
        yield PersonalDataField.NEEDS_NOTE, bool(self.need_notes)
        yield PersonalDataField.CASEWORK_NOTE, bool(self.casework_notes)

    @staticmethod
    def _if(keep: frozenset[PersonalDataField], field: PersonalDataField, value: _T) -> _T | None:
        return value if field in keep else None


def age_in_years(date_of_birth: date, today: date) -> int:
    """Completed years on `today`."""
    before_birthday = (today.month, today.day) < (date_of_birth.month, date_of_birth.day)
    return today.year - date_of_birth.year - int(before_birthday)


def age_band_of(person: PersonalData, today: date) -> AgeBand:
    """The CTDC age band events carry instead of the date of birth or age."""
    if person.date_of_birth is not None:
        return age_band(age_in_years(person.date_of_birth, today))
    if person.estimated_age is not None:
        return age_band(person.estimated_age)
    raise ValueError("a person needs a date of birth or an estimated age")
