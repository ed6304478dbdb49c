"""Possible-duplicate detection: which normalised facts about a person are compared.

Only keyed hashes of this material are stored and compared (see adapters.crypto): the
plaintext never reaches the database. Normalisation makes the same person match across
spelling accidents that are common at a hotline: case, accents, spacing, punctuation,
given and family name swapped, phone written with or without international prefix.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

from mpa_intake.domain.personal_data import PersonalData


class MatchKind(StrEnum):
    NAME_AND_DATE_OF_BIRTH = "name_dob"
    PHONE = "phone"


_NOT_LETTER = re.compile(r"[^a-z]+")


def normalise_name(*parts: str) -> str:
    """Lower case, accents removed, letters only, name words sorted (order-insensitive)."""
    folded = unicodedata.normalize("NFKD", " ".join(parts).casefold())
    ascii_letters = "".join(ch for ch in folded if not unicodedata.combining(ch))
    words = [word for word in _NOT_LETTER.split(ascii_letters) if word]
    return " ".join(sorted(words))


def normalise_phone(phone: str) -> str:
    """Digits only; an international `00` prefix becomes the `+` form's digits."""
    digits = re.sub(r"\D", "", phone)
    return digits.removeprefix("00")


def match_material(person: PersonalData) -> dict[MatchKind, str]:
    """The normalised facts to hash, by kind; a kind without enough data is left out."""
    material: dict[MatchKind, str] = {}
    name = normalise_name(person.given_name, person.family_name)
    if name and person.date_of_birth is not None:
        material[MatchKind.NAME_AND_DATE_OF_BIRTH] = f"{name}|{person.date_of_birth.isoformat()}"
    if person.phone:
        phone = normalise_phone(person.phone)
        if len(phone) >= 6:
            material[MatchKind.PHONE] = phone
    return material
